"""SPACES: extract-then-generate summarisation (chapter 40).

Su Jianlin, "SPACES:“抽取-生成”式长文本摘要(法研杯总结)" (kexue.fm/archives/8046) and the
author's code ``bojone/SPACES``. The article displays, in this order:

* eq. (1), the decoder with copy tags ``p(y_t, z_t | y_<t, x) = p(y_t | y_<t, x) p(z_t | y_<t, x)``,
  ``z_t ∈ {O, B, I}`` (:class:`CopySeq2Seq`, :func:`bio_copy_labels`, :func:`copy_allowed`);
* the table of Sparse Softmax: ``p_i = e^{s_i} / Σ_{j∈Ω_k} e^{s_j}`` on the k largest logits
  ``Ω_k``, 0 elsewhere, and its cross-entropy ``log Σ_{i∈Ω_k} e^{s_i} − s_t``
  (:func:`sparse_softmax`, :func:`sparse_cross_entropy`);
* eqs. (2)–(3), the margin ordinary cross-entropy demands: with the target the largest logit
  and loss ε, ``s_max − s_min ≥ log(n − 1) − log(e^ε − 1)`` (:func:`required_margin`).

From the code: clauses split at ``\\n。；：，`` (:func:`split_clauses`), the recursive oracle that
matches each summary clause to a document clause (:func:`oracle_extract`), the competition
metric ``0.2 R1 + 0.4 R2 + 0.4 RL`` (:func:`weighted_rouge`), and the extractor's residual block
``Y = X + α LN(A ⊗ σ(G))`` with α initialised at 0 (:class:`ResidualGatedBlock`).
ROUGE and LCS lengths live in :mod:`kexue_lab.sequences.metrics`; ``rouge_l`` is re-exported.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Sequence

import numpy as np
import torch
from torch import nn

from .. import _validate
from .dgcnn import GatedDilatedConv1d
from .metrics import lcs_length, rouge_l, rouge_n
from .seq2seq import UniLMSeq2Seq

__all__ = [
    "O",
    "B",
    "I",
    "sparse_softmax",
    "sparse_cross_entropy",
    "required_margin",
    "rouge_l",
    "weighted_rouge",
    "split_clauses",
    "oracle_extract",
    "lcs_alignment",
    "bio_copy_labels",
    "ResidualGatedBlock",
    "SentenceExtractor",
    "CopySeq2Seq",
    "copy_allowed",
]

#: copy tags: not copied, copied and starting a span, copied and continuing the span
O, B, I = 0, 1, 2  # noqa: E741


def _logits(name: str, value: object) -> torch.Tensor:
    if not torch.is_tensor(value) or not value.is_floating_point() or value.ndim < 1:
        raise TypeError(f"{name} must be a floating-point tensor (…, n), got {value!r:.60}")
    return value


def _k(k: object, n: int) -> int:
    k = _validate.positive_int("k", k)
    if k > n:
        raise ValueError(f"k must be at most the number of classes n = {n}, got {k}")
    return k


def sparse_softmax(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Sparse Softmax (article's table): softmax over the k largest logits of the last
    dimension, exactly 0 elsewhere. Ties at the k-th value keep exactly k entries (those
    ``torch.topk`` returns). ``k = n`` is ``torch.softmax``."""
    logits = _logits("logits", logits)
    k = _k(k, logits.shape[-1])
    values, index = logits.topk(k, dim=-1)
    return torch.zeros_like(logits).scatter(-1, index, torch.softmax(values, dim=-1))


def sparse_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, k: int, *, ignore_index: int = -100
) -> torch.Tensor:
    """Mean sparse cross-entropy ``log Σ_{i∈Ω_k} e^{s_i} − s_t`` (article's table) over the
    rows of ``logits`` ``(N, n)`` whose ``target`` ``(N,)`` is not ``ignore_index``. The target
    need not be in Ω_k (then the loss is still ≥ 0, as in the author's code)."""
    logits = _logits("logits", logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, n), got shape {tuple(logits.shape)}")
    if (
        not torch.is_tensor(target)
        or target.shape != logits.shape[:1]
        or target.is_floating_point()
    ):
        raise ValueError(f"target must be an integer tensor of shape ({logits.shape[0]},)")
    k = _k(k, logits.shape[1])
    keep = target != ignore_index
    if not keep.any():
        raise ValueError("every target is ignore_index: nothing to average")
    s, t = logits[keep], target[keep]
    if ((t < 0) | (t >= logits.shape[1])).any():
        raise ValueError(f"target must hold class ids in [0, {logits.shape[1]}) or ignore_index")
    loss = torch.logsumexp(s.topk(k, dim=1).values, dim=1) - s.gather(1, t[:, None])[:, 0]
    return loss.mean()


