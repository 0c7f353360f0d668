"""Chapter 31's exploration and figure (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kexue_lab.views import ch31


def test_sliders_show_the_papers_constants() -> None:
    s, m, phi, _ = ch31.margin_geometry.controls
    assert s.default == pytest.approx(30.0, rel=0.05)
    assert 0.35 in m.values and m.default == 0.35
    assert phi.default == 90.0


def test_readout_gives_the_boundaries() -> None:
    view = ch31.margin_geometry(s=30.0, m=0.35, phi=90.0)
    closed = 45 - math.degrees(math.asin(0.35 / (2 * math.sin(math.radians(45)))))
    assert f"AM-Softmax θ < {closed:.1f}°" in view.readout  # 30.7°
    assert "softmax θ < 45.0°" in view.readout
    assert "simpler A-Softmax θ < 18.0°" in view.readout  # cos 4θ = sin θ at 18°
    for panel in view.panels:
        assert all(np.all(np.isfinite(c.y)) for c in panel.curves)
    only = ch31.margin_geometry(loss="am")
    assert len(only.panels[1].curves) == 1


def test_psi_never_exceeds_cos() -> None:
    theta = np.linspace(0, 180, 721)
    for kind in ("am", "simpler_a"):
        assert np.all(ch31.psi(theta, kind, 0.35) <= np.cos(np.radians(theta)) + 1e-12)


def test_embedding_geometry_and_rows() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    rng = np.random.default_rng(0)
    cos = {k: (rng.uniform(0, 1, 50), rng.uniform(-1, 1, 200)) for k in ("softmax", "am")}
    pts = {k: rng.normal(size=(40, 8)) for k in cos}
    fig = ch31.embedding_geometry(cos, pts, np.repeat(np.arange(10), 4))
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="same losses"):
        ch31.embedding_geometry(cos, {"am": pts["am"]}, np.arange(40))
    ours = {"topk": {"am": [[0.7, 0.01], [0.8, 0.01], [0.9, 0.0]]}, "bag_of_chars": [0.9, 0.95, 1]}
    rows = ch31.comparison_rows(ours, {})
    assert rows[1][1] == "0.9172 / 0.9607 / 0.9709" and rows[1][2].startswith("0.700±0.010")
    assert rows[0][2] == "—" and rows[-1][0].startswith("bag") and rows[-1][3] == "—"
