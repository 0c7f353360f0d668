"""Chapter 38's exploration and figure (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.sequences import triples as tr
from kexue_lab.views import ch38


def test_controls_cover_the_article_settings() -> None:
    n, tau = ch38.power_trick.controls
    assert n.default == 4 and {2, 4} <= {int(v) for v in n.values}
    assert min(abs(v - 0.6) for v in tau.values) < 1e-12
    assert min(abs(v - 0.5) for v in tau.values) < 1e-12


def test_power_trick_curves_and_readout() -> None:
    view = ch38.power_trick(n=4, tau=0.6)
    loss, grad = view.panels
    assert all(np.all(np.isfinite(c.y)) for p in view.panels for c in p.curves)
    assert "0.880112" in view.readout and "1.993489" in view.readout
    assert loss.vlines[0][0] == pytest.approx(tr.threshold_equivalent(0.6, 4)[1])
    z = np.asarray(grad.curves[0].x)
    # positives: n times plain BCE's gradient; negatives: never more than plain BCE's
    np.testing.assert_allclose(grad.curves[0].y, 4 * np.asarray(grad.curves[2].y), rtol=1e-12)
    assert np.all(np.asarray(grad.curves[1].y) <= np.asarray(grad.curves[3].y) + 1e-15)
    plain = ch38.power_trick(n=1, tau=0.5)
    np.testing.assert_allclose(plain.panels[1].curves[1].y, 1 / (1 + np.exp(-z)), rtol=1e-12)
    assert "0.6931" in plain.readout


def test_class_bars_figure() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch38.class_bars({"normal": (0.9, 0.95, 0.85), "SEO": (0.8, 0.9, 0.7)})
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].patches) == 6
