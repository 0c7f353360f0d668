"""A small GAN training loop and the usual losses, shared by chapters 10 and 11.

Losses take the critic ``D`` (batch → one score per sample) and batches of real and generated
samples; a regulariser is added by composing functions, e.g. WGAN-GP:
``d_loss=lambda D, r, f: wgan_d_loss(D, r, f) + gradient_penalty(D, r, f, weight=10)``.

* non-saturating GAN (Goodfellow et al., 2014):  L_D = E softplus(−D(x)) + E softplus(D(G(z))),
  L_G = E softplus(−D(G(z)));
* WGAN (Arjovsky et al., 2017):  L_D = E D(G(z)) − E D(x),  L_G = −E D(G(z));
* gradient penalty (Gulrajani et al., 2017):  λ E (‖∇D(x̂)‖ − 1)², x̂ = εx + (1−ε)G(z),
  ε ~ U(0, 1) per sample;
* R1 (Mescheder et al., 2018): :func:`kexue_lab.generative.gan.r1_penalty`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .. import _validate
from ..nn import input_gradient_norm
from ..train import History, progress

__all__ = [
    "fit_gan",
    "gradient_penalty",
    "ns_d_loss",
    "ns_g_loss",
    "wgan_d_loss",
    "wgan_g_loss",
]

Critic = Callable[[torch.Tensor], torch.Tensor]


def _scores(D: Critic, x: torch.Tensor) -> torch.Tensor:
    return D(x).reshape(len(x))


def ns_d_loss(D: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating critic loss E softplus(−D(x)) + E softplus(D(G(z)))."""
    return F.softplus(-_scores(D, real)).mean() + F.softplus(_scores(D, fake)).mean()


def ns_g_loss(D: Critic, fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss E softplus(−D(G(z)))."""
    return F.softplus(-_scores(D, fake)).mean()


def wgan_d_loss(D: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss E D(G(z)) − E D(x)."""
    return _scores(D, fake).mean() - _scores(D, real).mean()


def wgan_g_loss(D: Critic, fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator loss −E D(G(z))."""
    return -_scores(D, fake).mean()


def gradient_penalty(
    D: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's λ·E(‖∇ₓD(x̂)‖ − 1)² at x̂ = εx + (1−ε)G(z), ε ~ U(0, 1) per sample."""
    weight = _validate.non_negative("weight", weight)
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}"
        )
    shape = (len(real),) + (1,) * (real.ndim - 1)
    eps = torch.rand(shape, generator=generator).to(real.device)
    mixed = eps * real.detach() + (1 - eps) * fake.detach()
    g = input_gradient_norm(D, mixed, create_graph=True)
    return weight * (g - 1).square().mean()


def fit_gan(
    G: torch.nn.Module,
    D: torch.nn.Module,
    sample_real: Callable[[int], torch.Tensor],
    *,
    z_dim: int,
    steps: int,
    d_loss: Callable[[Critic, torch.Tensor, torch.Tensor], torch.Tensor],
    g_loss: Callable[[Critic, torch.Tensor], torch.Tensor],
    batch_size: int = 256,
    lr_g: float = 1e-4,
    lr_d: float = 1e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    d_steps: int = 1,
    critic: Callable[[torch.nn.Module], Critic] | None = None,
    seed: int = 0,
    device: Any = None,
    log_every: int = 50,
    desc: str = "GAN",
    show_progress: bool = True,
) -> History:
    """Alternate ``d_steps`` critic steps and one generator step, ``steps`` times (Adam).

    ``sample_real(n)`` returns n real samples on the device; G maps z ~ N(0, I_{z_dim}) to
    samples. ``critic(D)``, if given, is what the losses see instead of D itself (e.g.
    ``lambda D: lambda x: normalized_critic(D, x, "gn")``, chapter 10). The history holds
    ``d_loss`` and ``g_loss`` averaged over every ``log_every`` steps; a non-finite loss
    raises ``FloatingPointError`` naming the step.
    """
    z_dim = _validate.positive_int("z_dim", z_dim)
    steps = _validate.positive_int("steps", steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    d_steps = _validate.positive_int("d_steps", d_steps)
    log_every = _validate.positive_int("log_every", log_every)
    seed = _validate.non_negative_int("seed", seed)
    dev = torch.device(device) if device is not None else next(G.parameters()).device
    G.to(dev), D.to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=_validate.positive("lr_g", lr_g), betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=_validate.positive("lr_d", lr_d), betas=betas)
    seen: Critic = critic(D) if critic is not None else D
    gen = torch.Generator(device=dev).manual_seed(seed)
    zero = torch.zeros((), device=dev)
    history, sums, start = History(), {"d_loss": zero, "g_loss": zero}, time.perf_counter()
    quiet = {} if show_progress else {"disable": True}
    bar = progress(range(steps), desc=desc, unit="step", **quiet)
    for step in bar:
        for _ in range(d_steps):
            with torch.no_grad():
                fake = G(torch.randn(batch_size, z_dim, generator=gen, device=dev))
            loss_d = d_loss(seen, sample_real(batch_size), fake)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        loss_g = g_loss(seen, G(torch.randn(batch_size, z_dim, generator=gen, device=dev)))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        sums["d_loss"] = sums["d_loss"] + loss_d.detach()
        sums["g_loss"] = sums["g_loss"] + loss_g.detach()
        if (step + 1) % log_every == 0 or step + 1 == steps:  # one device sync per log
            n = (step % log_every) + 1
            means = {name: float(total) / n for name, total in sums.items()}
            if not all(map(math.isfinite, means.values())):
                raise FloatingPointError(f"a loss became non-finite by step {step + 1}: {means}")
            for name, value in means.items():
                history.add(name, value)
            sums = {name: zero for name in sums}
    history.seconds = time.perf_counter() - start
    return history
