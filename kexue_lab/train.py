"""A small training loop so chapters do not each write one.

:func:`fit` keeps the whole data set on the device, draws each epoch's batches
from one seeded permutation (index slicing, no Python loop over samples),
records the mean of every metric per epoch in a :class:`History`, and shows a
tqdm bar (hidden while the static book is built).

The loss function receives ``(model, x_batch, y_batch)`` and returns either the
loss tensor or ``(loss, {"name": value, ...})`` with extra metrics to record.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _validate

LossOut = Any  # a scalar tensor, or (tensor, dict[str, float | tensor])


def progress(iterable: Iterable[Any], **kwargs: Any) -> Any:
    """``tqdm.auto`` progress bar, silent while the book is built (``KEXUE_BOOK=1``)."""
    from tqdm.auto import tqdm

    from .runtime import in_book_build

    kwargs.setdefault("disable", in_book_build())
    return tqdm(iterable, **kwargs)


@dataclass
class History:
    """Per-epoch means of every recorded metric, and the wall-clock time of the run."""

    metrics: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, name: str, value: float) -> None:
        """Append one epoch's value of ``name``."""
        self.metrics.setdefault(name, []).append(float(value))

    def last(self, name: str) -> float:
        """The final value of ``name``."""
        if name not in self.metrics:
            raise KeyError(f"no metric {name!r}; recorded: {sorted(self.metrics)}")
        return self.metrics[name][-1]

    def __getitem__(self, name: str) -> list[float]:
        if name not in self.metrics:
            raise KeyError(f"no metric {name!r}; recorded: {sorted(self.metrics)}")
        return self.metrics[name]


def classification_loss(model: Any, x: Any, y: Any) -> Any:
    """Mean cross-entropy −log softmax(model(x))[y], in the form :func:`fit` expects."""
    import torch

    return torch.nn.functional.cross_entropy(model(x), y)


def accuracy(model: Any, x: Any, y: Any, *, batch_size: int = 4096) -> float:
    """Fraction of samples whose arg-max logit equals the label, in eval mode without gradients."""
    import torch

    batch_size = _validate.positive_int("batch_size", batch_size)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"x and y must be non-empty and of the same length, got {len(x)} and {len(y)}"
        )
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    hits = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = (
                x[start : start + batch_size].to(device),
                y[start : start + batch_size].to(device),
            )
            hits += int((model(xb).argmax(-1) == yb).sum())
    model.train(was_training)
    return hits / len(x)


