"""Chapter 11's exploration and figures (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue_lab.views import ch11


def test_portrait_verdicts() -> None:
    out = ch11.dirac_portrait(gamma=0.0, h=0.1, mode="simultaneous")
    assert "diverges" in out.readout and "1.0012" in out.readout
    radius = np.asarray(out.panels[1].curves[0].y)
    assert np.all(np.diff(radius) > 0)
    assert "orbits" in ch11.dirac_portrait(gamma=0.0, h=0.1, mode="alternating").readout
    conv = ch11.dirac_portrait(gamma=1.0, h=0.1)
    assert "converges" in conv.readout
    assert conv.panels[1].curves[0].y[-1] < 1e-3


def test_controls_offer_the_chapter_values() -> None:
    gamma, h, mode = ch11.dirac_portrait.controls
    assert 0.0 in gamma.values and 0.1 in gamma.values and 1.0 in gamma.values
    assert 0.1 in h.values and set(mode.values) == {"simultaneous", "alternating"}


def test_figures() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch11.dirac_figure(steps=50)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 and not plt.get_fignums()
    centers = np.array([[2.0, 0.0], [-2.0, 0.0]])
    pts = {"a": [np.zeros((10, 2))] * 2, "b": [np.ones((10, 2))]}
    fig = ch11.scatter_grid(pts, centers, labels={"a": ["s0", "s1"], "b": ["s0"]})
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "a: s0"
    fig = ch11.digit_grids({"x": torch.rand(20, 1, 8, 8), "y": torch.rand(20, 1, 8, 8)})
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "y"
    with pytest.raises(ValueError, match="samples"):
        ch11.scatter_grid({}, centers, labels={})
    with pytest.raises(ValueError, match="gamma"):
        ch11.dirac_figure(gamma=0.0)
