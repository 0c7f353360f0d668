"""The VAE's two closed forms: the Gaussian KL and the importance-weighted bound.

Chapters 03, 04 and 09 (kexue.fm/archives/5253, 5343, 8791). With the encoder's posterior
q(z|x) = N(μ, diag σ²) and the prior p(z) = N(0, I), the KL term of the ELBO has the closed form
(article (1), eq. 5)

    KL(q‖p) = ½ Σ_i (μ_i² + σ_i² − log σ_i² − 1),

and with M samples z_m ~ q(z|x) and log-weights log w_m = log p(x, z_m) − log q(z_m|x) the
importance-weighted bound of Burda et al. (2016, eq. 8; "VAE (8)") is

    L_M = log (1/M) Σ_m w_m  ≤  log p(x),

with L_1 the ELBO and L_M increasing to log p(x) as M grows.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["gaussian_kl", "iwae_bound"]


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
