"""Tests of kexue_lab.views.ch23: the quadratic exploration and the chapter's figures."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.optimization import eg
from kexue_lab.views import ch23
from kexue_lab.widgets import View


def test_quadratic_is_declared_with_the_notebook_grid() -> None:
    ex = ch23.quadratic
    assert [c.name for c in ex.controls] == ["h2", "eta_h2", "gamma", "mode"]
    assert ex.defaults == {"h2": 100, "eta_h2": 1.5, "gamma": 0.1, "mode": "sign"}
    assert any(abs(v - 1.0) < 1e-12 for v in ex.controls[1].values)


def test_quadratic_curves_are_positive_finite_and_short() -> None:
    for view in ch23.quadratic.sweep().values():
        assert isinstance(view, View) and len(view.panels) == 2
        for panel in view.panels:
            for curve in panel.curves:
                y = np.asarray(curve.y, dtype=float)
                assert np.isfinite(y).all() and (y > 0).all() and len(y) <= 100
        assert view.readout.startswith("final loss")


def test_quadratic_readouts() -> None:
    sign = ch23.quadratic().readout
    assert sign.startswith("final loss 0 (plain GD 5.76e-05)")
    assert "final η ν h = 1," in sign
    assert ch23.quadratic(mode="off").readout.endswith("= 0.015, 1.5")
    assert "diverged" in ch23.quadratic(h2=1000.0, gamma=0.3, mode="raw").readout
    with pytest.raises(ValueError, match="mode='adam' is not allowed"):
        ch23.quadratic(mode="adam")
    with pytest.raises(ValueError, match="h2 must be > 0"):
        ch23.quadratic(h2=0.0)


def test_figures_are_returned_once() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    h = [1.0, 100.0]
    runs = {
        "GD": eg.quadratic_run(h, 0.015, 0.0, steps=20),
        "sign": eg.quadratic_run(h, 0.015, 0.1, "sign", 20, gain_clip=(0.01, 100.0)),
    }
    figures = [
        ch23.quadratic_runs(runs, h, 0.015),
        ch23.training_curves({"GD": [1.0, 0.5], "Adam": [1.0, 0.2]}, title="t"),
    ]
    for fig in figures:
        assert isinstance(fig, Figure) and fig.axes
    assert len(figures[0].axes[1].get_lines()) == 2 + 2  # two coordinates + two reference lines
    assert not plt.get_fignums()  # closed: a notebook shows each once


def test_comparison_rows_before_and_after_a_recorded_run() -> None:
    ours = {
        "data": "breast-cancer",
        "final_train_loss": {name: [0.05, 0.07] for name in ch23.OPTIMISERS},
        "quadratic_loss_50": {"GD": 0.110, "sign, γ = 0.1": 8e-50},
        "gains_below_one": {"full batch": 0.0, "minibatch 16": 0.2},
    }
    rows = ch23.comparison_rows(ours, {})
    assert len(rows) == 1 + len(ch23.OPTIMISERS) + 1 and all(len(r) == 4 for r in rows)
    assert rows[0][2] == "0.11 / 8e-50" and rows[1][3] == "—"
    assert rows[1][2] == "0.0600 (0.0500–0.0700, breast-cancer)"
    assert rows[-1][2] == "20% (full batch 0%)" and rows[-1][3] == "—"
    rows = ch23.comparison_rows(ours, dict(ours, data="digits"))
    assert rows[1][3].endswith("digits)") and rows[-1][3] == "20%"
