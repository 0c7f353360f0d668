"""What BatchNorm does to the loss landscape (chapter 14, kexue.fm/archives/6992).

Article: 苏剑林, BN究竟起了什么作用？一个闭门造车的分析 (2019), discussing Santurkar, Tsipras,
Ilyas, Mądry, *How does batch normalization help optimization?* (NeurIPS 2018).

The descent lemma f(θ − η∇f) ≤ f(θ) − (η − ½Lη²)‖∇f‖² ties the usable step size to the
Lipschitz constant L of the gradient. For a layer g(⟨x, w⟩ + b) the weight gradient carries
a factor x, and Cauchy–Schwarz bounds its variation by √(Σᵢ E[xᵢ²]); subtracting the mean
and dividing by the standard deviation of every input coordinate is the cheapest way to
shrink that factor without losing expressive power, which is BatchNorm.

This module holds

* :func:`batchnorm_backward`: the closed-form input gradient of training-mode BN;
* :func:`gradient_predictiveness`: loss and gradient change along the gradient step
  (Santurkar et al.'s landscape measurements), leaving the model untouched;
* :func:`mlp` (with BN before or after each Linear, or none) and :func:`lr_sweep`,
  the chapter's training experiment;
* :func:`standardize`, :func:`second_moment`, :func:`logistic_gd`: the conditioning of
  centred and standardised inputs;
* :func:`conditioning_view`: the exploration (GD at η = 1/L on a 2-D regression).
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate
from ..widgets import Curve, Panel, View

Norm = Literal["none", "pre", "post"]
#: Where :func:`mlp` puts BatchNorm: nowhere, on every Linear's input (the article), or
#: between each hidden Linear and its ReLU (the usual Linear → BN → ReLU).
NORMS: tuple[str, ...] = ("none", "pre", "post")
Prep = Literal["raw", "centred", "standardised"]
PREPS: tuple[str, ...] = ("raw", "centred", "standardised")


# ---- the backward pass of BatchNorm ----------------------------------------------------------------
def _as_tensor(name: str, value: Any) -> tuple[torch.Tensor, bool]:
    if torch.is_tensor(value):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
        return value, True
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be numeric (a tensor or an array), got {type(value).__name__} of dtype {arr.dtype}")
    return torch.from_numpy(arr.astype(np.float64)), False


def batchnorm_backward(x: Any, grad_out: Any, gamma: Any, eps: float = 1e-5) -> Any:
    """∂L/∂x for training-mode BatchNorm over dimension 0, in closed form (chapter 14).

    The forward pass is z = γ·x̂ + β with x̂ = (x − μ)/s, μ = mean of x over the batch
    (dimension 0), s = √(σ² + ε) and σ² the *biased* batch variance, as BN uses in
    training. With g = ∂L/∂z (``grad_out``) the gradient with respect to x is, per column,

        ∂L/∂x = (γ/s)·(g − mean(g) − x̂·mean(g ⊙ x̂)),

    exact for any ε ≥ 0. It is orthogonal to the all-ones vector; for ε = 0 it is also
    orthogonal to x̂, and its squared norm is (γ²/σ²)(‖g‖² − ⟨1, g⟩²/N − ⟨g, x̂⟩²/N)
    (Santurkar et al., Theorem 4.1, as an identity).

    ``x`` and ``grad_out`` have shape ``(N, C)`` with N ≥ 2, ``gamma`` shape ``(C,)``.
    Tensors give a tensor (the promoted floating dtype), arrays give a float64 array.
    """
    xt, is_tensor = _as_tensor("x", x)
    gt, _ = _as_tensor("grad_out", grad_out)
    wt, _ = _as_tensor("gamma", gamma)
    eps = _validate.non_negative("eps", eps)
    if xt.dim() != 2 or xt.shape[0] < 2:
        raise ValueError(f"x must have shape (N, C) with N >= 2 samples, got shape {tuple(xt.shape)}")
    if gt.shape != xt.shape:
        raise ValueError(f"grad_out must have the shape of x, {tuple(xt.shape)}, got {tuple(gt.shape)}")
    if wt.shape != (xt.shape[1],):
        raise ValueError(f"gamma must have shape (C,) = ({xt.shape[1]},), got {tuple(wt.shape)}")
    dtype = torch.promote_types(torch.promote_types(xt.dtype, gt.dtype), wt.dtype)
    xt, gt, wt = xt.to(dtype), gt.to(dtype=dtype, device=xt.device), wt.to(dtype=dtype, device=xt.device)
    centred = xt - xt.mean(0)
    var = centred.pow(2).mean(0)
    if eps == 0 and bool((var == 0).any()):
        raise ValueError("with eps=0 every column of x must vary over the batch (a constant column has σ = 0)")
    s = torch.sqrt(var + eps)
    xhat = centred / s
    out = (wt / s) * (gt - gt.mean(0) - xhat * (gt * xhat).mean(0))
    return out if is_tensor else out.numpy()


# ---- gradient predictiveness -----------------------------------------------------------------------
@dataclass(frozen=True)
class Predictiveness:
    """What :func:`gradient_predictiveness` measured at θ, for each step size η in ``lr``.

    ``loss_change[k]`` = L(θ − η_k g) − L(θ) and ``grad_change[k]`` = ‖∇L(θ − η_k g) − ∇L(θ)‖,
    with g = ∇L(θ); ``beta[k]`` = grad_change[k]/(η_k‖g‖) is the curvature along the step
    (Santurkar et al.'s "effective β-smoothness" is its maximum over the steps).
    """

    lr: np.ndarray
    loss0: float
    grad_norm: float
    loss: np.ndarray
    grad_change: np.ndarray

    @property
    def loss_change(self) -> np.ndarray:
        """L(θ − ηg) − L(θ) for every η."""
        return self.loss - self.loss0

    @property
    def beta(self) -> np.ndarray:
        """‖∇L(θ − ηg) − ∇L(θ)‖ / ‖ηg‖ for every η."""
        return self.grad_change / (self.lr * max(self.grad_norm, 1e-300))


def _step_sizes(lr: Any) -> np.ndarray:
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return np.array([_validate.positive("lr", lr)])
    if isinstance(lr, (str, bytes)) or not isinstance(lr, (Sequence, np.ndarray)) or len(lr) == 0:
        raise TypeError(f"lr must be a positive number or a non-empty sequence of them, got {lr!r}")
    return np.array([_validate.positive(f"lr[{i}]", v) for i, v in enumerate(lr)])


def gradient_predictiveness(model: torch.nn.Module, loss_fn: Callable[[Any, Any, Any], Any], batch: Sequence[Any], lr: Any) -> Predictiveness:
    """Loss and gradient change along the gradient step, on one batch (chapter 14).

    With θ the trainable parameters of ``model``, L(θ) = ``loss_fn(model, x, y)`` on
    ``batch = (x, y)`` and g = ∇L(θ), for every step size η in ``lr`` (a number or a
    sequence) this evaluates L(θ − ηg) and ‖∇L(θ − ηg) − g‖₂ (all trainable parameters
    flattened into one vector). These are the "loss landscape" and "gradient
    predictiveness" measurements of Santurkar et al. (2018, §3.1). The model keeps its
    mode: in training mode BN uses the batch's statistics, as in a training step.

    The model is left as it was: parameters and buffers (e.g. BN running statistics) are
    restored and ``.grad`` is not touched. ``loss_fn`` may return the loss or a tuple
    whose first entry is the loss (the form :func:`kexue_lab.train.fit` accepts). A loss
    after a step that is not finite is recorded as it is; a non-finite L(θ) raises
    ``FloatingPointError``.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model, x, y), got {loss_fn!r}")
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(f"batch must be a pair (x, y), got {type(batch).__name__}")
    steps = _step_sizes(lr)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    x, y = batch

    def loss_and_grad() -> tuple[float, torch.Tensor]:
        out = loss_fn(model, x, y)
        loss = out[0] if isinstance(out, tuple) else out
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        flat = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        return float(loss.detach()), torch.cat([g.reshape(-1) for g in flat]).detach()

    saved = [p.detach().clone() for p in params]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    losses, changes = np.empty(len(steps)), np.empty(len(steps))
    try:
        with torch.enable_grad():
            loss0, g0 = loss_and_grad()
            if not math.isfinite(loss0):
                raise FloatingPointError(f"the loss at the current parameters is {loss0}")
            parts = torch.split(g0, [p.numel() for p in params])
            for k, eta in enumerate(steps):
                with torch.no_grad():
                    for p, p0, g in zip(params, saved, parts):
                        p.copy_(p0 - float(eta) * g.view_as(p))
                losses[k], g1 = loss_and_grad()
                changes[k] = float(torch.linalg.vector_norm(g1 - g0))
    finally:
        with torch.no_grad():
            for p, p0 in zip(params, saved):
                p.copy_(p0)
            for b, b0 in buffers:
                b.copy_(b0)
    return Predictiveness(lr=steps, loss0=loss0, grad_norm=float(torch.linalg.vector_norm(g0)), loss=losses, grad_change=changes)


