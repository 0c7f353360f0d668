"""A VAE as a density estimator: importance sampling, the IWAE bound and exact checks.

Chapter 09 (kexue.fm/archives/8791). A latent-variable model p(x) = ∫ p(x|z) p(z) dz is a
continuous mixture; its density is an integral, estimated by importance sampling with a
proposal q(z|x) (the encoder):

    p(x) = E_{z~q(z|x)}[w(z)],   w(z) = p(x|z) p(z) / q(z|x)     (article, section 重要采样)
    L_M  = E[log (1/M) Σ_m w(z_m)] ≤ log p(x)                    (section 训练目标; IWAE eq. 8)

L_1 is the VAE's ELBO; L_M grows with M towards log p(x) (Burda et al. 2016, Theorem 1), and
with the true posterior as proposal every weight equals p(x), so L_M = log p(x) for every M.

* :class:`LinearGaussian`: z ~ N(0, I_d), x|z ~ N(Wz + b, σ²I_D), where everything is closed
  form: p(x) = N(x; b, WWᵀ + σ²I), the posterior, the ELBO of any Gaussian proposal, and the
  second moment of the weights under the prior proposal;
* :func:`effective_sample_size` and :func:`iwae_bounds` (L_m for several m from one draw);
* :func:`iwae_loss` and :func:`log_likelihood_bounds` for a trained
  :class:`kexue_lab.generative.vae.VAE`.

The log-mean-exp itself is :func:`kexue_lab.generative.vae.iwae_bound` (one home per formula).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .. import _validate
from .vae import VAE, iwae_bound

__all__ = [
    "LinearGaussian",
    "effective_sample_size",
    "iwae_bounds",
    "iwae_loss",
    "log_likelihood_bounds",
]

_LOG_2PI = math.log(2 * math.pi)


def _tensor(name: str, value: Any, dims: Sequence[int]) -> torch.Tensor:
    """``value`` as a finite floating-point tensor with ``dims`` dimensions (one of them)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if value.dim() not in dims:
        allowed = " or ".join(str(d) for d in dims)
        raise ValueError(f"{name} must have {allowed} dimensions, got shape {tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} must be finite (it holds NaN or ±inf)")
    return value


def _batched(name: str, value: Any, batch: int, shape: tuple[int, ...]) -> torch.Tensor:
    """``value`` of shape ``shape`` or ``(batch, *shape)``, as float64 ``(batch, *shape)``."""
    t = _tensor(name, value, (len(shape), len(shape) + 1)).to(torch.float64)
    if tuple(t.shape) not in (shape, (batch, *shape)):
        raise ValueError(
            f"{name} must have shape {shape} or {(batch, *shape)}, got {tuple(t.shape)}"
        )
    return t.expand(batch, *shape)


