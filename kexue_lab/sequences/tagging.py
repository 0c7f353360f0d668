"""Chinese word segmentation as B/M/E/S tagging: data, a small tagger with CRF or MEMM heads,
span F1 (chapter 32).

* :func:`segmentation_data`: People's Daily 1998 (:func:`kexue_lab.text.peoples_daily`) cut into
  clauses at punctuation, as character ids and B/M/E/S tag ids;
* :class:`Tagger`: character embedding + convolution → emission scores f, plus a K×K transition
  matrix g, trained with one of the heads of :data:`HEADS` and decoded by Viterbi on f + g;
* :func:`word_spans` / :func:`span_f1`: words as (start, end) spans and the F1 over them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _validate, text
from ..train import progress
from .crf import crf_nll, viterbi_decode
from .memm import memm_nll

__all__ = ["TAGS", "HEADS", "segmentation_data", "word_spans", "span_f1", "Tagger", "train_tagger"]

#: tag ids: B(egin), M(iddle), E(nd), S(ingle)
TAGS = ("B", "M", "E", "S")
#: training heads: CRF, MEMM left-to-right, right-to-left, bidirectional
HEADS = ("crf", "l2r", "r2l", "bi")
_CUT = set("，。！？；：、")


def _clauses(sentence: tuple[tuple[str, str], ...]) -> list[list[str]]:
    out, cur = [], []
    for word, tag in sentence:
        cur.append(word)
        if tag == "w" and word in _CUT:
            out.append(cur)
            cur = []
    return out + ([cur] if cur else [])


def segmentation_data(
    n_train: int, n_test: int, maxlen: int = 32, min_len: int = 4
) -> dict[str, Any]:
    """Train/test clauses of People's Daily as ``(ids, tags, mask)`` tensors, plus the vocabulary.

    Sentences are cut after ，。！？；：、 ; clauses of ``min_len``..``maxlen`` characters are
    kept in corpus order, the first ``n_train`` for training and the last ``n_test`` of the
    corpus for testing (disjoint). Characters unseen in training map to the unknown id.
    """
    n_train = _validate.positive_int("n_train", n_train)
    n_test = _validate.positive_int("n_test", n_test)
    maxlen = _validate.int_at_least("maxlen", maxlen, 2)
    min_len = _validate.int_at_least("min_len", min_len, 1)
    clauses = [c for s in text.peoples_daily() for c in _clauses(s)]
    clauses = [c for c in clauses if min_len <= sum(map(len, c)) <= maxlen]
    if n_train + n_test > len(clauses):
        raise ValueError(
            f"n_train + n_test = {n_train + n_test} exceeds the {len(clauses)} clauses of "
            f"{min_len}..{maxlen} characters"
        )
    parts = {"train": clauses[:n_train], "test": clauses[len(clauses) - n_test :]}
    vocab = text.CharVocab(["".join(c) for c in parts["train"]])
    out: dict[str, Any] = {"vocab": vocab, "maxlen": maxlen}
    for name, cl in parts.items():
        ids, lengths = vocab.encode(["".join(c) for c in cl], maxlen)
        tags = torch.zeros_like(ids)
        for i, c in enumerate(cl):
            tags[i, : lengths[i]] = torch.tensor([TAGS.index(t) for t in text.bmes_tags(c)])
        out[name] = (ids, tags, torch.arange(maxlen) < lengths[:, None])
    return out


def word_spans(tags: Any, lengths: Any) -> np.ndarray:
    """Word-end indicator ``(N, n)``: a word ends at i if tag_i ∈ {E, S} or tag_{i+1} ∈ {B, S}.

    Any tag sequence (even an ill-formed one such as B B) splits into words this way; the last
    position of each sequence always ends a word, padding ends none.
    """
    t = np.asarray(tags)
    lens = np.asarray(lengths)
    if t.ndim != 2 or lens.shape != (t.shape[0],):
        raise ValueError(f"tags must be (N, n) and lengths (N,), got {t.shape} and {lens.shape}")
    if lens.min(initial=1) < 1 or lens.max(initial=0) > t.shape[1]:
        raise ValueError(f"lengths must lie in [1, {t.shape[1]}], got {lens.min()}..{lens.max()}")
    ends = np.isin(t, (2, 3))
    ends[:, :-1] |= np.isin(t[:, 1:], (0, 3))
    pos = np.arange(t.shape[1])
    ends &= pos < lens[:, None]
    ends[np.arange(len(lens)), lens - 1] = True
    return ends


def span_f1(pred: Any, gold: Any, lengths: Any) -> float:
    """F1 over word spans (start, end): 2·|P ∩ G| / (|P| + |G|), summed over all sentences.

    A gold word [s, e] is matched iff the prediction ends words at s − 1 (or s = 0) and at e
    and nowhere in between; vectorised with cumulative sums (no loop over sentences).
    """
    ep, eg = word_spans(pred, lengths), word_spans(gold, lengths)
    n = ep.shape[1]
    inner = np.cumsum(ep, axis=1)  # number of predicted ends at positions ≤ i
    pos = np.broadcast_to(np.arange(n), ep.shape)
    prev_end = np.where(eg, pos, -1)
    prev_end = np.maximum.accumulate(np.concatenate([np.full((len(eg), 1), -1), prev_end], 1), 1)
    start = prev_end[:, :-1] + 1  # start of the gold word containing i
    before = np.where(start > 0, np.take_along_axis(inner, np.maximum(start - 1, 0), 1), 0)
    start_ok = (start == 0) | np.take_along_axis(ep, np.maximum(start - 1, 0), 1)
    one_end = (inner - before) == 1  # exactly one predicted end in [s, e], and it is at e
    hits = int((eg & ep & start_ok & one_end).sum())
    total = int(ep.sum() + eg.sum())
    return 2.0 * hits / total


class Tagger(nn.Module):
    """Embedding → Conv1d(kernel) → ReLU → Linear: emission scores ``(B, n, K)``; plus ``trans``."""

    def __init__(self, vocab_size: int, dim: int = 64, kernel: int = 3, n_tags: int = 4) -> None:
        super().__init__()
        _validate.positive_int("vocab_size", vocab_size)
        _validate.positive_int("dim", dim)
        if _validate.positive_int("kernel", kernel) % 2 == 0:
            raise ValueError(f"kernel must be odd (same-length convolution), got {kernel}")
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.out = nn.Linear(dim, n_tags)
        self.trans = nn.Parameter(torch.zeros(n_tags, n_tags))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(self.embed(ids).transpose(1, 2))).transpose(1, 2)
        return self.out(h)

    def loss(self, ids: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, head: str):
        """Mean per-sequence NLL of the head (CRF, or MEMM in a direction)."""
        em = self(ids)
        if head == "crf":
            return crf_nll(em, self.trans, tags, mask).mean()
        return memm_nll(em, self.trans, tags, mask, head).mean()

    @torch.no_grad()
    def predict(self, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        """Viterbi on f + g (the shared numerator score), padded with −1 to ``(N, n)``."""
        paths = viterbi_decode(self(ids), self.trans, mask)
        out = np.full(tuple(ids.shape), -1)
        for i, p in enumerate(paths):
            out[i, : len(p)] = p
        return out


def train_tagger(
    data: dict[str, Any],
    head: str,
    *,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    dim: int = 64,
    seed: int = 0,
    device: Any = "cpu",
) -> dict[str, Any]:
    """Train a :class:`Tagger` with ``head``; return the model, test span F1, training seconds."""
    _validate.choice("head", head, HEADS)
    epochs = _validate.positive_int("epochs", epochs)
    batch_size = _validate.positive_int("batch_size", batch_size)
    torch.manual_seed(seed)
    model = Tagger(len(data["vocab"]), dim).to(device)
    ids, tags, mask = (x.to(device) for x in data["train"])
    opt = torch.optim.Adam(model.parameters(), lr=_validate.positive("lr", lr))
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in progress(range(epochs), desc=f"{head}", leave=False):
        order = torch.randperm(len(ids), generator=gen).to(device)
        for b in order.split(batch_size):
            opt.zero_grad()
            model.loss(ids[b], tags[b], mask[b], head).backward()
            opt.step()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    model.eval()
    t_ids, t_tags, t_mask = data["test"]
    pred = model.predict(t_ids.to(device), t_mask.to(device))
    lengths = t_mask.sum(1).numpy()
    f1 = span_f1(pred.clip(0), t_tags.numpy(), lengths)
    return {"model": model.cpu(), "f1": f1, "seconds": seconds, "pred": pred}
