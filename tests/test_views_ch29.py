"""Tests of kexue_lab.views.ch29: the two-Gaussian exploration, figures and table rows."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch29
from kexue_lab.widgets import View


def test_exploration_grid_and_defaults() -> None:
    ex = ch29.two_gaussians
    assert [c.name for c in ex.controls] == ["p", "delta", "tau"]
    assert ex.defaults == {"p": 0.1, "delta": 2.0, "tau": 0.5}
    taus = ex.controls[2].values
    assert any(abs(v) < 1e-12 for v in taus) and any(abs(v - 1) < 1e-12 for v in taus)


def test_readout_gives_the_closed_form() -> None:
    view = ch29.two_gaussians(p=0.1, delta=2.0, tau=1.0)
    assert isinstance(view, View)
    assert "τ = 0: x* = 2.099" in view.readout and "balanced 0.279" in view.readout
    assert "τ = 1: x* = 1.000, tail error 0.159" in view.readout
    for curve in view.panels[0].curves:
        assert np.isfinite(np.asarray(curve.y, dtype=float)).all() and len(curve.y) <= 100
    with pytest.raises(ValueError, match="p "):
        ch29.two_gaussians(p=0.0)


def test_figures_are_returned_once() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    rng = np.random.default_rng(0)
    figs = [
        ch29.tau_sweep([0, 1, 2], rng.random((3, 3)), [0, 1], rng.random((3, 2)), "t"),
        ch29.per_class({"a": rng.random(3), "b": rng.random(3)}, [30, 10, 3]),
    ]
    for fig in figs:
        assert isinstance(fig, Figure) and fig.axes
    assert not plt.get_fignums()


def test_comparison_rows() -> None:
    ours = {
        "data": "mnist-5k",
        "balanced_accuracy": {"erm": (0.7, 0.01), "posthoc": (0.78, 0.02), "loss": (0.79, 0.02)},
    }
    rows = ch29.comparison_rows(ours, {})
    assert len(rows) == 3 and all(len(r) == 4 for r in rows)
    assert rows[0][1] == "0.7136 / 0.3987" and rows[2][1] == "0.7789 / 0.4406"
    assert rows[1][2] == "0.780 ± 0.020 (mnist-5k-LT)" and rows[1][3] == "—"
    assert ch29.comparison_rows(ours, ours)[0][3] == rows[0][2]
