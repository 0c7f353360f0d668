"""Exposure bias in seq2seq: the article's probability table and a toy title task (chapter 33).

Su Jianlin, "Seq2Seq中Exposure Bias现象的浅析与对策" (kexue.fm/archives/7259). A teacher-forced
model is locally normalised (eqs. 4–6: ``p(y|x) = Π_k p(y_k | x, y_<k)``), so it is only trained on
gold prefixes. This module holds what is particular to the chapter:

* :func:`table_step_logprobs` and :func:`path_probabilities`: the article's two-step example
  (``p(a) = 0.6``, ``p(b|a) = 0.55``, ``p(d|c) = 0.9``) as a next-token model that
  :func:`~kexue_lab.sequences.seq2seq.beam_search` can decode;
* :func:`local_and_global`: the same step scores ``f`` normalised per step (eq. 6) and over
  whole sequences (eq. 9), by enumeration of all length-2 sequences;
* :func:`keyword_task`: the generated "title" task the chapter trains on (source: a string of
  symbols; target: its distinct symbols in sorted order, then ``[SEP]``);
* :func:`train_variant`: plain teacher forcing, random replacement of decoder inputs, or the
  gradient penalty ``L + ½‖∂L/∂E‖²`` on the token embeddings;
* :func:`evaluate`: ROUGE-1/2/L, BLEU and exact match at several beam sizes, and the
  teacher-forced against the free-running (greedy) token accuracy.

Model, decoding, input corruption and metrics come from :mod:`~kexue_lab.sequences.seq2seq`,
:mod:`~kexue_lab.sequences.metrics` and :func:`kexue_lab.nn.parameter_gradient_norm`.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from .. import _validate
from ..nn import parameter_gradient_norm
from ..train import progress
from .metrics import bleu, rouge_l, rouge_n
from .seq2seq import UniLMSeq2Seq, pack_pairs, random_replace

__all__ = [
    "ARTICLE_TABLE",
    "TABLE_TOKENS",
    "VARIANTS",
    "PAD",
    "CLS",
    "SEP",
    "table_step_logprobs",
    "path_probabilities",
    "local_and_global",
    "keyword_task",
    "render",
    "train_variant",
    "teacher_forced_correct",
    "evaluate",
]

#: the article's table: p(a), p(b|a), p(d|c) (p(c) = 1 − p(a), p(d|a) = 1 − p(b|a), ...)
ARTICLE_TABLE = {"p_a": 0.6, "p_b_a": 0.55, "p_d_c": 0.9}
#: token ids of the table model: 0 is the start token, 5 ends a sequence
TABLE_TOKENS = {"a": 1, "b": 2, "c": 3, "d": 4, "eos": 5}
#: the three training variants of the chapter
VARIANTS = ("baseline", "replace", "penalty")
#: special ids of the keyword task; symbols start at 3
PAD, CLS, SEP = 0, 1, 2


def _prob(name: str, value: Any) -> float:
    return _validate.in_range(name, value, 0.0, 1.0)


def table_step_logprobs(
    p_a: float = 0.6, p_b_a: float = 0.55, p_d_c: float = 0.9
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Next-token log-probabilities of the article's two-step model, for ``beam_search``.

    Prefix ``[0]`` → ``p(a) = p_a``, ``p(c) = 1 − p_a``; after ``a``: ``p(b|a) = p_b_a``,
    ``p(d|a) = 1 − p_b_a``; after ``c``: ``p(d|c) = p_d_c``, ``p(b|c) = 1 − p_d_c``; after two
    tokens: ``eos`` with probability 1. Impossible tokens get ``−∞``.
    """
    p_a, p_b_a, p_d_c = _prob("p_a", p_a), _prob("p_b_a", p_b_a), _prob("p_d_c", p_d_c)
    a, b, c, d, eos = (TABLE_TOKENS[k] for k in ("a", "b", "c", "d", "eos"))
    first = torch.zeros(6, dtype=torch.float64)
    first[a], first[c] = p_a, 1 - p_a
    second = torch.zeros(6, 6, dtype=torch.float64)
    second[a, b], second[a, d] = p_b_a, 1 - p_b_a
    second[c, b], second[c, d] = 1 - p_d_c, p_d_c
    end = torch.zeros(6, dtype=torch.float64)
    end[eos] = 1.0

    def step(prefixes: torch.Tensor) -> torch.Tensor:
        t = prefixes.shape[1]
        if t == 1:
            probs = first.expand(len(prefixes), -1)
        elif t == 2:
            probs = second[prefixes[:, 1]]
        else:
            probs = end.expand(len(prefixes), -1)
        return probs.log()

    return step


def path_probabilities(
    p_a: float = 0.6, p_b_a: float = 0.55, p_d_c: float = 0.9
) -> dict[str, float]:
    """The four sequence probabilities ``p(y₁) p(y₂|y₁)`` of the table model (eq. 4),
    keyed ``"ab"``, ``"ad"``, ``"cb"``, ``"cd"``."""
    p_a, p_b_a, p_d_c = _prob("p_a", p_a), _prob("p_b_a", p_b_a), _prob("p_d_c", p_d_c)
    return {
        "ab": p_a * p_b_a,
        "ad": p_a * (1 - p_b_a),
        "cb": (1 - p_a) * (1 - p_d_c),
        "cd": (1 - p_a) * p_d_c,
    }


