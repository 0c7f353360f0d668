"""An autoregressive prior over VQ-VAE code grids: a small PixelCNN (chapter 06).

The article's generative pipeline (kexue.fm/archives/6760, section on fitting the prior):
encode every training image to an h×w grid of integer codes, fit an autoregressive model

    p(k) = ∏_{i,j} p(k_ij | k_{<ij}),   k_{<ij}: the codes above, and to the left in row i,

sample a grid from it one position at a time in raster order, and decode the grid.
:class:`PixelCNNPrior` computes all h·w conditionals in one pass with masked
convolutions (van den Oord et al. 2016): the first layer's mask ("A") hides the
centre and everything after it, the later layers' masks ("B") hide only what comes
after the centre, so the logits at (i, j) depend on the codes before (i, j) only.
:func:`code_length_bits` scores test grids (−Σ log₂ p, bits per image), beside the
independent per-position prior of :mod:`.vqvae`; :meth:`PixelCNNPrior.sample` draws grids.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate
from .vq import _codes

__all__ = ["MaskedConv2d", "PixelCNNPrior", "code_length_bits", "prior_loss"]


class MaskedConv2d(nn.Conv2d):
    """A 'same'-padded convolution whose kernel sees only raster-earlier positions.

    ``mask="A"`` zeroes the centre and every tap after it (the first layer, which must not
    see the code it predicts); ``mask="B"`` keeps the centre (later layers, whose centre
    holds features of earlier codes only). Odd ``kernel`` sizes only.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, mask: str) -> None:
        kernel = _validate.positive_int("kernel", kernel)
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (a centred mask), got {kernel}")
        mask = _validate.choice("mask", mask, ("A", "B"))
        super().__init__(in_channels, out_channels, kernel, padding=kernel // 2)
        m = torch.ones(kernel, kernel)
        c = kernel // 2
        m[c, c + (mask == "B") :] = 0  # the centre row: from the centre (A) or after it (B)
        m[c + 1 :] = 0  # every row below the centre
        self.register_buffer("mask", m, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNNPrior(nn.Module):
    """A small PixelCNN over grids of K codes (chapter 06).

    Embedding of each code → one mask-A convolution (``kernel``×``kernel``) → ``n_layers``
    mask-B 3×3 convolutions with ReLU and residual connections → a 1×1 convolution to K
    logits. ``forward(codes)`` maps ``(N, h, w)`` integer grids to ``(N, K, h, w)`` logits,
    where the logits at (i, j) depend only on the codes before (i, j) in raster order.
    """

    def __init__(
        self, num_codes: int, *, hidden: int = 32, n_layers: int = 2, kernel: int = 7
    ) -> None:
        super().__init__()
        self.num_codes = _validate.positive_int("num_codes", num_codes)
        hidden = _validate.positive_int("hidden", hidden)
        n_layers = _validate.non_negative_int("n_layers", n_layers)
        self.embed = nn.Embedding(self.num_codes, hidden)
        self.first = MaskedConv2d(hidden, hidden, kernel, "A")
        self.layers = nn.ModuleList(MaskedConv2d(hidden, hidden, 3, "B") for _ in range(n_layers))
        self.out = nn.Conv2d(hidden, self.num_codes, 1)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        codes = _codes("codes", codes, self.num_codes)
        if codes.dim() != 3:
            raise ValueError(f"codes must have shape (N, h, w), got {tuple(codes.shape)}")
        h = F.relu(self.first(self.embed(codes).permute(0, 3, 1, 2)))
        for layer in self.layers:
            h = h + F.relu(layer(h))
        return self.out(h)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        shape: tuple[int, int],
        *,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Draw ``n`` grids of ``shape`` = (h, w) position by position in raster order.

        One forward pass per position (h·w passes for the whole batch); ``temperature``
        divides the logits. Returns ``(n, h, w)`` integer codes on the model's device.
        """
        n = _validate.positive_int("n", n)
        h, w = (_validate.positive_int("shape", s) for s in shape)
        temperature = _validate.positive("temperature", temperature)
        was_training = self.training
        self.eval()
        dev = self.out.weight.device
        grid = torch.zeros(n, h, w, dtype=torch.long, device=dev)
        for i in range(h):
            for j in range(w):
                probs = torch.softmax(self(grid)[:, :, i, j] / temperature, dim=1)
                draw_on = generator.device if generator is not None else dev
                k = torch.multinomial(probs.to(draw_on), 1, generator=generator)
                grid[:, i, j] = k.squeeze(1).to(dev)
        self.train(was_training)
        return grid


def prior_loss(model: PixelCNNPrior, codes: torch.Tensor, _: object = None) -> torch.Tensor:
    """Mean negative log-likelihood per position in nats, −mean log p(k_ij | k_{<ij}).

    The form :func:`kexue_lab.train.fit` expects (``(model, x_batch, y_batch)``).
    """
    return F.cross_entropy(model(codes), codes)


@torch.no_grad()
def code_length_bits(model: PixelCNNPrior, codes: torch.Tensor, *, batch_size: int = 1000) -> float:
    """Mean code length in bits per grid, −Σ_{i,j} log₂ p(k_ij | k_{<ij}) (chapter 06).

    The autoregressive counterpart of :func:`kexue_lab.generative.vqvae.code_length_bits`.
    """
    if not isinstance(model, PixelCNNPrior):
        raise TypeError(f"model must be a PixelCNNPrior, got {type(model).__name__}")
    batch_size = _validate.positive_int("batch_size", batch_size)
    codes = _codes("codes", codes, model.num_codes)
    if codes.dim() != 3 or len(codes) == 0:
        raise ValueError(f"codes must have shape (N, h, w) with N ≥ 1, got {tuple(codes.shape)}")
    was_training = model.training
    model.eval()
    dev = model.out.weight.device
    total = 0.0
    for start in range(0, len(codes), batch_size):
        c = codes[start : start + batch_size].to(dev)
        total += float(F.cross_entropy(model(c), c, reduction="sum"))
    model.train(was_training)
    return total / len(codes) / math.log(2)
