"""The VAE's two closed forms: the Gaussian KL and the importance-weighted bound.

Chapters 03, 04 and 09 (kexue.fm/archives/5253, 5343, 8791). With the encoder's posterior
q(z|x) = N(μ, diag σ²) and the prior p(z) = N(0, I), the KL term of the ELBO has the closed form
(5253, section 分布标准化; 5343, eq. (16))

    KL(q‖p) = ½ Σ_i (μ_i² + σ_i² − log σ_i² − 1),

and with M samples z_m ~ q(z|x) and log-weights log w_m = log p(x, z_m) − log q(z_m|x) the
importance-weighted bound of Burda et al. (2016, eq. 8; "VAE (8)") is

    L_M = log (1/M) Σ_m w_m  ≤  log p(x),

with L_1 the ELBO and L_M increasing to log p(x) as M grows. :class:`VAE` is the one MLP VAE the
chapters train (Bernoulli or Gaussian decoder); its :meth:`VAE.log_weights` feed :func:`iwae_bound`.

Chapter 03 adds :func:`reparameterize`, the article's class-conditional prior
(:class:`ClassPriorVAE`: class y has the prior N(μ^y, I), so only the KL term changes, to
KL(N(μ, σ²) ‖ N(μ^y, I)) = ``gaussian_kl(μ − μ^y, logvar)``), the training loss
:func:`elbo_loss` (with a KL weight β) for :func:`kexue_lab.train.fit`, :func:`latent_grid`
(the author's grid of normal quantiles) and :func:`affine_latent` (re-centre and re-scale the
code without changing what the decoder sees).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .. import _validate
from ..nn import mlp

__all__ = [
    "DECODERS",
    "VAE",
    "ClassPriorVAE",
    "affine_latent",
    "elbo_loss",
    "gaussian_kl",
    "iwae_bound",
    "latent_grid",
    "reparameterize",
]

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
        trick, 5253, section 重参数技巧).
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


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """z = μ + σ ⊙ ε with σ = e^{logvar/2} and ε ~ N(0, I): a draw from N(μ, diag σ²).

    The draw is a differentiable function of ``mu`` and ``logvar``, so gradients reach the
    encoder through it; the randomness sits in ε alone (5253, section 重参数技巧; chapter 03).
    A fresh ε is drawn for every entry, i.e. for every sample of the batch.
    """
    _float_tensor("mu", mu, 1)
    _float_tensor("logvar", logvar, 1)
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got {tuple(mu.shape)} and "
            f"{tuple(logvar.shape)}"
        )
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + (0.5 * logvar).exp() * eps


class ClassPriorVAE(torch.nn.Module):
    """The article's simple conditional VAE: class y gets its own prior N(μ^y, I).

    The encoder and the decoder are those of :class:`VAE` (``self.vae``) and see no label; the
    ``num_classes × z_dim`` means ``class_means`` are trained with the rest. Only the KL term
    changes (5253, section 条件VAE; the author's ``cvae_keras.py``):

        KL(N(μ, σ²) ‖ N(μ^y, I)) = ½ Σ_i ((μ_i − μ^y_i)² + σ_i² − log σ_i² − 1),

    which is ``gaussian_kl(μ − μ^y, logvar)``. Decoding around μ^y generates class y
    (chapter 03). The means start at 0; the gradient of the KL separates them.
    """

    def __init__(
        self,
        x_dim: int,
        num_classes: int,
        z_dim: int = 2,
        hidden: tuple[int, ...] = (256,),
        *,
        decoder: str = "bernoulli",
        sigma: float = 1.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.num_classes = _validate.int_at_least("num_classes", num_classes, 2, "classes")
        self.vae = VAE(x_dim, z_dim, hidden, decoder=decoder, sigma=sigma, activation=activation)
        self.class_means = torch.nn.Parameter(torch.zeros(self.num_classes, self.vae.z_dim))

    def _labels(self, y: Any, batch: int) -> torch.Tensor:
        if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"y must be an integer torch.Tensor of class labels, got {y!r}")
        if y.shape != (batch,):
            raise ValueError(
                f"y must have shape ({batch},), one label per sample, got {tuple(y.shape)}"
            )
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(
                f"y must hold labels in 0 … {self.num_classes - 1}, got {int(y.min())} … "
                f"{int(y.max())}"
            )
        return y

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, logvar) of q(z|x), each ``(B, z_dim)`` (the label is not an input)."""
        return self.vae.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder output f(z): logits (Bernoulli) or mean (Gaussian)."""
        return self.vae.decode(z)

    def mean_image(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z] (see :meth:`VAE.mean_image`)."""
        return self.vae.mean_image(z)

    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x|z) at one reparameterised z, KL(q(z|x) ‖ N(μ^y, I))), each ``(B,)``."""
        mu, logvar = self.encode(x)
        y = self._labels(y, mu.shape[0])
        z = reparameterize(mu, logvar)
        return self.vae.log_px_given_z(x, z), gaussian_kl(mu - self.class_means[y], logvar)


def elbo_loss(beta: float = 1.0) -> Callable[[Any, torch.Tensor, Any], Any]:
    """The training loss for :func:`kexue_lab.train.fit`: the batch mean of −log p(x|z) + β·KL.

    β = 1 is the negative ELBO (5253, the loss of ``vae_keras.py``: reconstruction summed over
    pixels plus KL); β = 0 drops the KL term (chapter 03's ablation). Works for :class:`VAE`
    (labels ignored) and :class:`ClassPriorVAE` (labels needed). Besides the loss it records
    ``nll`` (the reconstruction term), ``kl`` and ``neg_elbo``, each a batch mean.
    """
    beta = _validate.non_negative("beta", beta)

    def loss(model: Any, x: torch.Tensor, y: Any = None) -> Any:
        if isinstance(model, ClassPriorVAE):
            if y is None:
                raise ValueError("a ClassPriorVAE needs the labels y: pass y to train.fit")
            rec, kl = model.elbo_terms(x, y)
        elif isinstance(model, VAE):
            rec, kl = model.elbo_terms(x)
        else:
            raise TypeError(f"model must be a VAE or a ClassPriorVAE, got {type(model).__name__}")
        nll, kl_mean = -rec.mean(), kl.mean()
        metrics = {
            "nll": nll.detach(),
            "kl": kl_mean.detach(),
            "neg_elbo": (nll + kl_mean).detach(),
        }
        return nll + beta * kl_mean, metrics

    return loss


def latent_grid(
    n: int = 15, lo: float = 0.05, hi: float = 0.95, *, center: Any = None
) -> torch.Tensor:
    """An n × n grid of 2-D codes at normal quantiles: z = center + (Φ⁻¹(q_j), Φ⁻¹(q_i)).

    q runs over ``linspace(lo, hi, n)``, as in the author's ``norm.ppf(np.linspace(0.05, 0.95,
    15))``; row i of the grid has z₂ = Φ⁻¹(q_i), column j has z₁ = Φ⁻¹(q_j). Returns
    ``(n·n, 2)`` float32 codes in row-major order (chapter 03's decoding grid); ``center``
    (2 numbers, e.g. a class mean μ^y) shifts the grid.
    """
    n = _validate.int_at_least("n", n, 2, "a grid needs two points per side")
    lo, hi = _validate.real("lo", lo), _validate.real("hi", hi)
    if not 0 < lo < hi < 1:
        raise ValueError(f"lo and hi must satisfy 0 < lo < hi < 1, got lo={lo}, hi={hi}")
    q = torch.special.ndtri(torch.linspace(lo, hi, n, dtype=torch.float64))
    zz = torch.stack([q.repeat(n), q.repeat_interleave(n)], dim=1)
    if center is not None:
        shift = torch.as_tensor(_validate.real_array("center", center), dtype=torch.float64)
        if shift.shape != (2,):
            raise ValueError(
                f"center must hold 2 numbers (a 2-D code), got shape {tuple(shift.shape)}"
            )
        zz = zz + shift
    return zz.float()


def affine_latent(model: VAE, shift: torch.Tensor, scale: torch.Tensor) -> VAE:
    """A copy of ``model`` whose code is z' = scale ⊙ (z − shift), the decoder adjusted to match.

    The encoder's last layer maps μ ↦ scale ⊙ (μ − shift) and logvar ↦ logvar + 2 log scale;
    the decoder's first layer maps z' back, W z + b = (W / scale) z' + (b + W shift). For the same
    ε the decoder sees the same numbers, so log p(x|z) is unchanged and only the KL term moves
    (chapter 03: with shift = the mean and scale = 1/√variance of the aggregate posterior it
    drops by exactly KL(N(mean, variance) ‖ N(0, I))). ``shift`` and ``scale`` have shape
    ``(z_dim,)``; ``scale`` must be positive.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a VAE, got {type(model).__name__}")
    shift, scale = _float_tensor("shift", shift, 1), _float_tensor("scale", scale, 1)
    for name, t in (("shift", shift), ("scale", scale)):
        if t.shape != (model.z_dim,):
            raise ValueError(f"{name} must have shape ({model.z_dim},), got {tuple(t.shape)}")
    if not bool((scale > 0).all()):
        raise ValueError(f"scale must be positive, got {scale.tolist()}")
    out = copy.deepcopy(model)
    enc, dec, d = out.encoder[-1], out.decoder[0], model.z_dim
    with torch.no_grad():
        shift, scale = shift.to(enc.weight), scale.to(enc.weight)
        enc.weight[:d] *= scale[:, None]
        enc.bias[:d] = scale * (enc.bias[:d] - shift)
        enc.bias[d:] += 2 * scale.log()
        dec.bias += dec.weight @ shift
        dec.weight /= scale
    return out
