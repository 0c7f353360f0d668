"""Vector quantisation and a small VQ-VAE (chapter 6, kexue.fm/archives/6760).

A VQ-VAE is an autoencoder whose bottleneck is discrete. The encoder maps an
image to a grid of vectors z ∈ ℝ^{m×m×d}; each vector is replaced by its
nearest entry of a learned codebook E = [e_1, …, e_K] (eq. 4 of the article),

    k* = argmin_k ‖z − e_k‖²,   z_q = e_{k*},

and the decoder reconstructs the image from z_q. Because argmin has no
gradient, the decoder input is written with the straight-through estimator,
z + sg[z_q − z] (eq. 10): its value is z_q, its Jacobian with respect to z is
the identity. The codebook learns from the vector-quantisation loss, in the
paper's weighting (codebook weight 1, commitment weight β):

    L_vq = mean((sg[z] − z_q)²) + β · mean((z − sg[z_q])²).

This module holds the quantiser (:class:`VectorQuantizer`), the pieces around
it (:func:`straight_through`, :func:`squared_distances`, :func:`nearest_codes`),
codebook statistics (:func:`codebook_stats`, :func:`perplexity`), the dead-code
re-seeding utility (:func:`reseed_dead_codes`), a small convolutional
:class:`VQVAE` for 28×28 and 32×32 images, an independent per-position prior
over codes, and the 2-D exploration of the chapter (:func:`quantization_view`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate
from ..widgets import Curve, Panel, View

__all__ = [
    "CodebookStats",
    "VQVAE",
    "VectorQuantizer",
    "batch_perplexity",
    "code_length_bits",
    "codebook_stats",
    "encode_dataset",
    "fit_independent_prior",
    "kmeans_lloyd",
    "nearest_codes",
    "perplexity",
    "quantization_view",
    "reseed_dead_codes",
    "ring_data",
    "sample_codes",
    "squared_distances",
    "straight_through",
    "toy_codebook_gradient",
    "toy_codebook_run",
]


# ---- argument checks ------------------------------------------------------------------------------
def _float_tensor(name: str, value: Any) -> torch.Tensor:
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}; convert it with .float()")
    return value


def _vectors(name: str, value: Any, dim: int) -> torch.Tensor:
    """Check that ``value`` is a float tensor of shape ``(..., dim)`` holding at least one vector."""
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
        raise ValueError(f"{name} must have shape (num_codes, dim) with both ≥ 1, got {tuple(value.shape)}")
    return value


def _codes(name: str, value: Any, num_codes: int) -> torch.Tensor:
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a torch tensor of code indices, got {type(value).__name__}")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of code indices, got dtype {value.dtype}")
    if value.numel() == 0:
        raise ValueError(f"{name} is empty: give at least one code index")
    lo, hi = int(value.min()), int(value.max())
    if lo < 0 or hi >= num_codes:
        raise ValueError(f"{name} must hold indices in [0, {num_codes - 1}] (num_codes={num_codes}), got values from {lo} to {hi}")
    return value


# ---- the pieces of eq. (4) and (10) --------------------------------------------------------------------
def straight_through(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """The straight-through estimator z + sg[z_q − z] (article eq. 10, chapter 6).

    Computed as sg[z_q] + (z − sg[z]), which is the same expression in exact
    arithmetic but bit-exact in floating point: z − sg[z] is exactly 0, so the
    value is exactly ``z_q`` (the literal z + (z_q − z) is off by an ulp in about
    a third of float32 entries). The Jacobian with respect to ``z`` is the
    identity; ``z_q`` receives no gradient through this expression.
    """
    z, z_q = _float_tensor("z", z), _float_tensor("z_q", z_q)
    if z.shape != z_q.shape:
        raise ValueError(f"z and z_q must have the same shape, got {tuple(z.shape)} and {tuple(z_q.shape)}")
    return z_q.detach() + (z - z.detach())


def squared_distances(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """All squared distances ‖z_i − e_k‖² by the expansion ‖z‖² + ‖e‖² − 2 z·e (author's code, chapter 6).

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
    """Index of the nearest codebook row for every vector of ``z`` (article eq. 4, chapter 6).

    argmin_k ‖z − e_k‖² = argmin_k (‖e_k‖² − 2 z·e_k), since ‖z‖² is the same for
    every k; one ``torch.addmm`` computes all scores. Returns a ``long`` tensor of
    shape ``z.shape[:-1]`` on ``z``'s device. No gradient flows (argmin has none).
    """
    codebook = _codebook("codebook", codebook)
    z = _vectors("z", z, codebook.shape[1])
    if z.device != codebook.device:
        raise ValueError(f"z is on {z.device} but codebook is on {codebook.device}; move both to one device")
    with torch.no_grad():
        flat = z.reshape(-1, z.shape[-1])
        e = codebook.to(flat.dtype)
        scores = torch.addmm((e * e).sum(1).unsqueeze(0), flat, e.t(), beta=1.0, alpha=-2.0)
        return scores.argmin(1).reshape(z.shape[:-1])


class VectorQuantizer(nn.Module):
    """Nearest-neighbour vector quantisation with a learned codebook (chapter 6).

    ``codebook`` is a ``(num_codes, dim)`` parameter, initialised uniformly in
    [−1/K, 1/K] (a common default; chapter 6 shows it leaves codes dead).
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
            raise ValueError(f"z is on {z.device} but the codebook is on {self.codebook.device}; move the module with .to(z.device)")
        e_all = self.codebook if self.codebook.dtype == z.dtype else self.codebook.to(z.dtype)
        codes = nearest_codes(z.detach(), e_all.detach())
        e = F.embedding(codes, e_all)
        loss = F.mse_loss(e, z.detach()) + self.beta * F.mse_loss(z, e.detach())
        z_q = e.detach() + (z - z.detach())  # = z + sg[e − z], with the value exactly e
        return z_q, loss, codes

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """The codebook rows ``e_k`` for integer ``codes`` of any shape: ``codes.shape + (dim,)``."""
        codes = _codes("codes", codes, self.num_codes)
        return F.embedding(codes.to(self.codebook.device), self.codebook)

    def extra_repr(self) -> str:
        return f"num_codes={self.num_codes}, dim={self.dim}, beta={self.beta}"


# ---- codebook statistics and dead codes -----------------------------------------------------------
def perplexity(counts: torch.Tensor) -> float:
    """exp(H(p)) of the code frequencies p = counts / Σ counts (chapter 6).

    H(p) = −Σ p_k log p_k (nats, with 0·log 0 = 0). It lies in [1, number of used
    codes]: 1 when one code takes everything, K when all K are used equally.
    """
    if not torch.is_tensor(counts):
        counts = torch.as_tensor(counts)
    if counts.dim() != 1 or counts.numel() == 0:
        raise ValueError(f"counts must be a non-empty 1-D tensor (one count per code), got shape {tuple(counts.shape)}")
    c = counts.double()
    if not torch.isfinite(c).all() or (c < 0).any():
        raise ValueError("counts must be finite and non-negative")
    total = c.sum()
    if total <= 0:
        raise ValueError("counts sum to 0: there is nothing to measure")
    p = c / total
    entropy = -(p * torch.log(p.clamp_min(1e-300))).sum()
    return float(torch.exp(entropy))


def batch_perplexity(codes: torch.Tensor, num_codes: int) -> torch.Tensor:
    """Perplexity of the codes in one batch, as a 0-d tensor on ``codes``' device.

    The same quantity as :func:`perplexity` of ``bincount(codes)``, computed
    without leaving the device (no host synchronisation), for use as a training
    metric in ``kexue_lab.train.fit``.
    """
    if not torch.is_tensor(codes) or codes.is_floating_point() or codes.dtype == torch.bool:
        raise TypeError(f"codes must be an integer tensor of code indices, got {getattr(codes, 'dtype', type(codes).__name__)}")
    num_codes = _validate.positive_int("num_codes", num_codes)
    counts = torch.bincount(codes.reshape(-1), minlength=num_codes).double()
    p = counts / counts.sum()
    return torch.exp(-(p * torch.log(p.clamp_min(1e-300))).sum())


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
        """exp(entropy of the code frequencies), between 1 and ``used``."""
        return perplexity(self.counts)

    def __str__(self) -> str:
        return f"{self.used}/{self.num_codes} codes used ({self.dead} dead), perplexity {self.perplexity:.1f}"


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
    """Move every code used fewer than ``min_count`` times onto a random current encoding (chapter 6).

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
        raise ValueError(f"counts must be a tensor of shape ({quantizer.num_codes},), one count per code; got {shape}")
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


# ---- a small convolutional VQ-VAE -----------------------------------------------------------------
class _Residual(nn.Module):
    """x + Conv1×1(ReLU(Conv3×3(ReLU(x)))): the paper's residual block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class VQVAE(nn.Module):
    """A small convolutional VQ-VAE in the paper's layout (chapter 6).

    Encoder: two 4×4 stride-2 convolutions, ``n_res`` residual blocks and a 1×1
    convolution to ``code_dim`` channels, so a 28×28 image becomes a 7×7 grid of
    codes and a 32×32 image an 8×8 grid. Decoder: the mirror image, ending in a
    linear output: trained with a squared error, it needs no squashing (images
    in [0, 1] come out close to that range). ``forward(x)`` returns
    ``(x_hat, vq_loss, codes)``.

    * ``straight_through=False`` decodes the codebook rows e_k directly (no
      estimator): the encoder then gets no gradient from the reconstruction
      (the ablation of chapter 6).
    * ``reseed_every=n`` (training mode only) counts code usage and, every ``n``
      forward passes, moves the codes unused in that window onto random encodings
      of the current batch (:func:`reseed_dead_codes`) before quantising it.
      ``reseeded`` counts the codes moved so far.
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden: int = 64,
        num_codes: int = 64,
        code_dim: int = 16,
        *,
        n_res: int = 2,
        beta: float = 0.25,
        straight_through: bool = True,
        reseed_every: int | None = None,
    ) -> None:
        super().__init__()
        in_channels = _validate.positive_int("in_channels", in_channels)
        hidden = _validate.positive_int("hidden", hidden)
        code_dim = _validate.positive_int("code_dim", code_dim)
        n_res = _validate.non_negative_int("n_res", n_res)
        if not isinstance(straight_through, bool):
            raise TypeError(f"straight_through must be True or False, got {straight_through!r}")
        self.reseed_every = None if reseed_every is None else _validate.positive_int("reseed_every", reseed_every)
        self.straight_through = straight_through
        self.in_channels = in_channels
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 4, stride=2, padding=1),
            *[_Residual(hidden) for _ in range(n_res)],
            nn.ReLU(),
            nn.Conv2d(hidden, code_dim, 1),
        )
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta)
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, hidden, 3, padding=1),
            *[_Residual(hidden) for _ in range(n_res)],
            nn.ReLU(),
            nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(hidden, in_channels, 4, stride=2, padding=1),
        )
        self.register_buffer("window_counts", torch.zeros(num_codes, dtype=torch.long), persistent=False)
        self.steps = 0
        self.reseeded = 0

    def _check(self, x: Any) -> torch.Tensor:
        x = _float_tensor("x", x)
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(
                f"x must have shape (N, {self.in_channels}, H, W) with H and W divisible by 4 "
                f"(e.g. 28×28 or 32×32), got {tuple(x.shape)}"
            )
        return x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder output z, channels last: ``(N, H/4, W/4, code_dim)``."""
        return self.encoder(self._check(x)).permute(0, 2, 3, 1)

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Images (linear output) from quantised vectors ``(N, h, w, code_dim)``."""
        return self.decoder(z_q.permute(0, 3, 1, 2))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Images from a grid of code indices ``(N, h, w)``."""
        return self.decode(self.quantizer.lookup(codes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        vq = self.quantizer
        if self.training and self.reseed_every is not None:
            if self.steps > 0 and self.steps % self.reseed_every == 0:
                self.reseeded += reseed_dead_codes(vq, z, self.window_counts)
                self.window_counts.zero_()
            self.steps += 1
        z_q, vq_loss, codes = vq(z)
        if self.training and self.reseed_every is not None:
            self.window_counts += torch.bincount(codes.reshape(-1), minlength=vq.num_codes)
        if not self.straight_through:
            z_q = F.embedding(codes, vq.codebook)
        return self.decode(z_q), vq_loss, codes


@torch.no_grad()
def encode_dataset(model: VQVAE, x: torch.Tensor, *, batch_size: int = 1000) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Reconstruction MSE, code grids and reconstructions of ``x`` (in eval mode, batched).

    Returns ``(mse, codes, x_hat)`` with ``mse`` the mean squared pixel error over
    the whole set, ``codes`` of shape ``(N, h, w)`` and ``x_hat`` shaped like ``x``.
    """
    if not isinstance(model, VQVAE):
        raise TypeError(f"model must be a VQVAE, got {type(model).__name__}")
    batch_size = _validate.positive_int("batch_size", batch_size)
    x = model._check(x)
    was_training = model.training
    model.eval()
    dev = model.quantizer.codebook.device
    outs, codes = [], []
    for start in range(0, len(x), batch_size):
        x_hat, _, c = model(x[start : start + batch_size].to(dev))
        outs.append(x_hat)
        codes.append(c)
    model.train(was_training)
    x_hat = torch.cat(outs)
    mse = float(F.mse_loss(x_hat, x.to(dev)))
    return mse, torch.cat(codes), x_hat


