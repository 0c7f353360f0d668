"""Long-tailed class profiles: the EXP-ρ counts of CIFAR-LT and a seeded subset that follows them.

Chapter 29 (logit adjustment) and chapter 30 (re-weighting) cut balanced real data (MNIST-5k,
Fashion-MNIST, CIFAR-10) to a long tail. The exponential profile of Cui et al. (2019), used by
Menon et al. (2021) for CIFAR-10-LT, keeps

    n_c = ⌊n_max · ρ^(−c/(C−1))⌋,   c = 0, …, C−1,

samples of class c, so the head class keeps n_max and the tail class n_max/ρ (ρ the imbalance
ratio, 100 for "EXP-100").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate


def exp_profile_counts(n_max: int, n_classes: int, imbalance: float) -> list[int]:
    """n_c = ⌊n_max · imbalance^(−c/(n_classes−1))⌋ for c = 0 … n_classes−1 (head first).

    ``imbalance`` = 1 gives a balanced profile; every class keeps at least one sample.
    """
    n_max = _validate.positive_int("n_max", n_max)
    n_classes = _validate.int_at_least("n_classes", n_classes, 2, "a profile needs two classes")
    imbalance = _validate.real("imbalance", imbalance)
    if not imbalance >= 1 or not math.isfinite(imbalance):
        raise ValueError(f"imbalance must be a finite ratio >= 1 (head/tail), got {imbalance}")
    exps = np.arange(n_classes) / (n_classes - 1)
    # a hair above the exact value so that ⌊·⌋ does not lose an integer to rounding
    counts = np.floor(n_max * imbalance ** (-exps) * (1 + 1e-12))
    return [max(1, int(c)) for c in counts]


def long_tailed_indices(
    labels: Any,
    imbalance: float,
    *,
    n_max: int | None = None,
    order: Any = None,
    seed: int = 0,
) -> np.ndarray:
    """A seeded subset of ``labels`` whose class counts follow :func:`exp_profile_counts`.

    * ``labels``: integer class labels 0 … C−1 (array or tensor), every class present.
    * ``n_max``: the head class's count (default: the smallest class's size, so every class
      can supply its share).
    * ``order``: the classes from head to tail (default 0, 1, …, C−1).
    * ``seed``: which samples of each class are kept (a NumPy generator).

    Returns sorted int64 indices into ``labels``.
    """
    y = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)
    if y.ndim != 1 or len(y) == 0 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"labels must be a non-empty 1-D array of integers, got {y.dtype} {y.shape}"
        )
    classes = np.unique(y)
    n_classes = int(classes.max()) + 1
    if classes.min() < 0 or len(classes) != n_classes:
        raise ValueError(f"labels must use every class 0 … C−1, got classes {classes.tolist()}")
    sizes = np.bincount(y, minlength=n_classes)
    head = int(sizes.min()) if n_max is None else _validate.positive_int("n_max", n_max)
    order = list(range(n_classes)) if order is None else [int(c) for c in order]
    if sorted(order) != list(range(n_classes)):
        raise ValueError(f"order must be a permutation of 0 … {n_classes - 1}, got {order}")
    counts = exp_profile_counts(head, n_classes, imbalance)
    seed = _validate.non_negative_int("seed", seed)
    rng = np.random.default_rng(seed)
    keep = []
    for rank, c in enumerate(order):
        members = np.flatnonzero(y == c)
        if counts[rank] > len(members):
            raise ValueError(
                f"n_max={head} asks class {c} for {counts[rank]} samples, it has {len(members)}"
            )
        keep.append(rng.choice(members, size=counts[rank], replace=False))
    return np.sort(np.concatenate(keep)).astype(np.int64)
