"""Gradient clipping and relaxed smoothness (chapter 19, kexue.fm/archives/7469).

Clipping rescales a gradient ``g`` by a factor that depends on its norm:

* hard clipping: g ← g·min{1, γ/‖g‖}   (what ``torch.nn.utils.clip_grad_norm_`` does);
* soft clipping: g ← g·γ/(‖g‖ + γ).

The two factors lie within a factor 2 of each other. Under (L0, L1)-smoothness,
‖∇²f(θ)‖ ≤ L0 + L1‖∇f(θ)‖, the step size that the descent lemma certifies as
best is η*(θ) = 1/(L0 + L1‖∇f(θ)‖), which is soft clipping with η = 1/L0 and
γ = L0/L1 (Zhang, He, Sra, Jadbabaie, ICLR 2020).

This module holds the factors (:func:`clip_factor`, the one home of both formulas;
:func:`optimal_step`), an in-place clipper for model gradients (:func:`clip_grad_norm_`),
a gradient descent runner for toy functions vectorised over starting points
(:func:`descend`) and its one-start float version on θ⁴ (:func:`quartic_path`), and a
local-smoothness trace along an SGD trajectory (:func:`smoothness_trace`). The chapter's
exploration lives in :mod:`kexue_lab.views.ch19`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .. import _validate

ClipKind = Literal["hard", "soft"]
CLIP_KINDS: tuple[str, ...] = ("hard", "soft")
Rule = Literal["gd", "hard", "soft"]
RULES: tuple[str, ...] = ("gd", "hard", "soft")


# ---- factors -------------------------------------------------------------------------------------
def _norm_input(name: str, value: Any) -> tuple[str, Any]:
    """Check a gradient norm (float, NumPy array or tensor): finite, >= 0. Returns (kind, value)."""
    import torch

    if torch.is_tensor(value):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
        bad_nan = torch.isnan(value)
        if bool(bad_nan.any()):
            raise ValueError(
                f"{name} contains NaN ({int(bad_nan.sum())} of {value.numel()} entries); "
                "allowed: finite values >= 0"
            )
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} contains infinite entries; allowed: finite values >= 0")
        if bool((value < 0).any()):
            worst = float(value.min())
            raise ValueError(
                f"{name} contains negative entries (smallest {worst:g}); a norm is >= 0"
            )
        return "tensor", value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiu" or value.dtype == bool:
            raise TypeError(f"{name} must be a numeric array, got dtype {value.dtype}")
        arr = value.astype(np.float64)
        if np.isnan(arr).any():
            raise ValueError(
                f"{name} contains NaN ({int(np.isnan(arr).sum())} of {arr.size} entries); "
                "allowed: finite values >= 0"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains infinite entries; allowed: finite values >= 0")
        if (arr < 0).any():
            raise ValueError(
                f"{name} contains negative entries (smallest {arr.min():g}); a norm is >= 0"
            )
        return "array", arr
    return "float", _validate.non_negative(name, value)


def clip_factor(grad_norm: Any, gamma: float, kind: ClipKind = "hard") -> Any:
    """The factor that gradient clipping multiplies the gradient by (chapter 19).

    * ``"hard"``: min{1, γ/‖g‖}, computed as γ/max(‖g‖, γ), so it is exactly 1 for
      ‖g‖ ≤ γ, including ‖g‖ = 0, with no division by zero and a zero derivative there;
    * ``"soft"``: γ/(‖g‖ + γ).

    Both cap the update length ‖η·factor·g‖ at ηγ, and
    ½·min{1, γ/x} ≤ γ/(x + γ) ≤ min{1, γ/x} for every x ≥ 0.

    ``grad_norm`` is a float (a float is returned), a NumPy array or a torch tensor
    (same type, dtype and device back, elementwise). Raises ``ValueError`` for a NaN,
    infinite or negative norm, a ``gamma`` that is not finite and > 0, or an unknown
    ``kind``.
    """
    plain = type(grad_norm) is float and type(gamma) is float and kind in CLIP_KINDS
    if plain and 0.0 < gamma < math.inf and 0.0 <= grad_norm < math.inf:
        how, x = "float", grad_norm  # valid floats: skip the checks (loops call this per step)
    else:
        _validate.choice("kind", kind, CLIP_KINDS)
        gamma = _validate.positive("gamma", gamma)
        how, x = _norm_input("grad_norm", grad_norm)
    if how == "tensor":
        if kind == "hard":
            return gamma / x.clamp_min(gamma)
        return gamma / (x + gamma)
    if how == "array":
        return gamma / np.maximum(x, gamma) if kind == "hard" else gamma / (x + gamma)
    return gamma / max(x, gamma) if kind == "hard" else gamma / (x + gamma)


def optimal_step(grad_norm: Any, L0: float, L1: float) -> Any:
    """η*(θ) = 1/(L0 + L1·‖∇f(θ)‖): the best step the (L0, L1) descent lemma certifies (ch. 19).

    It equals soft clipping with η = 1/L0 and γ = L0/L1:
    1/(L0 + L1·x) = (1/L0)·(L0/L1)/(x + L0/L1). With ``L1 = 0`` it is the classical 1/L.
    ``grad_norm`` is a float, NumPy array or tensor (returned in kind); ``L0 > 0``, ``L1 >= 0``.
    """
    L0 = _validate.positive("L0", L0)
    L1 = _validate.non_negative("L1", L1)
    how, x = _norm_input("grad_norm", grad_norm)
    return 1.0 / (L0 + L1 * x)


def clip_grad_norm_(parameters: Any, gamma: float, kind: ClipKind = "hard") -> float:
    """Scale the gradients of ``parameters`` in place by :func:`clip_factor` of their global norm.

    ‖g‖ is the norm of all gradients taken as one vector. ``kind="hard"`` does what
    ``torch.nn.utils.clip_grad_norm_(parameters, gamma)`` does (up to torch's 1e-6 in the
    denominator), g ← g·min{1, γ/‖g‖}; ``kind="soft"`` multiplies by γ/(‖g‖ + γ).
    ``parameters`` is a tensor or an iterable of them (``model.parameters()``); those
    without a gradient are skipped. Returns the global norm ‖g‖ before scaling (chapter 19).
    Raises ``ValueError`` if no parameter has a gradient and ``FloatingPointError`` if ‖g‖
    is not finite (so :func:`kexue_lab.train.sweep` records a diverged run).
    """
    import torch

    _validate.choice("kind", kind, CLIP_KINDS)
    gamma = _validate.positive("gamma", gamma)
    params = [parameters] if torch.is_tensor(parameters) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        raise ValueError("parameters have no gradients: call loss.backward() before clipping")
    norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g.detach()) for g in grads])
    )
    if not torch.isfinite(norm):
        raise FloatingPointError(
            f"the global gradient norm is {norm.item()}: "
            "clipping cannot repair a non-finite gradient"
        )
    factor = clip_factor(norm, gamma, kind)
    for g in grads:
        g.detach().mul_(factor.to(g.dtype))
    return float(norm)


# ---- gradient descent on toy functions -----------------------------------------------------------
@dataclass(frozen=True)
class Descent:
    """What :func:`descend` returns.

    ``steps[i]``: iterations start ``i`` needed to reach ‖θ‖ ≤ tol (0 if it started there,
    −1 if it did not within ``max_steps`` or diverged); ``theta``: final iterates ``(n, d)``;
    ``path``: every iterate ``(T + 1, n, d)`` when ``record=True`` (finished starts stay put).
    """

    steps: np.ndarray
    theta: np.ndarray
    path: np.ndarray | None = None


def _per_start(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must be a number or one value per start ({n}), got shape {arr.shape}"
        )
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return arr


def descend(
    grad: Callable[[np.ndarray], np.ndarray],
    theta0: Any,
    *,
    rule: Rule,
    eta: Any,
    gamma: float | None = None,
    tol: float = 1.0,
    max_steps: int = 100_000,
    record: bool = False,
) -> Descent:
    """Run θ ← θ − η·c(‖∇f(θ)‖)·∇f(θ) from many starts at once, until ‖θ‖ ≤ ``tol`` (chapter 19).

    ``rule`` picks c: ``"gd"`` (c = 1, fixed step), ``"hard"`` (min{1, γ/‖g‖}) or
    ``"soft"`` (γ/(‖g‖ + γ)); ``gamma`` is required for the clipping rules. ``grad``
    maps an array of points ``(n, d)`` to their gradients ``(n, d)``; ``theta0`` is
    ``(n,)`` (one-dimensional problems) or ``(n, d)``; ``eta`` is a number or one step
    size per start. The minimiser is assumed at θ = 0 (the stopping test). Starts that
    finish are dropped from the loop, so the cost is set by the slowest start.
    """
    _validate.choice("rule", rule, RULES)
    if rule != "gd":
        if gamma is None:
            raise ValueError(f"rule={rule!r} needs gamma (the clipping threshold), got None")
        gamma = _validate.positive("gamma", gamma)
    tol = _validate.non_negative("tol", tol)
    max_steps = _validate.non_negative_int("max_steps", max_steps)
    th = np.array(theta0, dtype=np.float64)
    if th.ndim == 1:
        th = th[:, None]
    if th.ndim != 2 or th.shape[0] == 0:
        raise ValueError(
            f"theta0 must have shape (n,) or (n, d) with n >= 1, got {np.shape(theta0)}"
        )
    if not np.isfinite(th).all():
        raise ValueError("theta0 must be finite")
    n = th.shape[0]
    eta = _per_start("eta", eta, n)
    steps = np.full(n, -1, dtype=np.int64)

    def radius(z: np.ndarray) -> np.ndarray:
        return np.abs(z[:, 0]) if z.shape[1] == 1 else np.sqrt(np.einsum("ij,ij->i", z, z))

    active = radius(th) > tol
    steps[~active] = 0
    idx, x, e = np.flatnonzero(active), th[active], eta[active][:, None]
    path = [th.copy()] if record else None
    t = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while idx.size and t < max_steps:
            g = np.asarray(grad(x), dtype=np.float64)
            if g.shape != x.shape:
                raise ValueError(f"grad returned shape {g.shape} for points of shape {x.shape}")
            if rule == "gd":
                x = x - e * g
            else:
                x = x - e * clip_factor(radius(g)[:, None], gamma, rule) * g
            t += 1
            go = radius(x) > tol  # False once within tol, and for NaN (a diverged start)
            if record:
                th[idx] = x
                path.append(th.copy())
            if not go.all():
                th[idx] = x
                done = radius(x) <= tol
                steps[idx[done]] = t
                idx, x, e = idx[go], x[go], e[go]
        th[idx] = x  # starts still running at max_steps
    return Descent(steps=steps, theta=th, path=np.stack(path) if record else None)


# ---- smoothness along a training trajectory ------------------------------------------------------
def smoothness_trace(
    model: Any,
    loss_fn: Callable[[Any, Any, Any], Any],
    x: Any,
    y: Any,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    probe: int | None = None,
    clip_norm: float | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train ``model`` with plain SGD and measure the local smoothness at every step (chapter 19).

    Each step draws a minibatch (seeded, with replacement), takes
    θ_{t+1} = θ_t − lr·c·g_t (c the hard clip factor if ``clip_norm`` is given, else 1), and
    records, for the loss f on a fixed probe set (the first ``probe`` samples of a seeded
    permutation, or all of ``x``):

    * ``loss``: f(θ_t), ``grad_norm``: ‖∇f(θ_t)‖;
    * ``smoothness``: L̂_t = ‖∇f(θ_{t+1}) − ∇f(θ_t)‖ / ‖θ_{t+1} − θ_t‖, a finite-difference
      estimate of the curvature along the step (≤ the largest Hessian eigenvalue in size).

    ``loss_fn(model, xb, yb)`` returns a scalar tensor. Raises ``FloatingPointError`` if the
    loss stops being finite.
    """
    import torch

    steps = _validate.positive_int("steps", steps)
    lr = _validate.positive("lr", lr)
    batch_size = _validate.positive_int("batch_size", batch_size)
    seed = _validate.non_negative_int("seed", seed)
    if clip_norm is not None:
        clip_norm = _validate.positive("clip_norm", clip_norm)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    params = [p for p in model.parameters() if p.requires_grad]
    dev = params[0].device
    x, y = x.to(dev), y.to(dev)
    gen = torch.Generator().manual_seed(seed)
    if probe is None:
        px, py = x, y
    else:
        probe = _validate.positive_int("probe", probe)
        keep = torch.randperm(len(x), generator=gen)[: min(probe, len(x))].to(dev)
        px, py = x[keep], y[keep]

    def probe_grad() -> tuple[float, Any]:
        loss = loss_fn(model, px, py)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the probe loss became {loss.item()}")
        grads = torch.autograd.grad(loss, params)
        return loss.item(), torch.cat([g.reshape(-1) for g in grads])

    def flat() -> Any:
        return torch.cat([p.detach().reshape(-1) for p in params])

    out = {k: np.empty(steps) for k in ("loss", "grad_norm", "smoothness")}
    loss0, g0 = probe_grad()
    th0 = flat()
    for t in range(steps):
        idx = torch.randint(len(x), (batch_size,), generator=gen).to(dev)
        grads = torch.autograd.grad(loss_fn(model, x[idx], y[idx]), params)
        factor = 1.0
        if clip_norm is not None:
            norm = torch.linalg.vector_norm(
                torch.stack([torch.linalg.vector_norm(g) for g in grads])
            )
            factor = clip_factor(norm, clip_norm, "hard")
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * factor * g)
        loss1, g1 = probe_grad()
        th1 = flat()
        out["loss"][t], out["grad_norm"][t] = loss0, float(g0.norm())
        out["smoothness"][t] = float((g1 - g0).norm() / (th1 - th0).norm().clamp_min(1e-30))
        loss0, g0, th0 = loss1, g1, th1
    return out


