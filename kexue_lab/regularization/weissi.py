"""Weight-scale-shift invariance and the WEISSI penalty (chapter 26, L2正则没有想象那么好?).

A ReLU MLP h = W_L φ(⋯φ(W_1 x + b_1)⋯) + b_L is positively homogeneous layer by layer, so

    W_l → γ_l W_l,   b_l → (γ_1⋯γ_l) b_l,   γ_l > 0

multiplies its output by Π_l γ_l (the biases scale *cumulatively*; the article scales b_l by γ_l
alone, which is right only for zero biases). With Π_l γ_l = 1 the function is unchanged, but
the L2 penalty Σ_l ‖W_l‖² is not; the WEISSI penalty (Liu, Cui & Chan 2020)

    λ₁ Σ_l log‖W_l‖ + λ₂ Σ_l ‖W_l / ‖W_l‖‖₁        (Frobenius norms, L1 of all entries)

is. This module holds

* :func:`layer_norms`, :func:`l2_penalty`, :func:`weissi_penalty` and :func:`rescale_layers` for
  a ``torch.nn.Sequential`` of ``Linear`` layers and positively homogeneous activations (as
  :func:`kexue_lab.nn.mlp` builds with ``activation="relu"``) or a ReLU
  :class:`kexue_lab.nn.StackedMLP` (then norms and penalties are per member);
* :func:`train_regimes`: S = regimes × seeds bias-free ReLU MLPs trained at once as one
  :class:`~kexue_lab.nn.StackedMLP`, each under its own mix of L2, decoupled weight decay and
  WEISSI, by full-batch gradient descent or Adam, with every layer's norm recorded at every step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..nn import StackedMLP

#: activations that commute with positive scaling, φ(cx) = cφ(x) for c > 0
HOMOGENEOUS = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Identity, torch.nn.Flatten)
#: the knobs of one training regime in :func:`train_regimes`
REGIME_KEYS = ("l2", "decay", "weissi")


def _layers(model: Any) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """The (weight, bias) pairs of a homogeneous MLP, first layer first."""
    if isinstance(model, StackedMLP):
        if model.activation not in ("relu", "leaky_relu", "linear") or model.output != "linear":
            raise ValueError(
                "model must be positively homogeneous: a StackedMLP with activation 'relu', "
                f"'leaky_relu' or 'linear' and output 'linear', got activation="
                f"{model.activation!r}, output={model.output!r}"
            )
        if bool(model.spectral.any()):
            raise ValueError("model must not use spectral normalisation (spectral=True)")
        return list(zip(model.weights, model.biases))
    if not isinstance(model, torch.nn.Sequential):
        raise TypeError(
            "model must be a torch.nn.Sequential of Linear layers and ReLU-type activations "
            f"(e.g. kexue_lab.nn.mlp(..., activation='relu')) or a StackedMLP, got "
            f"{type(model).__name__}"
        )
    pairs = []
    for i, m in enumerate(model):
        if isinstance(m, torch.nn.Linear):
            pairs.append((m.weight, m.bias))
        elif not isinstance(m, HOMOGENEOUS):
            raise ValueError(
                f"model[{i}] is {type(m).__name__}, which is not positively homogeneous; "
                "allowed: Linear, ReLU, LeakyReLU, Identity, Flatten"
            )
    if not pairs:
        raise ValueError("model must contain at least one torch.nn.Linear layer")
    return pairs


def layer_norms(model: Any) -> torch.Tensor:
    """Frobenius norms ‖W_l‖ of the weights, differentiable: shape (L,), or (L, S) per member."""
    stacked = isinstance(model, StackedMLP)
    return torch.stack(
        [torch.linalg.vector_norm(w, dim=(1, 2) if stacked else None) for w, _ in _layers(model)]
    )


def l2_penalty(model: Any) -> torch.Tensor:
    """Σ_l ‖W_l‖² of the weights, no biases (article eq. (5)); (S,) for a StackedMLP."""
    return (layer_norms(model) ** 2).sum(0)


def weissi_penalty(model: Any, lam1: float, lam2: float = 0.0) -> torch.Tensor:
    """λ₁ Σ_l log‖W_l‖ + λ₂ Σ_l ‖W_l/‖W_l‖‖₁ (article eq. (10); Liu, Cui & Chan 2020).

    Norms are Frobenius norms of the weights; ‖·‖₁ sums the absolute values of all entries.
    A scalar for a ``Sequential``, one value per member (S,) for a :class:`StackedMLP`. Both
    terms are unchanged by :func:`rescale_layers` with Π γ_l = 1 (the first because the logs
    add up to log Π γ_l = 0, the second because W/‖W‖ does not see any positive scale).
    """
    lam1 = _validate.non_negative("lam1", lam1)
    lam2 = _validate.non_negative("lam2", lam2)
    norms = layer_norms(model)
    if bool((norms == 0).any()):
        raise ValueError("weissi_penalty needs non-zero weights: a layer has ‖W_l‖ = 0")
    out = lam1 * torch.log(norms).sum(0)
    if lam2:
        stacked = isinstance(model, StackedMLP)
        l1 = torch.stack([w.abs().sum(dim=(1, 2) if stacked else None) for w, _ in _layers(model)])
        out = out + lam2 * (l1 / norms).sum(0)
    return out


def rescale_layers(model: Any, gammas: Sequence[float]) -> Any:
    """Scale layer l's weight by γ_l and its bias by γ_1⋯γ_l, in place; return ``model``.

    For a ReLU MLP the output is multiplied by Π_l γ_l (article eq. (4), with the cumulative
    bias scaling that makes it hold for non-zero biases), so Π_l γ_l = 1 keeps the function.
    ``gammas`` holds one positive factor per Linear layer.
    """
    pairs = _layers(model)
    g = _validate.real_array("gammas", gammas)
    if g.shape != (len(pairs),):
        raise ValueError(
            f"gammas must hold one factor per Linear layer ({len(pairs)}), got shape {g.shape}"
        )
    if np.any(g <= 0):
        raise ValueError(f"gammas must all be > 0 (positive homogeneity), got {g.tolist()}")
    with torch.no_grad():
        for (w, b), gamma, cumulative in zip(pairs, g, np.cumprod(g)):
            w.mul_(float(gamma))
            if b is not None:
                b.mul_(float(cumulative))
    return model


@dataclass
class RegimeRun:
    """What :func:`train_regimes` records; member s = r·K + k is regime r, seed k.

    ``norms[t, l, s]`` is ‖W_l‖ of member s after t steps (t = 0 … steps; every ``every``-th
    step in ``t``), ``loss[t, s]`` its training cross-entropy there, ``train_acc`` and
    ``test_acc`` (R, K) the final accuracies, ``model`` the trained stack.
    """

    names: list[str]
    seeds: list[int]
    t: np.ndarray
    norms: np.ndarray
    loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    model: StackedMLP


def _per_member(regimes: Mapping[str, Mapping[str, float]], k: int) -> dict[str, torch.Tensor]:
    out = {key: [] for key in REGIME_KEYS}
    for name, spec in regimes.items():
        if not isinstance(spec, Mapping) or set(spec) - set(REGIME_KEYS):
            raise ValueError(
                f"regimes[{name!r}] must be a mapping with keys among {REGIME_KEYS}, got {spec!r}"
            )
        for key in REGIME_KEYS:
            out[key] += [
                _validate.non_negative(f"regimes[{name!r}][{key!r}]", spec.get(key, 0.0))
            ] * k
    return {key: torch.tensor(v) for key, v in out.items()}


def train_regimes(
    x: torch.Tensor,
    y: torch.Tensor,
    sizes: Sequence[int],
    regimes: Mapping[str, Mapping[str, float]],
    *,
    seeds: Sequence[int] = (0,),
    gammas: Sequence[float] | None = None,
    optimizer: str = "gd",
    lr: float = 0.05,
    steps: int = 500,
    every: int = 1,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    show_progress: bool = True,
) -> RegimeRun:
    """Train bias-free ReLU MLPs ``sizes`` under several regularisers at once (chapter 26).

    Each regime is a mapping with ``l2`` (λ of the penalty λ Σ‖W_l‖²), ``decay`` (decoupled
    weight decay W ← (1 − η·decay) W before each step, as AdamW does) and ``weissi`` (λ₁ of
    λ₁ Σ log‖W_l‖). Every regime starts from the same K networks (one per seed, drawn like
    ``torch.nn.Linear``), rescaled by ``gammas`` (:func:`rescale_layers`; Π γ = 1 keeps the
    function). Biases stay at zero. Each step is one full-batch step of plain gradient
    descent (``optimizer="gd"``, W ← W − η∇L) or Adam on the mean cross-entropy plus the
    penalties; the members never interact.
    """
    _validate.choice("optimizer", optimizer, ("gd", "adam"))
    lr = _validate.positive("lr", lr)
    steps = _validate.positive_int("steps", steps)
    every = _validate.positive_int("every", every)
    if not isinstance(regimes, Mapping) or not regimes:
        raise ValueError(f"regimes must be a non-empty mapping name -> settings, got {regimes!r}")
    seeds = [_validate.non_negative_int(f"seeds[{i}]", s) for i, s in enumerate(seeds)]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(f"x must be (N, d) and y (N,), got {tuple(x.shape)}, {tuple(y.shape)}")
    k, names = len(seeds), list(regimes)
    knobs = {key: v.to(x) for key, v in _per_member(regimes, k).items()}
    model = StackedMLP(sizes, seeds * len(names)).to(x)
    for b in model.biases:
        b.requires_grad_(False)
    if gammas is not None:
        rescale_layers(model, gammas)
    params = list(model.weights)
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else None
    s_count = len(names) * k
    xs, ys = x.expand(s_count, *x.shape), y.repeat(s_count)

    def task_loss() -> torch.Tensor:
        logits = model(xs)
        ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ys, reduction="none")
        return ce.view(s_count, -1).mean(1)

    t_rec = [t for t in range(steps + 1) if t % every == 0 or t == steps]
    recorded = set(t_rec)
    norms, losses = [], []
    loop = range(steps + 1)
    if show_progress:
        from ..train import progress

        loop = progress(loop, desc=f"{optimizer}: {s_count} networks", leave=False)
    for t in loop:
        ce = task_loss()
        if t in recorded:
            norms.append(layer_norms(model).detach())
            losses.append(ce.detach())
        if t == steps:
            break
        penalty = knobs["l2"] * l2_penalty(model) + knobs["weissi"] * weissi_penalty(model, 1.0)
        grads = torch.autograd.grad((ce + penalty).sum(), params)
        with torch.no_grad():
            for w, g in zip(params, grads):
                w.mul_(1 - lr * knobs["decay"][:, None, None])
                if opt is None:
                    w.sub_(lr * g)
                else:
                    w.grad = g
        if opt is not None:
            opt.step()

    def accuracy(xe: torch.Tensor, ye: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            pred = model(xe.expand(s_count, *xe.shape)).argmax(-1)
        return (pred == ye).double().mean(1).view(len(names), k).cpu().numpy()

    test_acc = (
        accuracy(x_test, y_test) if x_test is not None else np.full((len(names), k), math.nan)
    )
    return RegimeRun(
        names=names,
        seeds=seeds,
        t=np.array(t_rec),
        norms=torch.stack(norms).cpu().double().numpy(),
        loss=torch.stack(losses).cpu().double().numpy(),
        train_acc=accuracy(x, y),
        test_acc=test_acc,
        model=model,
    )
