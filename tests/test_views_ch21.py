"""Tests of kexue_lab.views.ch21: the accumulation-error exploration and the cost figure."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch21
from kexue_lab.widgets import View


def test_exploration_is_declared_with_its_grid() -> None:
    ex = ch21.accumulation_error
    assert [c.name for c in ex.controls] == ["n", "chunk", "dropout"]
    assert ex.defaults == {"n": 64, "chunk": 16, "dropout": 0.0}
    assert ex.controls[1].values == (1, 4, 16, 64, 256)


def test_errors_tell_the_three_methods_apart() -> None:
    naive, cached, replay = ch21.gradient_errors(64, 16, 0.1, 0.0)
    assert naive > 1e-2 and cached < 1e-13 and replay < 1e-13
    naive, cached, replay = ch21.gradient_errors(64, 16, 0.1, 0.1)
    assert cached > 1e-3 and replay < 1e-13  # dropout breaks it, replaying the masks repairs it
    naive, cached, replay = ch21.gradient_errors(16, 256, 0.5, 0.0)
    assert naive < 1e-13  # one chunk: naive accumulation is the big batch


def test_view_bars_are_finite_and_floored() -> None:
    view = ch21.accumulation_error(n=16, chunk=16)
    assert isinstance(view, View) and len(view.panels) == 1
    bars = np.asarray(view.panels[0].curves[0].y, dtype=float)
    assert np.isfinite(bars).all() and (bars >= ch21.FLOOR).all()
    assert view.readout.startswith("naive accumulation: ")


def test_cost_figure() -> None:
    import matplotlib.pyplot as plt

    plt.close("all")
    rows = [
        {"chunk": 32, "bytes_ratio": 0.02, "time_ratio": 2.0},
        {"chunk": 128, "bytes_ratio": 0.09, "time_ratio": 1.2},
    ]
    fig = ch21.cost_figure(rows)
    assert len(fig.axes) == 2 and not plt.get_fignums()
    with pytest.raises(ValueError, match="rows"):
        ch21.cost_figure([])


def test_comparison_rows() -> None:
    row = {"chunk": 128, "bytes_ratio": 0.088, "time_ratio": 1.4, "time_spread": (1.2, 1.9)}
    row["grad_error"] = 2.7e-7
    metrics = {"pairs": 512, "rows": [row, row, row, row]}
    table = ch21.comparison_rows(metrics, {}, naive_error=0.63, dropout_error=0.5)
    assert len(table) == 5 and all(len(r) == 4 for r in table)
    assert "× 1.40 (repeats 1.20–1.90)" in table[0][2] and table[0][3] == "—"
    assert "0.088" in table[1][2] and "0.63" in table[3][2]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="n"):
        ch21.gradient_errors(1, 4, 0.1, 0.0)
    with pytest.raises(ValueError, match="dropout"):
        ch21.gradient_errors(8, 4, 0.1, 1.5)
    with pytest.raises(ValueError, match="tau"):
        ch21.gradient_errors(8, 4, -1.0, 0.0)
