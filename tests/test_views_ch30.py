"""Chapter 30's exploration and figures (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch30
from kexue_lab.widgets import View


def test_gradient_factors_defaults_and_curves() -> None:
    gamma, f1 = ch30.gradient_factors.controls
    assert gamma.default == pytest.approx(2.0) and f1.default == pytest.approx(0.4)
    assert min(abs(v) for v in gamma.values) == 0.0  # γ = 0 (cross-entropy) is on the grid
    view = ch30.gradient_factors()
    assert isinstance(view, View) and len(view.panels) == 2
    assert "×0.80" in view.readout and "×0.20" in view.readout
    pos, neg = view.panels
    acc, ce = np.asarray(pos.curves[0].y), np.asarray(pos.curves[1].y)
    p = np.asarray(pos.curves[0].x)
    assert np.allclose(acc, p * (1 - p)) and np.allclose(ce, 1 - p)
    assert np.allclose(np.asarray(neg.curves[1].y), p)  # CE on a negative: factor p


def test_gradient_factors_sweep_is_finite_and_bounded() -> None:
    for view in ch30.gradient_factors.sweep().values():
        for panel in view.panels:
            for curve in panel.curves:
                y = np.asarray(curve.y, dtype=float)
                assert np.isfinite(y).all() and (y >= 0).all() and (y <= 1.4).all()  # panel ylim


def test_figures_and_rows() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch30.descent_curves({"CE": [0.5, 0.9], "acc": [0.5, 0.5]})
    assert isinstance(fig, Figure) and len(fig.axes[0].get_lines()) == 2
    half, tuned = np.full((2, 3), 0.5), np.full((2, 3), 0.6)
    fig = ch30.f1_bars(["a", "b"], half, tuned)
    assert isinstance(fig, Figure) and len(fig.axes[0].patches) == 4
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="losses=3"):
        ch30.f1_bars(["a", "b", "c"], half, tuned)
    ours = {
        "factor_at_001": "0.0099 / 0.99",
        "descent": "0.932 / 0.500",
        "f1_half": {"ce": 0.5},
        "f1_tuned": {"ce": 0.6},
    }
    rows = ch30.comparison_rows(ours, {})
    assert rows[0][2] == "0.0099 / 0.99" and rows[0][3] == "–"
    assert any(r[2] == "0.500 → 0.600" for r in rows)
    assert all(len(r) == 4 for r in rows)