# ---- the experiment: an MLP with and without BN across learning rates ----------------------------------
def mlp(sizes: Sequence[int], norm: Norm = "none") -> torch.nn.Sequential:
    """Flatten, then Linear layers of ``sizes`` with ReLU between them, and BatchNorm placed by ``norm``:

    * ``"none"``: Linear → ReLU → … → Linear;
    * ``"pre"``:  BN → Linear → ReLU → BN → Linear → … (every Linear's *input* is normalised,
      including the network's input: the article's placement, like Pre-Norm);
    * ``"post"``: Linear → BN → ReLU → … → Linear (the usual placement).

    The BN layers draw no random numbers, so after the same ``torch.manual_seed`` all three
    variants start from the same Linear weights. Chapter 14.
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
        raise ValueError(f"sizes must be a sequence of at least 2 layer widths, e.g. [64, 64, 10], got {sizes!r}")
    widths = [_validate.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
    _validate.choice("norm", norm, NORMS)
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        if norm == "pre":
            layers.append(torch.nn.BatchNorm1d(a))
        linear = torch.nn.Linear(a, b)
        torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(widths) - 2:
            if norm == "post":
                layers.append(torch.nn.BatchNorm1d(b))
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


@dataclass
class SweepRun:
    """One training run of :func:`lr_sweep`.

    ``loss``: mean training loss of every epoch; ``diverged_at``: the epoch in which the loss
    (or the probe loss) stopped being finite, else ``None``; ``probe``: for each of
    ``loss_change``, ``grad_change`` and ``beta`` (see :class:`Predictiveness`) an array of
    shape (measurements, multipliers), measured at initialisation and after every epoch.
    """

    norm: str
    lr: float
    multipliers: tuple[float, ...]
    loss: list[float]
    diverged_at: int | None
    probe: dict[str, np.ndarray]
    model: torch.nn.Module = field(repr=False)
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        """The last epoch's training loss (``inf`` if the run diverged)."""
        return math.inf if self.diverged_at is not None else self.loss[-1]


