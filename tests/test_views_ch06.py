"""Tests of kexue_lab.views.ch06 (chapter 06: the codebook exploration and the figures)."""

import pytest
import torch

from kexue_lab.generative.vq import codebook_stats
from kexue_lab.train import History
from kexue_lab.views import ch06
from kexue_lab.widgets import Exploration, View


def test_quantization_is_declared_with_the_notebooks_grid():
    exp = ch06.quantization
    assert isinstance(exp, Exploration)
    assert [c.name for c in exp.controls] == ["num_codes", "step", "init", "reseed"]
    assert exp.defaults == {"num_codes": 8, "step": 100, "init": "corner", "reseed": False}
    assert len(exp.controls[1].values) == 17


def test_every_frame_has_three_panels_and_a_readout():
    frames = ch06.quantization.sweep()
    for view in frames.values():
        assert isinstance(view, View) and len(view.panels) == 3 and "codes used" in view.readout
    assert len(ch06.quantization.static_html()) < 400_000


def test_quantization_readout_counts():
    v = ch06.quantization(num_codes=8, step=400, init="corner", reseed=False)
    assert "2/8 codes used, 6 dead" in v.readout
    v = ch06.quantization(num_codes=8, step=400, init="corner", reseed=True)
    assert "8/8 codes used, 0 dead" in v.readout
    with pytest.raises(ValueError, match="init"):
        ch06.quantization.fn(8, 0, "middle", False)


def test_usage_and_perplexity_draws_one_curve_per_run():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    hist = History()
    hist.metrics["perplexity"] = [3.0, 5.0]
    runs = {
        "a": {"stats": codebook_stats(torch.tensor([0, 0, 1]), 4), "hist": hist},
        "b": {"stats": codebook_stats(torch.tensor([0, 1, 2, 3]), 4), "hist": hist},
    }
    fig = ch06.usage_and_perplexity(runs, 4)
    assert isinstance(fig, Figure)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert not plt.get_fignums()  # closed: the notebook shows it once, as the cell's value
    with pytest.raises(ValueError, match="runs"):
        ch06.usage_and_perplexity({}, 4)


def test_image_grids_are_figures_shown_once():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    digits = torch.rand(5, 1, 7, 7)
    fig = ch06.reconstruction_grid([digits, digits, digits], show=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert fig.axes[0].images[0].get_array().shape == (3 * 8 + 1, 4 * 8 + 1)  # 3 rows of 4
    fig = ch06.prior_samples({"independent prior": digits, "PixelCNN prior": digits}, ncols=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["independent prior", "PixelCNN prior"]
    assert fig.axes[0].images[0].get_array().shape == (3 * 8 + 1, 2 * 8 + 1)  # 5 images, 2 columns
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="every batch"):
        ch06.reconstruction_grid([digits, digits[:2]], show=4)
    with pytest.raises(ValueError, match="rows"):
        ch06.reconstruction_grid([])
    with pytest.raises(ValueError, match="groups"):
        ch06.prior_samples({})