# ---- a prior over codes ---------------------------------------------------------------------------
def fit_independent_prior(codes: torch.Tensor, num_codes: int, *, alpha: float = 0.5) -> torch.Tensor:
    """Per-position categorical prior p(k | position) from code grids ``(N, h, w)`` (chapter 6).

    Counts with add-``alpha`` smoothing, normalised: returns ``(h, w, K)`` probabilities.
    It ignores every dependence between positions: the weakest prior that still
    learns something, a baseline for the PixelCNN the paper fits.
    """
    num_codes = _validate.positive_int("num_codes", num_codes)
    alpha = _validate.positive("alpha", alpha)
    codes = _codes("codes", codes, num_codes)
    if codes.dim() != 3:
        raise ValueError(f"codes must have shape (N, h, w), got {tuple(codes.shape)}")
    onehot = F.one_hot(codes, num_codes).sum(0).double() + alpha
    return onehot / onehot.sum(-1, keepdim=True)


def code_length_bits(prior: torch.Tensor, codes: torch.Tensor) -> float:
    """Mean code length in bits per image, −Σ_positions log₂ p(k | position), of code grids ``(N, h, w)``."""
    if not torch.is_tensor(prior) or prior.dim() != 3:
        raise ValueError(f"prior must be an (h, w, K) tensor of probabilities, got {getattr(prior, 'shape', type(prior).__name__)}")
    codes = _codes("codes", codes, prior.shape[-1])
    if codes.dim() != 3 or codes.shape[1:] != prior.shape[:2]:
        raise ValueError(f"codes must have shape (N, {prior.shape[0]}, {prior.shape[1]}), got {tuple(codes.shape)}")
    logp = torch.log2(prior.to(codes.device)).unsqueeze(0).expand(codes.shape[0], -1, -1, -1)
    return float(-logp.gather(-1, codes.unsqueeze(-1)).sum((1, 2, 3)).mean())


