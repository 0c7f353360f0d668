"""Exponentiated gradient and EG-learned per-coordinate gains (chapter 23, kexue.fm/archives/8968).

* Exponentiated gradient (EG) for positive parameters, :func:`eg_step`:
  θ_{t+1} = θ_t ⊙ exp(−η ∇L(θ_t)). It is the mirror-descent step for the unnormalised
  relative entropy, θ_{t+1} = argmin_{θ>0} η⟨g, θ⟩ + Σ_i θ_i log(θ_i/θ_{t,i}) − θ_i + θ_{t,i}.
* Per-coordinate gains learned by EG on the training loss itself (:class:`EGMeta`):
  ν_{t+1} = ν_t ⊙ exp(γ g_{t−1} ⊙ g_t),  θ_{t+1} = θ_t − η ν_{t+1} ⊙ g_t,  ν_1 = 1,
  so ν_{t+1} = exp(γ Σ_{k=1}^{t} g_{k−1} ⊙ g_k) (:func:`unrolled_gain`). The ``"sign"`` mode
  replaces g_{t−1} ⊙ g_t by its sign (scale-free, as in the paper's EGDD optimiser); the gains
  may be clipped to ``gain_clip``.
* :func:`gain_factor` is the one home of the gain update, shared by the optimiser and by
  :func:`quadratic_run`, a vectorised run on a separable quadratic ½ Σ h_i θ_i².
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate

Mode = Literal["raw", "sign"]
MODES: tuple[str, ...] = ("raw", "sign")


# ---- exponentiated gradient ----
def eg_step(theta: Any, grad: Any, lr: float) -> Any:
    """One exponentiated-gradient step θ ⊙ exp(−lr·grad) for θ > 0 (chapter 23, eq. (2)).

    ``theta`` and ``grad`` are tensors (the result is a tensor) or array-likes (the result is a
    float64 NumPy array) of one shape. Every entry of ``theta`` must be > 0: EG lives on the
    positive orthant, and the result stays there.
    """
    lr = _validate.real("lr", lr)
    if torch.is_tensor(theta) or torch.is_tensor(grad):
        if not (torch.is_tensor(theta) and torch.is_tensor(grad)):
            raise TypeError("theta and grad must both be tensors or both be array-likes")
        for name, t in (("theta", theta), ("grad", grad)):
            if not t.is_floating_point():
                raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} must be finite; it has NaN or infinite entries")
        th, g = theta, grad
    else:
        th, g = _validate.real_array("theta", theta), _validate.real_array("grad", grad)
    if th.shape != g.shape:
        raise ValueError(
            f"theta and grad must have the same shape, got {tuple(th.shape)} and {tuple(g.shape)}"
        )
    if bool((th <= 0).any()):
        raise ValueError(
            f"theta must be > 0 everywhere (EG works on the positive orthant); its smallest "
            f"entry is {float(th.min()):g}"
        )
    if torch.is_tensor(th):
        return th * torch.exp(-lr * g)
    return th * np.exp(-lr * g)


# ---- the gain update ----
def gain_factor(prev_grad: Any, grad: Any, gamma: float, mode: Mode = "raw") -> Any:
    """The factor exp(γ·c) that multiplies the gains ν (chapter 23, eq. (7)).

    c = g_{t−1} ⊙ g_t (``mode="raw"``, the article's rule) or sign(g_{t−1} ⊙ g_t)
    (``mode="sign"``). Works on tensors and on NumPy arrays; no checks (callers check).
    """
    if torch.is_tensor(grad):
        c = prev_grad * grad
        return torch.exp(gamma * (torch.sign(c) if mode == "sign" else c))
    c = np.asarray(prev_grad) * np.asarray(grad)
    return np.exp(gamma * (np.sign(c) if mode == "sign" else c))


def _clip_pair(gain_clip: Any) -> tuple[float, float] | None:
    if gain_clip is None:
        return None
    try:
        lo, hi = gain_clip
    except (TypeError, ValueError):
        raise TypeError(f"gain_clip must be None or a pair (lo, hi), got {gain_clip!r}") from None
    lo, hi = _validate.positive("gain_clip[0]", lo), _validate.positive("gain_clip[1]", hi)
    if not lo <= 1.0 <= hi:
        raise ValueError(f"gain_clip must satisfy lo <= 1 <= hi (ν starts at 1), got {gain_clip!r}")
    return lo, hi


def unrolled_gain(grads: Any, gamma: float) -> np.ndarray:
    """The gains ν_{T} = exp(γ Σ_{k=1}^{T−1} g_{k−1} ⊙ g_k) after the gradients g_0 … g_{T−1}.

    Chapter 23, eq. (8): the raw rule with ν_1 = 1 and no clipping, unrolled. ``grads`` has
    shape (T, …) with T >= 1; the result has the shape of one gradient.
    """
    g = _validate.real_array("grads", grads)
    gamma = _validate.real("gamma", gamma)
    if g.ndim < 1 or g.shape[0] < 1:
        raise ValueError(f"grads must have shape (T, ...) with T >= 1, got shape {g.shape}")
    return np.exp(gamma * np.sum(g[:-1] * g[1:], axis=0))


# ---- the optimiser ----
class EGMeta(torch.optim.Optimizer):
    """Gradient descent with per-coordinate gains learned by EG (chapter 23, eq. (7)).

    At every ``step()`` with gradient g_t: ν ← clip(ν ⊙ gain_factor(g_{t−1}, g_t)) (skipped at
    the first step, where ν = 1), then θ ← θ − lr·ν ⊙ g_t. ``gamma = 0`` is plain GD.
    The state of each parameter holds ``gain`` (ν) and ``prev_grad`` (g_{t−1}).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        gamma: float,
        mode: Mode = "raw",
        gain_clip: tuple[float, float] | None = None,
    ) -> None:
        lr = _validate.positive("lr", lr)
        gamma = _validate.non_negative("gamma", gamma)
        _validate.choice("mode", mode, MODES)
        clip = _clip_pair(gain_clip)
        super().__init__(params, dict(lr=lr, gamma=gamma, mode=mode, gain_clip=clip))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if "gain" not in state:
                    state["gain"] = torch.ones_like(p)
                else:
                    state["gain"].mul_(
                        gain_factor(state["prev_grad"], g, group["gamma"], group["mode"])
                    )
                    if group["gain_clip"] is not None:
                        state["gain"].clamp_(*group["gain_clip"])
                state["prev_grad"] = g.detach().clone()
                p.add_(-group["lr"] * state["gain"] * g)
        return loss


