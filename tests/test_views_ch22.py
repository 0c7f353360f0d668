"""Tests of kexue_lab.views.ch22: the SGD scaling exploration and the chapter's figures."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch22
from kexue_lab.widgets import View


def test_sgd_scaling_is_declared_with_its_grid() -> None:
    ex = ch22.sgd_scaling
    assert [c.name for c in ex.controls] == ["b_noise", "anchor"]
    assert ex.defaults == {"b_noise": 100, "anchor": 10}


def test_sgd_scaling_curves_are_finite_and_halve_at_b_noise() -> None:
    for view in ch22.sgd_scaling.sweep().values():
        assert isinstance(view, View) and len(view.panels) == 2
        for panel in view.panels:
            for curve in panel.curves:
                y = np.asarray(curve.y, dtype=float)
                assert np.isfinite(y).all() and (y > 0).all() and len(y) <= 100
    view = ch22.sgd_scaling(b_noise=100.0, anchor=10.0)
    x, y = (
        np.asarray(a, dtype=float) for a in (view.panels[0].curves[0].x, view.panels[0].curves[0].y)
    )
    assert np.interp(np.log(100.0), np.log(x), y) == pytest.approx(0.5, abs=1e-3)
    steps = view.panels[1].curves[0]
    product = (np.asarray(steps.y) - 1) * (np.asarray(steps.x) - 1)
    assert np.allclose(product, 1.0)  # the hyperbola
    assert "B = 100" in view.readout
    with pytest.raises(ValueError, match="b_noise must be > 0"):
        ch22.sgd_scaling(b_noise=0.0)


def test_figures_are_returned_once() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    Bs = np.array([1.0, 10.0, 100.0])
    figures = [
        ch22.quadratic_check(Bs, [0.1, 0.5, 0.9], [0.11, 0.5, 0.88]),
        ch22.surge_curves(Bs, {"exact": np.array([0.1, 0.2, 0.18])}, (Bs, [0.1, 0.2, 0.18])),
        ch22.network_sweep(np.array([0.1, 1.0]), {4: np.array([-0.01, -0.02])}, {4: 0.5}),
    ]
    for fig in figures:
        assert isinstance(fig, Figure) and fig.axes
    assert not plt.get_fignums()