def lr_sweep(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sizes: Sequence[int],
    norms: Sequence[str],
    lrs: Sequence[float],
    epochs: int,
    batch_size: int,
    probe_size: int = 256,
    multipliers: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
    seed: int = 0,
) -> dict[tuple[str, float], SweepRun]:
    """Train :func:`mlp` (``sizes``) with plain SGD for every BN placement and learning rate.

    Every run starts from the same weights (seeded), uses :func:`kexue_lab.train.fit` with
    ``torch.optim.SGD(lr)`` (no momentum) and cross-entropy, and measures
    :func:`gradient_predictiveness` at the step sizes lr·``multipliers`` on a fixed probe batch
    (the first ``probe_size`` samples of a seeded permutation, training mode) at
    initialisation and after every epoch. A run whose loss stops being finite is kept with
    ``diverged_at`` set. Returns ``{(norm, lr): SweepRun}``. Chapter 14.
    """
    from ..train import classification_loss, fit, progress

    for n in norms:
        _validate.choice("norms", n, NORMS)
    lrs = [_validate.positive("lrs", v) for v in lrs]
    mults = tuple(_validate.positive("multipliers", m) for m in multipliers)
    probe_size = _validate.positive_int("probe_size", probe_size)
    seed = _validate.non_negative_int("seed", seed)
    gen = torch.Generator().manual_seed(seed)
    keep = torch.randperm(len(x), generator=gen)[: min(probe_size, len(x))].to(x.device)
    probe = (x[keep], y[keep])
    runs: dict[tuple[str, float], SweepRun] = {}
    for norm, lr in progress([(n, r) for n in norms for r in lrs], desc="learning-rate sweep", unit="run"):
        torch.manual_seed(seed)
        model = mlp(sizes, norm).to(x.device)  # type: ignore[arg-type]
        rows: list[Predictiveness] = []

        def measure(m: torch.nn.Module) -> dict[str, float]:
            m.train()  # BN with batch statistics, as in a training step
            rows.append(gradient_predictiveness(m, classification_loss, probe, [lr * k for k in mults]))
            return {}

        start, diverged, history = time.perf_counter(), None, None
        try:
            measure(model)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            history = fit(model, classification_loss, x, y, epochs=epochs, batch_size=batch_size, optimizer=opt, seed=seed, eval_fn=measure, show_progress=False)
        except FloatingPointError:
            diverged = max(len(rows), 1)
        loss = history["loss"] if history is not None else []
        table = {k: np.array([getattr(r, k) for r in rows]).reshape(-1, len(mults)) for k in ("loss_change", "grad_change", "beta")}
        runs[(norm, lr)] = SweepRun(norm, lr, mults, loss, diverged, table, model, time.perf_counter() - start)
    return runs


