"""Chapter 15's explorations and figure, as the notebook shows them (kexue_lab/views/ch15.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.architecture import recurrent as rec
from kexue_lab.views import ch15


def test_rnn_gain_tanh_curve_stays_under_its_sup_over_the_grid():
    exp = ch15.rnn_gain
    for (_, params), view in zip(exp.grid(), exp.sweep().values()):
        tanh_curve, relu_curve = view.panels[0].curves
        assert np.all(np.isfinite(tanh_curve.y)) and np.all(np.isfinite(relu_curve.y))
        sup, _ = rec.tanh_gain_sup(params["a"], params["h_prev"])
        assert max(tanh_curve.y) <= sup * (1 + 1e-12)
        assert view.readout.startswith("tanh: sup over U")
    assert "0.4477" in exp().readout  # the default a = 0, h_(t−1) = 1: §3's maximum


def test_jacobian_norms_over_the_grid_and_the_memory_bias():
    exp = ch15.jacobian_norms
    for view in exp.sweep().values():
        curves = view.panels[0].curves
        assert len(curves) == 4
        assert all(len(c.y) == ch15.NORM_STEPS and np.all(np.isfinite(c.y)) for c in curves)
        assert view.readout.startswith("log₁₀ norm at t = 60")
    biases = next(c.values for c in exp.controls if c.name == "memory_bias")
    low, high = exp(memory_bias=biases[0]), exp(memory_bias=biases[-1])
    # the LSTM (third curve) keeps more gradient with the largest forget bias
    assert high.panels[0].curves[2].y[-1] > low.panels[0].curves[2].y[-1] + 5


def test_views_refuse_bad_parameters():
    with pytest.raises(ValueError, match="gain"):
        ch15.jacobian_norms(gain=-1.0)
    with pytest.raises(ValueError, match="h_prev must be nonzero"):
        ch15.rnn_gain(h_prev=0.0)


def test_norms_at_init_figure():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    fig = ch15.norms_at_init({"tanh RNN": np.linspace(0, -3, 5), "ReLU RNN": np.zeros(5)})
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.lines) == 2 and ax.lines[1].get_linestyle() == "--"
    assert not plt.get_fignums()  # closed: the notebook shows it once, as the cell's value
    with pytest.raises(ValueError, match="non-empty"):
        ch15.norms_at_init({})
    with pytest.raises(ValueError, match="one length"):
        ch15.norms_at_init({"a": np.zeros(3), "b": np.zeros(4)})