def _mvn_log_pdf(r: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(r; 0, cov) for the rows of ``r`` ``(B, D)``, through the Cholesky factor of cov."""
    chol = torch.linalg.cholesky(cov)
    y = torch.linalg.solve_triangular(chol, r.T, upper=False)
    half_logdet = chol.diagonal().log().sum()
    return -0.5 * (y.square().sum(0) + r.shape[1] * _LOG_2PI) - half_logdet


class LinearGaussian:
    """The linear-Gaussian latent model z ~ N(0, I_d), x|z ~ N(Wz + b, σ² I_D) (chapter 09).

    ``weight`` is W ``(D, d)``, ``bias`` is b ``(D,)`` (zeros if omitted), ``sigma`` is σ > 0.
    Everything is computed in float64. x = Wz + b + σε is Gaussian, so

        p(x) = N(x; b, WWᵀ + σ²I),
        p(z|x) = N(Σ Wᵀ(x − b)/σ², Σ),   Σ = (I + WᵀW/σ²)⁻¹,

    and importance sampling can be checked against exact answers.
    """

    def __init__(
        self, weight: torch.Tensor, bias: torch.Tensor | None = None, sigma: float = 1.0
    ) -> None:
        w = _tensor("weight", weight, (2,)).to(torch.float64)
        if bias is None:
            b = torch.zeros(w.shape[0], dtype=torch.float64, device=w.device)
        else:
            b = _tensor("bias", bias, (1,)).to(torch.float64)
            if b.shape[0] != w.shape[0]:
                raise ValueError(
                    f"bias must have {w.shape[0]} entries (the rows of weight), got {b.shape[0]}"
                )
        self.weight, self.bias = w, b
        self.sigma = _validate.positive("sigma", sigma)

    @property
    def x_dim(self) -> int:
        """D, the dimension of x."""
        return self.weight.shape[0]

    @property
    def z_dim(self) -> int:
        """d, the dimension of z."""
        return self.weight.shape[1]

    def _x(self, x: torch.Tensor) -> torch.Tensor:
        x = _tensor("x", x, (2,)).to(torch.float64)
        if x.shape[1] != self.x_dim:
            raise ValueError(f"x must have shape (B, {self.x_dim}), got {tuple(x.shape)}")
        return x

    def marginal_cov(self) -> torch.Tensor:
        """WWᵀ + σ²I, the covariance of x ``(D, D)``."""
        eye = torch.eye(self.x_dim, dtype=torch.float64, device=self.weight.device)
        return self.weight @ self.weight.T + self.sigma**2 * eye

    def log_px(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log N(x; b, WWᵀ + σ²I) for the rows of ``x`` ``(B, D)``; shape ``(B,)``."""
        return _mvn_log_pdf(self._x(x) - self.bias, self.marginal_cov())

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The true posterior p(z|x) = N(loc, cov): ``loc`` ``(B, d)``, ``cov`` ``(d, d)``."""
        x = self._x(x)
        eye = torch.eye(self.z_dim, dtype=torch.float64, device=x.device)
        cov = torch.linalg.inv(eye + self.weight.T @ self.weight / self.sigma**2)
        cov = 0.5 * (cov + cov.T)
        loc = (x - self.bias) @ self.weight @ cov / self.sigma**2
        return loc, cov

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) + log p(z): ``z`` ``(B, d)`` → ``(B,)``; ``(B, M, d)`` → ``(B, M)``."""
        x = self._x(x)
        z = _tensor("z", z, (2, 3)).to(torch.float64)
        if z.shape[0] != x.shape[0] or z.shape[-1] != self.z_dim:
            raise ValueError(
                f"z must have shape ({x.shape[0]}, {self.z_dim}) or ({x.shape[0]}, M, "
                f"{self.z_dim}), got {tuple(z.shape)}"
            )
        xs = x if z.dim() == 2 else x.unsqueeze(1)
        resid = xs - (z @ self.weight.T + self.bias)
        var = self.sigma**2
        log_lik = -0.5 * (resid.square().sum(-1) / var + self.x_dim * (_LOG_2PI + math.log(var)))
        log_prior = -0.5 * (z.square().sum(-1) + self.z_dim * _LOG_2PI)
        return log_lik + log_prior

    def sample(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` draws from the model: ``(x, z)``, shapes ``(n, D)`` and ``(n, d)``."""
        n = _validate.positive_int("n", n)
        kw = dict(dtype=torch.float64, device=self.weight.device, generator=generator)
        z = torch.randn(n, self.z_dim, **kw)
        x = z @ self.weight.T + self.bias + self.sigma * torch.randn(n, self.x_dim, **kw)
        return x, z

    def log_weights(
        self,
        x: torch.Tensor,
        loc: torch.Tensor,
        scale_tril: torch.Tensor,
        samples: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """log w_m = log p(x, z_m) − log q(z_m), z_m ~ q = N(loc, LLᵀ), m = 1..M; ``(B, M)``.

        ``loc`` is ``(d,)`` or ``(B, d)``; ``scale_tril`` (L, lower triangular with a positive
        diagonal) is ``(d, d)`` or ``(B, d, d)``. The prior proposal is ``loc = 0, L = I``
        (naive Monte Carlo); the true posterior (:meth:`posterior`) gives w_m = p(x).
        """
        x = self._x(x)
        m = _validate.positive_int("samples", samples)
        d, batch = self.z_dim, x.shape[0]
        loc = _batched("loc", loc, batch, (d,))
        tril = _batched("scale_tril", scale_tril, batch, (d, d))
        diag = tril.diagonal(dim1=-2, dim2=-1)
        if not (diag > 0).all():
            raise ValueError("scale_tril must have a positive diagonal (a Cholesky factor)")
        tril = torch.tril(tril)
        eps = torch.randn(batch, m, d, dtype=torch.float64, device=x.device, generator=generator)
        z = loc.unsqueeze(1) + eps @ tril.transpose(-1, -2)
        log_q = -0.5 * (eps.square().sum(-1) + d * _LOG_2PI) - diag.log().sum(-1, keepdim=True)
        return self.log_joint(x, z) - log_q

    def elbo(self, x: torch.Tensor, loc: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        """L_1 = E_q[log w] for the proposal q = N(loc, cov), in closed form; ``(B,)``.

        E_q log p(x|z) = −D/2·log 2πσ² − (‖x − W·loc − b‖² + tr(W cov Wᵀ))/(2σ²),
        E_q log p(z) = −d/2·log 2π − (‖loc‖² + tr cov)/2, and the entropy of q is
        d/2·log 2πe + ½ log det cov. Equals log p(x) − KL(q ‖ p(z|x)).
        """
        x = self._x(x)
        d, batch = self.z_dim, x.shape[0]
        loc = _batched("loc", loc, batch, (d,))
        cov = _batched("cov", cov, batch, (d, d))
        w, var = self.weight, self.sigma**2
        resid = x - loc @ w.T - self.bias
        trace_wsw = torch.einsum("ij,bjk,ik->b", w, cov, w)
        trace_s = cov.diagonal(dim1=-2, dim2=-1).sum(-1)
        expected_lik = -0.5 * (
            (resid.square().sum(-1) + trace_wsw) / var + self.x_dim * (_LOG_2PI + math.log(var))
        )
        expected_prior = -0.5 * (loc.square().sum(-1) + trace_s + d * _LOG_2PI)
        entropy = 0.5 * (d * (_LOG_2PI + 1) + torch.linalg.slogdet(cov)[1])
        return expected_lik + expected_prior + entropy

    def prior_log_moment_ratio(self, x: torch.Tensor) -> torch.Tensor:
        """log(E[w²]/E[w]²) for the prior as proposal (w = p(x|z), z ~ N(0, I)); ``(B,)``.

        p(x|z)² = (4πσ²)^{−D/2} N(x; Wz + b, σ²I/2), so E[w²] = (4πσ²)^{−D/2}
        N(x; b, WWᵀ + σ²I/2), while E[w] = p(x). The effective sample size of M prior
        draws is about M·E[w]²/E[w²] (Kong 1992), so this is the log of the cost factor.
        """
        r = self._x(x) - self.bias
        eye = torch.eye(self.x_dim, dtype=torch.float64, device=r.device)
        half = _mvn_log_pdf(r, self.weight @ self.weight.T + 0.5 * self.sigma**2 * eye)
        const = -0.5 * self.x_dim * math.log(4 * math.pi * self.sigma**2)
        return const + half - 2 * _mvn_log_pdf(r, self.marginal_cov())


def effective_sample_size(log_w: torch.Tensor) -> torch.Tensor:
    """(Σ_m w_m)² / Σ_m w_m² per row of ``log_w`` ``(B, M)``, from the log-weights; ``(B,)``.

    Between 1 (one weight dominates) and M (equal weights); computed as
    exp(2·logsumexp(log w) − logsumexp(2 log w)), so it never overflows (chapter 09).
    """
    log_w = _tensor("log_w", log_w, (2,))
    if log_w.shape[1] == 0:
        raise ValueError("log_w must hold at least one sample per row (M ≥ 1), got M = 0")
    return torch.exp(2 * torch.logsumexp(log_w, 1) - torch.logsumexp(2 * log_w, 1))


def iwae_bounds(log_w: torch.Tensor, ms: Sequence[int]) -> torch.Tensor:
    """Estimates of L_m for each m in ``ms`` from one draw of M log-weights ``(B, M)``.

    The M weights of a row are cut into M/m disjoint groups of m; L_m is the mean of
    :func:`~kexue_lab.generative.vae.iwae_bound` over the groups, an unbiased estimate of
    E[log (1/m) Σ w] that uses every sample (so L_1 averages M single-sample ELBOs). Every
    m must divide M. Returns ``(len(ms), B)`` (chapter 09).
    """
    log_w = _tensor("log_w", log_w, (2,))
    batch, total = log_w.shape
    if isinstance(ms, (str, bytes)) or not isinstance(ms, Sequence) or len(ms) == 0:
        raise ValueError(f"ms must be a non-empty list of sample counts, got {ms!r}")
    rows = []
    for i, m in enumerate(ms):
        m = _validate.positive_int(f"ms[{i}]", m)
        if total % m:
            raise ValueError(f"ms[{i}] = {m} must divide the number of samples M = {total}")
        groups = log_w.reshape(batch * (total // m), m)
        rows.append(iwae_bound(groups).reshape(batch, total // m).mean(1))
    return torch.stack(rows)


def _vae(model: Any) -> VAE:
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a kexue_lab.generative.vae.VAE, got {type(model).__name__}")
    return model


def iwae_loss(model: VAE, x: torch.Tensor, samples: int) -> torch.Tensor:
    """The M-sample training loss −mean_x L_M(x), M = ``samples`` (article, section 训练目标).

    One reparameterised draw of M samples per example; differentiable. ``samples=1`` is
    the VAE's negative ELBO with a sampled KL term; M > 1 is the IWAE's loss.
    """
    _vae(model)
    m = _validate.positive_int("samples", samples)
    return -iwae_bound(model.log_weights(x, m)).mean()


def log_likelihood_bounds(
    model: VAE,
    x: torch.Tensor,
    ms: Sequence[int],
    *,
    batch_size: int = 100,
    chunk: int = 100,
) -> torch.Tensor:
    """Per-example estimates of L_m(x) for every m in ``ms`` (test log-likelihood bounds).

    Draws max(ms) proposal samples per example (``chunk`` at a time, ``batch_size``
    examples at a time, without gradients) and applies :func:`iwae_bounds`. Every m must
    divide max(ms), and ``chunk`` must divide max(ms) or exceed it. Returns a float64 CPU
    tensor ``(len(ms), N)``; −L_m averaged over a test set is the NLL bound in nats.
    """
    model = _vae(model)
    batch_size = _validate.positive_int("batch_size", batch_size)
    chunk = _validate.positive_int("chunk", chunk)
    if isinstance(ms, (str, bytes)) or not isinstance(ms, Sequence) or len(ms) == 0:
        raise ValueError(f"ms must be a non-empty list of sample counts, got {ms!r}")
    total = max(_validate.positive_int(f"ms[{i}]", m) for i, m in enumerate(ms))
    if chunk < total and total % chunk:
        raise ValueError(f"chunk = {chunk} must divide max(ms) = {total} (or be ≥ it)")
    x = _tensor("x", x, (2, 3, 4))
    sizes = [min(chunk, total)] * max(1, total // chunk)
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                xb = x[start : start + batch_size]
                log_w = torch.cat([model.log_weights(xb, c) for c in sizes], 1)
                out.append(iwae_bounds(log_w.double(), ms).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out, 1)
