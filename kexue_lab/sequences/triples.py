"""Cascade triple extraction with "half-pointer, half-tagging" heads (chapter 38).

The article factorises ``P(s, p, o | x) = P(s | x) · P(o, p | s, x)``:

* subject heads: two sigmoids per token, ``P^s_i = σ(W_s h_i + b_s)^2`` (start, end);
* the subject ``[a, b]`` is the vector ``c = [h_a; h_b]``, which conditions a LayerNorm of the
  whole sequence (:class:`ConditionalLayerNorm`):
  ``CLN(h | c) = (γ + W_γ c) ⊙ (h − μ)/√(σ² + ε) + (β + W_β c)``, ``W_γ, W_β`` zero-initialised;
* object heads: ``2R`` sigmoids per token, ``P^o_{i,r} = σ(W_o CLN(h_i | c) + b_o)^4``;
* the loss is binary cross-entropy on the *powered* probabilities (:func:`powered_bce`),
  ``ℓ_n(t, p) = −n t log p − (1 − t) log(1 − p^n)``;
* decoding pairs every start above 0.6 with the nearest end above 0.5 at or after it, per
  predicate (:func:`decode_spans`); thresholds on ``p^n`` are thresholds on ``p`` and on the
  logit (:func:`threshold_equivalent`);
* triples are scored by micro precision, recall and F1 over sets (:func:`triple_prf`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .. import _validate

__all__ = [
    "ConditionalLayerNorm",
    "SPOExtractor",
    "decode_spans",
    "extract_triples",
    "label_tensors",
    "object_targets",
    "powered_bce",
    "sample_subjects",
    "threshold_equivalent",
    "triple_prf",
]


class ConditionalLayerNorm(nn.Module):
    """``(γ + W_γ c) ⊙ LN₀(x) + (β + W_β c)`` for ``x (B, T, d)`` and a condition ``c (B, k)``.

    ``LN₀`` is the normalisation without gain or bias. ``W_γ`` and ``W_β`` (no bias) start at
    zero, so at initialisation this *is* ``nn.LayerNorm(d, eps)`` for any condition (bert4keras'
    ``LayerNormalization(conditional=True)``; chapter 38).
    """

    def __init__(self, d: int, cond_dim: int, eps: float = 1e-12) -> None:
        super().__init__()
        self.d = _validate.positive_int("d", d)
        self.cond_dim = _validate.positive_int("cond_dim", cond_dim)
        self.eps = _validate.positive("eps", eps)
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.to_gamma = nn.Linear(cond_dim, d, bias=False)
        self.to_beta = nn.Linear(cond_dim, d, bias=False)
        nn.init.zeros_(self.to_gamma.weight)
        nn.init.zeros_(self.to_beta.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.d:
            raise ValueError(f"x must be (B, T, d={self.d}), got shape {tuple(x.shape)}")
        if cond.shape != (x.shape[0], self.cond_dim):
            raise ValueError(
                f"cond must be (B={x.shape[0]}, cond_dim={self.cond_dim}), "
                f"got shape {tuple(cond.shape)}"
            )
        normed = F.layer_norm(x, (self.d,), eps=self.eps)
        gamma = self.weight + self.to_gamma(cond)[:, None, :]
        beta = self.bias + self.to_beta(cond)[:, None, :]
        return gamma * normed + beta


def powered_bce(logits: torch.Tensor, target: torch.Tensor, n: int) -> torch.Tensor:
    """Element-wise ``−t log p^n − (1 − t) log(1 − p^n)`` with ``p = σ(z)`` (the article's
    eq. (2)), computed stably from the logit ``z``: ``log p^n = n·logσ(z)`` and
    ``log(1 − p^n) = −softplus(z) + log Σ_{k<n} p^k`` (since ``1 − p^n = (1 − p) Σ_{k<n} p^k``)."""
    n = _validate.positive_int("n", n)
    if target.shape != logits.shape:
        raise ValueError(
            f"target must have the shape of logits {tuple(logits.shape)}, got {tuple(target.shape)}"
        )
    logp = F.logsigmoid(logits)
    powers = torch.arange(n, dtype=logits.dtype, device=logits.device)
    log_rest = torch.logsumexp(logp[..., None] * powers, dim=-1)  # log Σ_{k<n} p^k
    log_not = -F.softplus(logits) + log_rest
    return -target * n * logp - (1 - target) * log_not


def threshold_equivalent(threshold: float, n: int) -> tuple[float, float]:
    """For ``P = p^n`` with ``p = σ(z)``: ``P > τ ⇔ p > τ^{1/n} ⇔ z > log(p/(1 − p))``.

    Returns ``(τ^{1/n}, logit)`` for ``0 < τ < 1`` (article's decoding thresholds, chapter 38).
    """
    tau = _validate.real("threshold", threshold)
    if not 0 < tau < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold!r}")
    p = tau ** (1 / _validate.positive_int("n", n))
    return p, math.log(p / (1 - p))


def _next_true(mask: torch.Tensor) -> torch.Tensor:
    """For each position i along the last axis, the smallest j ≥ i with mask[j], else T."""
    t = mask.shape[-1]
    pos = torch.arange(t, device=mask.device).expand_as(mask)
    idx = torch.where(mask, pos, torch.full_like(pos, t))
    return idx.flip(-1).cummin(-1).values.flip(-1)


def decode_spans(
    start_probs: Any, end_probs: Any, t_start: float = 0.6, t_end: float = 0.5
) -> torch.Tensor | list[tuple[int, int]]:
    """Spans ``(i, j)``: every ``i`` with ``start[i] > t_start`` and the nearest ``j ≥ i`` with
    ``end[j] > t_end`` (a start without such an end gives nothing), the article's decoding.

    For 1-D inputs of length T the list of ``(i, j)``; for ``(..., T)`` inputs a long tensor of
    rows ``(*index, i, j)``, one per span, in row-major order.
    """
    s, e = (
        torch.as_tensor(_validate.real_array(name, v))
        for name, v in (("start_probs", start_probs), ("end_probs", end_probs))
    )
    if s.shape != e.shape or s.ndim == 0:
        raise ValueError(
            f"start_probs and end_probs must have one shape (..., T), got {tuple(s.shape)} "
            f"and {tuple(e.shape)}"
        )
    t_start, t_end = _validate.real("t_start", t_start), _validate.real("t_end", t_end)
    nxt = _next_true(e > t_end)
    found = (s > t_start) & (nxt < s.shape[-1])
    where = found.nonzero()
    rows = torch.cat([where, nxt[found][:, None]], dim=1)
    if s.ndim == 1:
        return [(int(i), int(j)) for i, j in rows.tolist()]
    return rows


class SPOExtractor(nn.Module):
    """The cascade: an encoder, subject heads, a conditional LayerNorm and object heads.

    ``encoder(ids)`` must return ``(B, T, d)``. ``tap`` (optional) is a LayerNorm inside the
    encoder whose *input* feeds the object branch, so that the CLN takes its place (the article
    taps ``Encoder-12-FeedForward-Add``, before BERT's last LayerNorm); by default the object
    branch reads the encoder's output. Heads start as bert4keras' (weights N(0, 0.02²), zero
    bias), so ``σ(z) ≈ ½`` and ``P ≈ 2^{−n}`` at initialisation.
    """

    def __init__(
        self,
        encoder: nn.Module,
        d: int,
        n_predicates: int,
        subj_power: int = 2,
        obj_power: int = 4,
        tap: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.encoder, self.tap = encoder, tap
        self.d = _validate.positive_int("d", d)
        self.n_predicates = _validate.positive_int("n_predicates", n_predicates)
        self.subj_power = _validate.positive_int("subj_power", subj_power)
        self.obj_power = _validate.positive_int("obj_power", obj_power)
        self.subj_head = nn.Linear(d, 2)
        self.cln = ConditionalLayerNorm(d, 2 * d)
        self.obj_head = nn.Linear(d, 2 * n_predicates)
        for head in (self.subj_head, self.obj_head):
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def encode(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h, h_obj)``: the encoder output and the object branch's input (see ``tap``)."""
        if self.tap is None:
            h = self.encoder(ids)
            return h, h
        seen: list[torch.Tensor] = []
        handle = self.tap.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        try:
            h = self.encoder(ids)
        finally:
            handle.remove()
        return h, seen[-1]

    def subject_logits(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, T, 2)`` logits of subject start and end."""
        return self.subj_head(h)

    def object_logits(
        self, h: torch.Tensor, h_obj: torch.Tensor, subjects: torch.Tensor
    ) -> torch.Tensor:
        """``(B, T, R, 2)`` logits of object start/end per predicate, given subject spans
        ``(B, 2)`` (start, end) read from ``h`` as ``c = [h_a; h_b]``."""
        rows = torch.arange(h.shape[0], device=h.device)
        cond = torch.cat([h[rows, subjects[:, 0]], h[rows, subjects[:, 1]]], dim=-1)
        out = self.obj_head(self.cln(h_obj, cond))
        return out.view(*out.shape[:2], self.n_predicates, 2)

    def loss(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        subj_labels: torch.Tensor,
        subjects: torch.Tensor,
        obj_labels: torch.Tensor,
    ) -> torch.Tensor:
        """The article's loss: powered BCE, mean over start/end, summed over predicates,
        averaged over the unpadded tokens (``mask``), subject part + object part."""
        h, h_obj = self.encode(ids)
        ls = powered_bce(self.subject_logits(h), subj_labels, self.subj_power).mean(-1)
        lo = powered_bce(self.object_logits(h, h_obj, subjects), obj_labels, self.obj_power)
        lo = lo.mean(-1).sum(-1)
        m = mask.to(ls.dtype)
        return ((ls + lo) * m).sum() / m.sum()


def label_tensors(
    spans: Sequence[Sequence[tuple[tuple[int, int], int, tuple[int, int]]]],
    maxlen: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(subj_labels (N, maxlen, 2), table (M, 7))`` from per-sentence triple spans
    ``((s_start, s_end), predicate, (o_start, o_end))``; ``table`` rows are
    ``(sentence, s_start, s_end, predicate, o_start, o_end, 1)``. Spans past ``maxlen`` are
    dropped (counted by the caller as ``sum(map(len, spans)) − len(table)``)."""
    maxlen = _validate.positive_int("maxlen", maxlen)
    rows = [
        (k, s[0], s[1], p, o[0], o[1], 1)
        for k, sent in enumerate(spans)
        for s, p, o in sent
        if max(s[1], o[1]) < maxlen
    ]
    table = torch.tensor(rows, dtype=torch.long).view(-1, 7)
    subj = torch.zeros(len(spans), maxlen, 2)
    subj[table[:, 0], table[:, 1], 0] = 1
    subj[table[:, 0], table[:, 2], 1] = 1
    return subj, table


def sample_subjects(
    subj_labels: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The author's training-time subject choice, vectorised: a start drawn uniformly from the
    gold starts, then an end drawn uniformly from the gold ends at or after it (which may pair
    two different subjects: a spurious span, trained with all-zero object labels). Rows with no
    subject get ``(0, 0)``. Returns ``(N, 2)``."""
    starts, ends = subj_labels[..., 0] > 0, subj_labels[..., 1] > 0
    pos = torch.arange(starts.shape[1])
    u = torch.rand(starts.shape, generator=generator)
    a = torch.where(starts, u, -1.0).argmax(-1)
    later = ends & (pos >= a[:, None])
    v = torch.rand(starts.shape, generator=generator)
    b = torch.where(later, v, -1.0).argmax(-1)
    none = ~later.any(-1)
    return torch.stack([torch.where(none, 0, a), torch.where(none, 0, b)], dim=1)


def object_targets(
    table: torch.Tensor, rows: torch.Tensor, subjects: torch.Tensor, maxlen: int, n_pred: int
) -> torch.Tensor:
    """``(B, maxlen, R, 2)`` object labels of sentences ``rows`` for the given subject spans."""
    size = max(int(rows.max()) if len(rows) else 0, int(table[:, 0].max()) if len(table) else 0)
    where = torch.full((size + 1,), -1, dtype=torch.long)
    where[rows] = torch.arange(len(rows))
    b = where[table[:, 0]]
    keep = b >= 0
    t, b = table[keep], b[keep]
    same = (t[:, 1] == subjects[b, 0]) & (t[:, 2] == subjects[b, 1])
    t, b = t[same], b[same]
    out = torch.zeros(len(rows), maxlen, n_pred, 2)
    out[b, t[:, 4], t[:, 3], 0] = 1
    out[b, t[:, 5], t[:, 3], 1] = 1
    return out


@torch.no_grad()
def extract_triples(
    model: SPOExtractor,
    ids: torch.Tensor,
    lengths: torch.Tensor,
    texts: Sequence[str],
    predicates: Sequence[str],
    thresholds: tuple[float, float] = (0.6, 0.5),
    batch_size: int = 256,
) -> list[set[tuple[str, str, str]]]:
    """Decode every sentence: subjects from the powered subject heads, then, for all
    (sentence, subject) pairs at once, objects per predicate; strings are slices of the
    original text (never decoded ids). ``thresholds`` = (start, end) on the powered outputs."""
    if len(texts) != len(ids) or len(lengths) != len(ids):
        raise ValueError(f"ids ({len(ids)}), lengths and texts ({len(texts)}) must match")
    model.eval()
    valid = torch.arange(ids.shape[1], device=ids.device) < lengths[:, None].to(ids.device)
    found: list[set[tuple[str, str, str]]] = [set() for _ in texts]
    for lo in range(0, len(ids), batch_size):
        x, ok = ids[lo : lo + batch_size], valid[lo : lo + batch_size]
        h, h_obj = model.encode(x)
        ps = torch.sigmoid(model.subject_logits(h)) ** model.subj_power * ok[..., None]
        subs = decode_spans(ps[..., 0].cpu(), ps[..., 1].cpu(), *thresholds).to(x.device)
        if not len(subs):
            continue
        po = torch.sigmoid(model.object_logits(h[subs[:, 0]], h_obj[subs[:, 0]], subs[:, 1:]))
        po = (po**model.obj_power * ok[subs[:, 0]][..., None, None]).transpose(1, 2)
        objs = decode_spans(po[..., 0].cpu(), po[..., 1].cpu(), *thresholds)
        subs = subs.cpu()
        for k, r, i, j in objs.tolist():
            row, a, b = subs[k].tolist()
            text = texts[lo + row]
            found[lo + row].add((text[a : b + 1], predicates[r], text[i : j + 1]))
    return found


def triple_prf(pred: Sequence[Any], gold: Sequence[Any]) -> tuple[float, float, float]:
    """Micro ``(F1, precision, recall)`` of predicted against gold triples, as the article's
    ``evaluate`` computes them: per example the *sets* ``R`` (predicted) and ``T`` (gold), summed
    ``X = Σ|R ∩ T|``, ``Y = Σ|R|``, ``Z = Σ|T|``, each started at 1e−10, then
    ``F1 = 2X/(Y + Z)``, ``P = X/Y``, ``R = X/Z``. So with nothing predicted and nothing gold all
    three are 1, with nothing predicted the precision is 1 and the recall ≈ 0, and duplicates
    count once. Triples are 3-tuples of hashable items (e.g. strings)."""
    for name, value in (("pred", pred), ("gold", gold)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(
                f"{name} must be a list of sets of (s, p, o) triples, one per example, "
                f"got {type(value).__name__}"
            )
    if len(pred) != len(gold):
        raise ValueError(
            f"pred and gold must have one entry per example: {len(pred)} vs {len(gold)}"
        )
    x = y = z = 1e-10
    for k, (r, t) in enumerate(zip(pred, gold)):
        sets = []
        for name, example in ((f"pred[{k}]", r), (f"gold[{k}]", t)):
            if isinstance(example, (str, bytes)) or not hasattr(example, "__iter__"):
                raise TypeError(f"{name} must be a set of (s, p, o) triples, got {example!r:.60}")
            triples = [tuple(tr) if isinstance(tr, (list, tuple)) else tr for tr in example]
            for tr in triples:
                if not isinstance(tr, tuple) or len(tr) != 3:
                    raise ValueError(f"{name} holds {tr!r:.60}, not an (s, p, o) triple")
            sets.append(set(triples))
        x += len(sets[0] & sets[1])
        y += len(sets[0])
        z += len(sets[1])
    return 2 * x / (y + z), x / y, x / z
