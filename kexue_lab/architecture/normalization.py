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
* :class:`BatchCentre`: BatchNorm without the division, x − μ_B (mean-only BN), the ablation
  that separates centring from scaling;
* :func:`sweep_mlp`, :func:`lr_sweep`: the chapter's training experiment, :func:`kexue_lab.nn.mlp`
  with BN before or after each Linear, centring only, or nothing, across learning rates.

Why centring and scaling the input lowers L (the conditioning of E[x̃x̃ᵀ]) is in
:mod:`kexue_lab.architecture.conditioning`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import _validate

#: the variants :func:`lr_sweep` trains: ``kexue_lab.nn.NORMS`` and "centre" (mean-only BN)
SWEEP_NORMS: tuple[str, ...] = ("none", "centre", "pre", "post")


# ---- the backward pass of BatchNorm ----
def _as_tensor(name: str, value: Any) -> tuple[torch.Tensor, bool]:
    if torch.is_tensor(value):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
        return value, True
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        kind = f"{type(value).__name__} of dtype {arr.dtype}"
        raise TypeError(f"{name} must be numeric (a tensor or an array), got {kind}")
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
        raise ValueError(
            f"x must have shape (N, C) with N >= 2 samples, got shape {tuple(xt.shape)}"
        )
    if gt.shape != xt.shape:
        raise ValueError(
            f"grad_out must have the shape of x, {tuple(xt.shape)}, got {tuple(gt.shape)}"
        )
    if wt.shape != (xt.shape[1],):
        raise ValueError(f"gamma must have shape (C,) = ({xt.shape[1]},), got {tuple(wt.shape)}")
    dtype = torch.promote_types(torch.promote_types(xt.dtype, gt.dtype), wt.dtype)
    xt, gt, wt = (
        xt.to(dtype),
        gt.to(dtype=dtype, device=xt.device),
        wt.to(dtype=dtype, device=xt.device),
    )
    centred = xt - xt.mean(0)
    var = centred.pow(2).mean(0)
    if eps == 0 and bool((var == 0).any()):
        raise ValueError(
            "with eps=0 every column of x must vary over the batch (a constant column has σ = 0)"
        )
    s = torch.sqrt(var + eps)
    xhat = centred / s
    out = (wt / s) * (gt - gt.mean(0) - xhat * (gt * xhat).mean(0))
    return out if is_tensor else out.numpy()


# ---- gradient predictiveness ----
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


def gradient_predictiveness(
    model: torch.nn.Module, loss_fn: Callable[[Any, Any, Any], Any], batch: Sequence[Any], lr: Any
) -> Predictiveness:
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
    return Predictiveness(
        lr=steps,
        loss0=loss0,
        grad_norm=float(torch.linalg.vector_norm(g0)),
        loss=losses,
        grad_change=changes,
    )


