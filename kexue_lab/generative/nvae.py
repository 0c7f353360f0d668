"""NVAE's residual parameterisation of the posterior and its KL term.

Chapter 08 (kexue.fm/archives/7574, "强大的NVAE：以后再也不能说VAE生成的图像模糊了"). NVAE
writes each group's posterior relative to its prior N(μ_p, σ_p²): mean μ_p + Δμ, standard
deviation σ_p e^{Δlogσ}. The KL between the two diagonal Gaussians then depends only on Δμ/σ_p
and Δlogσ (article eq. (6); Vahdat & Kautz 2020, eq. 2):

    KL(N(μ_p + Δμ, σ_p² e^{2Δlogσ}) ‖ N(μ_p, σ_p²)) = ½ (Δμ²/σ_p² + e^{2Δlogσ} − 1) − Δlogσ,

element by element, with σ_p = e^{logsig_p}; it is free of μ_p and zero exactly at Δ = 0.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["kl_residual"]


def _float_tensor(name: str, value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    return value


def kl_residual(dmu: torch.Tensor, dlogsig: torch.Tensor, logsig_p: torch.Tensor) -> torch.Tensor:
    """Element-wise KL of NVAE's residual posterior from its prior (chapter 08, eq. (6)).

    ½ (Δμ²/σ_p² + e^{2Δlogσ} − 1) − Δlogσ with σ_p = e^{logsig_p}. The three tensors broadcast
    together; the result has their broadcast shape and dtype and is differentiable in all three.
    """
    dmu = _float_tensor("dmu", dmu)
    dlogsig = _float_tensor("dlogsig", dlogsig)
    logsig_p = _float_tensor("logsig_p", logsig_p)
    try:
        torch.broadcast_shapes(dmu.shape, dlogsig.shape, logsig_p.shape)
    except RuntimeError:
        raise ValueError(
            f"dmu, dlogsig and logsig_p must broadcast together, got shapes {tuple(dmu.shape)}, "
            f"{tuple(dlogsig.shape)} and {tuple(logsig_p.shape)}"
        ) from None
    ratio = dmu * torch.exp(-logsig_p)  # Δμ / σ_p
    return 0.5 * (ratio.square() + torch.expm1(2.0 * dlogsig)) - dlogsig