def local_and_global(
    f1: torch.Tensor, f2: torch.Tensor
) -> tuple[list[tuple[int, int]], torch.Tensor, torch.Tensor]:
    """Every length-2 sequence under one score function, normalised two ways.

    ``f1[i] = f(y₁=i; x)`` ``(V,)`` and ``f2[i, j] = f(y₁=i, y₂=j; x)`` ``(V, V)``. Returns the
    sequences ``(i, j)`` in row-major order and their probabilities under the locally
    normalised model (eqs. 5–6: ``softmax(f1)[i] · softmax(f2[i])[j]``) and under the globally
    normalised one (eq. 9: ``softmax`` of ``f1[i] + f2[i, j]`` over all ``V²`` sequences).
    """
    for name, v, nd in (("f1", f1, 1), ("f2", f2, 2)):
        if not torch.is_tensor(v) or v.ndim != nd or not v.is_floating_point():
            raise ValueError(f"{name} must be a floating tensor with {nd} dimension(s), got {v!r}")
    if f2.shape != (len(f1), len(f1)):
        raise ValueError(f"f2 must have shape ({len(f1)}, {len(f1)}), got {tuple(f2.shape)}")
    local = f1.log_softmax(0)[:, None] + f2.log_softmax(1)
    score = f1[:, None] + f2
    glob = score.flatten().log_softmax(0).view_as(score)
    paths = list(itertools.product(range(len(f1)), repeat=2))
    return paths, local.flatten().exp(), glob.flatten().exp()


def keyword_task(
    n: int,
    *,
    n_symbols: int = 16,
    min_len: int = 6,
    max_len: int = 10,
    seed: int = 0,
) -> tuple[list[list[int]], list[list[int]]]:
    """``n`` pairs of the generated title task: ``(sources, targets)`` as token lists.

    A source is ``[CLS] x [SEP]`` with ``x`` a string of ``min_len``–``max_len`` symbols drawn
    uniformly from ``n_symbols`` (ids ``3 … n_symbols + 2``); its target is the distinct
    symbols of ``x`` in increasing order, then ``[SEP]``, a canonical "keyword list" whose
    errors (a skipped, repeated or misplaced symbol) are the ones random replacement imitates.
    """
    n = _validate.positive_int("n", n)
    n_symbols = _validate.int_at_least("n_symbols", n_symbols, 2)
    min_len = _validate.positive_int("min_len", min_len)
    max_len = _validate.int_at_least("max_len", max_len, min_len, "at least min_len")
    gen = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=gen)
    x = torch.randint(0, n_symbols, (n, max_len), generator=gen) + 3
    present = torch.zeros(n, n_symbols + 3, dtype=torch.bool)
    keep = torch.arange(max_len) < lengths[:, None]
    present[torch.arange(n)[:, None].expand(-1, max_len)[keep], x[keep]] = True
    sources = [[CLS, *row[:m], SEP] for row, m in zip(x.tolist(), lengths.tolist(), strict=True)]
    targets = [[*row.nonzero()[:, 0].tolist(), SEP] for row in present]
    return sources, targets


def render(tokens: Sequence[int]) -> str:
    """Symbols as letters (id 3 → ``A``), ``[SEP]`` as ``|``, for display."""
    return "".join("|" if t == SEP else "·" if t in (PAD, CLS) else chr(62 + t) for t in tokens)


