"""Scoring generated digits with a classifier trained on real ones (chapters 10 and 11).

For images there is no mode to measure a distance to, so GAN papers score samples with a
classifier p(y|x) trained on the real data (Salimans et al., 2016; on MNIST, Metz et al.'s
*Unrolled GANs* count the classes a generator reaches). For generated samples x₁…xₙ:

* **classes covered**: classes whose share of argmax predictions is ≥ ``min_fraction``;
* **KL from uniform**: KL(h ‖ U) of the argmax histogram h (0 for evenly spread classes,
  log(10/m) for a generator collapsed onto m of 10 equally often);
* **confidence**: mean of max_y p(y|xᵢ), high when samples look like one digit each;
* **Inception-score analogue**: IS = exp( (1/n) Σᵢ KL(p(y|xᵢ) ‖ p̄(y)) ), p̄ = (1/n) Σᵢ p(y|xᵢ),
  between 1 (every sample the same vague guess) and 10 (confident and evenly spread).

The classifier is a small MLP, fast on a CPU; its held-out accuracy is part of the score's
record, since a score is only as good as its classifier. Real held-out digits give the
reference values a generator should approach.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from .. import _validate
from ..maths.entropy import kl_discrete
from ..nn import mlp

__all__ = ["DATASETS", "DigitScore", "digit_classifier", "digit_score", "fit_digit_classifier"]

Dataset = Literal["digits", "mnist_5k"]
#: real digit sets a classifier can be trained on offline (kexue_lab.data loaders)
DATASETS: tuple[str, ...] = ("digits", "mnist_5k")


def _flat(name: str, images: Any, pixels: int | None = None) -> torch.Tensor:
    if not torch.is_tensor(images) or not images.is_floating_point() or images.ndim < 2:
        got = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
        raise ValueError(f"{name} must be a floating-point tensor of images (n, …), got {got}")
    flat = images.reshape(len(images), -1)
    if pixels is not None and flat.shape[1] != pixels:
        raise ValueError(
            f"{name} must have {pixels} pixels per image like the classifier's training "
            f"digits, got shape {tuple(images.shape)}"
        )
    return flat


def fit_digit_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    hidden: int = 128,
    steps: int = 300,
    lr: float = 3e-3,
    seed: int = 0,
) -> torch.nn.Sequential:
    """An MLP pixels → ``hidden`` → 10 trained full-batch with Adam on (``images``, ``labels``).

    Images are in [0, 1] with any shape (n, …); the classifier takes them flattened.
    Full-batch training on the small offline sets takes a second or two on a CPU.
    """
    x = _flat("images", images)
    if not torch.is_tensor(labels) or labels.shape != (len(x),):
        raise ValueError(
            f"labels must be a tensor of shape ({len(x)},), got "
            f"{getattr(labels, 'shape', type(labels).__name__)}"
        )
    steps = _validate.positive_int("steps", steps)
    torch.manual_seed(_validate.non_negative_int("seed", seed))
    net = mlp([x.shape[1], _validate.positive_int("hidden", hidden), 10]).to(x.device)
    opt = torch.optim.Adam(net.parameters(), lr=_validate.positive("lr", lr), weight_decay=1e-4)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(net(x), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@functools.lru_cache(maxsize=4)
def digit_classifier(dataset: Dataset = "digits", seed: int = 0) -> tuple[Any, float]:
    """A classifier for ``dataset`` ("digits": scikit-learn's 8×8; "mnist_5k": 28×28),
    trained on 80 % of it, and its accuracy on the other 20 % (cached per process, CPU)."""
    from .. import data

    _validate.choice("dataset", dataset, DATASETS)
    x, y = data.load_digits() if dataset == "digits" else data.load_mnist_5k()
    x_tr, y_tr, x_te, y_te = data.train_test_split(x, y, test_fraction=0.2, seed=seed)
    net = fit_digit_classifier(x_tr, y_tr, seed=seed)
    with torch.no_grad():
        acc = float((net(x_te.reshape(len(x_te), -1)).argmax(1) == y_te).float().mean())
    return net, acc


@dataclass(frozen=True)
class DigitScore:
    """A batch of digits scored by a classifier (see :func:`digit_score`)."""

    covered: int  #: classes with at least ``min_fraction`` of the argmax predictions
    kl_uniform: float  #: KL(argmax histogram ‖ uniform over 10 classes), nats
    confidence: float  #: mean max_y p(y|x)
    inception: float  #: exp(mean KL(p(y|x) ‖ p̄(y))), in [1, 10]
    counts: torch.Tensor  #: argmax predictions per class, shape (10,)


def digit_score(
    classifier: torch.nn.Module, samples: torch.Tensor, *, min_fraction: float = 0.02
) -> DigitScore:
    """Score generated ``samples`` (n images in [0, 1], any shape (n, …)) with ``classifier``.

    ``min_fraction`` (default 0.02, a fifth of a class's fair share of 0.1) decides when a
    class counts as covered.
    """
    pixels = next(classifier.parameters()).shape[1]
    x = _flat("samples", samples, pixels)
    if len(x) == 0:
        raise ValueError("samples must hold at least one image, got 0")
    min_fraction = _validate.in_range("min_fraction", min_fraction, 0.0, 1.0)
    dev = next(classifier.parameters()).device
    with torch.no_grad():
        probs = classifier(x.detach().to(dev)).softmax(1).double().cpu()
    counts = torch.bincount(probs.argmax(1), minlength=probs.shape[1])
    uniform = torch.full((probs.shape[1],), 1 / probs.shape[1], dtype=torch.float64)
    kl_u = float(kl_discrete(counts.double() / len(x), uniform))
    mean_p = probs.mean(0).expand_as(probs)
    inception = math.exp(float(kl_discrete(probs, mean_p).mean()))
    covered = int((counts >= min_fraction * len(x)).sum())
    return DigitScore(covered, kl_u, float(probs.max(1).values.mean()), inception, counts)
