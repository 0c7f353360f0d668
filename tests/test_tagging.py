"""Tests of kexue_lab.sequences.tagging: spans, span F1 (against Python sets), data, tagger."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue_lab.sequences import tagging


def _spans(tags, length):
    """Word spans of one tag sequence, read left to right (the slow way)."""
    out, start = set(), 0
    for i in range(length):
        last = i == length - 1
        if tags[i] in (2, 3) or last or tags[i + 1] in (0, 3):
            out.add((start, i))
            start = i + 1
    return out


def test_span_f1_matches_set_reference() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 4, (300, 10))
    pred = np.where(rng.random((300, 10)) < 0.3, rng.integers(0, 4, (300, 10)), gold)
    lengths = rng.integers(1, 11, 300)
    hits = total = 0
    for p, g, n in zip(pred, gold, lengths):
        a, b = _spans(p, n), _spans(g, n)
        hits, total = hits + len(a & b), total + len(a) + len(b)
    assert abs(tagging.span_f1(pred, gold, lengths) - 2 * hits / total) < 1e-12
    assert tagging.span_f1(gold, gold, lengths) == 1.0


def test_word_spans_of_a_segmentation() -> None:
    b, m, e, s = range(4)
    ends = tagging.word_spans(np.array([[b, m, e, s, b, e, 0]]), np.array([6]))
    assert ends[0].tolist() == [False, False, True, True, False, True, False]
    with pytest.raises(ValueError, match="lengths"):
        tagging.word_spans(np.zeros((2, 3)), np.array([1, 4]))


def test_segmentation_data_round_trips_to_words() -> None:
    data = tagging.segmentation_data(50, 20, maxlen=16)
    ids, tags, mask = data["train"]
    assert ids.shape == tags.shape == mask.shape == (50, 16)
    assert data["test"][0].shape == (20, 16)
    lengths = mask.sum(1)
    assert bool((lengths >= 4).all()) and bool((ids[~mask] == 0).all())
    assert bool((tags[mask] < 4).all())
    last = tags[torch.arange(50), lengths - 1]
    assert bool(torch.isin(last, torch.tensor([2, 3])).all())  # every clause ends a word
    out = tagging.train_tagger(data, "bi", epochs=1, dim=8)
    assert 0.0 <= out["f1"] <= 1.0 and out["seconds"] > 0 and out["pred"].shape == (20, 16)
    with pytest.raises(ValueError, match="n_train"):
        tagging.segmentation_data(10**7, 1)


def test_tagger_and_bad_input() -> None:
    model = tagging.Tagger(20, dim=8)
    ids = torch.randint(1, 20, (3, 5))
    mask = torch.ones(3, 5, dtype=torch.bool)
    assert model(ids).shape == (3, 5, 4)
    for head in tagging.HEADS:
        loss = model.loss(ids, torch.zeros(3, 5, dtype=torch.long), mask, head)
        assert loss.ndim == 0 and torch.isfinite(loss)
    assert model.predict(ids, mask).shape == (3, 5)
    with pytest.raises(ValueError, match="kernel"):
        tagging.Tagger(20, kernel=4)
    with pytest.raises(ValueError, match="head"):
        tagging.train_tagger({}, "softmax")
