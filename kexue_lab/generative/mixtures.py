"""Mixtures of Gaussians in the plane and how many of their modes a generator covers.

The standard GAN test bed of Metz et al. (*Unrolled GANs*, ICLR 2017) and Srivastava et al.
(*VEEGAN*, NeurIPS 2017), used by chapters 10 and 11: K equal-weight Gaussians N(cₖ, σ²I)
with centres on a ring or a grid. A generated sample is *high quality* if it lies within
``sigmas`` (= 3) standard deviations of its nearest centre, and a mode is *covered* if at
least a fraction ``min_fraction`` of the samples are high-quality samples assigned to it
(VEEGAN: 20 of 2,500, i.e. 0.8 %). A generator that covers every mode evenly has a mode
histogram at KL 0 from the uniform one; one that collapses onto m of K modes has KL log(K/m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from .. import _validate
from ..maths.entropy import kl_discrete

__all__ = ["ModeCoverage", "grid_centers", "mode_coverage", "ring_centers", "sample_mixture"]


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """``modes`` centres evenly spaced on a circle of ``radius``: cₖ = r(cos 2πk/K, sin 2πk/K)."""
    modes = _validate.int_at_least("modes", modes, 2)
    radius = _validate.positive("radius", radius)
    angle = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return (radius * torch.stack([angle.cos(), angle.sin()], dim=1)).float()


def grid_centers(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """``side``² centres on a square grid with ``spacing``, centred at the origin."""
    side = _validate.int_at_least("side", side, 2)
    spacing = _validate.positive("spacing", spacing)
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def _centers(centers: Any) -> torch.Tensor:
    if not torch.is_tensor(centers) or centers.ndim != 2 or len(centers) == 0:
        got = tuple(centers.shape) if torch.is_tensor(centers) else type(centers).__name__
        raise ValueError(f"centers must be a tensor of shape (K, d) with K ≥ 1, got {got}")
    return centers.float()


def sample_mixture(
    centers: torch.Tensor,
    n: int,
    std: float,
    *,
    generator: torch.Generator | None = None,
    device: Any = None,
) -> torch.Tensor:
    """``n`` samples of the equal-weight mixture (1/K) Σₖ N(cₖ, std²·I), shape (n, d).

    ``generator`` (a CPU ``torch.Generator``) makes the draw reproducible; the result is
    moved to ``device`` (default: the device of ``centers``).
    """
    c = _centers(centers).cpu()
    n = _validate.positive_int("n", n)
    std = _validate.positive("std", std)
    k = torch.randint(len(c), (n,), generator=generator)
    x = c[k] + std * torch.randn(n, c.shape[1], generator=generator)
    return x.to(device if device is not None else centers.device)


@dataclass(frozen=True)
class ModeCoverage:
    """How a batch of samples covers a mixture's modes (see :func:`mode_coverage`)."""

    covered: int  #: modes with at least ``min_fraction`` of the samples, high quality
    modes: int  #: K
    high_quality: float  #: fraction of samples within ``sigmas``·std of their nearest centre
    kl_uniform: float  #: KL(histogram of high-quality samples over modes ‖ uniform), nats
    counts: torch.Tensor  #: high-quality samples per mode, shape (K,)


def mode_coverage(
    samples: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    *,
    sigmas: float = 3.0,
    min_fraction: float = 0.008,
) -> ModeCoverage:
    """Modes covered, the high-quality fraction and the mode histogram's KL from uniform.

    Each sample goes to its nearest centre; it is high quality if its distance is at most
    ``sigmas``·``std``. Mode k is covered if its high-quality count is ≥ ``min_fraction``·n
    (VEEGAN's rule, 20 of 2,500 samples). ``kl_uniform`` = Σₖ pₖ log(K pₖ) over the
    high-quality histogram p (0 when every mode gets the same share; ``inf`` with no
    high-quality sample at all).
    """
    c = _centers(centers)
    if not torch.is_tensor(samples) or samples.ndim != 2 or samples.shape[1] != c.shape[1]:
        got = tuple(samples.shape) if torch.is_tensor(samples) else type(samples).__name__
        raise ValueError(f"samples must have shape (n, {c.shape[1]}) like centers, got {got}")
    if len(samples) == 0:
        raise ValueError("samples must hold at least one sample, got 0")
    std = _validate.positive("std", std)
    sigmas = _validate.positive("sigmas", sigmas)
    min_fraction = _validate.in_range("min_fraction", min_fraction, 0.0, 1.0)
    x = samples.detach().float().to(c.device)
    dist, nearest = torch.cdist(x, c).min(dim=1)
    good = dist <= sigmas * std
    counts = torch.bincount(nearest[good], minlength=len(c))
    total = int(counts.sum())
    if total == 0:
        kl = math.inf
    else:
        uniform = torch.full((len(c),), 1 / len(c), dtype=torch.float64)
        kl = float(kl_discrete(counts.double().cpu() / total, uniform))
    covered = int((counts >= min_fraction * len(x)).sum())
    return ModeCoverage(covered, len(c), float(good.double().mean()), kl, counts.cpu())
