"""Overlap metrics for generated sequences: LCS, ROUGE-N, ROUGE-L, BLEU (chapters 33, 39, 40).

All functions take token lists (characters for Chinese, as the articles score them) and compare
tokens by equality, so ids, characters or words all work.

* ROUGE-N (Lin 2004): n-gram recall ``|hyp ∩ ref| / |ref|``, precision ``|hyp ∩ ref| / |hyp|``
  with clipped (multiset) counts, F1 their harmonic mean.
* ROUGE-L: with ``ℓ = LCS(hyp, ref)``, ``R = ℓ/|ref|``, ``P = ℓ/|hyp|``,
  ``F_β = (1 + β²) P R / (R + β² P)``; the articles use β = 1.
* BLEU (Papineni et al. 2002): the geometric mean of clipped n-gram precisions (n = 1…4, equal
  weights) times the brevity penalty ``min(1, exp(1 − |ref|/|hyp|))``; ``smooth=True`` adds
  ε = 0.1 to zero numerators (NLTK's ``method1``, as the article's scripts use).

The LCS length is computed bit-parallel (Allison & Dix 1986; Hyyrö 2004): one big-integer
update per token of the second sequence, so long documents cost O(|b|·|a|/64) word operations.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

from .. import _validate

__all__ = ["lcs_length", "ngram_counts", "rouge_n", "rouge_l", "bleu"]


def _tokens(name: str, value: object) -> Sequence[Hashable]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a list of tokens (a str is ambiguous: pass list(text) for "
            f"characters or text.split() for words), got {type(value).__name__}"
        )
    return value


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel).

    Row i of the dynamic programme is kept as the bits of one integer V (a 0 bit marks a step
    of the LCS); each token y of ``b`` updates ``U = V & M[y]``, ``V = (V + U) | (V − U)``,
    where ``M[y]`` has bit i set where ``a[i] == y``. The LCS length is the number of 0 bits.
    """
    a, b = _tokens("a", a), _tokens("b", b)
    if not a or not b:
        return 0
    masks: dict[Hashable, int] = {}
    for i, x in enumerate(a):
        masks[x] = masks.get(x, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for y in b:
        u = v & masks.get(y, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def ngram_counts(tokens: Sequence[Hashable], n: int) -> Counter:
    """Multiset of the n-grams (as tuples) of a token list."""
    tokens = _tokens("tokens", tokens)
    n = _validate.positive_int("n", n)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f_score(overlap: float, n_hyp: int, n_ref: int, beta: float = 1.0) -> dict[str, float]:
    p = overlap / n_hyp if n_hyp else 0.0
    r = overlap / n_ref if n_ref else 0.0
    f = (1 + beta**2) * p * r / (r + beta**2 * p) if p > 0 and r > 0 else 0.0
    return {"p": p, "r": r, "f": f}


def rouge_n(
    hyp: Sequence[Hashable], ref: Sequence[Hashable], n: int = 1, *, detail: bool = False
) -> float | dict[str, float]:
    """ROUGE-N F1 of ``hyp`` against ``ref`` (clipped n-gram overlap); ``detail=True`` gives
    ``{"p", "r", "f"}``. Empty or too-short inputs score 0."""
    h, r = ngram_counts(_tokens("hyp", hyp), n), ngram_counts(_tokens("ref", ref), n)
    scores = _f_score(sum((h & r).values()), sum(h.values()), sum(r.values()))
    return scores if detail else scores["f"]


def rouge_l(
    hyp: Sequence[Hashable],
    ref: Sequence[Hashable],
    *,
    beta: float = 1.0,
    detail: bool = False,
) -> float | dict[str, float]:
    """ROUGE-L F_β (β = 1 by default) of two token lists from their longest common subsequence.

    ``R = LCS/|ref|``, ``P = LCS/|hyp|``, ``F = (1 + β²)PR/(R + β²P)``; 0 when either is empty.
    ``detail=True`` returns ``{"p", "r", "f"}``.
    """
    hyp, ref = _tokens("hyp", hyp), _tokens("ref", ref)
    beta = _validate.positive("beta", beta)
    scores = _f_score(lcs_length(hyp, ref), len(hyp), len(ref), beta)
    return scores if detail else scores["f"]


def bleu(
    hyp: Sequence[Hashable],
    ref: Sequence[Hashable],
    *,
    max_n: int = 4,
    smooth: bool = True,
) -> float:
    """Sentence BLEU with one reference, uniform weights over n = 1…``max_n``.

    ``BP · exp(mean_n log p_n)`` with clipped precisions ``p_n`` and brevity penalty
    ``BP = min(1, exp(1 − |ref|/|hyp|))``. With ``smooth=True`` a zero numerator becomes
    ε = 0.1 (NLTK ``SmoothingFunction().method1``); without it any zero precision gives 0.
    """
    hyp, ref = _tokens("hyp", hyp), _tokens("ref", ref)
    max_n = _validate.positive_int("max_n", max_n)
    if not hyp or not ref:
        return 0.0
    logs = []
    for n in range(1, max_n + 1):
        h, r = ngram_counts(hyp, n), ngram_counts(ref, n)
        total = max(1, sum(h.values()))  # NLTK: an n longer than hyp gives 0/1
        hit = float(sum((h & r).values()))
        if hit == 0:
            if not smooth:
                return 0.0
            hit = 0.1
        logs.append(math.log(hit / total))
    bp = min(1.0, math.exp(1 - len(ref) / len(hyp)))
    return bp * math.exp(sum(logs) / max_n)
