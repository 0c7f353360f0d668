"""Gradient accumulation hidden in momentum (chapter 20, kexue.fm/archives/8634).

Gradient accumulation averages the gradients g₁…g_k of k micro-batches in an extra buffer and
then takes one optimizer step with their mean ḡ. For SGD with momentum in EMA form,

    m ← βm + (1 − β)ḡ,    θ ← θ − αm,

the buffer is unnecessary: the momentum itself can collect the k gradients. With
χ_{t/k} = 1 when k divides t and 0 otherwise (:func:`chi`), the article's recursion

    m_t = [(β − 1)χ_{(t−1)/k} + 1]·m_{t−1} + (1 − β)/k · g_t,    θ_t = θ_{t−1} − χ_{t/k}·α·m_t

multiplies m by β at the first micro-step of a block, adds (1 − β)/k·g at every micro-step and
moves θ only at the last one. At every block end it equals SGD-momentum on ḡ exactly
(:class:`AccumSGDM`). For Adam the first moment folds in the same way, but the second moment
needs ḡ² = ((1/k)Σg)², which is not a sum over micro-steps; :class:`AccumAdam` either replaces it
by (1/k)Σg² (the article's approximation, no extra buffer) or keeps the buffer of Σg
(``exact_second_moment=True``, true accumulation). Seen from one micro-step, the folded
recursion is an EMA with the equivalent coefficient β̃ = 1 − (1 − β)/k (:func:`beta_tilde`).

:func:`simulate_regression` runs the article's variants on noisy linear regression, vectorised
over seeds. The chapter's explorations live in :mod:`kexue_lab.views.ch20`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate

Mode = Literal["plain", "accum", "embedded", "beta_tilde", "every_k", "beta_tilde_every"]
MODES: tuple[str, ...] = ("plain", "accum", "embedded", "beta_tilde", "every_k", "beta_tilde_every")


def chi(t: int, k: int) -> int:
    """χ_{t/k}: 1 if the integer t is a multiple of k, else 0 (article, notation; chapter 20).

    ``t >= 0`` is a step count, ``k >= 1`` the number of micro-batches per update; χ_{0/k} = 1.
    """
    t = _validate.non_negative_int("t", t)
    k = _validate.positive_int("k", k)
    return 1 if t % k == 0 else 0


def _beta(name: str, value: Any) -> float:
    """A momentum coefficient: a real number in [0, 1)."""
    out = _validate.real(name, value)
    if not 0.0 <= out < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return out


def beta_tilde(beta: float, k: int) -> float:
    """β̃ = 1 − (1 − β)/k: the per-micro-step EMA coefficient equivalent to accumulation over k.

    Article, "reflection": an EMA with β̃ over k micro-steps gives the block weight
    β̃^k ≈ 1 − k(1 − β̃) = β to the old momentum (chapter 20). ``beta`` in [0, 1), ``k >= 1``.
    """
    beta = _beta("beta", beta)
    k = _validate.positive_int("k", k)
    return 1.0 - (1.0 - beta) / k


def _lr(value: Any) -> float:
    return _validate.positive("lr", value)


class AccumSGDM(torch.optim.Optimizer):
    """SGD-momentum with k-step gradient accumulation folded into the momentum (chapter 20).

    Micro-step t (counted per parameter, from 1):

        m_t = [(β − 1)χ_{(t−1)/k} + 1]·m_{t−1} + (1 − β)/k · g_t,
        θ_t = θ_{t−1} − χ_{t/k}·α·m_t          (article eq. for SGDM).

    After the k calls of :meth:`step` of a block, θ and m equal one step of
    m ← βm + (1 − β)ḡ, θ ← θ − αm on the mean ḡ of the block's gradients, which
    ``torch.optim.SGD(lr=α(1 − β), momentum=β)`` also takes (it keeps m/(1 − β)). No buffer
    besides m. A parameter whose ``grad`` is ``None`` counts as a zero gradient for that
    micro-step. Raises for ``lr <= 0``, ``beta`` outside [0, 1) or ``k < 1``.
    """

    def __init__(self, params: Iterable[Any], lr: float, beta: float = 0.9, k: int = 1) -> None:
        defaults = dict(lr=_lr(lr), beta=_beta("beta", beta), k=_validate.positive_int("k", k))
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One micro-step; the parameters move only at the last micro-step of a block."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, beta, k = group["lr"], group["beta"], group["k"]
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["momentum"] = torch.zeros_like(p)
                m = state["momentum"]
                if state["step"] % k == 0:  # χ_{(t−1)/k} = 1: first micro-step of a block
                    m.mul_(beta)
                if p.grad is not None:
                    m.add_(p.grad, alpha=(1.0 - beta) / k)
                state["step"] += 1
                if state["step"] % k == 0:  # χ_{t/k} = 1: update
                    p.add_(m, alpha=-lr)
        return loss


class AccumAdam(torch.optim.Optimizer):
    """Adam with k-step accumulation folded into its moments (chapter 20).

    Micro-step t, with n = t/k updates so far at a block end:

        m_t = [(β₁ − 1)χ_{(t−1)/k} + 1]·m_{t−1} + (1 − β₁)/k · g_t,
        v_t = [(β₂ − 1)χ_{(t−1)/k} + 1]·v_{t−1} + (1 − β₂)/k · g_t²   (approximate),
        θ_t = θ_{t−1} − χ_{t/k}·α·m̂/(√v̂ + ε),  m̂ = m/(1 − β₁ⁿ), v̂ = v/(1 − β₂ⁿ).

    The v line uses the mean of the squares (1/k)Σg² where accumulation needs the square of the
    mean ḡ²: the article's approximation, with no buffer besides m and v. With
    ``exact_second_moment=True`` a buffer sums the block's gradients and v ← β₂v + (1 − β₂)ḡ²
    at the block end, which is exactly ``torch.optim.Adam`` on ḡ (true accumulation; m is folded
    in either way). ε is added outside the root as in PyTorch (the article writes √(v̂ + ε)).
    With ``k = 1`` both equal ``torch.optim.Adam``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        k: int = 1,
        eps: float = 1e-8,
        exact_second_moment: bool = False,
    ) -> None:
        if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (β₁, β₂), got {betas!r}")
        if not isinstance(exact_second_moment, bool):
            raise TypeError(f"exact_second_moment must be a bool, got {exact_second_moment!r}")
        defaults = dict(
            lr=_lr(lr),
            betas=(_beta("betas[0]", betas[0]), _beta("betas[1]", betas[1])),
            k=_validate.positive_int("k", k),
            eps=_validate.positive("eps", eps),
            exact=exact_second_moment,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One micro-step; the parameters move only at the last micro-step of a block."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), k, eps = group["lr"], group["betas"], group["k"], group["eps"]
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"], state["exp_avg_sq"] = (torch.zeros_like(p) for _ in "mv")
                    if group["exact"]:
                        state["grad_sum"] = torch.zeros_like(p)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                if state["step"] % k == 0:
                    m.mul_(b1)
                    if not group["exact"]:
                        v.mul_(b2)
                m.add_(g, alpha=(1.0 - b1) / k)
                if group["exact"]:
                    state["grad_sum"].add_(g)
                else:
                    v.addcmul_(g, g, value=(1.0 - b2) / k)
                state["step"] += 1
                if state["step"] % k:
                    continue
                if group["exact"]:
                    mean = state["grad_sum"].div_(k)
                    v.mul_(b2).addcmul_(mean, mean, value=1.0 - b2)
                    state["grad_sum"].zero_()
                n = state["step"] // k
                denom = (v / (1.0 - b2**n)).sqrt_().add_(eps)
                p.addcdiv_(m, denom, value=-lr / (1.0 - b1**n))
        return loss


def simulate_regression(
    mode: Mode,
    *,
    k: int = 8,
    beta: float = 0.9,
    lr: float = 0.05,
    batch: int = 4,
    steps: int = 8000,
    dim: int = 20,
    noise: float = 1.0,
    seeds: Sequence[int] = (0,),
    record_every: int = 0,
) -> dict[str, np.ndarray]:
    """Momentum SGD on noisy linear regression, one of the article's variants (chapter 20).

    Data: x ~ N(0, I_dim), y = x·w* + noise·ε with w* ~ N(0, I/dim) per seed; the loss is
    ½(x·w − y)², so the excess loss of w is ½‖w − w*‖². Every micro-step draws ``batch``
    samples; ``steps`` micro-steps in all. ``mode``:

    * ``"plain"``: m ← βm + (1 − β)g, θ ← θ − αm at every micro-step;
    * ``"accum"``: true accumulation, a buffer averages k micro-gradients, then one step;
    * ``"embedded"``: the buffer-free recursion of :class:`AccumSGDM` (equal to ``"accum"``);
    * ``"beta_tilde"``: an ordinary EMA with β̃ = 1 − (1 − β)/k, θ moved every k micro-steps;
    * ``"every_k"``: an ordinary EMA with β, θ moved every k micro-steps;
    * ``"beta_tilde_every"``: an ordinary EMA with β̃, θ moved every micro-step.

    Vectorised over ``seeds``. Returns ``w`` (seeds × dim), ``w_star``, ``excess``
    (final ½‖w − w*‖² per seed) and, if ``record_every > 0``, ``curve`` (seeds × records)
    with the excess loss every ``record_every`` micro-steps and ``at`` (those step counts).
    """
    _validate.choice("mode", mode, MODES)
    k, batch = _validate.positive_int("k", k), _validate.positive_int("batch", batch)
    steps, dim = _validate.positive_int("steps", steps), _validate.positive_int("dim", dim)
    beta, lr = _beta("beta", beta), _lr(lr)
    noise = _validate.non_negative("noise", noise)
    record_every = _validate.non_negative_int("record_every", record_every)
    seeds = [_validate.non_negative_int("seeds", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed, got an empty sequence")
    rngs = [np.random.default_rng(s) for s in seeds]
    w_star = np.stack([r.normal(size=dim) / math.sqrt(dim) for r in rngs])
    s = len(seeds)
    w, m, buf = np.zeros((s, dim)), np.zeros((s, dim)), np.zeros((s, dim))
    b = beta_tilde(beta, k) if mode in ("beta_tilde", "beta_tilde_every") else beta
    gate = mode not in ("plain", "beta_tilde_every")
    curve, at = [], []
    for t in range(1, steps + 1):
        xs = np.stack([r.normal(size=(batch, dim)) for r in rngs])
        ys = np.einsum("sbd,sd->sb", xs, w_star) + noise * np.stack(
            [r.normal(size=batch) for r in rngs]
        )
        g = np.einsum("sbd,sb->sd", xs, np.einsum("sbd,sd->sb", xs, w) - ys) / batch
        if mode == "accum":
            buf += g
            if t % k == 0:
                m = beta * m + (1 - beta) * buf / k
                w = w - lr * m
                buf[:] = 0.0
        elif mode == "embedded":
            m = (beta if (t - 1) % k == 0 else 1.0) * m + (1 - beta) / k * g
            if t % k == 0:
                w = w - lr * m
        else:
            m = b * m + (1 - b) * g
            if not gate or t % k == 0:
                w = w - lr * m
        if record_every and t % record_every == 0:
            curve.append(0.5 * np.sum((w - w_star) ** 2, axis=1))
            at.append(t)
    out = {"w": w, "w_star": w_star, "excess": 0.5 * np.sum((w - w_star) ** 2, axis=1)}
    if record_every:
        out["curve"], out["at"] = np.stack(curve, axis=1), np.array(at)
    return out


def train_blocks(
    model: Any,
    optimizer: Any,
    loss_fn: Callable[[Any, Any, Any], Any],
    x: Any,
    y: Any,
    *,
    micro_batch: int,
    k: int,
    epochs: int,
    seed: int = 0,
    eval_fn: Callable[[Any], dict[str, float]] | None = None,
) -> dict[str, list[float]]:
    """Train with ``optimizer.step()`` after every micro-batch, blocks of k micro-batches.

    Every epoch shuffles the data with a generator seeded by ``seed`` and cuts it into blocks
    of ``k·micro_batch`` consecutive samples (the remainder is dropped), each into k
    micro-batches. So ``micro_batch=8, k=8`` with a folded optimizer and ``micro_batch=64,
    k=1`` with the ordinary one see the same 64 samples per update (chapter 20). The loss is
    the mean over a micro-batch; ``eval_fn(model)`` runs after every epoch under
    ``torch.no_grad()``. Returns ``{name: per-epoch values}``.
    """
    micro_batch = _validate.positive_int("micro_batch", micro_batch)
    k = _validate.positive_int("k", k)
    epochs = _validate.positive_int("epochs", epochs)
    seed = _validate.non_negative_int("seed", seed)
    block = micro_batch * k
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if len(x) < block:
        raise ValueError(f"k·micro_batch = {block} exceeds the {len(x)} training samples")
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {}
    used = len(x) // block * block
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)[:used].to(x.device)
        for idx in order.split(micro_batch):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model, x[idx], y[idx]).backward()
            optimizer.step()
        if eval_fn is not None:
            model.eval()
            with torch.no_grad():
                for name, value in eval_fn(model).items():
                    history.setdefault(name, []).append(float(value))
    return history
