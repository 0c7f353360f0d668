import math

import pytest
import torch

from kexue_lab.generative.mixtures import (
    grid_centers,
    mode_coverage,
    ring_centers,
    sample_mixture,
)


def test_ring_and_grid_centres():
    ring = ring_centers(8, radius=2.0)
    assert ring.shape == (8, 2)
    assert torch.allclose(ring.norm(dim=1), torch.full((8,), 2.0))
    # neighbours 2π/8 apart: chord 2r sin(π/8)
    assert torch.allclose((ring[1] - ring[0]).norm(), torch.tensor(4 * math.sin(math.pi / 8)))
    grid = grid_centers(5, spacing=2.0)
    assert grid.shape == (25, 2)
    assert torch.allclose(grid.mean(0), torch.zeros(2))
    assert grid[:, 0].unique().tolist() == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_samples_from_the_mixture_cover_every_mode_evenly():
    c = ring_centers(8)
    x = sample_mixture(c, 20_000, 0.02, generator=torch.Generator().manual_seed(0))
    cov = mode_coverage(x, c, 0.02)
    assert cov.covered == cov.modes == 8
    # a 2-D Gaussian lies within 3σ with probability 1 − e^{−9/2}
    assert cov.high_quality == pytest.approx(1 - math.exp(-4.5), abs=4 * math.sqrt(0.011 / 2e4))
    # KL of a multinomial histogram from uniform ≈ (K − 1)/(2n)
    assert cov.kl_uniform < 10 * 7 / (2 * 20_000)


def test_collapse_onto_some_modes_is_seen():
    c = ring_centers(8)
    x = sample_mixture(c[:2], 4000, 0.02, generator=torch.Generator().manual_seed(1))
    cov = mode_coverage(x, c, 0.02)
    assert cov.covered == 2
    assert cov.kl_uniform == pytest.approx(math.log(4), abs=0.01)
    assert cov.counts[2:].sum() == 0
    far = mode_coverage(x + 10.0, c, 0.02)
    assert far.high_quality == 0 and far.covered == 0 and far.kl_uniform == math.inf


def test_mode_coverage_threshold_is_veegans_rule():
    c = ring_centers(4)
    x = torch.cat([c[0].expand(980, 2), c[1].expand(20, 2)])  # 20 of 1000 = 2 %
    assert mode_coverage(x, c, 0.1, min_fraction=0.02).covered == 2
    assert mode_coverage(x, c, 0.1, min_fraction=0.021).covered == 1


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ring_centers(1), "modes"),
        (lambda: grid_centers(2, spacing=0), "spacing"),
        (lambda: sample_mixture(torch.zeros(3), 10, 0.1), "centers"),
        (lambda: sample_mixture(ring_centers(), 0, 0.1), "n"),
        (lambda: mode_coverage(torch.zeros(5, 3), ring_centers(), 0.1), "samples"),
        (lambda: mode_coverage(torch.zeros(5, 2), ring_centers(), -1.0), "std"),
        (lambda: mode_coverage(torch.zeros(5, 2), ring_centers(), 0.1, min_fraction=2), "min_"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
