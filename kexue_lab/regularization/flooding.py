"""Flooding (chapter 25, 我们真的需要把训练集的损失降低到零吗?).

Ishida et al. (ICML 2020) replace a training loss L by the *flooded* loss

    L̃ = |L − b| + b,                                          (article eq. (1))

equal to L above the flood level b and to 2b − L below it, so a gradient step descends on L
while L > b and ascends while L < b. The article reads a down–up pair of steps as one step of
gradient descent on ‖∇L‖² with learning rate ε²/2; the gradient-norm penalty itself is
:func:`kexue_lab.nn.parameter_gradient_norm`.

* :func:`flood`: the flooded loss, element-wise (one flood level per member of a stack);
* :func:`make_sinusoid2d`: the paper's Sinusoid-2D data (uniform in the disc of radius 2,
  y = sign(1.5x₁ + sin 1.5x₂), a fixed fraction of labels flipped);
* :func:`fit_flooded`: SGD with momentum on a :class:`kexue_lab.nn.StackedMLP`, one flood
  level per member, full batch or minibatches, recording each member's (un-flooded) loss;
* :func:`member_metrics`: every member's mean loss and accuracy on one data set.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate
from ..train import progress

Task = Literal["binary", "multiclass"]


def _levels(name: str, b: Any) -> torch.Tensor | float:
    if torch.is_tensor(b):
        if not b.is_floating_point() or not torch.isfinite(b).all() or (b < 0).any():
            raise ValueError(f"{name} must hold finite flood levels >= 0, got {b}")
        return b
    if isinstance(b, numbers.Real) and not isinstance(b, bool):
        return _validate.non_negative(name, b)
    arr = _validate.real_array(name, b)
    if (arr < 0).any():
        raise ValueError(f"{name} must hold flood levels >= 0, got {b!r}")
    return torch.as_tensor(arr)


def flood(loss: torch.Tensor, b: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """The flooded loss |L − b| + b of Ishida et al. (2020), article eq. (1), chapter 25.

    ``loss`` is a floating-point tensor (a scalar, or one loss per member of a stack) and
    ``b ≥ 0`` a flood level (a number, or one level per entry of ``loss``, broadcast as
    usual). The result is differentiable: its gradient is sign(L − b)·∇L, descent above the
    flood level and ascent below it (PyTorch's |·|′(0) = 0 gives a zero step exactly at b).
    """
    if not torch.is_tensor(loss) or not loss.is_floating_point():
        raise TypeError(f"loss must be a floating-point tensor, got {type(loss).__name__}")
    level = _levels("b", b)
    if torch.is_tensor(level):
        level = level.to(dtype=loss.dtype, device=loss.device)
        try:
            torch.broadcast_shapes(level.shape, loss.shape)
        except RuntimeError:
            raise ValueError(
                f"b has shape {tuple(level.shape)}, which does not broadcast with the loss "
                f"of shape {tuple(loss.shape)}"
            ) from None
    return (loss - level).abs() + level


def make_sinusoid2d(
    n: int, *, label_noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The paper's Sinusoid-2D data (its ``Sinusoid2dimDataNumpy``): ``(x, y, y_clean)``.

    x is uniform in the disc of radius 2 (the first two coordinates of a uniform point on the
    sphere S³, scaled by 2), the clean label is 1 where 1.5x₁ + sin(1.5x₂) > 0 and 0
    otherwise, and exactly ⌊n·label_noise⌋ labels, chosen at random, are flipped. ``x`` is
    float32 of shape (n, 2), the labels int64 of shape (n,).
    """
    n = _validate.positive_int("n", n)
    label_noise = _validate.in_range("label_noise", label_noise, 0.0, 1.0)
    seed = _validate.non_negative_int("seed", seed)
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, 4))
    x = 2 * s[:, 2:] / np.linalg.norm(s, axis=1, keepdims=True)
    clean = (1.5 * x[:, 0] + np.sin(1.5 * x[:, 1]) > 0).astype(np.int64)
    noisy = clean.copy()
    flip = rng.permutation(n)[: int(n * label_noise)]
    noisy[flip] = 1 - noisy[flip]
    as_t = torch.from_numpy
    return as_t(x.astype(np.float32)), as_t(noisy), as_t(clean)


def _member_losses(out: torch.Tensor, y: torch.Tensor, task: Task) -> torch.Tensor:
    """Mean loss of every member, out (S, B, k) and y (B,) or (S, B) → (S,)."""
    s, bsz, k = out.shape
    y = y.expand(s, bsz)
    if task == "binary":
        per = torch.nn.functional.binary_cross_entropy_with_logits(
            out[..., 0], y.to(out.dtype), reduction="none"
        )
    else:
        per = torch.nn.functional.cross_entropy(
            out.reshape(s * bsz, k), y.reshape(-1), reduction="none"
        ).reshape(s, bsz)
    return per.mean(dim=1)


