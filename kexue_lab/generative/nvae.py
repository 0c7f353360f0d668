"""NVAE's residual posterior, its KL term, spectral regularisation and BN re-estimation.

Chapter 08 (kexue.fm/archives/7574, "强大的NVAE：以后再也不能说VAE生成的图像模糊了"). NVAE
writes each group's posterior relative to its prior N(μ_p, σ_p²): mean μ_p + Δμ, standard
deviation σ_p e^{Δlogσ}. The KL between the two diagonal Gaussians then depends only on Δμ/σ_p
and Δlogσ (article eq. (6); Vahdat & Kautz 2020, eq. 2):

    KL(N(μ_p + Δμ, σ_p² e^{2Δlogσ}) ‖ N(μ_p, σ_p²)) = ½ (Δμ²/σ_p² + e^{2Δlogσ} − 1) − Δlogσ,

element by element, with σ_p = e^{logsig_p}; it is free of μ_p and zero exactly at Δ = 0.

Besides :func:`kl_residual` this module holds the paper's two training aids, measured in the
chapter: the spectral regulariser λ Σ_i s^{(i)} with s^{(i)} the largest singular value of layer
i, estimated by power iteration (:func:`power_iteration`, :class:`SpectralPenalty`), and the
re-estimation of BatchNorm statistics on prior samples before sampling
(:func:`with_recomputed_bn`). :func:`latent_count` is the article's latent-size count (7), and
:func:`pca_frechet` a cheap sample-quality score (a Fréchet distance in PCA space).
The hierarchical model itself is :class:`kexue_lab.generative.nvae_model.HierVAE`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from .. import _validate

__all__ = [
    "SpectralPenalty",
    "kl_residual",
    "latent_count",
    "pca_frechet",
    "power_iteration",
    "with_recomputed_bn",
]


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


def power_iteration(
    weight: torch.Tensor, u: torch.Tensor, iters: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """σ ≈ uᵀ W v, the largest singular value of ``weight`` (out × in) by power iteration.

    Each step is v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖, started from ``u`` (length out). The vectors are
    computed without gradient; the returned σ = uᵀWv is differentiable in ``weight``, as in
    spectral normalisation (Miyato et al. 2018) and NVAE's regulariser (chapter 08, eq. (8)).
    Returns (σ, the new u); pass u back in to keep iterating across training steps.
    """
    weight = _float_tensor("weight", weight)
    u = _float_tensor("u", u)
    if weight.dim() != 2:
        raise ValueError(f"weight must be a matrix (out, in), got shape {tuple(weight.shape)}")
    if u.shape != (weight.shape[0],):
        raise ValueError(f"u must have shape ({weight.shape[0]},), got {tuple(u.shape)}")
    iters = _validate.positive_int("iters", iters)
    with torch.no_grad():
        w = weight.detach()
        u = u / u.norm().clamp_min(1e-12)
        for _ in range(iters):
            v = w.T @ u
            v = v / v.norm().clamp_min(1e-12)
            u = w @ v
            u = u / u.norm().clamp_min(1e-12)
    return u @ weight @ v, u


class SpectralPenalty:
    """Σ_i s^{(i)} over the ``torch.nn.Linear`` layers of ``model`` (chapter 08, eq. (8)).

    s^{(i)} is the largest singular value of layer i's weight, estimated by :func:`power_iteration`
    with ``iters`` steps per call from the previous call's vectors (so one step per training step
    suffices once warm, as in the paper). Calling the object returns the differentiable sum;
    multiply it by λ and add it to the loss.
    """

    def __init__(self, model: torch.nn.Module, iters: int = 1, *, seed: int = 0) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.iters = _validate.positive_int("iters", iters)
        self.layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if not self.layers:
            raise ValueError("model has no torch.nn.Linear layer to regularise")
        g = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
        self.us = [torch.randn(m.out_features, generator=g).to(m.weight) for m in self.layers]
        for _ in range(20):  # warm start: the first call is already close to the top value
            self.sigmas()

    def sigmas(self) -> torch.Tensor:
        """The current estimates s^{(i)}, one per layer (differentiable)."""
        out = []
        for i, layer in enumerate(self.layers):
            sigma, self.us[i] = power_iteration(layer.weight, self.us[i].to(layer.weight), 1)
            out.append(sigma)
        return torch.stack(out)

    def __call__(self) -> torch.Tensor:
        for _ in range(self.iters - 1):
            self.sigmas()
        return self.sigmas().sum()


def _bn_layers(modules: Sequence[torch.nn.Module]) -> list[torch.nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for mod in modules
        for m in mod.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]


def with_recomputed_bn(
    model: Any,
    *,
    temperature: float = 1.0,
    n_batches: int = 20,
    batch_size: int = 500,
    seed: int = 0,
) -> Any:
    """A copy of ``model`` whose generative BatchNorm statistics come from prior samples.

    NVAE's fix before sampling (paper, section 3.2; article, "其他技巧"): the running averages
    collected in training describe the posterior samples of late training, not the prior at
    temperature t. The copy resets the running mean and variance of every BatchNorm layer of
    ``model.generative_modules()``, draws ``n_batches`` batches of ``batch_size`` samples at
    ``temperature`` in train mode (exact cumulative averages, momentum None), and returns in eval
    mode. The encoder's statistics are left alone; ``model`` itself is unchanged.
    """
    if not hasattr(model, "generative_modules") or not hasattr(model, "sample"):
        raise TypeError(
            f"model must have generative_modules() and sample() (a HierVAE), got "
            f"{type(model).__name__}"
        )
    temperature = _validate.positive("temperature", temperature)
    n_batches = _validate.positive_int("n_batches", n_batches)
    batch_size = _validate.int_at_least("batch_size", batch_size, 2, "BatchNorm needs two")
    out = copy.deepcopy(model).eval()
    layers = _bn_layers(out.generative_modules())
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: the exact mean over the batches
        bn.train()
    g = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    with torch.no_grad():
        for _ in range(n_batches):
            out.sample(batch_size, temperature=temperature, generator=g, eval_mode=False)
    for bn in layers:
        bn.momentum = 0.1
    return out.eval()


def latent_count(groups: Sequence[int], sizes: Sequence[int], channels: int) -> int:
    """Σ_s groups_s · sizes_s² · channels: the latent dimension of a multi-scale NVAE (eq. (7)).

    ``groups[s]`` latent groups of ``channels`` × ``sizes[s]`` × ``sizes[s]`` at scale s; the
    article's FFHQ setting (4, 4, 4, 8, 16) × (8, 16, 32, 64, 128) × 20 gives 6,005,760.
    """
    if len(groups) != len(sizes) or not groups:
        raise ValueError(
            f"groups and sizes must be non-empty and equally long, got {list(groups)} and "
            f"{list(sizes)}"
        )
    channels = _validate.positive_int("channels", channels)
    total = 0
    for i, (g, s) in enumerate(zip(groups, sizes)):
        total += (
            _validate.non_negative_int(f"groups[{i}]", g)
            * _validate.positive_int(f"sizes[{i}]", s) ** 2
        )
    return total * channels


def pca_frechet(real: torch.Tensor, fake: torch.Tensor, k: int = 20) -> float:
    """Fréchet distance between Gaussians fitted to ``real`` and ``fake`` in real's top-k PCs.

    ‖m_r − m_f‖² + tr(S_r + S_f − 2 (S_r S_f)^{1/2}) with means m and covariances S of the
    projections onto the first ``k`` principal axes of ``real`` (rows are samples). It is the
    formula of FID (Heusel et al. 2017) on PCA features instead of Inception features: a quick
    proxy for sample quality on small images (chapter 08), not comparable with published FIDs.
    """
    real, fake = _float_tensor("real", real), _float_tensor("fake", fake)
    real, fake = real.reshape(len(real), -1).double(), fake.reshape(len(fake), -1).double()
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real and fake must have the same features, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}"
        )
    k = _validate.positive_int("k", k)
    if k >= min(len(real), len(fake)) or k > real.shape[1]:
        raise ValueError(f"k={k} must be below both sample counts and at most the feature count")
    mean = real.mean(0)
    _, _, vt = torch.linalg.svd(real - mean, full_matrices=False)
    pr, pf = (real - mean) @ vt[:k].T, (fake - mean) @ vt[:k].T
    s_r, s_f = torch.cov(pr.T), torch.cov(pf.T)
    cross = torch.linalg.eigvals(s_r @ s_f).real.clamp_min(0).sqrt().sum()
    dist = (pr.mean(0) - pf.mean(0)).square().sum() + torch.trace(s_r + s_f) - 2 * cross
    return float(dist)
