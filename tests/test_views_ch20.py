"""Tests of kexue_lab.views.ch20: the block-weights exploration and the loss-curve figure."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch20
from kexue_lab.widgets import View


def test_block_weights_is_declared_with_the_article_values() -> None:
    beta, k = ch20.block_weights.controls
    assert (beta.name, k.name) == ("beta", "k")
    assert ch20.block_weights.defaults == {"beta": 0.9, "k": 8}
    assert 4 in k.values and 8 in k.values and 1 in k.values


def test_weights_sum_like_the_momentum_and_match_a_loop() -> None:
    beta, k = 0.9, 4
    exact, ema = ch20.weights(beta, k, blocks=3)
    # a loop of the folded recursion, feeding unit impulses, gives the accumulation weights
    for age in range(3 * k):
        m = 0.0
        for t in range(1, 3 * k + 1):
            g = 1.0 if t == 3 * k - age else 0.0
            m = (beta if (t - 1) % k == 0 else 1.0) * m + (1 - beta) / k * g
        assert m == pytest.approx(exact[age], rel=1e-12)
    bt = 1 - (1 - beta) / k
    assert ema[0] == pytest.approx(1 - bt) and ema[5] == pytest.approx((1 - bt) * bt**5)
    assert exact[:k].sum() == pytest.approx(1 - beta)


def test_every_view_is_finite_and_reads_out_beta_tilde() -> None:
    for view in ch20.block_weights.sweep().values():
        assert isinstance(view, View)
        for curve in view.panels[0].curves:
            assert np.isfinite(np.asarray(curve.y, dtype=float)).all()
    text = ch20.block_weights(beta=0.9, k=4).readout
    assert "β̃ = 0.975" in text and "β̃^k = 0.903688" in text


def test_loss_curves_figure() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    runs = {"SGD-momentum": {"a": [1.0, 0.5], "b": [1.0, 0.4]}, "Adam": {"c": [0.9, 0.3]}}
    fig = ch20.loss_curves(runs, "digits")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert not plt.get_fignums()
    assert len(fig.axes[0].get_lines()) == 2
    bars = ch20.weight_bars(0.9, 4)
    assert isinstance(bars, Figure) and len(bars.axes[0].patches) == 12
    with pytest.raises(ValueError, match="runs"):
        ch20.loss_curves({}, "digits")
