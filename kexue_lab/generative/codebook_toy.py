"""The codebook term on its own, in two dimensions (chapter 06, kexue.fm/archives/6760).

With the encoder fixed to the identity, the codebook term mean((sg[z] − e_k)²) is K-means:
for the points z_1 … z_n assigned to a code e, Σ‖z_i − e‖² is smallest at their mean, the
update of Lloyd's algorithm (:func:`kmeans_lloyd`). :func:`toy_codebook_run` trains a
codebook on a ring of eight Gaussians (:func:`ring_data`) with full-batch Adam on that
term, in NumPy, so that the chapter's exploration replays it over its whole grid.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from .. import _validate
from ..maths.entropy import perplexity
from .vq import _codebook, _vectors, nearest_codes

__all__ = [
    "TOY_INITS",
    "kmeans_lloyd",
    "ring_data",
    "toy_codebook_gradient",
    "toy_codebook_run",
    "toy_codes",
]


def ring_data(
    n: int = 512, *, modes: int = 8, radius: float = 4.0, sigma: float = 0.3, seed: int = 0
) -> torch.Tensor:
    """``n`` points from ``modes`` Gaussians (std ``sigma``) evenly spaced on a circle (chapter 06).

    Point i sits at radius·(cos θ_i, sin θ_i) + σ·ε_i with θ_i = 2π (i mod modes) / modes.
    """
    n = _validate.positive_int("n", n)
    modes = _validate.positive_int("modes", modes)
    radius = _validate.positive("radius", radius)
    sigma = _validate.non_negative("sigma", sigma)
    g = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    angle = 2 * math.pi * torch.arange(n).remainder(modes).double() / modes
    centre = radius * torch.stack([angle.cos(), angle.sin()], 1)
    return (centre + sigma * torch.randn(n, 2, generator=g, dtype=torch.float64)).float()


TOY_INITS: tuple[str, ...] = ("data", "corner")


def _toy_init(data: torch.Tensor, num_codes: int, init: str, g: torch.Generator) -> torch.Tensor:
    if init == "data":
        return data[torch.randperm(len(data), generator=g)[:num_codes]].clone()
    # a small cluster far from the data: most codes never win an assignment
    return torch.tensor([7.0, 7.0]) + 0.5 * torch.rand(num_codes, 2, generator=g)


def kmeans_lloyd(data: torch.Tensor, init: torch.Tensor, *, iters: int = 100) -> torch.Tensor:
    """Lloyd's K-means from ``init`` ``(K, d)`` (chapter 06): e_k ← mean of {z_i : k_i = k}.

    Each step assigns every point to its nearest centre and moves each centre to its
    mean. Centres that lose all their points stay where they are. Vectorised with
    ``index_add_``; returns the final ``(K, d)`` centres.
    """
    init = _codebook("init", init)
    data = _vectors("data", data, init.shape[1])
    iters = _validate.positive_int("iters", iters)
    centres = init.clone()
    k = centres.shape[0]
    for _ in range(iters):
        codes = nearest_codes(data, centres)
        sums = torch.zeros_like(centres).index_add_(0, codes, data)
        counts = torch.bincount(codes, minlength=k).unsqueeze(1).to(data.dtype)
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
    return centres


def toy_codes(data: np.ndarray, book: np.ndarray) -> np.ndarray:
    """k_i = argmin_k ‖z_i − e_k‖² (eq. 4) for NumPy arrays, through :func:`vq.nearest_codes`.

    ``data`` is ``(N, d)``, ``book`` ``(K, d)``; returns the ``(N,)`` code indices.
    """
    data, book = np.asarray(data, dtype=float), np.asarray(book, dtype=float)
    if data.ndim != 2 or book.ndim != 2 or data.shape[1] != book.shape[1] or not len(book):
        raise ValueError(
            f"data must be (N, d) and book (K, d) with the same d and K ≥ 1, "
            f"got shapes {data.shape} and {book.shape}"
        )
    return nearest_codes(torch.tensor(data), torch.tensor(book)).numpy()


def toy_codebook_gradient(data: np.ndarray, book: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and the gradient of mean((sg[z] − e_k)²) with respect to the codebook (NumPy).

    ∂/∂e_k = (2 / (N·d)) Σ_{i: k_i = k} (e_k − z_i): a code with no points gets no gradient.
    """
    codes = toy_codes(data, book)
    k, d = book.shape
    counts = np.bincount(codes, minlength=k)[:, None]
    sums = np.zeros_like(book)
    np.add.at(sums, codes, data)
    return codes, 2.0 * (counts * book - sums) / data.size


@lru_cache(maxsize=32)
def toy_codebook_run(
    num_codes: int = 8,
    init: str = "corner",
    reseed: bool = False,
    *,
    steps: int = 400,
    lr: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train a codebook on :func:`ring_data` with mean((sg[z] − e)²) alone (chapter 06).

    The encoder is the identity, so only the codebook moves.

    Full-batch Adam (β₁ = 0.9, β₂ = 0.999) on mean((sg[z] − e)²), in NumPy so that
    the exploration's whole grid costs well under a second. With ``reseed`` the
    codes unused in the last 25 steps move onto random data points. Returns the
    data ``(512, 2)``, the codebook after every step ``(steps + 1, K, 2)`` and
    the perplexity of the assignment after every step ``(steps + 1,)``.
    """
    num_codes = _validate.positive_int("num_codes", num_codes)
    _validate.choice("init", init, TOY_INITS)
    steps = _validate.positive_int("steps", steps)
    lr = _validate.positive("lr", lr)
    data_t = ring_data(seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    data = data_t.double().numpy()
    book = _toy_init(data_t, num_codes, init, g).double().numpy()
    rng = np.random.default_rng(seed + 2)
    m, v = np.zeros_like(book), np.zeros_like(book)
    window = np.zeros(num_codes, dtype=np.int64)
    books, perp = [book.copy()], []
    for step in range(steps + 1):
        if reseed and step > 0 and step % 25 == 0:
            dead = np.flatnonzero(window == 0)
            book[dead] = data[rng.choice(len(data), size=len(dead), replace=False)]
            window[:] = 0
        codes, grad = toy_codebook_gradient(data, book)
        counts = np.bincount(codes, minlength=num_codes)
        window += counts
        perp.append(perplexity(counts))
        if step == steps:
            break
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        t = step + 1
        book = book - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        books.append(book.copy())
    out = (data, np.stack(books), np.array(perp))
    for arr in out:
        arr.flags.writeable = False  # cached: callers must not modify them
    return out
