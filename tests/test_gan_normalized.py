"""Tests of kexue_lab.generative.gan_normalized (chapter 10) against independent references."""

from __future__ import annotations

import pytest
import torch

from kexue_lab import nn
from kexue_lab.generative.gan import normalized_critic
from kexue_lab.generative.gan_normalized import activation_pattern, region_gradient_norm
from kexue_lab.nn import input_gradient_norm


def _leaky_mlp(seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return nn.mlp([2, 32, 32, 1], activation=lambda: torch.nn.LeakyReLU(0.2)).double()


@pytest.mark.parametrize("mode", ["gn", "gran"])
def test_region_gradient_norm_matches_double_backprop(mode):
    D = _leaky_mlp(0)
    x = 2 * torch.randn(2000, 2, dtype=torch.float64)
    auto = input_gradient_norm(lambda t: normalized_critic(D, t, mode, eps=1e-3), x)
    g, d = input_gradient_norm(D, x, return_output=True)
    closed = region_gradient_norm(d, g, mode, eps=1e-3)
    assert torch.allclose(auto, closed, atol=1e-12)
    assert float(closed.detach().max()) <= 1.0


def test_region_gradient_norm_hand_values():
    d, g = torch.tensor([0.0, 1.0, -3.0]), torch.tensor([2.0, 1.0, 1.0])
    assert torch.allclose(region_gradient_norm(d, g, "gn"), torch.tensor([1.0, 0.25, 1 / 16]))
    assert torch.allclose(
        region_gradient_norm(d, g, "gran", eps=1.0), torch.tensor([0.8, 0.5, 0.5])
    )


def test_region_gradient_norm_rejects_bad_input():
    t = torch.ones(3)
    with pytest.raises(ValueError, match="mode"):
        region_gradient_norm(t, t, "plain")
    with pytest.raises(ValueError, match="eps"):
        region_gradient_norm(t, t, "gran", eps=0.0)
    with pytest.raises(ValueError, match="same shape"):
        region_gradient_norm(t, torch.ones(2))
    with pytest.raises(ValueError, match="g is a norm"):
        region_gradient_norm(t, -t)


def test_activation_pattern_against_hooks_and_linearity():
    D = _leaky_mlp(1)
    x = torch.randn(500, 2, dtype=torch.float64)
    pat = activation_pattern(D, x)
    assert pat.shape == (500, 64) and pat.dtype == torch.bool
    h1 = D[0](x)
    assert torch.equal(pat[:, :32], h1 > 0)
    assert torch.equal(pat[:, 32:], D[2](D[1](h1)) > 0)
    # same pattern at two nearby points ⇒ D is affine between them: midpoint value = mean
    y = x + 1e-4 * torch.randn(500, 2, dtype=torch.float64)
    same = (pat == activation_pattern(D, y)).all(1)
    with torch.no_grad():
        mid = D((x + y) / 2)[:, 0]
        avg = (D(x)[:, 0] + D(y)[:, 0]) / 2
    assert same.sum() > 400
    assert torch.allclose(mid[same], avg[same], atol=1e-12)


def test_activation_pattern_rejects_bad_input():
    with pytest.raises(TypeError, match="Sequential"):
        activation_pattern(torch.nn.Linear(2, 1), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="shape"):
        activation_pattern(_leaky_mlp(0), torch.zeros(2))
    with pytest.raises(ValueError, match="no Linear"):
        activation_pattern(torch.nn.Sequential(torch.nn.ReLU()), torch.zeros(1, 2))
