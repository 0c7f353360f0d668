"""Vector quantisation: the quantiser, the straight-through estimator, code statistics.

Chapter 06 (kexue.fm/archives/6760). A VQ-VAE replaces every encoder vector z by its
nearest entry of a learned codebook E = [e_1, …, e_K] (article eq. 4),

    k* = argmin_k ‖z − e_k‖²,   z_q = e_{k*},

and writes the decoder input with the straight-through estimator z + sg[z_q − z]
(eq. 10): its value is z_q, its Jacobian with respect to z the identity. The codebook
learns from the vector-quantisation loss, in the paper's weighting (codebook weight 1,
commitment weight β):

    L_vq = mean((sg[z] − z_q)²) + β · mean((z − sg[z_q])²).

This module holds the quantiser (:class:`VectorQuantizer`), the pieces around it
(:func:`straight_through`, :func:`squared_distances`, :func:`nearest_codes`), codebook
statistics (:func:`codebook_stats`, :func:`batch_perplexity`; the perplexity itself is
:func:`kexue_lab.maths.entropy.perplexity`) and dead-code re-seeding
(:func:`reseed_dead_codes`). The convolutional model is in :mod:`.vqvae`, the 2-D
codebook toy in :mod:`.codebook_toy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate
from ..maths.entropy import entropy, perplexity

__all__ = [
    "CodebookStats",
    "VectorQuantizer",
    "batch_perplexity",
    "codebook_stats",
    "nearest_codes",
    "reseed_dead_codes",
    "squared_distances",
    "straight_through",
]


def _float_tensor(name: str, value: Any) -> torch.Tensor:
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {value.dtype}; "
            "convert it with .float()"
        )
    return value


def _vectors(name: str, value: Any, dim: int) -> torch.Tensor:
    """Check that ``value`` is a float tensor of shape ``(..., dim)`` with at least one vector."""
    value = _float_tensor(name, value)
    if value.dim() == 0 or value.shape[-1] != dim:
        got = "a 0-d tensor" if value.dim() == 0 else f"{value.shape[-1]}"
        raise ValueError(
            f"{name} must have shape (..., {dim}): its last dimension must equal dim; "
            f"expected {dim}, got {got} (shape {tuple(value.shape)})"
        )
    if value.numel() == 0:
        raise ValueError(f"{name} holds no vectors (shape {tuple(value.shape)}); give at least one")
    return value


def _codebook(name: str, value: Any) -> torch.Tensor:
    value = _float_tensor(name, value)
    if value.dim() != 2 or value.shape[0] < 1 or value.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (num_codes, dim) with both ≥ 1, got {tuple(value.shape)}"
        )
    return value


def _codes(name: str, value: Any, num_codes: int) -> torch.Tensor:
    if not torch.is_tensor(value):
        raise TypeError(
            f"{name} must be a torch tensor of code indices, got {type(value).__name__}"
        )
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TypeError(
            f"{name} must be an integer tensor of code indices, got dtype {value.dtype}"
        )
    if value.numel() == 0:
        raise ValueError(f"{name} is empty: give at least one code index")
    lo, hi = int(value.min()), int(value.max())
    if lo < 0 or hi >= num_codes:
        raise ValueError(
            f"{name} must hold indices in [0, {num_codes - 1}] (num_codes={num_codes}), "
            f"got values from {lo} to {hi}"
        )
    return value


def straight_through(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """The straight-through estimator z + sg[z_q − z] (article eq. 10, chapter 06).

    Computed as sg[z_q] + (z − sg[z]), which is the same expression in exact
    arithmetic but bit-exact in floating point: z − sg[z] is exactly 0, so the
    value is exactly ``z_q`` (the literal z + (z_q − z) is off by an ulp in about
    a third of float32 entries). The Jacobian with respect to ``z`` is the
    identity; ``z_q`` receives no gradient through this expression.
    """
    z, z_q = _float_tensor("z", z), _float_tensor("z_q", z_q)
    if z.shape != z_q.shape:
        raise ValueError(
            f"z and z_q must have the same shape, got {tuple(z.shape)} and {tuple(z_q.shape)}"
        )
    return z_q.detach() + (z - z.detach())


def squared_distances(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """All squared distances ‖z_i − e_k‖² = ‖z‖² + ‖e‖² − 2 z·e (author's code, chapter 06).

    ``z`` has shape ``(..., d)`` and ``codebook`` ``(K, d)``; returns ``(..., K)``.
    One matrix product (``torch.addmm``) instead of a ``(N, K, d)`` difference
    tensor. Rounding can make tiny distances slightly negative; they are clamped to 0.
    """
    codebook = _codebook("codebook", codebook)
    z = _vectors("z", z, codebook.shape[1])
    flat = z.reshape(-1, z.shape[-1])
    e = codebook.to(flat.dtype)
    out = torch.addmm((e * e).sum(1).unsqueeze(0), flat, e.t(), beta=1.0, alpha=-2.0)
    out = out + (flat * flat).sum(1, keepdim=True)
    return out.clamp_min_(0).reshape(*z.shape[:-1], codebook.shape[0])


def nearest_codes(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook row for every vector of ``z`` (article eq. 4, chapter 06).

    argmin_k ‖z − e_k‖² = argmin_k (‖e_k‖² − 2 z·e_k), since ‖z‖² is the same for
    every k; one ``torch.addmm`` computes all scores. Returns a ``long`` tensor of
    shape ``z.shape[:-1]`` on ``z``'s device. No gradient flows (argmin has none).
    """
    codebook = _codebook("codebook", codebook)
    z = _vectors("z", z, codebook.shape[1])
    if z.device != codebook.device:
        raise ValueError(
            f"z is on {z.device} but codebook is on {codebook.device}; move both to one device"
        )
    with torch.no_grad():
        flat = z.reshape(-1, z.shape[-1])
        e = codebook.to(flat.dtype)
        scores = torch.addmm((e * e).sum(1).unsqueeze(0), flat, e.t(), beta=1.0, alpha=-2.0)
        return scores.argmin(1).reshape(z.shape[:-1])


class VectorQuantizer(nn.Module):
    """Nearest-neighbour vector quantisation with a learned codebook (chapter 06).

    ``codebook`` is a ``(num_codes, dim)`` parameter, initialised uniformly in
    [−1/K, 1/K] (a common default; chapter 06 shows it leaves codes dead).
    ``forward(z)`` takes ``z`` of shape ``(..., dim)`` and returns ``(z_q, loss, codes)``:

    * ``z_q = z + sg[e_k − z]``: the nearest codebook rows, with straight-through
      gradients (value exactly e_k, identity Jacobian with respect to z, no
      gradient to the codebook; see :func:`straight_through`), shaped like z;
    * ``loss = mean((sg[z] − e_k)²) + β·mean((z − sg[e_k])²)``, means over all
      elements: the codebook term (weight 1) moves the codes, the commitment term
      (weight β, 0.25 in the paper) keeps the encoder near them;
    * ``codes``: the indices k, of shape ``z.shape[:-1]``.

    Everything stays on ``z``'s device; the codebook is cast to ``z``'s dtype.
    """

    def __init__(self, num_codes: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.num_codes = _validate.positive_int("num_codes", num_codes)
        self.dim = _validate.positive_int("dim", dim)
        self.beta = _validate.non_negative("beta", beta)
        bound = 1.0 / self.num_codes
        self.codebook = nn.Parameter(torch.empty(self.num_codes, self.dim).uniform_(-bound, bound))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = _vectors("z", z, self.dim)
        if z.device != self.codebook.device:
            raise ValueError(
                f"z is on {z.device} but the codebook is on {self.codebook.device}; "
                "move the module with .to(z.device)"
            )
        e_all = self.codebook if self.codebook.dtype == z.dtype else self.codebook.to(z.dtype)
        codes = nearest_codes(z.detach(), e_all.detach())
        e = F.embedding(codes, e_all)
        loss = F.mse_loss(e, z.detach()) + self.beta * F.mse_loss(z, e.detach())
        z_q = e.detach() + (z - z.detach())  # = z + sg[e − z], with the value exactly e
        return z_q, loss, codes

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codebook rows ``e_k`` for integer ``codes`` of any shape: ``codes.shape + (dim,)``."""
        codes = _codes("codes", codes, self.num_codes)
        return F.embedding(codes.to(self.codebook.device), self.codebook)

    def extra_repr(self) -> str:
        return f"num_codes={self.num_codes}, dim={self.dim}, beta={self.beta}"


def batch_perplexity(codes: torch.Tensor, num_codes: int) -> torch.Tensor:
    """exp H(p) of the code frequencies p in one batch, as a 0-d tensor on ``codes``' device.

    The perplexity of chapter 06 (:func:`kexue_lab.maths.entropy.perplexity` of
    ``bincount(codes)``), kept as a tensor so that it can be a training metric in
    ``kexue_lab.train.fit``.
    """
    if not torch.is_tensor(codes) or codes.is_floating_point() or codes.dtype == torch.bool:
        got = getattr(codes, "dtype", type(codes).__name__)
        raise TypeError(f"codes must be an integer tensor of code indices, got {got}")
    num_codes = _validate.positive_int("num_codes", num_codes)
    counts = torch.bincount(codes.reshape(-1), minlength=num_codes).double()
    return torch.exp(entropy(counts / counts.sum()))


@dataclass(frozen=True)
class CodebookStats:
    """How a batch of codes uses the codebook: counts per code and summaries."""

    counts: torch.Tensor

    @property
    def num_codes(self) -> int:
        """K, the codebook size."""
        return int(self.counts.numel())

    @property
    def used(self) -> int:
        """Number of codes assigned at least once."""
        return int((self.counts > 0).sum())

    @property
    def dead(self) -> int:
        """Number of codes never assigned."""
        return self.num_codes - self.used

    @property
    def usage(self) -> float:
        """Fraction of the codebook in use, used / K."""
        return self.used / self.num_codes

    @property
    def perplexity(self) -> float:
        """exp H(counts / Σ counts), between 1 and ``used`` (:func:`maths.entropy.perplexity`)."""
        return perplexity(self.counts)

    def __str__(self) -> str:
        used = f"{self.used}/{self.num_codes} codes used ({self.dead} dead)"
        return f"{used}, perplexity {self.perplexity:.1f}"


def codebook_stats(codes: torch.Tensor, num_codes: int) -> CodebookStats:
    """Usage counts (``torch.bincount``) and perplexity of ``codes`` over ``num_codes`` entries."""
    num_codes = _validate.positive_int("num_codes", num_codes)
    codes = _codes("codes", codes, num_codes)
    return CodebookStats(torch.bincount(codes.reshape(-1), minlength=num_codes).cpu())


def reseed_dead_codes(
    quantizer: VectorQuantizer,
    z: torch.Tensor,
    counts: torch.Tensor,
    *,
    min_count: int = 1,
    generator: torch.Generator | None = None,
) -> int:
    """Move every code used < ``min_count`` times onto a random current encoding (chapter 06).

    ``z`` holds recent encoder outputs of shape ``(..., dim)`` and ``counts`` the
    number of times each code was chosen since the last re-seeding. A dead code
    gets no gradient from the codebook loss and would never move; placing it on a
    live encoding gives it a chance to win assignments. Encodings are drawn
    without replacement when there are enough. Returns how many codes moved.
    """
    if not isinstance(quantizer, VectorQuantizer):
        raise TypeError(f"quantizer must be a VectorQuantizer, got {type(quantizer).__name__}")
    z = _vectors("z", z, quantizer.dim)
    min_count = _validate.positive_int("min_count", min_count)
    if not torch.is_tensor(counts) or counts.shape != (quantizer.num_codes,):
        shape = tuple(counts.shape) if torch.is_tensor(counts) else type(counts).__name__
        raise ValueError(
            f"counts must be a tensor of shape ({quantizer.num_codes},), one count per code; "
            f"got {shape}"
        )
    dead = (counts.to(quantizer.codebook.device) < min_count).nonzero().squeeze(1)
    n_dead = int(dead.numel())
    if n_dead == 0:
        return 0
    flat = z.detach().reshape(-1, quantizer.dim)
    if flat.shape[0] >= n_dead:
        pick = torch.randperm(flat.shape[0], device=flat.device, generator=generator)[:n_dead]
    else:
        pick = torch.randint(flat.shape[0], (n_dead,), device=flat.device, generator=generator)
    with torch.no_grad():
        quantizer.codebook[dead] = flat[pick].to(quantizer.codebook)
    return n_dead