# ---- centring without scaling ----
class BatchCentre(torch.nn.Module):
    """Mean-only batch normalisation: z = x − μ + β per feature (chapter 14).

    μ is the batch mean over dimension 0 in training mode and a running average of it
    (updated as BatchNorm does, μ_run ← (1 − momentum)·μ_run + momentum·μ_B) in eval mode;
    β is learnable and starts at 0. This is BatchNorm without the division by σ, the
    "mean-only batch normalization" of Salimans & Kingma (2016, §3), and the article's
    conclusion 1 (eq. (14)) on its own. Input shape ``(N, C)``.
    """

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features = _validate.positive_int("num_features", num_features)
        self.momentum = _validate.in_range("momentum", momentum, 0.0, 1.0)
        self.bias = torch.nn.Parameter(torch.zeros(self.num_features))
        self.register_buffer("running_mean", torch.zeros(self.num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"x must have shape (N, {self.num_features}), got {tuple(x.shape)}")
        if self.training:
            mu = x.mean(0)
            with torch.no_grad():
                self.running_mean.lerp_(mu.detach(), self.momentum)
        else:
            mu = self.running_mean
        return x - mu + self.bias


# ---- the experiment: an MLP with and without BN across learning rates ----
@dataclass
class SweepRun:
    """One training run of :func:`lr_sweep`.

    ``loss``: mean training loss of every epoch; ``diverged_at``: the epoch in which the loss
    (or the probe loss) stopped being finite, else ``None``; ``probe``: for each of
    ``loss_change``, ``grad_change`` and ``beta`` (see :class:`Predictiveness`) an array of
    shape (measurements, multipliers), measured at initialisation and after every epoch;
    ``weight_norm``: :func:`hidden_weight_norms` at the same moments, shape
    (measurements, hidden layers).
    """

    norm: str
    lr: float
    multipliers: tuple[float, ...]
    loss: list[float]
    diverged_at: int | None
    probe: dict[str, np.ndarray]
    weight_norm: np.ndarray
    model: torch.nn.Module = field(repr=False)

    @property
    def final_loss(self) -> float:
        """The last epoch's training loss (``inf`` if the run diverged)."""
        return math.inf if self.diverged_at is not None else self.loss[-1]


def _he(weight: torch.Tensor) -> torch.Tensor:
    """He (Kaiming) normal initialisation for ReLU layers, the chapter's choice."""
    return torch.nn.init.kaiming_normal_(weight, nonlinearity="relu")


def sweep_mlp(sizes: Sequence[int], norm: str) -> torch.nn.Sequential:
    """The sweep's network: :func:`kexue_lab.nn.mlp` (ReLU, He-normal, ``flatten=True``).

    ``norm`` is one of :data:`SWEEP_NORMS`: ``"none"``, ``"pre"``, ``"post"`` as in
    :func:`kexue_lab.nn.mlp`, or ``"centre"``: the ``"pre"`` network with every BatchNorm1d
    replaced by :class:`BatchCentre` (centre, do not divide). Normalisers draw no random
    numbers, so after the same ``torch.manual_seed`` every variant has the same Linear
    weights. Chapter 14.
    """
    from ..nn import mlp

    _validate.choice("norm", norm, SWEEP_NORMS)
    model = mlp(sizes, norm="pre" if norm == "centre" else norm, init=_he, flatten=True)  # type: ignore[arg-type]
    if norm == "centre":
        for i, m in enumerate(model):
            if isinstance(m, torch.nn.BatchNorm1d):
                model[i] = BatchCentre(m.num_features)
    return model


def hidden_weight_norms(model: torch.nn.Module) -> np.ndarray:
    """RMS row norm of [W, b] for every Linear layer but the last (chapter 14).

    For layer l with weight W (rows = output units) and bias b this is
    √((‖W‖²_F + ‖b‖²)/rows). When a normaliser follows the layer, each row's output is
    invariant to the row's scale, so the row's effective learning rate is η/‖row‖²
    (the angular step); the RMS row norm summarises that scale per layer.
    """
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][:-1]
    with torch.no_grad():
        return np.array(
            [
                math.sqrt(
                    (float(m.weight.pow(2).sum()) + float(m.bias.pow(2).sum())) / m.out_features
                )
                for m in linears
            ]
        )


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
    """Train an MLP (``sizes``) with plain SGD for every BN placement and learning rate.

    The network is :func:`sweep_mlp` (``flatten=True``, ReLU, He-normal weights, normaliser
    by the norm: ``"none"``, ``"centre"``, ``"pre"``, ``"post"``). Every run starts from the
    same weights (seeded), uses :func:`kexue_lab.train.fit` with ``torch.optim.SGD(lr)`` (no
    momentum) and cross-entropy, and measures :func:`gradient_predictiveness` at the step
    sizes lr·``multipliers`` on a fixed probe batch (the first ``probe_size`` samples of a
    seeded permutation, training mode) at initialisation and after every epoch. The settings
    come from :func:`kexue_lab.train.grid` and run through :func:`kexue_lab.train.sweep`; a run
    whose loss stops being finite (``FloatingPointError``) is kept, with the measurements made
    before, and ``diverged_at`` set. Returns ``{(norm, lr): SweepRun}``. Chapter 14.
    """
    from ..train import classification_loss, fit, grid, sweep

    for n in norms:
        _validate.choice("norms", n, SWEEP_NORMS)
    lrs = [_validate.positive("lrs", v) for v in lrs]
    mults = tuple(_validate.positive("multipliers", m) for m in multipliers)
    probe_size = _validate.positive_int("probe_size", probe_size)
    seed = _validate.non_negative_int("seed", seed)
    gen = torch.Generator().manual_seed(seed)
    keep = torch.randperm(len(x), generator=gen)[: min(probe_size, len(x))].to(x.device)
    probe = (x[keep], y[keep])

    def one(norm: str, lr: float) -> SweepRun:
        torch.manual_seed(seed)
        model = sweep_mlp(sizes, norm).to(x.device)
        rows: list[Predictiveness] = []
        norms_seen: list[np.ndarray] = []

        def measure(m: torch.nn.Module) -> dict[str, float]:
            m.train()  # BN with batch statistics, as in a training step
            steps = [lr * k for k in mults]
            rows.append(gradient_predictiveness(m, classification_loss, probe, steps))
            norms_seen.append(hidden_weight_norms(m))
            return {}

        diverged, loss = None, []
        try:  # train.sweep would drop a diverged run's measurements: keep them here
            measure(model)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            loss = fit(
                model,
                classification_loss,
                x,
                y,
                epochs=epochs,
                batch_size=batch_size,
                optimizer=opt,
                seed=seed,
                eval_fn=measure,
                show_progress=False,
            )["loss"]
        except FloatingPointError:
            diverged = max(len(rows), 1)
        keys = ("loss_change", "grad_change", "beta")
        table = {k: np.array([getattr(r, k) for r in rows]).reshape(-1, len(mults)) for k in keys}
        wn = np.array(norms_seen[: len(rows)])
        return SweepRun(norm, lr, mults, loss, diverged, table, wn, model)

    points = sweep(grid(norm=list(norms), lr=lrs), one, desc="learning-rate sweep")
    return {(p.params["norm"], p.params["lr"]): p.result for p in points}
