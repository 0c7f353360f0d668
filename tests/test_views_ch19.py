"""Tests of kexue_lab.views.ch19: the θ⁴ exploration and the chapter's figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kexue_lab.optimization import clipping
from kexue_lab.views import ch19
from kexue_lab.widgets import View


def test_quartic_is_declared_with_the_notebook_grid() -> None:
    ex = ch19.quartic
    names = [c.name for c in ex.controls]
    assert names == ["theta0", "L1", "gd_scale"]
    assert ex.defaults == {"theta0": 10, "L1": 1, "gd_scale": 1}
    theta0 = ex.controls[0].values
    assert any(math.isclose(v, 3) for v in theta0) and any(math.isclose(v, 30) for v in theta0)


def test_quartic_curves_are_positive_finite_and_short() -> None:
    for view in ch19.quartic.sweep().values():
        assert isinstance(view, View) and len(view.panels) == 2
        for panel in view.panels:
            for curve in panel.curves:
                y = np.asarray(curve.y, dtype=float)
                assert np.isfinite(y).all() and (y > 0).all() and len(y) <= 100
        assert "iterations to |θ| ≤ 1" in view.readout


def test_quartic_readout_reproduces_the_table() -> None:
    for th0, counts in [(3.0, (12, 2, 4)), (10.0, (494, 9, 11))]:
        text = ch19.quartic(theta0=th0, L1=1.0, gd_scale=1.0).readout
        assert f"GD: {counts[0]}" in text
        assert f"hard clipping: {counts[1]}" in text and f"soft clipping: {counts[2]}" in text
    assert "GD: > 3000" in ch19.quartic(theta0=30.0).readout
    assert "GD: diverged" in ch19.quartic(theta0=10.0, L1=1.0, gd_scale=30.0).readout
    with pytest.raises(ValueError, match="theta0 must be > 0"):
        ch19.quartic(theta0=0.0)


def test_figures_are_returned_once() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    starts = np.array([3.0, 10.0])
    counts = {"hard": [2, 9], "soft": [4, 11]}
    paths = {
        "hard": clipping.descend(
            lambda z: 4 * z**3, [10.0], rule="hard", eta=1 / 16, gamma=16.0, record=True
        ).path[:, 0, 0],
        "soft": np.array(clipping.quartic_path(10.0, "soft", 1 / 16, 16.0)),
    }
    bowl_path = {"soft": np.array([[5.0, 5.0], [4.0, 1.0], [0.1, 0.1]])}
    trace = {"loss": np.ones(5), "grad_norm": np.arange(1.0, 6), "smoothness": np.arange(2.0, 7)}
    figures = [
        ch19.clip_factors(),
        ch19.quartic_runs(paths, starts, counts),
        ch19.bowl_runs(bowl_path, lambda z: z[:, 0] ** 4 + 10 * z[:, 1] ** 2),
        ch19.smoothness_scatter({"ReLU": trace}, {"ReLU": 0.9}),
        ch19.training_curves({"lr 1, no clipping": [2.0, 1.0], "lr 1, clip 1": [1.5, 0.5]}),
    ]
    for fig in figures:
        assert isinstance(fig, Figure) and fig.axes
    assert not plt.get_fignums()  # closed: a notebook shows each once


def test_comparison_rows_before_and_after_a_recorded_run() -> None:
    losses = {
        f"lr {lr:g}, {tag}": (None if (lr, tag) == (2.0, "no clipping") else 0.1)
        for lr in (0.5, 1.0, 2.0)
        for tag in ("no clipping", "clip 1")
    }
    ours = {
        "data": "digits",
        "theta4_counts": {"hard clipping": [2, 9, 29, 99]},
        "spearman_relu_lr0.5": 0.78,
        "spearman_tanh_lr0.2": -0.01,
        "final_train_loss": losses,
    }
    rows = ch19.comparison_rows(ours, {})
    assert len(rows) == 1 + 1 + 2 + 3 and all(len(r) == 4 for r in rows)
    assert rows[0][1] == ch19.THETA4_SAYS["hard clipping"] and "paper" in rows[0][1]
    assert rows[0][2] == "2 / 9 / 29 / 99" and rows[0][3] == "—"
    assert rows[2][2] == "0.78 (digits)" and rows[3][2] == "-0.01 (digits)"
    assert rows[-1][2] == "diverged / 0.100"
    recorded = dict(ours, data="fashion-mnist")
    rows = ch19.comparison_rows(ours, recorded)
    assert rows[2][3] == "0.78 (fashion-mnist)" and rows[-1][3] == "diverged / 0.100"