def train_variant(
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    variant: str,
    *,
    vocab_size: int,
    steps: int,
    batch_size: int = 64,
    lr: float = 5e-3,
    d: int = 48,
    n_layers: int = 2,
    n_heads: int = 4,
    seed: int = 0,
    penalty: float = 0.5,
    p_sample: float = 0.5,
    p_token: float = 0.3,
    device: str | torch.device = "cpu",
    start: UniLMSeq2Seq | None = None,
    bar: bool = True,
) -> tuple[UniLMSeq2Seq, dict[str, Any]]:
    """Train a :class:`UniLMSeq2Seq` by teacher forcing with one of :data:`VARIANTS`.

    * ``"baseline"``: cross-entropy on gold prefixes (eq. 7);
    * ``"replace"``: the same loss on decoder inputs corrupted by
      :func:`~kexue_lab.sequences.seq2seq.random_replace` (rows w.p. ``p_sample``, tokens w.p.
      ``p_token``, drawn from the row's own target tokens), labels unchanged;
    * ``"penalty"``: ``L + penalty · Σ(∂L/∂E)²`` with ``E`` the token embedding (tied to the
      output layer, as in BERT), by double backpropagation.

    Adam, constant ``lr``, ``steps`` mini-batches drawn with replacement from a generator seeded
    with ``seed``. The model is a copy of ``start`` (a trained model to fine-tune; its ``d``,
    ``n_layers``, ``n_heads`` are used) or a new one initialised from ``seed``, so variants
    trained with one seed start alike and see the same batches. Returns the model (in eval
    mode) and ``{"loss": [...], "seconds": float}``; ``start`` is left untouched.
    """
    variant = _validate.choice("variant", variant, VARIANTS)
    steps = _validate.positive_int("steps", steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    lr = _validate.positive("lr", lr)
    penalty = _validate.non_negative("penalty", penalty)
    if len(sources) != len(targets) or not sources:
        raise ValueError(f"sources and targets must be non-empty and equally long: {len(sources)}")
    device = torch.device(device)
    torch.manual_seed(_validate.non_negative_int("seed", seed))
    width = max(len(s) + len(t) for s, t in zip(sources, targets, strict=True))
    if start is None:
        model = UniLMSeq2Seq(vocab_size, d, n_layers, n_heads, 2 * d, 2 * width, pad_id=PAD)
    elif isinstance(start, UniLMSeq2Seq) and start.vocab_size == vocab_size:
        model = copy.deepcopy(start)
    else:
        raise ValueError(f"start must be a UniLMSeq2Seq with vocab_size={vocab_size} or None")
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    with sdpa_kernel([SDPBackend.MATH]):  # the only kernel with a double backward
        for _ in progress(range(steps), desc=variant, **({} if bar else {"disable": True})):
            idx = torch.randint(0, len(sources), (batch_size,), generator=gen).tolist()
            ids, seg, labels = pack_pairs([sources[i] for i in idx], [targets[i] for i in idx])
            if variant == "replace":
                target = (seg == 1) & (ids != PAD)
                ids = random_replace(ids, target, p_sample=p_sample, p_token=p_token, generator=gen)
            ids, seg, labels = ids.to(device), seg.to(device), labels.to(device)
            loss = model.loss(ids, seg, labels)
            losses.append(float(loss.detach()))
            if variant == "penalty":
                loss = loss + penalty * parameter_gradient_norm(
                    loss, [model.tok.weight], squared=True
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model, {"loss": losses, "seconds": time.perf_counter() - start}


@torch.no_grad()
def teacher_forced_correct(
    model: UniLMSeq2Seq, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
) -> list[list[bool]]:
    """Per example, whether the argmax next token given the *gold* prefix is the gold token,
    at every target position (the ``[SEP]`` included)."""
    device = model.tok.weight.device
    ids, seg, labels = pack_pairs(sources, targets, PAD)
    pred = model(ids.to(device), seg.to(device)).argmax(-1).cpu()
    hit = pred == labels
    return [hit[b][labels[b] != -100].tolist() for b in range(len(targets))]


def evaluate(
    model: UniLMSeq2Seq,
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    beams: Sequence[int] = (1, 2, 3),
) -> dict[str, Any]:
    """Scores of ``model`` on a test set (token level, ``[SEP]`` removed, ×100 as the article).

    ``"beam"``: for each k in ``beams``, ``{"rouge-l", "rouge-1", "rouge-2", "bleu", "exact"}``
    averaged over examples (BLEU smoothed as NLTK's method1). ``"tf_acc"``: teacher-forced
    token accuracy; ``"free_acc"``: position-wise accuracy of the greedy output against the
    target; ``"tf_exact"``: share of examples with every teacher-forced argmax right (greedy
    decoding reproduces the target exactly when, and only when, this holds).
    """
    if not beams or any(_validate.positive_int("beams", k) != k for k in beams):
        raise ValueError(f"beams must be a non-empty list of positive ints, got {beams!r}")
    refs = [list(t[:-1]) if t and t[-1] == SEP else list(t) for t in targets]
    out: dict[str, Any] = {"beam": {}}
    greedy: list[list[int]] = []
    for k in beams:
        hyps = model.generate(sources, SEP, k=k, max_len=max(len(t) for t in targets) + 2)
        if k == 1:
            greedy = hyps
        hyps = [h[:-1] if h and h[-1] == SEP else h for h in hyps]
        pairs = list(zip(hyps, refs, strict=True))
        scores = {
            "rouge-l": [rouge_l(h, r) for h, r in pairs],
            "rouge-1": [rouge_n(h, r, 1) for h, r in pairs],
            "rouge-2": [rouge_n(h, r, 2) for h, r in pairs],
            "bleu": [bleu(h, r, smooth=True) for h, r in pairs],
            "exact": [float(h == r) for h, r in pairs],
        }
        out["beam"][k] = {m: 100 * sum(v) / len(v) for m, v in scores.items()}
    tf = teacher_forced_correct(model, sources, targets)
    n_tokens = sum(len(t) for t in targets)
    out["tf_acc"] = sum(sum(c) for c in tf) / n_tokens
    out["tf_exact"] = sum(all(c) for c in tf) / len(tf)
    if greedy:
        hits = sum(sum(a == b for a, b in zip(g, t)) for g, t in zip(greedy, targets, strict=True))
        out["free_acc"] = hits / n_tokens
        out["greedy_exact"] = sum(g == list(t) for g, t in zip(greedy, targets)) / len(targets)
        out["agree"] = sum(
            (g == list(t)) == all(c) for g, t, c in zip(greedy, targets, tf, strict=True)
        ) / len(targets)
    return out
