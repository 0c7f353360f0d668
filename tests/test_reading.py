"""Tests of kexue_lab.sequences.reading: metrics, entity extraction, the generated task."""

from __future__ import annotations

import pytest
import torch

from kexue_lab.sequences import reading as R


def test_metrics_by_hand() -> None:
    assert R.exact_match("１５年。", "15年") == 1.0
    assert R.exact_match("15", "15年") == 0.0
    assert R.char_f1("北京市", "北京") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert R.char_f1("上海", "北京") == 0.0
    assert R.scores(["a", "b"], ["a", "c"]) == (0.5, 0.5)
    with pytest.raises(ValueError, match="length"):
        R.scores(["a"], [])


def test_entities_merge_names() -> None:
    sent = [("江", "nr"), ("泽民", "nr"), ("主席", "n"), ("在", "p"), ("北京", "ns"), ("。", "w")]
    assert R.entities(sent) == [(0, 3, "nr", "主席"), (6, 8, "ns", "")]


def test_entity_qa_labels_every_occurrence() -> None:
    qa = R.entity_qa(30, seed=1)
    assert len(qa.questions) == 30
    for q in range(30):
        assert sum(bool(s) for s in qa.spans[q]) >= 2
        for p, spans in zip(qa.passages[q], qa.spans[q]):
            assert spans == [
                (s, s + len(qa.answers[q])) for s in range(len(p)) if p.startswith(qa.answers[q], s)
            ]
    with pytest.raises(ValueError, match="passages"):
        R.entity_qa(3, passages=1)


def test_decide_rules() -> None:
    per = [{"A": 0.7}, {"B": 0.2}, {"B": 0.2}, {"B": 0.2}, {"B": 0.2}]
    assert R.decide(per, "argmax") == "A" and R.decide(per, "vote") == "A"
    per = [{"A": 0.6}, {"B": 0.55}, {"B": 0.55}]
    assert R.decide(per, "argmax") == "A" and R.decide(per, "vote") == "B"
    with pytest.raises(ValueError, match="rule"):
        R.decide(per, "sum")


def test_encode_labels() -> None:
    from kexue_lab.text import CharVocab

    qa = R.entity_qa(5, seed=2)
    vocab = CharVocab([p for ps in qa.passages for p in ps] + qa.questions)
    t = R.encode(qa, vocab)
    assert t["passage"].shape == (20, 40) and torch.equal(t["start"].sum(1), t["end"].sum(1))


def test_long_distractor_entities_fit_their_window() -> None:
    qa = R.entity_qa(800, seed=5)  # once raised: a distractor entity longer than its window
    assert all(len(p) >= 1 for ps in qa.passages for p in ps)
