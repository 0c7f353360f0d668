"""Tests of kexue_lab.views.ch07 (chapter 07: the EAE explorations and figures)."""

import math

import numpy as np
import pytest
import torch

from kexue_lab.views import ch07
from kexue_lab.widgets import Exploration, View


def test_repulsion_is_declared_with_its_grid():
    exp = ch07.repulsion
    assert isinstance(exp, Exploration)
    assert [c.name for c in exp.controls] == ["steps", "start"]
    assert exp.defaults == {"steps": 100, "start": "two blobs"}
    assert 0 in exp.controls[0].values and 400 in exp.controls[0].values


@pytest.mark.parametrize("start", ["two blobs", "skewed"])
def test_repulsion_standardises_and_raises_the_estimate(start):
    first, last = ch07.repulsion(steps=0, start=start), ch07.repulsion(steps=400, start=start)
    assert isinstance(last, View) and len(last.panels) == 3
    for view in (first, last):
        pts = view.panels[0].curves[0]
        assert np.mean(pts.x) == pytest.approx(0.0, abs=2e-3)
        assert np.std(pts.x) == pytest.approx(1.0, abs=2e-3)  # BN: unit (biased) variance
    h = last.panels[2].curves[0].y
    assert h[-1] > h[0]  # the ascent raises Ĥ
    assert last.panels[2].curves[1].y[0] == pytest.approx(math.log(2 * math.pi * math.e), abs=1e-4)
    hist = last.panels[1].curves[0]
    width = hist.x[1] - hist.x[0]
    assert np.sum(hist.y) * width == pytest.approx(1.0, abs=0.02)  # a density (mass in [−4, 4])
    assert "Ĥ =" in last.readout


def test_repulsion_bad_input():
    with pytest.raises(ValueError, match="steps"):
        ch07.repulsion(steps=401)
    with pytest.raises(ValueError, match="start"):
        ch07.repulsion(start="ring")


def test_estimator_error_small_at_low_dimension():
    view = ch07.estimator_error(n=1000, k=1)
    assert isinstance(view, View) and len(view.panels) == 2
    gauss_mean = view.panels[0].curves[0].y
    assert abs(gauss_mean[0]) < 0.1 and gauss_mean[-1] > 1.0  # d = 1 fine, d = 32 biased up
    cube_mean = view.panels[1].curves[0].y
    assert abs(cube_mean[0]) < 0.1 and cube_mean[-1] > gauss_mean[-1]
    with pytest.raises(ValueError, match="n="):
        ch07.estimator_error(n=50)


def test_image_rows_and_code_pairs_are_figures():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch07.image_rows({"a": torch.rand(12, 784), "b": torch.rand(5, 1, 28, 28)}, ncols=6)
    assert isinstance(fig, Figure) and [ax.get_title() for ax in fig.axes] == ["a", "b"]
    z = torch.randn(300, 4, generator=torch.Generator().manual_seed(0))
    z[:, 3] = z[:, 1] + 0.1 * z[:, 3]  # coordinates 2 and 4 are the correlated pair
    fig = ch07.code_pairs({"codes": z, "again": z.numpy()}, show=100)
    assert len(fig.axes) == 2 and "z2, z4" in fig.axes[0].get_title()
    assert len(fig.axes[0].collections[0].get_offsets()) == 100
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="groups"):
        ch07.image_rows({})
    with pytest.raises(ValueError, match="square"):
        ch07.image_rows({"x": torch.rand(3, 15)})
    with pytest.raises(ValueError, match="codes"):
        ch07.code_pairs({})
    with pytest.raises(ValueError, match="d >= 2"):
        ch07.code_pairs({"x": torch.randn(10, 1)})
