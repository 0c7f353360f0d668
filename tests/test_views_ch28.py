"""Tests of kexue_lab.views.ch28: the penalty-match exploration, the figure and the table."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch28
from kexue_lab.widgets import View


def test_penalty_match_is_declared_with_the_notebook_grid() -> None:
    ex = ch28.penalty_match
    assert [c.name for c in ex.controls] == ["eps", "kind", "activation"]
    assert ex.defaults["kind"] == "normalised" and ex.defaults["activation"] == "tanh"
    assert any(np.isclose(v, 1e-2) for v in ex.controls[0].values)


def test_penalty_match_views_are_finite_and_first_order_for_tanh() -> None:
    for view in ch28.penalty_match.sweep().values():
        assert isinstance(view, View) and len(view.panels) == 2
        for panel in view.panels:
            for curve in panel.curves:
                y = np.asarray(curve.y, dtype=float)
                assert np.isfinite(y).all() and (y > 0).all() and len(y) <= 100
        assert "cosine" in view.readout and "penalty" in view.readout
    # smooth network: the relative error follows ε (slope 1 on log–log axes)
    rel = np.asarray(ch28.penalty_match(eps=1e-2).panels[0].curves[0].y)
    slope = np.polyfit(np.log(ch28.EPS_GRID[:10]), np.log(rel[:10]), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.05)
    # ReLU and the sign step at ε = 1: the match has broken down
    assert "relative error" in ch28.penalty_match(eps=1.0, kind="sign", activation="relu").readout
    relu = np.asarray(ch28.penalty_match(kind="sign", activation="relu").panels[0].curves[0].y)
    assert relu[-1] > 0.1
    with pytest.raises(ValueError, match="eps must be > 0"):
        ch28.penalty_match(eps=0.0)
    with pytest.raises(ValueError, match="kind"):
        ch28.penalty_match(kind="l3")


def test_robustness_figure_is_returned_once() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch28.robustness_curves([0, 1, 2], {"a": np.ones((3, 3)), "b": np.zeros((2, 3))})
    assert isinstance(fig, Figure) and fig.axes
    assert not plt.get_fignums()


def test_comparison_rows_before_and_after_a_recorded_run() -> None:
    ours = {
        "attack_eps": 1.0,
        "clean": {"plain": [0.77, 0.78], "fgm": [0.76, 0.78]},
        "attacked": {"plain": [0.53, 0.54], "fgm": [0.60, 0.61]},
    }
    rows = ch28.comparison_rows(ours, {})
    assert all(len(r) == 4 for r in rows) and len(rows) == 6
    assert rows[0][2] == "77.5 ± 0.5 (2 seeds)" and rows[0][3] == "—"
    assert rows[2][1] == "+2.17 / +1.08" and rows[2][2].startswith("-0.5")
    assert "ε = 1.0" in rows[4][0] and rows[5][2] == "60.5 ± 0.5 (2 seeds)"
    rows = ch28.comparison_rows(ours, ours)
    assert rows[5][3] == rows[5][2]
