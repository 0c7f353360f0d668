"""A span-answer reading task built from real sentences, and its metrics (chapter 34).

No Chinese reading-comprehension corpus ships offline, so :func:`entity_qa` builds one from
People's Daily 1998 (PKU tags, :func:`kexue_lab.text.peoples_daily`): the answer is a person
(nr), place (ns) or time (t) entity of a real sentence; the question names the type and the
word that follows the entity ("谁｜讲话？"); each question comes with ``passages`` materials,
two random windows of the source sentence and the rest windows of other sentences around an
entity of the same type (in the manner of WebQA, several materials per question, some
without the answer). Every occurrence of the answer string in a passage is labelled, as the
article labels its materials.

Metrics as in the SOGOU/WebQA evaluation: :func:`normalize`, :func:`exact_match`,
:func:`char_f1` (F1 of the character multisets).
"""

from __future__ import annotations

import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .. import _validate
from ..text import to_half_width

__all__ = ["ENTITY_TYPES", "QA", "char_f1", "entities", "entity_qa", "exact_match", "normalize"]

#: PKU tag → (type name, question word)
ENTITY_TYPES = {"nr": ("person", "谁"), "ns": ("place", "哪里"), "t": ("time", "什么时候")}


def normalize(text: str) -> str:
    """Half-width, lower case, without punctuation or spaces (the SOGOU/WebQA normalisation)."""
    t = to_half_width(text).lower()
    return "".join(
        c
        for c in t
        if not unicodedata.category(c).startswith(("P", "Z")) and c not in string.whitespace
    )


def exact_match(pred: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize(pred) == normalize(gold))