def required_margin(n: int, eps: float) -> float:
    """Article eq. (3): the smallest ``s_max − s_min`` that lets cross-entropy over ``n`` classes
    (or Sparse Softmax with ``n = k``) reach loss ``eps`` with the target the largest logit:
    ``log(n − 1) − log(e^ε − 1)``."""
    n = _validate.int_at_least("n", n, 2, "a target and one other class")
    eps = _validate.positive("eps", eps)
    return math.log(n - 1) - math.log(math.expm1(eps))


def weighted_rouge(hyp: Sequence[Hashable], ref: Sequence[Hashable]) -> dict[str, float]:
    """The CAIL 2020 metric ``main = 0.2 R1 + 0.4 R2 + 0.4 RL`` (F1 scores, chapter 40) of two
    token lists; returns ``{"main", "r1", "r2", "rl"}``. The article uses it on words for the
    leaderboard and on characters for the oracle."""
    r1, r2, rl = rouge_n(hyp, ref, 1), rouge_n(hyp, ref, 2), rouge_l(hyp, ref)
    return {"main": 0.2 * r1 + 0.4 * r2 + 0.4 * rl, "r1": r1, "r2": r2, "rl": rl}


def split_clauses(text: str, seps: str = "\n。；：，", keep_last: int | None = None) -> list[str]:
    """Split ``text`` after every separator in ``seps`` (kept at the clause's end; newlines
    dropped), empty clauses removed; with ``keep_last`` only the last clauses (the author's
    code keeps 256)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(seps, str) or not seps:
        raise ValueError(f"seps must be a non-empty str of separator characters, got {seps!r}")
    parts = re.split(f"(?<=[{re.escape(seps)}])", text)
    clauses = [p.replace("\n", "") for p in parts]
    clauses = [c for c in clauses if c.strip()]
    if keep_last is not None:
        clauses = clauses[-_validate.positive_int("keep_last", keep_last) :]
    return clauses


class _CharMain:
    """Character-level :func:`weighted_rouge` of any clause against the clauses of one document,
    with the document's n-gram counts computed once (the oracle's inner loop)."""

    def __init__(self, doc: Sequence[str]) -> None:
        self.doc = doc
        self.grams = [(Counter(d), Counter(zip(d, d[1:]))) for d in doc]
        self.seen: dict[str, tuple[Counter, Counter]] = {}

    def __call__(self, j: int, s: str) -> float:
        d, (u, b) = self.doc[j], self.grams[j]
        if s not in self.seen:
            self.seen[s] = Counter(s), Counter(zip(s, s[1:]))
        su, sb = self.seen[s]
        f = [
            2 * hit / (n_d + n_s) if hit else 0.0
            for hit, n_d, n_s in (
                (sum((u & su).values()), len(d), len(s)),
                (sum((b & sb).values()), len(d) - 1, len(s) - 1),
                (lcs_length(tuple(d), tuple(s)), len(d), len(s)),
            )
        ]
        return 0.2 * f[0] + 0.4 * f[1] + 0.4 * f[2]


def oracle_extract(
    doc: Sequence[str], summary: Sequence[str], score: Callable[[str, str], float] | None = None
) -> list[tuple[int, int]]:
    """Recursive oracle of the author's ``extract_convert.py`` (chapter 40): take the longest
    summary clause i*, match it to the document clause j* that scores best (default: the
    character-level :func:`weighted_rouge`), recurse on ``(doc[:j*+1], summary[:i*])`` and
    ``(doc[j*:], summary[i*+1:])``. Returns the pairs ``(i, j)`` in summary order; the summary
    indices increase, the document indices never decrease (j* may be matched twice)."""
    for name, seq in (("doc", doc), ("summary", summary)):
        if isinstance(seq, str) or not all(isinstance(s, str) for s in seq):
            raise TypeError(f"{name} must be a list of clause strings")
    if score is None:
        fast = _CharMain(doc)
    else:
        fast = lambda j, s: score(doc[j], s)  # noqa: E731

    def match(lo_j: int, hi_j: int, lo_i: int, hi_i: int) -> list[tuple[int, int]]:
        if lo_j >= hi_j or lo_i >= hi_i:
            return []
        i = max(range(lo_i, hi_i), key=lambda r: (len(summary[r]), -r))
        scores = [fast(j, summary[i]) for j in range(lo_j, hi_j)]
        j = lo_j + int(np.argmax(scores))
        return match(lo_j, j + 1, lo_i, i) + [(i, j)] + match(j, hi_j, i + 1, hi_i)

    return match(0, len(doc), 0, len(summary))


def lcs_alignment(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]]:
    """One longest common subsequence of ``a`` (source) and ``b`` (target) as index pairs
    ``(i, j)``, increasing in both (chapter 40).

    DP table ``c[i, j] = LCS(a[:i], b[:j])``, one row at a time:
    ``c[i, j] = max(c[i−1, j], max_{j' ≤ j, a_i = b_j'} c[i−1, j'−1] + 1)`` (a running maximum).
    Tie-break of bert4keras's ``longest_common_subsequence``, which SPACES uses: walk back from
    the ends; equal tokens are matched at once; otherwise step back in ``b`` if
    ``c[i+1, j] > c[i, j+1]``, else in ``a``. So a repeated token is matched as late as possible.
    """
    if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        raise TypeError("a and b must be lists of tokens (pass list(text) for characters)")
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return []
    codes: dict[Hashable, int] = {}
    ai = np.array([codes.setdefault(x, len(codes)) for x in a])
    bi = np.array([codes.get(y, -1) for y in b])
    c = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(1, n + 1):
        hit = np.where(bi == ai[i - 1], c[i - 1, :-1] + 1, 0)
        c[i, 1:] = np.maximum(c[i - 1, 1:], np.maximum.accumulate(hit))
    pairs: list[tuple[int, int]] = []
    i, j = n - 1, m - 1
    while len(pairs) < c[n, m]:
        if ai[i] == bi[j]:
            pairs.append((i, j))
            i, j = i - 1, j - 1
        elif c[i + 1, j] > c[i, j + 1]:
            j -= 1
        else:
            i -= 1
    return pairs[::-1]


def bio_copy_labels(
    source: Sequence[Hashable], target: Sequence[Hashable]
) -> tuple[list[int], list[int]]:
    """Copy tags from :func:`lcs_alignment` (chapter 40): a matched pair ``(i, j)`` is ``I``
    when it directly follows the previous pair in both sequences, else ``B``; unmatched tokens
    are ``O``. Returns ``(source_tags, target_tags)`` as lists of ``O, B, I`` = 0, 1, 2."""
    src, tgt = [O] * len(source), [O] * len(target)
    last = (-2, -2)
    for i, j in lcs_alignment(source, target):
        tag = I if (i, j) == (last[0] + 1, last[1] + 1) else B
        src[i] = tgt[j] = tag
        last = (i, j)
    return src, tgt


class ResidualGatedBlock(nn.Module):
    """The extractor's block in the author's ``extract_model.py`` (chapter 40):
    ``Y = X + α · LN(A ⊗ σ(G))``, ``[A; G] = Conv1D_{k, r}(X ⊙ m)``, α a scalar initialised
    at 0 (so the stack starts as the identity). The gated convolution is chapter 34's
    :class:`GatedDilatedConv1d` without its residual. Input ``(B, d, T)``, mask ``(B, 1, T)``."""

    def __init__(self, d: int, kernel: int = 3, dilation: int = 1) -> None:
        super().__init__()
        self.glu = GatedDilatedConv1d(d, kernel, dilation, residual=False)
        self.norm = nn.LayerNorm(d)
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x * mask
        h = self.norm(self.glu(x, mask).transpose(1, 2)).transpose(1, 2)
        return (x + self.alpha * h) * mask


class SentenceExtractor(nn.Module):
    """Sentence tagger of SPACES (chapter 40): a bias-free projection ``d_in → d``, residual
    gated dilated blocks (rates ``dilations``, article's code: 1, 2, 4, 8, 1, 1), dropout, a
    sigmoid per sentence. ``forward(x (B, T, d_in), mask (B, T))`` → probabilities ``(B, T)``,
    0 on padding."""

    def __init__(
        self,
        d_in: int,
        d: int = 384,
        dilations: Sequence[int] = (1, 2, 4, 8, 1, 1),
        *,
        kernel: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        d_in, d = _validate.positive_int("d_in", d_in), _validate.positive_int("d", d)
        self.proj = nn.Linear(d_in, d, bias=False)
        self.blocks = nn.ModuleList(ResidualGatedBlock(d, kernel, r) for r in dilations)
        self.drop = nn.Dropout(_validate.in_range("dropout", dropout, 0.0, 1.0))
        self.out = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or mask.shape != x.shape[:2]:
            raise ValueError(f"x must be (B, T, d_in) and mask (B, T), got {x.shape}, {mask.shape}")
        m = mask.float()[:, None, :]
        h = self.proj(self.drop(x)).transpose(1, 2)
        for block in self.blocks:
            h = self.drop(block(h, m))
        return torch.sigmoid(self.out(h.transpose(1, 2)))[..., 0] * mask.float()


class CopySeq2Seq(UniLMSeq2Seq):
    """UniLM seq2seq (chapter 39's :class:`UniLMSeq2Seq`) with a 3-way copy-tag head on the final
    hidden states, article eq. (1). ``tagged(ids, seg)`` returns ``(token logits, tag logits)``,
    both ``(B, L, ·)``. Tag labels use the token labels' alignment: on the target, position i
    predicts the tag of token i + 1; on the source, position i its own token's tag."""

    def __init__(self, vocab_size: int, d: int = 128, **kwargs: object) -> None:
        super().__init__(vocab_size, d, **kwargs)
        self.tag_head = nn.Linear(d, 3)

    def tagged(self, ids: torch.Tensor, seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(ids, seg)
        return self.logits(h), self.tag_head(h)


def copy_allowed(
    tag_logits: torch.Tensor,
    generated: torch.Tensor,
    source: torch.Tensor,
    source_mask: torch.Tensor,
    vocab_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Copy-constrained decoding state, replayed from the prefix (chapter 40, author's
    ``final.py``/``seq2seq_model.py``), for ``n`` rows at once.

    ``tag_logits`` ``(n, t + 1, 3)``: the tag head at the positions that predict ``y_0 … y_t``;
    ``generated`` ``(n, t)``; ``source`` ``(n, S)`` token ids with ``source_mask``. Step s picks
    ``z_s = argmax`` (``I`` forbidden right after a non-copied token). ``O``: any token. ``B``:
    any source token. ``I``: the tokens that extend the copied span to an n-gram of the source,
    tracked as the set of source positions where the span can end; if none, fall back to ``B``.
    Returns ``(allowed (n, V) bool, tags (n, t + 1), fallbacks (n, t + 1) bool)``: the tokens
    allowed at step t, the tags chosen at steps 0 … t and where ``I`` fell back to ``B``.
    """
    n, steps = generated.shape
    if tag_logits.shape[:2] != (n, steps + 1) or source.shape != source_mask.shape:
        raise ValueError("tag_logits must be (n, t + 1, 3), source and source_mask (n, S)")
    alive = torch.zeros_like(source_mask)
    tags = torch.zeros(n, steps + 1, dtype=torch.long)
    fallbacks = torch.zeros(n, steps + 1, dtype=torch.bool)
    for s in range(steps + 1):
        z = (
            tag_logits[:, s]
            .masked_fill(~alive.any(1, keepdim=True) & (torch.arange(3) == I), -torch.inf)
            .argmax(1)
        )
        ext = torch.zeros_like(alive)
        ext[:, 1:] = alive[:, :-1]
        ext &= source_mask
        fall = (z == I) & ~ext.any(1)
        fallbacks[:, s] = fall
        z = torch.where(fall, B, z)
        tags[:, s] = z
        cand = torch.where((z == I)[:, None], ext, source_mask & (z == B)[:, None])
        if s < steps:
            alive = cand & (source == generated[:, s : s + 1])
    allowed = torch.zeros(n, vocab_size + 1, dtype=torch.bool)
    allowed.scatter_(1, torch.where(cand, source, vocab_size), True)
    allowed = allowed[:, :vocab_size] | (z == O)[:, None]
    return allowed, tags, fallbacks