def _check_xy(model: Any, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, d) shared or (S, N, d) per member, y (N,) or (S, N) → both stacked, (S, N, …)."""
    if not hasattr(model, "members"):
        raise TypeError(f"model must be a kexue_lab.nn.StackedMLP, got {type(model).__name__}")
    s = model.members
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim not in (2, 3):
        raise TypeError("x must be a floating-point tensor of shape (N, d) or (S, N, d)")
    if x.ndim == 3 and len(x) != s:
        raise ValueError(f"a stacked x must have one slice per member ({s}), got {len(x)}")
    n = x.shape[-2]
    if not torch.is_tensor(y) or y.shape not in ((n,), (s, n)):
        raise ValueError(f"y must hold one label per row of x: shape ({n},) or ({s}, {n})")
    return x.expand(s, *x.shape[-2:]), y.expand(s, n)


def member_metrics(
    model: Any, x: torch.Tensor, y: torch.Tensor, *, task: Task = "binary", chunk: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Every member's mean loss and accuracy on ``(x, y)``, as two arrays of shape (S,).

    ``task="binary"``: one logit per sample, labels 0/1, logistic loss; ``"multiclass"``:
    k logits, labels 0…k−1, cross-entropy. Evaluated without gradients in chunks of rows.
    """
    x, y = _check_xy(model, x, y)
    _validate.choice("task", task, ("binary", "multiclass"))
    chunk = _validate.positive_int("chunk", chunk)
    n = x.shape[1]
    loss_sum, hits = torch.zeros(model.members), torch.zeros(model.members)
    with torch.no_grad():
        for i in range(0, n, chunk):
            xb, yb = x[:, i : i + chunk], y[:, i : i + chunk]
            out = model(xb)
            loss_sum += _member_losses(out, yb, task).cpu() * xb.shape[1]
            pred = (out[..., 0] > 0).long() if task == "binary" else out.argmax(-1)
            hits += (pred == yb).float().sum(dim=1).cpu()
    return (loss_sum / n).numpy(), (hits / n).numpy()


def fit_flooded(
    model: Any,
    x: torch.Tensor,
    y: torch.Tensor,
    levels: Sequence[float] | torch.Tensor,
    *,
    steps: int,
    lr: float,
    momentum: float = 0.9,
    batch_size: int | None = None,
    task: Task = "binary",
    seed: int = 0,
    record_every: int = 1,
    eval_every: int | None = None,
    evaluate: tuple[torch.Tensor, torch.Tensor] | None = None,
    show: bool = False,
) -> dict[str, np.ndarray]:
    """Train the S members of ``model`` at once, member s on the flooded loss |L_s − b_s| + b_s.

    The step minimises Σ_s flood(L_s, b_s); the members share no parameter, so each gets the
    gradient of its own flooded loss, and SGD with (heavy-ball) ``momentum`` is element-wise.
    ``batch_size=None`` is full-batch gradient descent; otherwise every member sees the same
    shuffled minibatches (seeded by ``seed``), so members differing only in b are paired.

    ``x`` is (N, d), shared by all members, or (S, N, d), one data set per member (``y``: (N,)
    or (S, N)); so seeds with their own data and flood levels train in one run.

    Returns ``{"step", "train_loss"}`` (the un-flooded loss L_s of the batch each step used,
    shape (T, S), every ``record_every`` steps and at the last) and, with
    ``evaluate=(x_eval, y_eval)``, ``"eval_step"``, ``"eval_loss"`` and ``"eval_acc"`` every
    ``eval_every`` steps (default: ``record_every``), measured after that step's update.
    """
    x, y = _check_xy(model, x, y)
    s, n = model.members, x.shape[1]
    level = _levels("levels", levels)
    level = torch.as_tensor(level, dtype=x.dtype, device=x.device).reshape(-1)
    if level.numel() != s:
        raise ValueError(f"levels must hold one flood level per member ({s}), got {level.numel()}")
    steps = _validate.positive_int("steps", steps)
    lr = _validate.positive("lr", lr)
    momentum = _validate.in_range("momentum", momentum, 0.0, 1.0)
    _validate.choice("task", task, ("binary", "multiclass"))
    every = _validate.positive_int("record_every", record_every)
    ev_every = every if eval_every is None else _validate.positive_int("eval_every", eval_every)
    if batch_size is not None:
        batch_size = min(_validate.positive_int("batch_size", batch_size), n)
    gen = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    rec: dict[str, list[Any]] = {k: [] for k in ("step", "train_loss", "eval_step")}
    rec.update(eval_loss=[], eval_acc=[])
    order, pos = torch.arange(n), n
    for t in progress(range(steps), desc="flooding") if show else range(steps):
        if batch_size is None:
            xb, yb = x, y
        else:
            if pos + batch_size > n:
                order, pos = torch.randperm(n, generator=gen).to(x.device), 0
            idx = order[pos : pos + batch_size]
            pos += batch_size
            xb, yb = x[:, idx], y[:, idx]
        losses = _member_losses(model(xb), yb, task)
        opt.zero_grad(set_to_none=True)
        flood(losses, level).sum().backward()
        opt.step()
        last = t == steps - 1
        if t % every == 0 or last:
            rec["step"].append(t)
            rec["train_loss"].append(losses.detach().cpu().numpy())
        if evaluate is not None and (t % ev_every == 0 or last):
            ev_loss, ev_acc = member_metrics(model, *evaluate, task=task)
            rec["eval_step"].append(t)  # evaluated after step t's update
            rec["eval_loss"].append(ev_loss)
            rec["eval_acc"].append(ev_acc)
    return {k: np.asarray(v) for k, v in rec.items() if v}