def sample_codes(prior: torch.Tensor, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n`` code grids ``(n, h, w)`` from an ``(h, w, K)`` independent prior."""
    if not torch.is_tensor(prior) or prior.dim() != 3:
        raise ValueError(f"prior must be an (h, w, K) tensor of probabilities, got {getattr(prior, 'shape', type(prior).__name__)}")
    n = _validate.positive_int("n", n)
    h, w, k = prior.shape
    flat = prior.reshape(h * w, k).float()
    if generator is not None and generator.device != flat.device:
        flat = flat.to(generator.device)  # sample where the generator lives
    draws = torch.multinomial(flat, n, replacement=True, generator=generator)  # (h·w, n)
    return draws.t().reshape(n, h, w).to(prior.device)


# ---- the 2-D toy: a codebook learning a ring of Gaussians -----------------------------------------
def ring_data(n: int = 512, *, modes: int = 8, radius: float = 4.0, sigma: float = 0.3, seed: int = 0) -> torch.Tensor:
    """``n`` points from ``modes`` Gaussians (std ``sigma``) evenly spaced on a circle of ``radius``."""
    n = _validate.positive_int("n", n)
    modes = _validate.positive_int("modes", modes)
    radius = _validate.positive("radius", radius)
    sigma = _validate.non_negative("sigma", sigma)
    g = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    angle = 2 * math.pi * torch.arange(n).remainder(modes).double() / modes
    centre = radius * torch.stack([angle.cos(), angle.sin()], 1)
    return (centre + sigma * torch.randn(n, 2, generator=g, dtype=torch.float64)).float()


TOY_INITS: tuple[str, ...] = ("data", "corner")


def _toy_init(data: torch.Tensor, num_codes: int, init: str, g: torch.Generator) -> torch.Tensor:
    if init == "data":
        return data[torch.randperm(len(data), generator=g)[:num_codes]].clone()
    # a small cluster far from the data: most codes never win an assignment
    return torch.tensor([7.0, 7.0]) + 0.5 * torch.rand(num_codes, 2, generator=g)


def kmeans_lloyd(data: torch.Tensor, init: torch.Tensor, *, iters: int = 100) -> torch.Tensor:
    """Lloyd's K-means from ``init`` ``(K, d)``: assign to the nearest centre, move each centre to its mean.

    Centres that lose all their points stay where they are. Vectorised with
    ``index_add_``; returns the final ``(K, d)`` centres.
    """
    init = _codebook("init", init)
    data = _vectors("data", data, init.shape[1])
    iters = _validate.positive_int("iters", iters)
    centres = init.clone()
    k = centres.shape[0]
    for _ in range(iters):
        codes = nearest_codes(data, centres)
        sums = torch.zeros_like(centres).index_add_(0, codes, data)
        counts = torch.bincount(codes, minlength=k).unsqueeze(1).to(data.dtype)
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
    return centres


def _nearest_np(data: np.ndarray, book: np.ndarray) -> np.ndarray:
    return ((book * book).sum(1)[None, :] - 2.0 * data @ book.T).argmin(1)


def toy_codebook_gradient(data: np.ndarray, book: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and the gradient of mean((sg[z] − e_k)²) with respect to the codebook (NumPy).

    ∂/∂e_k = (2 / (N·d)) Σ_{i: k_i = k} (e_k − z_i): a code with no points gets no gradient.
    """
    codes = _nearest_np(data, book)
    k, d = book.shape
    counts = np.bincount(codes, minlength=k)[:, None]
    sums = np.zeros_like(book)
    np.add.at(sums, codes, data)
    return codes, 2.0 * (counts * book - sums) / data.size


@lru_cache(maxsize=32)
def toy_codebook_run(
    num_codes: int = 8, init: str = "corner", reseed: bool = False, *, steps: int = 400, lr: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train a codebook on :func:`ring_data` with the codebook loss alone (the encoder is the identity).

    Full-batch Adam (β₁ = 0.9, β₂ = 0.999) on mean((sg[z] − e)²), in NumPy so that
    the exploration's whole grid costs well under a second. With ``reseed`` the
    codes unused in the last 25 steps move onto random data points. Returns the
    data ``(512, 2)``, the codebook after every step ``(steps + 1, K, 2)`` and
    the perplexity of the assignment after every step ``(steps + 1,)``.
    """
    num_codes = _validate.positive_int("num_codes", num_codes)
    _validate.choice("init", init, TOY_INITS)
    steps = _validate.positive_int("steps", steps)
    lr = _validate.positive("lr", lr)
    data_t = ring_data(seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    data = data_t.double().numpy()
    book = _toy_init(data_t, num_codes, init, g).double().numpy()
    rng = np.random.default_rng(seed + 2)
    m, v = np.zeros_like(book), np.zeros_like(book)
    window = np.zeros(num_codes, dtype=np.int64)
    books, perp = [book.copy()], []
    for step in range(steps + 1):
        if reseed and step > 0 and step % 25 == 0:
            dead = np.flatnonzero(window == 0)
            book[dead] = data[rng.choice(len(data), size=len(dead), replace=False)]
            window[:] = 0
        codes, grad = toy_codebook_gradient(data, book)
        counts = np.bincount(codes, minlength=num_codes)
        window += counts
        perp.append(perplexity(torch.from_numpy(counts)))
        if step == steps:
            break
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        t = step + 1
        book = book - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        books.append(book.copy())
    out = (data, np.stack(books), np.array(perp))
    for arr in out:
        arr.flags.writeable = False  # cached: callers must not modify them
    return out


_VIEW_POINTS = 240  # data points drawn in the exploration (of 512)


def quantization_view(num_codes: int = 8, step: int = 100, init: str = "corner", reseed: bool = False) -> View:
    """The chapter-6 exploration: K codes learning a ring of 8 Gaussians (codebook loss only).

    Left: the data and the codebook after ``step`` Adam steps. Middle: how many
    points each code takes. Right: the perplexity of the assignment over the
    steps. With ``init="corner"`` most codes start far from the data, never win
    a point and never move (dead codes); ``reseed=True`` revives them.
    """
    num_codes = _validate.positive_int("num_codes", num_codes)
    step = _validate.non_negative_int("step", step)
    data, books, perp = toy_codebook_run(num_codes, init, bool(reseed))
    step = min(step, len(books) - 1)
    book = books[step]
    codes = _nearest_np(data, book)
    counts = np.bincount(codes, minlength=num_codes)
    pts = data[:_VIEW_POINTS]
    used = int((counts > 0).sum())
    dist = float(np.sqrt(((data - book[codes]) ** 2).sum(1)).mean())
    scatter = Panel(
        [
            Curve(pts[:, 0].round(3), pts[:, 1].round(3), "data", style="markers", color=5),
            Curve(book[:, 0].round(3), book[:, 1].round(3), "codes", style="markers", color=1),
        ],
        title=f"codebook after {step} steps",
        xlabel="z₁",
        ylabel="z₂",
    )
    bars = Panel(
        [Curve([str(k) for k in range(num_codes)], (counts / counts.sum()).round(4), "", style="bar", color=0)],
        title="share of the points per code",
        xlabel="code k",
        ylabel="share",
        ylim=(0.0, 1.0),
    )
    every = max(1, (len(perp) - 1) // 100)
    xs = np.arange(0, len(perp), every)
    curve = Panel(
        [
            Curve(xs, perp[xs].round(3), "perplexity", color=2),
            Curve([0, len(perp) - 1], [num_codes, num_codes], f"K = {num_codes}", style="dashed", color=7),
        ],
        title="perplexity exp(H) over training",
        xlabel="Adam step",
        ylabel="perplexity",
        ylim=(0.0, num_codes + 1.0),
        vlines=[(step, "now")],
    )
    readout = (
        f"step {step}: {used}/{num_codes} codes used, {num_codes - used} dead, "
        f"perplexity {perp[step]:.2f}, mean distance to the nearest code {dist:.2f}"
    )
    return View([scatter, bars, curve], readout=readout)
