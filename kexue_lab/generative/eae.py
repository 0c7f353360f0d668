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

The model (article eq. (4)): an MLP encoder whose last layer is a BatchNorm *without* trainable
scale and shift, so every training batch of codes has mean 0 and variance 1 per coordinate; an
MLP decoder; and the loss ‖x − D(𝒩(E(x)))‖² − λ Ĥ(Z), with Ĥ estimated on the batch of codes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import _validate
from ..nn import mlp

__all__ = ["EAE", "eae_loss", "frechet_distance", "knn_entropy", "log_unit_ball_volume"]

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


class EAE(torch.nn.Module):
    """The entropic autoencoder of chapter 07: x → 𝒩(E(x)) = z → D(z) ∈ (0, 1)^{x_dim}.

    ``E`` is an MLP ``x_dim → hidden → code_dim``; 𝒩 is ``BatchNorm1d(code_dim, affine=False)``
    (Keras' ``scale=False, center=False``): in training mode each batch of codes is standardised
    per coordinate with the batch's own mean and (biased) variance; in eval mode the running
    averages are used. ``D`` mirrors ``E`` and ends in a sigmoid (pixels in [0, 1]). Inputs are
    flattened to ``(B, x_dim)``. The same class with λ = 0 in :func:`eae_loss` is the plain
    "AE + BN" baseline.
    """

    def __init__(
        self,
        x_dim: int,
        code_dim: int = 16,
        hidden: tuple[int, ...] = (256,),
        *,
        momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.x_dim = _validate.positive_int("x_dim", x_dim)
        self.code_dim = _validate.positive_int("code_dim", code_dim)
        widths = tuple(_validate.positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden))
        momentum = _validate.in_range("momentum", momentum, 0.0, 1.0)
        self.encoder = mlp([self.x_dim, *widths, self.code_dim])
        self.norm = torch.nn.BatchNorm1d(self.code_dim, affine=False, momentum=momentum)
        self.decoder = torch.nn.Sequential(
            mlp([self.code_dim, *reversed(widths), self.x_dim]), torch.nn.Sigmoid()
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The codes z = 𝒩(E(x)), shape ``(B, code_dim)``."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}")
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.x_dim:
            raise ValueError(
                f"x must have shape (B, ...) with {self.x_dim} values per sample, "
                f"got shape {tuple(x.shape)}"
            )
        return self.norm(self.encoder(x.reshape(x.shape[0], -1)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Flat images D(z) in (0, 1), shape ``(B, x_dim)``; z may come from N(0, I)."""
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.code_dim:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must have shape (B, {self.code_dim}), got {shape}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstruction, code)`` of a batch."""
        z = self.encode(x)
        return self.decode(z), z


def eae_loss(lam: float, k: int = 1) -> Callable[[EAE, torch.Tensor, Any], Any]:
    """The EAE objective of article eq. (4) as a loss for :func:`kexue_lab.train.fit`.

    ``loss(model, x, y)`` returns ``(L, {"rec": …, "entropy": …})`` with
    L = mean_b ‖x_b − D(z_b)‖² − λ·Ĥ_k(z), the squared error summed over pixels and Ĥ_k the
    Kozachenko–Leonenko estimate (:func:`knn_entropy`) of the batch's codes. λ = 0 gives the
    plain autoencoder with a BN code (the baseline); ``y`` is ignored.
    """
    lam = _validate.non_negative("lam", lam)
    k = _validate.positive_int("k", k)

    def loss(model: EAE, x: torch.Tensor, y: Any = None) -> Any:
        xhat, z = model(x)
        rec = (xhat - x.reshape(len(x), -1)).square().sum(dim=1).mean()
        h = knn_entropy(z, k=k)
        return rec - lam * h, {"rec": rec.detach(), "entropy": h.detach()}

    return loss


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two samples of features (rows), chapter 07.

    d² = ‖μ_a − μ_b‖² + tr(C_a + C_b − 2 (C_a C_b)^{1/2}), the formula of FID (Heusel et al.
    2017) applied to whatever features are given. tr (C_a C_b)^{1/2} is the sum of the square
    roots of the eigenvalues of C_a C_b (real and ≥ 0, as C_a C_b is similar to a PSD matrix).
    Computed in float64.
    """
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dim() != 2:
            raise TypeError(f"{name} must be a 2-D floating-point torch.Tensor (N, features)")
        if len(t) < 2:
            raise ValueError(f"{name} needs at least 2 rows to estimate a covariance, got {len(t)}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite, got NaN or infinite entries")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a and b must have the same number of columns, got {a.shape[1]}, {b.shape[1]}"
        )
    a, b = a.double(), b.double()
    ca, cb = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    root = torch.linalg.eigvals(ca @ cb).real.clamp(min=0).sqrt().sum()
    mean = (a.mean(0) - b.mean(0)).square().sum()
    return float(mean + ca.trace() + cb.trace() - 2 * root)
