"""The VAE's two closed forms: the Gaussian KL and the importance-weighted bound.

Chapters 03, 04 and 09 (kexue.fm/archives/5253, 5343, 8791). With the encoder's posterior
q(z|x) = N(μ, diag σ²) and the prior p(z) = N(0, I), the KL term of the ELBO has the closed form
(article (1), eq. 5)

    KL(q‖p) = ½ Σ_i (μ_i² + σ_i² − log σ_i² − 1),

and with M samples z_m ~ q(z|x) and log-weights log w_m = log p(x, z_m) − log q(z_m|x) the
importance-weighted bound of Burda et al. (2016, eq. 8; "VAE (8)") is

    L_M = log (1/M) Σ_m w_m  ≤  log p(x),

with L_1 the ELBO and L_M increasing to log p(x) as M grows. :class:`VAE` is the one MLP VAE the
chapters train (Bernoulli or Gaussian decoder); its :meth:`VAE.log_weights` feed :func:`iwae_bound`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .. import _validate
from ..nn import mlp

__all__ = ["DECODERS", "VAE", "gaussian_kl", "iwae_bound"]

DECODERS = ("bernoulli", "gaussian")
_LOG_2PI = math.log(2 * math.pi)


def _float_tensor(name: str, value: Any, min_dim: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s), got shape {tuple(value.shape)}"
        )
    return value


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag e^{logvar}) ‖ N(0, I)) = ½ Σ (μ² + e^{logvar} − logvar − 1), last axis summed.

    ``mu`` and ``logvar`` have the same shape ``(..., d)``; the result has shape ``(...)`` and
    the inputs' dtype, and is differentiable in both (chapters 03, 04, 09).
    """
    _float_tensor("mu", mu, 1)
    _float_tensor("logvar", logvar, 1)
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got {tuple(mu.shape)} and "
            f"{tuple(logvar.shape)}"
        )
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1).sum(-1)


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """L_M = log (1/M) Σ_m exp(log w_m) per row of ``log_w`` (shape ``(B, M)``), computed stably.

    Uses log-sum-exp, so log-weights of −1000 or +1000 do not under- or overflow. Returns shape
    ``(B,)`` in the input's dtype; differentiable (chapter 09, Burda et al. 2016 eq. 8).
    """
    _float_tensor("log_w", log_w, 2)
    if log_w.dim() != 2:
        raise ValueError(f"log_w must have shape (B, M), got shape {tuple(log_w.shape)}")
    if log_w.shape[1] == 0:
        raise ValueError("log_w must hold at least one sample per row (M ≥ 1), got M = 0")
    if torch.isnan(log_w).any():
        raise ValueError("log_w contains NaN")
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


class VAE(torch.nn.Module):
    """An MLP VAE: q(z|x) = N(μ(x), diag e^{logvar(x)}), p(z) = N(0, I) and a decoder p(x|z).

    * ``decoder="bernoulli"``: p(x|z) = Π Bern(x_i; sigmoid(f(z)_i)) for x in [0, 1]
      (log p(x|z) = −BCE with logits, summed over pixels);
    * ``decoder="gaussian"``: p(x|z) = N(x; f(z), σ² I) with a fixed ``sigma``
      (log p(x|z) = −‖x − f(z)‖²/(2σ²) − (D/2) log(2πσ²)); chapter 04 varies σ.

    ``hidden`` are the hidden widths of both MLPs (the decoder mirrors the encoder). Inputs are
    flattened to ``(B, x_dim)``. Chapters 03, 04, 09.
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int = 2,
        hidden: tuple[int, ...] = (256,),
        *,
        decoder: str = "bernoulli",
        sigma: float = 1.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.x_dim = _validate.positive_int("x_dim", x_dim)
        self.z_dim = _validate.positive_int("z_dim", z_dim)
        widths = tuple(_validate.positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden))
        self.decoder_kind = _validate.choice("decoder", decoder, DECODERS)
        self.sigma = _validate.positive("sigma", sigma)
        self.encoder = mlp([self.x_dim, *widths, 2 * self.z_dim], activation=activation)
        self.decoder = mlp([self.z_dim, *reversed(widths), self.x_dim], activation=activation)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        _float_tensor("x", x, 2)
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.x_dim:
            raise ValueError(
                f"x must have {self.x_dim} values per sample, got shape {tuple(x.shape)}"
            )
        return flat

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, logvar) of q(z|x), each ``(B, z_dim)``."""
        mu, logvar = self.encoder(self._flat(x)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder output f(z), ``(..., x_dim)``: logits (Bernoulli) or mean (Gaussian)."""
        return self.decoder(z)

    def mean_image(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z]: sigmoid of the logits (Bernoulli) or the mean itself (Gaussian)."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.decoder_kind == "bernoulli" else out

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z), summed over pixels; ``z`` is ``(B, z_dim)`` or ``(B, M, z_dim)``."""
        flat = self._flat(x)
        out = self.decode(z)
        if out.dim() == 3:
            flat = flat.unsqueeze(1).expand_as(out)
        if self.decoder_kind == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, flat, reduction="none").sum(-1)
        var = self.sigma**2
        return -(
            (flat - out).square().sum(-1) / (2 * var)
            + 0.5 * self.x_dim * (_LOG_2PI + math.log(var))
        )

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E_q log p(x|z) estimated with one reparameterised sample, KL(q‖p)), each ``(B,)``.

        The ELBO is their difference; z = μ + σ ⊙ ε with ε ~ N(0, I) (the reparameterisation
        trick, "VAE (1)").
        """
        mu, logvar = self.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        return self.log_px_given_z(x, z), gaussian_kl(mu, logvar)

    def log_weights(self, x: torch.Tensor, samples: int) -> torch.Tensor:
        """log w_m = log p(x|z_m) + log p(z_m) − log q(z_m|x) for M = ``samples`` draws, ``(B, M)``.

        ``iwae_bound(model.log_weights(x, M))`` is L_M; its mean over a test set estimates the
        test log-likelihood from below ("VAE (8)").
        """
        m = _validate.positive_int("samples", samples)
        mu, logvar = self.encode(x)
        std = (0.5 * logvar).exp()
        eps = torch.randn(mu.shape[0], m, self.z_dim, dtype=mu.dtype, device=mu.device)
        z = mu.unsqueeze(1) + std.unsqueeze(1) * eps
        log_q = -0.5 * (eps.square() + logvar.unsqueeze(1) + _LOG_2PI).sum(-1)
        log_prior = -0.5 * (z.square() + _LOG_2PI).sum(-1)
        return self.log_px_given_z(x, z) + log_prior - log_q
