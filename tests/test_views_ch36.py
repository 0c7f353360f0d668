"""Chapter 36's explorations and figures (the grids themselves are swept by test_views.py)."""

from __future__ import annotations

import pytest

from kexue_lab.views import ch36


def test_schedule_view_corners() -> None:
    view = ch36.schedule(steps_per_epoch=100, lr_max=5e-5, lr_min=1e-5)
    curve = view.panels[0].curves[0]
    assert len(curve.x) == 300
    assert curve.y[0] == pytest.approx(5e-7)
    assert curve.y[99] == pytest.approx(5e-5)
    assert curve.y[100] == pytest.approx(4.96e-5)
    assert curve.y[199] == pytest.approx(1e-5) and curve.y[-1] == pytest.approx(1e-5)
    assert "η_0 = 5e-07" in view.readout and "4e-07" in view.readout


def test_pair_cost_view() -> None:
    view = ch36.pair_cost(d=768)
    ratio = view.panels[0].curves[0].y
    m = view.panels[0].curves[0].x
    # slow reference: 24Ld² + 4L²d per layer, by hand
    cost = lambda n, d: 24 * n * d * d + 4 * n * n * d  # noqa: E731
    for k in (0, 7, 40):
        want = cost(2 * m[k] + 3, 768) / (2 * cost(m[k] + 2, 768))
        assert ratio[k] == pytest.approx(want, rel=1e-12)
    assert "first m with ratio > 1: 48" in view.readout  # m* = √(4609/2) − 1 ≈ 47.0
    assert ratio[0] < 1 < ratio[-1]


def test_training_curves_and_rows() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch36.training_curves({"a": [3.0, 2.0, 1.0] * 10, "b": [1.0]})
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 2
    plt.close("all")
    rows = ch36.comparison_rows({"pre": 0.8, "scratch": 0.7, "bow": 0.75}, {})
    assert len(rows) == 8 and rows[0][1].startswith("0.955")
    assert rows[0][2] == "0.800" and rows[3][2] == "—" and rows[0][3] == "—"