# ---- a separable quadratic ----
@dataclass(frozen=True)
class QuadraticRun:
    """A run on L(θ) = ½ Σ h_i θ_i²: ``loss`` (steps+1,), ``theta`` and ``gain`` (steps+1, d)."""

    loss: np.ndarray
    theta: np.ndarray
    gain: np.ndarray


def quadratic_run(
    h: Sequence[float],
    lr: float,
    gamma: float,
    mode: Mode = "raw",
    steps: int = 300,
    theta0: Sequence[float] | None = None,
    gain_clip: tuple[float, float] | None = None,
) -> QuadraticRun:
    """Run the :class:`EGMeta` rule (``gamma = 0``: plain GD) on ½ Σ h_i θ_i² in float64.

    Chapter 23, §4. ``gain[t]`` is the gain used for the step from θ_t, i.e. ν_{t+1}; a run
    that overflows keeps going with infinities/NaN (check ``loss`` for finiteness).
    """
    hv = _validate.real_array("h", h)
    if hv.ndim != 1 or (hv <= 0).any():
        raise ValueError(f"h must be a 1-D array of curvatures > 0, got {h!r}")
    lr = _validate.positive("lr", lr)
    gamma = _validate.non_negative("gamma", gamma)
    _validate.choice("mode", mode, MODES)
    steps = _validate.positive_int("steps", steps)
    clip = _clip_pair(gain_clip)
    th = np.ones_like(hv) if theta0 is None else _validate.real_array("theta0", theta0).copy()
    if th.shape != hv.shape:
        raise ValueError(f"theta0 must have the shape of h {hv.shape}, got {th.shape}")
    thetas, gains, nu, prev = [th.copy()], [], np.ones_like(hv), None
    with np.errstate(all="ignore"):
        for _ in range(steps):
            g = hv * th
            if prev is not None:
                nu = nu * gain_factor(prev, g, gamma, mode)
                nu = nu if clip is None else np.clip(nu, *clip)
            gains.append(nu.copy())
            th = th - lr * nu * g
            prev = g
            thetas.append(th.copy())
        path = np.array(thetas)
        loss = 0.5 * np.sum(hv * path**2, axis=1)
    gains.append(nu.copy())
    return QuadraticRun(loss=loss, theta=path, gain=np.array(gains))