# ---- conditioning of centred and standardised inputs -----------------------------------------------------
def _matrix(name: str, X: Any) -> np.ndarray:
    arr = np.asarray(X.detach().cpu() if torch.is_tensor(X) else X)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"{name} must have shape (samples, features) with at least 2 samples, got {arr.shape}")
    return arr.astype(np.float64)


def standardize(X: Any, center: bool = True, scale: bool = True) -> np.ndarray:
    """x → (x − μ)/σ per feature (μ the mean, σ the population std); either step can be skipped.

    A constant feature keeps σ = 1 (it is only centred). Article eqs. (11)–(12); chapter 14.
    """
    arr = _matrix("X", X)
    if center:
        arr = arr - arr.mean(0)
    if scale:
        sd = arr.std(0)
        arr = arr / np.where(sd > 0, sd, 1.0)
    return arr


def second_moment(X: Any, *, bias: bool = False) -> np.ndarray:
    """E[x xᵀ] over the rows of X (with a constant 1 appended to every row if ``bias``).

    For a linear or logistic model the Hessian of the loss is E[x̃x̃ᵀ] weighted by a bounded
    factor, so its largest eigenvalue sets the descent lemma's L. Chapter 14.
    """
    arr = _matrix("X", X)
    if bias:
        arr = np.hstack([arr, np.ones((len(arr), 1))])
    return arr.T @ arr / len(arr)