def batch_indices(
    n: int, batch_size: int, *, generator: Any, device: Any = None, shuffle: bool = True
) -> Iterator[Any]:
    """Yield index tensors covering ``range(n)`` in batches (seeded permutation if ``shuffle``)."""
    import torch

    n = _validate.positive_int("n", n)
    batch_size = _validate.positive_int("batch_size", batch_size)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(device) if device is not None else order
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def fit(
    model: Any,
    loss_fn: Callable[[Any, Any, Any], LossOut],
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    batch_size: int,
    optimizer: Any = None,
    lr: float = 1e-3,
    device: Any = None,
    seed: int = 0,
    eval_fn: Callable[[Any], dict[str, float]] | None = None,
    clip_norm: float | None = None,
    desc: str = "training",
    show_progress: bool = True,
    run: Any = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``(x, y)`` and return the metric history.

    One step minimises ``loss_fn(model, x[idx], y[idx])`` with ``optimizer``
    (Adam with ``lr`` if none is given). ``clip_norm`` applies hard clipping to
    the global gradient norm, g ← g·min(1, clip_norm/‖g‖), with the one implementation
    of chapter 19 (:func:`kexue_lab.optimization.clipping.clip_grad_norm_`).
    ``eval_fn(model)``, if given, runs under ``torch.no_grad()`` in eval mode after
    every epoch; its numbers join the history. ``show_progress=False`` hides the
    epoch bar (for sweeps that show one bar of their own). ``run`` (the chapter's
    context from :func:`kexue_lab.runtime.setup`) supplies the device and the seed.
    """
    import torch

    from .optimization.clipping import clip_grad_norm_

    if run is not None:
        device, seed = run.device, run.seed

    epochs = _validate.positive_int("epochs", epochs)
    batch_size = _validate.positive_int("batch_size", batch_size)
    seed = _validate.non_negative_int("seed", seed)
    if clip_norm is not None:
        clip_norm = _validate.positive("clip_norm", clip_norm)
    if y is not None and len(y) != len(x):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(dev)
    x = x.to(dev)
    y = y.to(dev) if y is not None else None
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=_validate.positive("lr", lr))
    gen = torch.Generator().manual_seed(seed)
    history = History()
    start = time.perf_counter()
    bar = progress(
        range(epochs), desc=desc, unit="epoch", **({} if show_progress else {"disable": True})
    )
    for _ in bar:
        model.train()
        sums: dict[str, Any] = {}
        count = 0
        for idx in batch_indices(len(x), batch_size, generator=gen, device=dev):
            out = loss_fn(model, x[idx], y[idx] if y is not None else None)
            loss, extra = out if isinstance(out, tuple) else (out, {})
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at epoch "
                    f"{len(history.metrics.get('loss', [])) + 1}"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_norm is not None:
                clip_grad_norm_(model.parameters(), clip_norm, "hard")
            optimizer.step()
            k = len(idx)
            count += k
            for name, value in {"loss": loss, **extra}.items():
                v = value.detach() if torch.is_tensor(value) else torch.tensor(float(value))
                sums[name] = sums.get(name, 0.0) + v * k
        for name, total in sums.items():
            history.add(name, float(total) / count)
        if eval_fn is not None:
            model.eval()
            with torch.no_grad():
                for name, value in eval_fn(model).items():
                    history.add(name, float(value))
        bar.set_postfix(loss=f"{history.last('loss'):.4g}")
    history.seconds = time.perf_counter() - start
    return history


@dataclass(frozen=True)
class SweepPoint:
    """One setting of :func:`sweep`: its parameters, and the result or the divergence."""

    params: dict[str, Any]
    result: Any = None
    diverged: bool = False
    error: str = ""


def grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Every combination of the named values: ``grid(lr=[0.1, 1], norm=["none", "pre"])``."""
    if not axes:
        raise ValueError("grid needs at least one named axis, e.g. grid(lr=[0.1, 1.0])")
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"{name} must be a non-empty list of values, got {values!r}")
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(axes[n] for n in names))]


def sweep(
    settings: Sequence[Mapping[str, Any]], run_one: Callable[..., Any], *, desc: str = "sweep"
) -> list[SweepPoint]:
    """Call ``run_one(**params)`` for every setting and keep divergence as a result, not an error.

    A setting whose call raises ``FloatingPointError`` (what :func:`fit` raises when the
    loss stops being finite) or returns a non-finite number is recorded with
    ``diverged=True``; every other exception propagates. One progress bar covers the
    whole sweep. Use :func:`grid` to build ``settings`` from named axes.
    """
    if not callable(run_one):
        raise TypeError(f"run_one must be callable, got {run_one!r}")
    if isinstance(settings, Mapping) or not isinstance(settings, Sequence) or not settings:
        raise ValueError(
            "settings must be a non-empty list of parameter dicts (see train.grid), got "
            f"{settings!r}"
        )
    points: list[SweepPoint] = []
    for params in progress(list(settings), desc=desc, unit="run"):
        if not isinstance(params, Mapping):
            raise TypeError(f"every setting must be a dict of parameters, got {params!r}")
        try:
            result = run_one(**params)
        except FloatingPointError as exc:
            points.append(SweepPoint(dict(params), None, True, str(exc)))
            continue
        finite = not (isinstance(result, float) and not math.isfinite(result))
        points.append(
            SweepPoint(dict(params), result, not finite, "" if finite else f"returned {result}")
        )
    return points
