"""A small hierarchical VAE in NVAE's shape: latent groups, top-down prior, residual posterior.

Chapter 08 (kexue.fm/archives/7574). The latent is split into groups z₁, …, z_L (article eq.
(3)). The prior is autoregressive over groups, p(z_l | z_{<l}) = N(μ_l, σ_l²) with (μ_l, log σ_l)
read from a top-down state s_{l−1} that has seen z₁, …, z_{l−1}, and p(z₁) = N(0, I). The
posterior follows the same top-down path and adds the encoder's features h(x) (article eq. (5)):

    q(z_l | z_{<l}, x) = N(μ_l + Δμ_l, σ_l² e^{2Δlogσ_l}),  (Δμ_l, Δlogσ_l) = f_l(h(x), s_{l−1}),

so its KL to the prior is :func:`kexue_lab.generative.nvae.kl_residual`, and the total KL is the
chain rule (4), one term per group at the sampled z_{<l}. The top-down path (prior heads and
state updates) and the decoder are shared by generation and inference, as in NVAE. With one
group the model is an ordinary VAE with the same encoder and decoder. ``residual=False`` makes
f_l output the posterior's mean and log σ directly (the absolute parameterisation). Every layer
is Linear → BatchNorm → Swish, NVAE's normalisation and activation on an MLP scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .. import _validate
from .nvae import kl_residual

__all__ = ["HierVAE", "nvae_loss"]

_LOG_2PI = math.log(2 * math.pi)


def _block(n_in: int, n_out: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, n_out), torch.nn.BatchNorm1d(n_out), torch.nn.SiLU()
    )


def _soft_clamp(x: torch.Tensor, bound: float = 5.0) -> torch.Tensor:
    return bound * torch.tanh(x / bound)  # NVAE's soft limit on log σ


class HierVAE(torch.nn.Module):
    """An MLP hierarchical VAE with ``len(z_dims)`` latent groups and a Bernoulli decoder.

    ``hidden`` is the width of the encoder's two layers and of the decoder's hidden layer,
    ``state`` the width of the top-down state. Inputs are flattened to ``(B, x_dim)`` in [0, 1].
    """

    def __init__(
        self,
        x_dim: int,
        z_dims: Sequence[int] = (8, 8),
        hidden: int = 256,
        state: int = 128,
        *,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.x_dim = _validate.positive_int("x_dim", x_dim)
        if isinstance(z_dims, int) or len(z_dims) == 0:
            raise ValueError(f"z_dims must be a non-empty sequence of group sizes, got {z_dims!r}")
        self.z_dims = tuple(_validate.positive_int(f"z_dims[{i}]", d) for i, d in enumerate(z_dims))
        hidden = _validate.positive_int("hidden", hidden)
        state = _validate.positive_int("state", state)
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be True or False, got {residual!r}")
        self.residual = residual
        self.encoder = torch.nn.Sequential(_block(self.x_dim, hidden), _block(hidden, hidden))
        self.post = torch.nn.ModuleList(
            torch.nn.Linear(hidden + (state if i else 0), 2 * d) for i, d in enumerate(self.z_dims)
        )
        self.prior = torch.nn.ModuleList(torch.nn.Linear(state, 2 * d) for d in self.z_dims[1:])
        self.topdown = torch.nn.ModuleList(
            _block(d + (state if i else 0), state) for i, d in enumerate(self.z_dims)
        )
        self.decoder = torch.nn.Sequential(_block(state, hidden), torch.nn.Linear(hidden, x_dim))

    def generative_modules(self) -> list[torch.nn.Module]:
        """The modules sampling runs through: prior heads, top-down path and decoder."""
        return [self.prior, self.topdown, self.decoder]

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}")
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.x_dim:
            raise ValueError(f"x must have {self.x_dim} values per sample, got {tuple(x.shape)}")
        return flat

    def _prior(self, level: int, s: torch.Tensor | None, n: int, like: torch.Tensor) -> Any:
        if level == 0:
            zeros = like.new_zeros(n, self.z_dims[0])
            return zeros, zeros
        mu_p, logsig_p = self.prior[level - 1](s).chunk(2, dim=-1)
        return mu_p, _soft_clamp(logsig_p)

    def _next_state(self, level: int, s: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        return self.topdown[level](z if level == 0 else torch.cat([s, z], dim=-1))

    def infer(self, x: torch.Tensor, samples: int = 1) -> dict[str, Any]:
        """One pass of the posterior: z_l ~ q(z_l | z_{<l}, x) for every group, top to bottom.

        Returns ``kl`` (N, L): the closed-form KL (6) per group at the sampled z_{<l};
        ``log_ratio`` (N, L): log q(z_l|…) − log p(z_l|…) at the sampled z_l (its mean is the KL);
        ``logits`` (N, x_dim) of p(x | z); ``x`` (N, x_dim), with N = B·``samples`` (each x
        repeated ``samples`` times, consecutively); ``z``, the groups' draws, and ``params``,
        per group (μ_p, log σ_p, μ_q, log σ_q) of prior and posterior.
        """
        flat = self._flat(x)
        m = _validate.positive_int("samples", samples)
        h = self.encoder(flat).repeat_interleave(m, dim=0)
        flat = flat.repeat_interleave(m, dim=0)
        s, kls, ratios, zs, params = None, [], [], [], []
        for level in range(len(self.z_dims)):
            mu_p, logsig_p = self._prior(level, s, len(h), h)
            inp = h if level == 0 else torch.cat([h, s], dim=-1)
            dmu, dlogsig = self.post[level](inp).chunk(2, dim=-1)
            if self.residual:
                dlogsig = _soft_clamp(dlogsig)
            else:  # absolute: the head gives the posterior's own mean and log σ
                dmu, dlogsig = dmu - mu_p, _soft_clamp(dlogsig) - logsig_p
            eps = torch.randn_like(dmu)
            z = mu_p + dmu + (logsig_p + dlogsig).exp() * eps
            kls.append(kl_residual(dmu, dlogsig, logsig_p).sum(-1))
            u = dmu * (-logsig_p).exp() + dlogsig.exp() * eps  # (z − μ_p) / σ_p
            ratios.append((0.5 * (u.square() - eps.square()) - dlogsig).sum(-1))
            zs.append(z)
            params.append((mu_p, logsig_p, mu_p + dmu, logsig_p + dlogsig))
            s = self._next_state(level, s, z)
        logits = self.decoder(s)
        return {
            "kl": torch.stack(kls, 1),
            "log_ratio": torch.stack(ratios, 1),
            "logits": logits,
            "x": flat,
            "z": zs,
            "params": params,
        }

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x|z) at one posterior sample, KL per group (B, L)); ELBO = rec − KL summed."""
        out = self.infer(x)
        rec = -F.binary_cross_entropy_with_logits(out["logits"], out["x"], reduction="none")
        return rec.sum(-1), out["kl"]

    def log_weights(self, x: torch.Tensor, samples: int) -> torch.Tensor:
        """log w_m = log p(x|z_m) + log p(z_m) − log q(z_m|x), shape (B, samples).

        ``vae.iwae_bound`` of it is the importance-weighted bound L_M on log p(x) (chapter 09).
        """
        out = self.infer(x, samples)
        rec = -F.binary_cross_entropy_with_logits(out["logits"], out["x"], reduction="none")
        log_w = rec.sum(-1) - out["log_ratio"].sum(-1)
        return log_w.reshape(-1, samples)

    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        *,
        generator: torch.Generator | None = None,
        eval_mode: bool = True,
    ) -> torch.Tensor:
        """n images E[x | z] with z from the prior, every σ_l scaled by ``temperature`` t.

        z₁ ~ N(0, t² I), z_l ~ N(μ_l, t² σ_l²). ``eval_mode=False`` leaves the modules' modes as
        they are (:func:`~kexue_lab.generative.nvae.with_recomputed_bn` runs BN in train mode).
        """
        n = _validate.positive_int("n", n)
        t = _validate.positive("temperature", temperature)
        if eval_mode:
            self.eval()
        p = next(self.parameters())
        s = None
        for level, d in enumerate(self.z_dims):
            mu_p, logsig_p = self._prior(level, s, n, p)
            eps = torch.randn(n, d, generator=generator).to(p)
            s = self._next_state(level, s, mu_p + t * logsig_p.exp() * eps)
        return torch.sigmoid(self.decoder(s))


def nvae_loss(penalty: Any = None, lam: float = 0.0) -> Any:
    """The loss for :func:`kexue_lab.train.fit`: batch mean of −ELBO, plus λ·(spectral penalty).

    The training digits are binarised afresh in every batch (dynamic binarisation). Records
    ``neg_elbo``, ``kl`` and one ``kl_l`` per group (batch means, nats).
    """
    lam = _validate.non_negative("lam", lam)
    if lam > 0 and penalty is None:
        raise ValueError("lam > 0 needs a penalty (a SpectralPenalty)")

    def loss(model: HierVAE, x: torch.Tensor, _: Any = None) -> Any:
        rec, kl = model.elbo_terms(torch.bernoulli(x))
        neg_elbo = (kl.sum(-1) - rec).mean()
        metrics = {"neg_elbo": neg_elbo.detach(), "kl": kl.sum(-1).mean().detach()}
        metrics |= {f"kl_{i + 1}": k.detach() for i, k in enumerate(kl.mean(0))}
        if lam > 0:
            return neg_elbo + lam * penalty(), metrics
        return neg_elbo, metrics

    return loss