def logistic_gd(X: Any, y: Any, *, steps: int, lr: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch gradient descent on logistic regression with a bias, from θ = 0.

    Loss f(θ) = mean[log(1 + e^{h}) − y·h], h = ⟨θ, x̃⟩, x̃ = [x, 1], y ∈ {0, 1}. Its Hessian is
    E[σ'(h) x̃x̃ᵀ] ⪯ ¼E[x̃x̃ᵀ], so L = λ_max(E[x̃x̃ᵀ])/4 and the default step is η = 1/L.
    Returns (θ, losses) with ``losses[t]`` = f(θ_t), t = 0..steps. Chapter 14.
    """
    arr = _matrix("X", X)
    target = np.asarray(y, dtype=np.float64).reshape(-1)
    if target.shape != (len(arr),) or not np.isin(target, (0.0, 1.0)).all():
        raise ValueError(f"y must hold one label in {{0, 1}} per row of X ({len(arr)}), got shape {target.shape}")
    steps = _validate.positive_int("steps", steps)
    Xt = np.hstack([arr, np.ones((len(arr), 1))])
    if lr is None:
        lr = 4.0 / np.linalg.eigvalsh(Xt.T @ Xt / len(Xt))[-1]
    lr = _validate.positive("lr", lr)
    theta, losses = np.zeros(Xt.shape[1]), np.empty(steps + 1)
    for t in range(steps + 1):
        h = Xt @ theta
        losses[t] = np.mean(np.logaddexp(0.0, h) - target * h)
        if t < steps:
            theta = theta - lr * Xt.T @ (1.0 / (1.0 + np.exp(-h)) - target) / len(Xt)
    return theta, losses


# ---- the exploration: GD at η = 1/L on a 2-D linear regression -------------------------------------------
VIEW_RHO = 0.5  #: correlation of the two input features in the exploration
VIEW_W = np.array([1.0, -1.0])  #: true weights (raw units) of the exploration's regression
VIEW_B = 0.5  #: true bias
VIEW_TOL = 1e-10  #: "converged": the loss gap has fallen by this factor
_VIEW_T = np.unique(np.round(np.geomspace(1, 1e7, 80)))


def conditioning_problem(offset: float, ratio: float, prep: Prep) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The exploration's problem: least squares for y = ⟨w*, x⟩ + b*, with population moments.

    x ~ N(c·1, diag(1, r)·R·diag(1, r)) in 2-D, R with correlation ``VIEW_RHO``, c = ``offset``,
    r = ``ratio``. The model sees x, x − μ or (x − μ)/σ (``prep``) plus a bias, so its loss is
    f(θ) = ½(θ − θ*)ᵀH(θ − θ*) with H = E[x̃x̃ᵀ]. Returns (H, θ*, A, m): the raw-unit weights
    and bias of parameters θ are Aθ, and m is the mean of the transformed input. Chapter 14.
    """
    c = _validate.non_negative("offset", offset)
    r = _validate.positive("ratio", ratio)
    _validate.choice("prep", prep, PREPS)
    mu = np.array([c, c])
    sd = np.array([1.0, r])
    cov = np.outer(sd, sd) * np.array([[1.0, VIEW_RHO], [VIEW_RHO, 1.0]])
    shift = mu if prep != "raw" else np.zeros(2)
    scale = sd if prep == "standardised" else np.ones(2)
    m = (mu - shift) / scale  # mean of the transformed input
    S = cov / np.outer(scale, scale)
    H = np.block([[S + np.outer(m, m), m[:, None]], [m[None, :], np.ones((1, 1))]])
    A = np.zeros((3, 3))  # raw (w, b) from transformed θ: w = θ_w/scale, b = θ_b − ⟨θ_w/scale, shift⟩
    A[:2, :2] = np.diag(1.0 / scale)
    A[2, :2] = -shift / scale
    A[2, 2] = 1.0
    theta_star = np.linalg.solve(A, np.append(VIEW_W, VIEW_B))
    return H, theta_star, A, m


def _gd_gap(lam: np.ndarray, z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Relative loss gap of GD at η = 1/λ_max after t steps: Σλ(1−λ/L)^{2t}z² / Σλz²."""
    q = (1.0 - lam / lam.max())[None, :] ** (2 * t[:, None])
    return (q * lam * z**2).sum(1) / (lam * z**2).sum()


def steps_to_tol(H: np.ndarray, theta0_minus_star: np.ndarray, tol: float = VIEW_TOL, cap: int = 10**9) -> int | None:
    """Fewest GD steps at η = 1/λ_max(H) after which f − f* ≤ tol·(f₀ − f*) (``None`` beyond ``cap``)."""
    lam, V = np.linalg.eigh(H)
    z = V.T @ theta0_minus_star
    if _gd_gap(lam, z, np.array([cap]))[0] > tol:
        return None
    lo, hi = 0, cap  # the gap decreases monotonically in t: bisection
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _gd_gap(lam, z, np.array([mid]))[0] > tol else (lo, mid)
    return hi


def conditioning_view(offset: float = 3.0, ratio: float = 10.0, prep: Prep = "raw") -> View:
    """GD at η = 1/L on the 2-D regression of :func:`conditioning_problem`, from θ = 0 (chapter 14).

    Left: relative loss gap against the step (log–log), with the standardised problem
    (whose curvature E[x̃x̃ᵀ] does not depend on ``offset`` or ``ratio``) dashed. Right: the weight path in
    raw-input units. Readout: L = λ_max(E[x̃x̃ᵀ]), the condition number and the steps needed.
    """
    H, star, A, _ = conditioning_problem(offset, ratio, prep)
    lam, V = np.linalg.eigh(H)
    z = V.T @ (-star)
    gap = _gd_gap(lam, z, _VIEW_T)
    Hs, stars, _, _ = conditioning_problem(offset, ratio, "standardised")
    lam_s, V_s = np.linalg.eigh(Hs)
    ref = _gd_gap(lam_s, V_s.T @ (-stars), _VIEW_T)
    decay = (1.0 - lam / lam.max())[None, :] ** _VIEW_T[:, None]
    path = (star[None, :] + (decay * z[None, :]) @ V.T) @ A.T  # θ_t = θ* + V diag(decay) z
    path = np.vstack([np.zeros(3) @ A.T, path])
    n = steps_to_tol(H, -star)
    needed = f"{n:,} steps" if n is not None else "more than 10⁹ steps"
    panels = [
        Panel(
            curves=[Curve(_VIEW_T, np.maximum(gap, 1e-16), prep), Curve(_VIEW_T, np.maximum(ref, 1e-16), "standardised", style="dashed", color=1)],
            title="loss gap (f − f*)/(f₀ − f*)",
            xlabel="GD step t",
            ylabel="relative gap",
            xlog=True,
            ylog=True,
            ylim=(1e-16, 2.0),
        ),
        Panel(
            curves=[Curve(path[:, 0], path[:, 1], "GD path"), Curve([VIEW_W[0]], [VIEW_W[1]], "w*", style="markers", color=2)],
            title="weights in raw-input units",
            xlabel="w₁",
            ylabel="w₂",
        ),
    ]
    readout = f"L = λ_max = {lam.max():.4g}, condition number {lam.max() / lam.min():.3g}; GD at η = 1/L needs {needed} to cut the gap by a factor 1e10"
    return View(panels, readout=readout)
