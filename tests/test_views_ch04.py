"""Tests of kexue_lab.views.ch04 (chapter 04: the σ̃² exploration and the figures)."""

import numpy as np
import pytest
import torch

from kexue_lab.generative.vae_bayes import linear_vae_optimum
from kexue_lab.views import ch04
from kexue_lab.widgets import Exploration, View


def test_sigma_knob_is_declared_with_the_notebooks_grid():
    exp = ch04.sigma_knob
    assert isinstance(exp, Exploration)
    assert [c.name for c in exp.controls] == ["log_sigma2", "z_dim"]
    assert exp.defaults == {"log_sigma2": -2.0, "z_dim": 16}
    assert len(exp.controls[0].values) == 31 and exp.controls[1].values == (2, 16, 64)


def test_the_spectrum_is_that_of_the_shipped_digits():
    lam = ch04.mnist_spectrum()
    assert lam.shape == (784,) and bool(np.all(lam >= 0)) and bool(np.all(np.diff(lam) <= 1e-12))
    assert lam.sum() == pytest.approx(53.05, abs=0.05)  # total pixel variance of the 4,000 digits


@pytest.mark.parametrize("log_sigma2, z_dim", [(-2.0, 16), (0.0, 2), (-3.0, 64)])
def test_sigma_knob_matches_the_closed_form(log_sigma2, z_dim):
    view = ch04.sigma_knob(log_sigma2=log_sigma2, z_dim=z_dim)
    assert isinstance(view, View) and len(view.panels) == 3
    best = linear_vae_optimum(ch04.mnist_spectrum(), 10**log_sigma2, z_dim)
    assert f"KL = {best['rate']:.1f} nats" in view.readout
    assert f"{int(best['active'].sum())} of {z_dim} directions used" in view.readout
    used = view.panels[0].curves[1]
    assert len(used.x) == min(int(best["active"].sum()), 80)
    marker = view.panels[1].curves[1]
    assert marker.y[0] == pytest.approx(best["distortion"] / 784)


def test_tradeoff_figure():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    pts = [dict(sigma2=s, kl=1 / s, mse=s / 10, loss=-s) for s in (1.0, 0.1, 0.01)]
    fig = ch04.tradeoff(pts, dict(sigma2=[1, 0.1], kl=[1, 10], mse=[0.1, 0.01], loss=[0, 1]))
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 3]  # points, theory (and the zero line)
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="points"):
        ch04.tradeoff([])
    with pytest.raises(ValueError, match="lacks"):
        ch04.tradeoff([dict(sigma2=1.0, kl=1.0)])


def test_image_rows():
    import matplotlib.pyplot as plt

    plt.close("all")
    fig = ch04.image_rows({"a": torch.rand(12, 196), "b": torch.rand(5, 1, 14, 14)}, ncols=6)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig.axes[0].images[0].get_array().shape == (2 * 15 + 1, 6 * 15 + 1)
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="groups"):
        ch04.image_rows({})
    with pytest.raises(ValueError, match="square"):
        ch04.image_rows({"a": torch.rand(2, 10)})
