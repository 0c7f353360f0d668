"""A small convolutional VQ-VAE and a prior over its codes (chapter 06, kexue.fm/archives/6760).

:class:`VQVAE` follows the paper's layout, scaled down: encoder → :class:`.vq.VectorQuantizer`
→ decoder, trained on

    ‖x − decoder(z + sg[z_q − z])‖² + mean((sg[z] − z_q)²) + β·mean((z − sg[z_q])²)

(article eq. 13 in the paper's weighting). :func:`encode_dataset` measures the
reconstruction error and collects the code grids; :func:`fit_independent_prior`,
:func:`code_length_bits` and :func:`sample_codes` fit, score and sample the weakest
prior over code grids, one categorical distribution per position.
:class:`OneCodeVQVAE` is the 1×1-grid ablation: one code for the whole image.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate
from .vq import VectorQuantizer, _codes, _float_tensor, reseed_dead_codes

__all__ = [
    "VQVAE",
    "OneCodeVQVAE",
    "code_length_bits",
    "encode_dataset",
    "fit_independent_prior",
    "sample_codes",
]


class _Residual(nn.Module):
    """x + Conv1×1(ReLU(Conv3×3(ReLU(x)))): the paper's residual block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class VQVAE(nn.Module):
    """A small convolutional VQ-VAE in the paper's layout (chapter 06).

    Encoder: two 4×4 stride-2 convolutions, ``n_res`` residual blocks and a 1×1
    convolution to ``code_dim`` channels, so a 28×28 image becomes a 7×7 grid of
    codes and a 32×32 image an 8×8 grid. Decoder: the mirror image, ending in a
    linear output: trained with a squared error, it needs no squashing (images
    in [0, 1] come out close to that range). ``forward(x)`` returns
    ``(x_hat, vq_loss, codes)``.

    * ``straight_through=False`` decodes the codebook rows e_k directly (no
      estimator): the encoder then gets no gradient from the reconstruction
      (the ablation of chapter 06).
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
        self.reseed_every = (
            None if reseed_every is None else _validate.positive_int("reseed_every", reseed_every)
        )
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
        self.register_buffer(
            "window_counts", torch.zeros(num_codes, dtype=torch.long), persistent=False
        )
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


class OneCodeVQVAE(VQVAE):
    """The 1×1-grid ablation of chapter 06: one code of K for the whole image.

    The same encoder and decoder as :class:`VQVAE`, with a linear map from the flattened
    (H/4)×(W/4)×d encoder grid to a single d-vector before quantisation, and one back
    after it. The code grid is ``(N, 1, 1)``: the decoder can output at most K distinct
    images, so its error is at best that of K cluster centres in pixel space (K-means).
    ``image_size`` is the side of the square input (28 for MNIST).
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden: int = 64,
        num_codes: int = 64,
        code_dim: int = 16,
        *,
        image_size: int = 28,
        **options: Any,
    ) -> None:
        super().__init__(in_channels, hidden, num_codes, code_dim, **options)
        image_size = _validate.positive_int("image_size", image_size)
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        self.grid = image_size // 4
        flat = self.grid * self.grid * code_dim
        self.squeeze = nn.Linear(flat, code_dim)
        self.expand = nn.Linear(code_dim, flat)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """One d-vector per image, as a 1×1 grid: ``(N, 1, 1, code_dim)``."""
        z = super().encode(x)
        if z.shape[1] != self.grid or z.shape[2] != self.grid:
            raise ValueError(
                f"x must be {4 * self.grid}×{4 * self.grid} (image_size), "
                f"got {4 * z.shape[1]}×{4 * z.shape[2]}"
            )
        return self.squeeze(z.flatten(1))[:, None, None, :]

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Images from one quantised vector per image ``(N, 1, 1, code_dim)``."""
        n, d = z_q.shape[0], z_q.shape[-1]
        return super().decode(self.expand(z_q.reshape(n, d)).reshape(n, self.grid, self.grid, d))


@torch.no_grad()
def encode_dataset(
    model: VQVAE, x: torch.Tensor, *, batch_size: int = 1000
) -> tuple[float, torch.Tensor, torch.Tensor]:
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


def fit_independent_prior(
    codes: torch.Tensor, num_codes: int, *, alpha: float = 0.5
) -> torch.Tensor:
    """Per-position categorical prior p(k | position) from code grids ``(N, h, w)`` (chapter 06).

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
    """Mean code length in bits per image, −Σ_positions log₂ p(k | position) (chapter 06).

    ``prior`` is ``(h, w, K)`` (:func:`fit_independent_prior`), ``codes`` ``(N, h, w)``.
    """
    if not torch.is_tensor(prior) or prior.dim() != 3:
        raise ValueError(
            "prior must be an (h, w, K) tensor of probabilities, "
            f"got {getattr(prior, 'shape', type(prior).__name__)}"
        )
    codes = _codes("codes", codes, prior.shape[-1])
    if codes.dim() != 3 or codes.shape[1:] != prior.shape[:2]:
        raise ValueError(
            f"codes must have shape (N, {prior.shape[0]}, {prior.shape[1]}), "
            f"got {tuple(codes.shape)}"
        )
    logp = torch.log2(prior.to(codes.device)).unsqueeze(0).expand(codes.shape[0], -1, -1, -1)
    return float(-logp.gather(-1, codes.unsqueeze(-1)).sum((1, 2, 3)).mean())


def sample_codes(
    prior: torch.Tensor, n: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``n`` code grids ``(n, h, w)`` from an ``(h, w, K)`` independent prior."""
    if not torch.is_tensor(prior) or prior.dim() != 3:
        raise ValueError(
            "prior must be an (h, w, K) tensor of probabilities, "
            f"got {getattr(prior, 'shape', type(prior).__name__)}"
        )
    n = _validate.positive_int("n", n)
    h, w, k = prior.shape
    flat = prior.reshape(h * w, k).float()
    if generator is not None and generator.device != flat.device:
        flat = flat.to(generator.device)  # sample where the generator lives
    draws = torch.multinomial(flat, n, replacement=True, generator=generator)  # (h·w, n)
    return draws.t().reshape(n, h, w).to(prior.device)