# ---- θ⁴, one start at a time ---------------------------------------------------------------------
def quartic_path(
    theta0: float, rule: Rule, eta: float, gamma: float | None = None, max_steps: int = 3000
) -> list[float]:
    """The iterates θ_0, θ_1, … of a rule on f(θ) = θ⁴, f′(θ) = 4θ³, from ``theta0`` (chapter 19).

    θ ← θ − η·c·f′(θ) with c = 1 (``"gd"``) or c = :func:`clip_factor` (|f′(θ)|, γ, rule).
    Plain floats, so one start is fast (the exploration runs it for every slider value);
    :func:`descend` runs many starts at once. The run stops after ``max_steps`` steps, or
    when |θ| exceeds 10⁶ or stops being finite: the path then ends with ``inf`` (diverged).
    """
    _validate.choice("rule", rule, RULES)
    theta0 = _validate.real("theta0", theta0)
    eta = _validate.positive("eta", eta)
    max_steps = _validate.non_negative_int("max_steps", max_steps)
    if rule != "gd":
        if gamma is None:
            raise ValueError(f"rule={rule!r} needs gamma (the clipping threshold), got None")
        gamma = _validate.positive("gamma", gamma)
    th, out = theta0, [theta0]
    for _ in range(max_steps):
        g = 4.0 * th**3
        th = th - eta * g * (1.0 if rule == "gd" else clip_factor(abs(g), gamma, rule))
        if not abs(th) <= 1e6:  # also catches NaN
            out.append(float("inf"))
            break
        out.append(th)
    return out
