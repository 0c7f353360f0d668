"""Chapter 08's explorations and figure (the grids themselves are swept by test_views.py)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from kexue_lab.generative.nvae import kl_residual
from kexue_lab.views import ch08


def _number(readout: str, key: str) -> float:
    match = re.search(key + r"[^;]*= ([0-9.]+) nats", readout)
    assert match, readout
    return float(match.group(1))


def test_residual_kl_readout_is_the_torch_kl():
    view = ch08.residual_kl(sigma=0.5, dmu=0.5, dvar=2.0)
    ref = kl_divergence(Normal(0.5, 0.5 * math.sqrt(2.0)), Normal(0.0, 0.5))
    assert _number(view.readout, "KL") == pytest.approx(float(ref), abs=1e-4)
    assert _number(view.readout, "KL") == pytest.approx(0.5 * (2 - math.log(2)), abs=1e-4)


def test_residual_kl_curve_is_kl_residual_and_smaller_prior_costs_more():
    view = ch08.residual_kl(sigma=0.25, dmu=0.0, dvar=1.0)
    curve, ref_curve = view.panels[1].curves
    dmu = torch.tensor(np.asarray(curve.x), dtype=torch.float64)
    ours = kl_residual(dmu, torch.zeros_like(dmu), torch.full_like(dmu, math.log(0.25)))
    np.testing.assert_allclose(curve.y, np.maximum(ours.numpy(), 1e-3), atol=1e-12)
    assert np.all(np.asarray(curve.y) >= np.asarray(ref_curve.y))
    left = view.panels[0].curves
    np.testing.assert_allclose(left[0].y, left[1].y)  # Δμ = 0, Δσ² = 1: the same density


def test_densities_integrate_to_one():
    view = ch08.residual_kl(sigma=1.0, dmu=0.5, dvar=1.0)
    for c in view.panels[0].curves:
        assert np.trapezoid(c.y, c.x) == pytest.approx(1.0, abs=2e-3)


def test_latent_budget_article_setting():
    view = ch08.latent_budget(setting="FFHQ 256² (article)", channels=20)
    assert "6,005,760" in view.readout and "30.547" in view.readout
    assert sum(view.panels[0].curves[0].y) == 6_005_760


def test_sample_grids_draws_one_panel_per_batch():
    fig = ch08.sample_grids({"a": torch.rand(20, 784), "b": torch.rand(10, 784)}, ncols=10)
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "a"
    fig = ch08.sample_grids({str(i): torch.rand(10, 784) for i in range(3)})
    assert len(fig.axes) == 4 and not fig.axes[3].axison  # 2 × 2, the last panel empty
    with pytest.raises(ValueError, match="at least one"):
        ch08.sample_grids({})


def test_loss_curves_one_line_per_model():
    fig = ch08.loss_curves({"a": [3.0, 2.0, 1.5], "b": [4.0, 2.5, 2.0]}, title="t")
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_title() == "t"
    fig = ch08.loss_curves({"a": [3.0, 2.0, 1.5]}, first_epoch=2)
    assert list(fig.axes[0].lines[0].get_xdata()) == [2, 3]
    with pytest.raises(ValueError, match="at least one"):
        ch08.loss_curves({})
