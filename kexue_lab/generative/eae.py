"""The Kozachenko–Leonenko k-nearest-neighbour entropy estimate behind EAE.

Chapter 07 (kexue.fm/archives/7343, "EAE：自编码器 + BN + 最大熵 = 生成模型"). EAE maximises
the entropy H(Z) of the codes z = E(x), which it can only estimate from a batch of samples. With
r_i the Euclidean distance from z_i to its k-th nearest *other* point of the batch, the local
approximation P_i(ε) ≈ p(z_i) V_d ε^d of the ball's probability mass gives
log p(z_i) ≈ ψ(k) − ψ(N) − log V_d − d log r_i (article, section 熵的估计), hence

    Ĥ = ψ(N) − ψ(k) + log V_d + (d/N) Σ_i log r_i   (nats),

where ψ is the digamma function and V_d = π^{d/2} / Γ(d/2 + 1) the volume of the unit d-ball
(Kozachenko & Leonenko 1987; Lombardi & Pant 2016). Only the last term depends on z, and its
gradient pushes every code away from its k-th neighbour: EAE's entropy term.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import _validate

__all__ = ["knn_entropy", "log_unit_ball_volume"]

_CHUNK_ELEMENTS = 1 << 22  # at most this many pairwise distances are held at once


def log_unit_ball_volume(d: int) -> float:
    """log V_d = (d/2) log π − log Γ(d/2 + 1), the log-volume of the unit ball in R^d (ch. 07)."""
    d = _validate.positive_int("d", d)
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


def _kth_neighbour(z: torch.Tensor, k: int) -> torch.Tensor:
    """Index of the k-th nearest other point of each row, found chunk by chunk (no gradient)."""
    n = z.shape[0]
    rows = max(1, _CHUNK_ELEMENTS // n)
    out = torch.empty(n, dtype=torch.long, device=z.device)
    with torch.no_grad():
        sq = z.square().sum(dim=1)
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            # ‖a − b‖² = ‖a‖² + ‖b‖² − 2a·b as one matrix product (torch.cdist's fast mode);
            # only the ranking is used here, the distances are recomputed exactly afterwards
            dist = torch.addmm(sq[start:stop, None] + sq[None, :], z[start:stop], z.T, alpha=-2)
            own = torch.arange(start, stop, device=z.device)
            dist[own - start, own] = math.inf  # a point is not its own neighbour
            if k == 1:
                out[start:stop] = dist.argmin(dim=1)
            else:
                out[start:stop] = dist.topk(k, dim=1, largest=False).indices[:, k - 1]
    return out


def knn_entropy(z: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Kozachenko–Leonenko entropy estimate of the sample ``z`` (N, d), in nats (chapter 07).

    Ĥ = ψ(N) − ψ(k) + log V_d + (d/N) Σ_i log r_i, with r_i the distance from z_i to its k-th
    nearest other point. Returns a 0-dim tensor of ``z``'s dtype, differentiable w.r.t. ``z``.
    The neighbours are searched in row chunks, so memory stays bounded for large N; the
    distances r_i are then recomputed exactly from the chosen pairs.
    """
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"z must be a torch.Tensor of shape (N, d), got {type(z).__name__}")
    if not z.is_floating_point():
        raise TypeError(f"z must be a floating-point tensor, got dtype {z.dtype}")
    if z.dim() != 2:
        raise ValueError(f"z must have shape (N, d), got shape {tuple(z.shape)}")
    k = _validate.positive_int("k", k)
    n, d = z.shape
    if d < 1:
        raise ValueError(f"z must have at least one column (d >= 1), got shape {tuple(z.shape)}")
    if n <= k:
        raise ValueError(f"z needs more than k={k} points (N > k), got N={n}")
    if not bool(torch.isfinite(z).all()):
        raise ValueError("z must be finite, got NaN or infinite entries")
    idx = _kth_neighbour(z, k)
    r = (z - z[idx]).norm(dim=1)
    zero = int((r == 0).sum())
    if zero:
        raise ValueError(
            f"z has duplicate points: {zero} of N={n} points are at distance 0 from their "
            f"k={k}-th neighbour, so log r is -inf; remove duplicates, add jitter or raise k"
        )
    const = _digamma(n) - _digamma(k) + log_unit_ball_volume(d)
    return const + d * r.log().mean()


def _digamma(x: Any) -> float:
    return float(torch.special.digamma(torch.tensor(float(x), dtype=torch.float64)))
