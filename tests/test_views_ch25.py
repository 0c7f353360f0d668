"""Tests of kexue_lab.views.ch25: the two-step exploration and the chapter's figures."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch25
from kexue_lab.widgets import View


def test_toy_gradient_and_penalty_gradient_by_finite_differences() -> None:
    p, h = np.array([0.7, -0.4]), 1e-6
    for i in range(2):
        e = np.eye(2)[i] * h
        fd = (ch25.toy_loss(p + e) - ch25.toy_loss(p - e)) / (2 * h)
        assert abs(fd - ch25.toy_grad(p)[i]) < 1e-8
        sq = lambda q: float(np.sum(ch25.toy_grad(q) ** 2))  # noqa: E731
        assert abs((sq(p + e) - sq(p - e)) / (2 * h) - ch25._penalty_grad(p)[i]) < 1e-7


def test_two_step_is_declared_and_its_views_are_finite() -> None:
    ex = ch25.two_step
    assert [c.name for c in ex.controls] == ["eps", "ratio", "order"]
    views = ex.sweep()
    assert len(views) <= 100
    for view in views.values():
        assert isinstance(view, View) and len(view.panels) == 2
        for panel in view.panels:
            for curve in panel.curves:
                assert np.isfinite(np.asarray(curve.y, float)).all() and len(curve.y) <= 100
        assert "relative error" in view.readout


def test_one_pair_error_falls_like_eps() -> None:
    eps = np.array([1e-2, 1e-3])
    for order in ("down-up", "up-down"):
        err = ch25._relative_error(eps, 1.0, order)
        assert 8 < err[0] / err[1] < 12
    assert np.allclose(ch25._relative_error(eps, 0.0, "down-up"), 0)  # one plain GD step
    with pytest.raises(ValueError, match="order"):
        ch25.two_step(order="sideways")


def test_figures_and_rows() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    steps = np.arange(5)
    figs = [
        ch25.pair_errors([0.1, 0.01], {"a": [1e-2, 1e-3]}),
        ch25.sinusoid_curves(steps, {"b = 0": steps * 0.1}, steps, {"b = 0": steps * 0.2}),
        ch25.real_data_bars([0.0, 0.1], np.array([[0.9, 0.91], [0.92, 0.9]]), np.ones((2, 2))),
    ]
    assert all(isinstance(f, Figure) and f.axes for f in figs)
    assert not plt.get_fignums()
    ours = {"band": 5e-4, "sin_acc_b0": [0.85, 0.01], "data": "mnist-5k"}
    ours["real_acc_b0"] = [0.937, 0.002]
    rows = ch25.comparison_rows(ours, {})
    assert all(len(r) == 4 for r in rows)
    assert rows[1][2] == "85.0 ± 1.0 %" and rows[2][2] == "—"
    assert rows[3][2] == "93.7 ± 0.2 % (mnist-5k)" and rows[3][3] == "—"


def test_scalar_maps_agree_with_the_array_maps() -> None:
    p = (0.3, -1.1)
    for order in ("down-up", "up-down"):
        got = ch25._pair_scalar(p, 0.07, 0.03, order)
        assert np.allclose(got, ch25.pair_map(np.array(p), 0.07, 0.03, order), atol=1e-14)
    got = ch25._predicted_scalar(p, 0.07, 0.03)
    assert np.allclose(got, ch25.predicted_map(np.array(p), 0.07, 0.03), atol=1e-14)
