"""Tests of kexue_lab.views.ch27: the inequality exploration, the figures and the table rows."""

from __future__ import annotations

import numpy as np

from kexue_lab.views import ch27
from kexue_lab.widgets import View


def test_explorer_is_declared_with_the_notebook_grid() -> None:
    ex = ch27.inequality_explorer
    assert [c.name for c in ex.controls] == ["depth", "width", "activation", "scale", "x_norm"]
    assert ex.defaults["activation"] == "tanh" and ex.defaults["depth"] == 3


def test_explorer_sweep_respects_the_inequality() -> None:
    for params, view in ch27.inequality_explorer.sweep().items():
        assert isinstance(view, View) and len(view.panels) == 2
        assert "≤ 1 everywhere: True" in view.readout
        counts = np.asarray(view.panels[1].curves[0].y)
        assert counts.sum() == ch27.N_NETS
        for curve in view.panels[0].curves:
            assert np.isfinite(np.asarray(curve.y, dtype=float)).all()


def test_one_layer_is_an_equality() -> None:
    view = ch27.inequality_explorer(depth=1, activation="relu", x_norm=10.0)
    assert "median 1," in view.readout and "max 1 " in view.readout


def test_figures() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    rng = np.random.default_rng(0)
    figs = [
        ch27.ratio_histogram({"tanh": rng.uniform(1e-3, 1, 50), "relu": rng.uniform(1e-3, 1, 50)}),
        ch27.penalty_effects(
            {
                k: rng.random((3, 5))
                for k in ("dirichlet", "input_grad", "residual", "fgsm_accuracy")
            },
            [0.0, 0.1, 1.0],
        ),
    ]
    assert all(isinstance(f, Figure) and f.axes for f in figs)
    assert not plt.get_fignums()


def test_comparison_rows_before_and_after_a_record() -> None:
    ours = {
        "max_ratio": {"tanh": 0.4, "relu": 0.3, "linear": 0.5},
        "median_ratio": {"tanh": 0.05, "relu": 0.06, "linear": 0.08},
        "init_norms": [2.0, 1.15, 1.0],
        "lambdas": [0.0, 1.0],
        "dirichlet": [480.0, 240.0],
        "input_grad": [1.46, 1.45],
        "fgsm_accuracy": [0.12, 0.16],
        "accuracy": [0.91, 0.88],
        "bracket_drop": [0.04, 0.03],
    }
    rows = ch27.comparison_rows(ours, {})
    assert len(rows) == 8 and all(len(r) == 4 and r[3] == "—" for r in rows)
    assert rows[0][2] == "0.400 / 0.300 / 0.500"
    assert "λ = 0 / 1" in rows[3][0] and rows[3][2] == "480 / 240"
    assert ch27.comparison_rows(ours, ours)[5][3] == "0.120 / 0.160"
