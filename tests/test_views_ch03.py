"""Tests of kexue_lab.views.ch03 (chapter 03: the KL exploration and the figures)."""

import numpy as np
import pytest
import torch

from kexue_lab.generative.vae import gaussian_kl
from kexue_lab.train import History
from kexue_lab.views import ch03
from kexue_lab.widgets import Exploration, View


def test_kl_parts_is_declared_with_the_notebooks_grid():
    exp = ch03.kl_parts
    assert isinstance(exp, Exploration)
    assert [c.name for c in exp.controls] == ["mu", "log_var"]
    assert exp.defaults == {"mu": 1.0, "log_var": -1.0}
    assert all(len(c.values) == 13 for c in exp.controls)
    assert 0.0 in exp.controls[0].values and 0.0 in exp.controls[1].values


@pytest.mark.parametrize("mu, log_var", [(0.0, 0.0), (1.0, -1.0), (-2.5, 1.5), (3.0, -4.0)])
def test_kl_parts_sums_to_the_gaussian_kl(mu, log_var):
    view = ch03.kl_parts(mu=mu, log_var=log_var)
    assert isinstance(view, View) and len(view.panels) == 2
    bars = [c.y[0] for c in view.panels[1].curves]
    assert [c.x[0] for c in view.panels[1].curves] == [0, 1, 2, 3]
    kl = gaussian_kl(torch.tensor([mu], dtype=torch.float64), torch.tensor([log_var])).item()
    assert bars[0] + bars[1] == pytest.approx(bars[2], abs=2e-4)
    assert bars[2] == pytest.approx(kl, abs=1e-4)
    assert bars[3] == pytest.approx(0.5 * mu**2 + 0.25 * log_var**2, abs=1e-4)
    assert max(bars) <= view.panels[1].ylim[1]
    density = view.panels[0].curves[0]
    assert np.trapezoid(density.y, density.x) <= 1.02  # the mass on [−5, 5]


def test_kl_parts_readout_at_the_prior():
    view = ch03.kl_parts(mu=0.0, log_var=0.0)
    assert "KL = 0.000 nats" in view.readout and "σ = 1.000" in view.readout
    prior = view.panels[0].curves[1]
    assert np.trapezoid(prior.y, prior.x) == pytest.approx(1.0, abs=1e-3)


def test_latent_scatter_and_curves_are_figures_shown_once():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    mu, labels = torch.randn(50, 2), torch.arange(50) % 10
    fig = ch03.latent_scatter({"a": (mu, labels), "b": (mu.numpy(), labels.numpy())}, show=20)
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # two panels and the colour bar
    assert len(fig.axes[0].collections[0].get_offsets()) == 20
    hist = History()
    hist.metrics.update(nll=[3.0, 2.0], kl=[1.0, 1.5])
    fig = ch03.training_curves({"VAE": hist})
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="panels"):
        ch03.latent_scatter({})
    with pytest.raises(ValueError, match="mu must be"):
        ch03.latent_scatter({"a": (torch.randn(5, 3), torch.arange(5))})
    with pytest.raises(ValueError, match="histories"):
        ch03.training_curves({})


def test_image_figures():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch03.decoded_grid(torch.rand(9, 16), 3, "grid")
    assert isinstance(fig, Figure)
    assert fig.axes[0].images[0].get_array().shape == (3 * 5 + 1, 3 * 5 + 1)
    fig = ch03.image_rows({"one": torch.rand(4, 1, 4, 4), "two": torch.rand(8, 16)}, ncols=4)
    assert [ax.get_title() for ax in fig.axes] == ["one", "two"]
    assert fig.axes[1].images[0].get_array().shape == (2 * 5 + 1, 4 * 5 + 1)
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="n·n"):
        ch03.decoded_grid(torch.rand(8, 16), 3)
    with pytest.raises(ValueError, match="square"):
        ch03.decoded_grid(torch.rand(4, 15), 2)
    with pytest.raises(ValueError, match="groups"):
        ch03.image_rows({})