def char_f1(pred: str, gold: str) -> float:
    """F1 of the normalised character multisets: 2PR/(P + R), 0 if they share nothing."""
    p, g = Counter(normalize(pred)), Counter(normalize(gold))
    common = sum((p & g).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def entities(sentence: Sequence[tuple[str, str]]) -> list[tuple[int, int, str, str]]:
    """Entities of one tagged sentence: ``(start, end, tag, next_word)``, character offsets,
    end exclusive; runs of one tag (surname + given name, date + time) are merged, and
    ``next_word`` is the following word ("" if it is punctuation or the sentence ends)."""
    out, pos, k = [], 0, 0
    words = list(sentence)
    while k < len(words):
        w, tag = words[k]
        if tag in ENTITY_TYPES:
            start, j = pos, k
            while j < len(words) and words[j][1] == tag:
                pos += len(words[j][0])
                j += 1
            nxt = words[j][0] if j < len(words) and words[j][1] not in ("w", *ENTITY_TYPES) else ""
            out.append((start, pos, tag, nxt))
            k = j
        else:
            pos += len(w)
            k += 1
    return out


@dataclass
class QA:
    """Questions, their passages, span labels and answers (see :func:`entity_qa`)."""

    questions: list[str]
    passages: list[list[str]]  # passages[q][m]
    spans: list[list[list[tuple[int, int]]]]  # every (start, end) of the answer, end exclusive
    answers: list[str]
    tags: list[str]
    candidates: list[list[list[tuple[int, int]]]]  # same-type entity spans in each passage


def _window(n: int, lo: int, hi: int, width: int, rng: np.random.Generator) -> tuple[int, int]:
    """A window of ``width`` characters of a length-``n`` text that contains [lo, hi)."""
    width = min(max(width, hi - lo), n)  # a long entity widens its window
    first = rng.integers(max(0, hi - width), min(lo, n - width) + 1)
    return int(first), int(first + width)


def entity_qa(
    n_questions: int, *, passages: int = 4, width: tuple[int, int] = (20, 40), seed: int = 0
) -> QA:
    """Build ``n_questions`` span questions from People's Daily 1998 (chapter 34).

    A question picks an entity with a non-empty following word; the question text is the
    type's question word, "｜" and that word. Its passages: 2 windows (width drawn from
    ``width``) of the source sentence around the entity, then ``passages − 2`` windows of
    random other sentences around an entity of the same type. Passages are shuffled.
    """
    from ..text import peoples_daily

    n_questions = _validate.positive_int("n_questions", n_questions)
    passages = _validate.int_at_least("passages", passages, 2, "two windows of the source")
    lo_w, hi_w = (_validate.positive_int("width", w) for w in width)
    if lo_w > hi_w:
        raise ValueError(f"width must be (low, high) with low ≤ high, got {width}")
    rng = np.random.default_rng(seed)
    sents = peoples_daily()
    texts = ["".join(w for w, _ in s) for s in sents]
    ents = [entities(s) for s in sents]
    pool = {
        t: [(i, e) for i in range(len(sents)) for e in ents[i] if e[2] == t] for t in ENTITY_TYPES
    }
    asked = [
        (i, e)
        for t in pool
        for (i, e) in pool[t]
        if e[3] and e[1] - e[0] <= 10 and len(texts[i]) >= hi_w
    ]
    order = rng.permutation(len(asked))[:n_questions]
    qa = QA([], [], [], [], [], [])
    for idx in order:
        i, (lo, hi, tag, nxt) = asked[idx]
        text, ans = texts[i], texts[i][lo:hi]
        wins = [
            (i, _window(len(text), lo, hi, int(rng.integers(lo_w, hi_w + 1)), rng))
            for _ in range(2)
        ]
        for _ in range(passages - 2):
            j, (lo2, hi2, _, _) = pool[tag][int(rng.integers(len(pool[tag])))]
            wins.append(
                (j, _window(len(texts[j]), lo2, hi2, int(rng.integers(lo_w, hi_w + 1)), rng))
            )
        wins = [wins[m] for m in rng.permutation(len(wins))]
        ps, sp, cand = [], [], []
        for j, (a, b) in wins:
            p = texts[j][a:b]
            ps.append(p)
            sp.append(
                [(s, s + len(ans)) for s in range(len(p) - len(ans) + 1) if p.startswith(ans, s)]
            )
            cand.append(
                [
                    (max(e0, a) - a, min(e1, b) - a)
                    for e0, e1, t, _ in ents[j]
                    if t == tag and e1 > a and e0 < b
                ]
            )
        qa.questions.append(f"{ENTITY_TYPES[tag][1]}｜{nxt}？")
        qa.passages.append(ps)
        qa.spans.append(sp)
        qa.answers.append(ans)
        qa.tags.append(tag)
        qa.candidates.append(cand)
    return qa


def encode(qa: QA, vocab: object, *, q_len: int = 12, p_len: int = 40) -> dict[str, torch.Tensor]:
    """Tensors for a reader, one row per (question, passage): ``question``, ``passage`` ids
    (``vocab`` a :class:`kexue_lab.text.CharVocab`), 0/1 ``start``, ``end`` labels of every
    answer occurrence, ``has`` (the passage holds the answer) and ``qid`` (the question row)."""
    flat = [(q, p) for q in range(len(qa.questions)) for p in range(len(qa.passages[q]))]
    qs, _ = vocab.encode([qa.questions[q] for q, _ in flat], q_len)
    ps, _ = vocab.encode([qa.passages[q][p] for q, p in flat], p_len)
    start, end = torch.zeros(len(flat), p_len), torch.zeros(len(flat), p_len)
    for row, (q, p) in enumerate(flat):
        for s, e in qa.spans[q][p]:
            if e <= p_len:
                start[row, s], end[row, e - 1] = 1.0, 1.0
    qid = torch.tensor([q for q, _ in flat])
    return {
        "question": qs,
        "passage": ps,
        "start": start,
        "end": end,
        "has": start.amax(1),
        "qid": qid,
    }


def passage_answers(
    qa: QA, qid: torch.Tensor, scores: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor
) -> list[list[dict[str, float]]]:
    """For each question, each passage's candidate answers → score (the maximum over the
    passage's occurrences of a string, as the article keeps it), from :func:`top_spans`."""
    out: list[list[dict[str, float]]] = [[] for _ in qa.questions]
    for row, q in enumerate(qid.tolist()):
        text = qa.passages[q][len(out[q])]
        cands: dict[str, float] = {}
        for s, i, j in zip(scores[row].tolist(), starts[row].tolist(), ends[row].tolist()):
            a = text[i : j + 1]
            if a and s > cands.get(a, -1.0):
                cands[a] = s
        out[q].append(cands)
    return out


def decide(per_passage: list[dict[str, float]], rule: str) -> str:
    """The final answer of one question: ``"argmax"`` (the single best span of all passages)
    or ``"vote"`` (the article's squared vote, :func:`~kexue_lab.sequences.dgcnn.squared_vote`)."""
    from .dgcnn import squared_vote

    _validate.choice("rule", rule, ("argmax", "vote"))
    pooled = squared_vote(per_passage) if rule == "vote" else {}
    if rule == "argmax":
        for c in per_passage:
            for a, s in c.items():
                pooled[a] = max(pooled.get(a, -1.0), s)
    return max(pooled, key=pooled.get) if pooled else ""


def scores(preds: Sequence[str], golds: Sequence[str]) -> tuple[float, float]:
    """Mean exact match and mean character F1 of predictions against gold answers."""
    if len(preds) != len(golds):
        raise ValueError(f"preds and golds differ in length: {len(preds)} vs {len(golds)}")
    em = float(np.mean([exact_match(p, g) for p, g in zip(preds, golds)]))
    return em, float(np.mean([char_f1(p, g) for p, g in zip(preds, golds)]))


def baselines(qa: QA) -> dict[str, float]:
    """Exact match of two baselines that are given the gold entity tags of every passage:
    ``"chance"``, a same-type entity drawn uniformly from all passages (expected EM), and
    ``"cue"``, the same-type entity directly followed by the question's cue word (first such
    entity over the passages; a rule that needs the tags a reader must learn itself)."""
    chance, cue = [], []
    for q, ans in enumerate(qa.answers):
        word = qa.questions[q].split("｜")[1].rstrip("？")
        found = [p[s:e] for p, c in zip(qa.passages[q], qa.candidates[q]) for s, e in c]
        chance.append(np.mean([a == ans for a in found]) if found else 0.0)
        hit = [
            p[s:e]
            for p, c in zip(qa.passages[q], qa.candidates[q])
            for s, e in c
            if p.startswith(word, e)
        ]
        cue.append(float(bool(hit) and hit[0] == ans))
    return {"chance": float(np.mean(chance)), "cue": float(np.mean(cue))}
