"""Tests of kexue_lab.sequences.exposure_bias (chapter 33) against direct slow references."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from kexue_lab.sequences import exposure_bias as eb
from kexue_lab.sequences.seq2seq import beam_search

EOS = eb.TABLE_TOKENS["eos"]


def _brute_best(p_a: float, p_b_a: float, p_d_c: float) -> str:
    table = {"a": p_a, "c": 1 - p_a}
    cond = {("a", "b"): p_b_a, ("a", "d"): 1 - p_b_a, ("c", "b"): 1 - p_d_c, ("c", "d"): p_d_c}
    return max(cond, key=lambda yy: table[yy[0]] * cond[yy])


def _letters(seq: list[int]) -> str:
    inv = {v: k for k, v in eb.TABLE_TOKENS.items()}
    return "".join(inv[t] for t in seq if t != EOS)


def test_article_table_greedy_and_beam_two() -> None:
    step = eb.table_step_logprobs(**eb.ARTICLE_TABLE)
    assert _letters(beam_search(step, 0, EOS, 1, 3)) == "ab"
    seq, score = beam_search(step, 0, EOS, 2, 3, return_score=True)
    assert _letters(seq) == "cd" and math.isclose(
        score, math.log(0.36), rel_tol=1e-6
    )  # float32 search
    probs = eb.path_probabilities(**eb.ARTICLE_TABLE)
    want = {"ab": 0.33, "ad": 0.27, "cb": 0.04, "cd": 0.36}
    assert all(math.isclose(probs[k], v, abs_tol=1e-12) for k, v in want.items())


@pytest.mark.parametrize("p_d_c", [0.0, 0.1, 0.17, 0.2, 0.5, 0.8, 0.83, 0.9, 1.0])
def test_beam_two_is_exhaustive_search(p_d_c: float) -> None:
    step = eb.table_step_logprobs(0.6, 0.55, p_d_c)
    assert _letters(beam_search(step, 0, EOS, 2, 3)) == "".join(_brute_best(0.6, 0.55, p_d_c))


def test_table_rejects_bad_probabilities() -> None:
    with pytest.raises(ValueError, match="p_a"):
        eb.table_step_logprobs(p_a=1.5)
    with pytest.raises(ValueError, match="p_d_c"):
        eb.path_probabilities(p_d_c=-0.1)


def test_local_and_global_by_enumeration() -> None:
    gen = torch.Generator().manual_seed(0)
    f1 = torch.randn(3, generator=gen, dtype=torch.float64)
    f2 = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    paths, local, glob = eb.local_and_global(f1, f2)
    assert paths == list(itertools.product(range(3), repeat=2))
    z = sum(math.exp(f1[i] + f2[i, j]) for i, j in paths)
    for n, (i, j) in enumerate(paths):
        p1 = math.exp(f1[i]) / sum(math.exp(v) for v in f1.tolist())
        p2 = math.exp(f2[i, j]) / sum(math.exp(v) for v in f2[i].tolist())
        assert math.isclose(float(local[n]), p1 * p2, rel_tol=1e-12)
        assert math.isclose(float(glob[n]), math.exp(f1[i] + f2[i, j]) / z, rel_tol=1e-12)
    # a per-prefix shift of f2 leaves the local model unchanged but moves the global one
    _, local2, glob2 = eb.local_and_global(f1, f2 + torch.tensor([[5.0], [0.0], [0.0]]))
    assert torch.allclose(local, local2) and not torch.allclose(glob, glob2)


def test_local_and_global_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="f2"):
        eb.local_and_global(torch.zeros(2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="f1"):
        eb.local_and_global(torch.zeros(2, 2), torch.zeros(2, 2))


def test_keyword_task_targets_are_sorted_distinct_symbols() -> None:
    src, tgt = eb.keyword_task(200, n_symbols=7, min_len=3, max_len=9, seed=3)
    assert len(src) == len(tgt) == 200
    for s, t in zip(src, tgt, strict=True):
        assert s[0] == eb.CLS and s[-1] == eb.SEP and 3 <= len(s) - 2 <= 9
        assert all(3 <= x < 10 for x in s[1:-1])
        assert t == sorted(set(s[1:-1])) + [eb.SEP]
    assert eb.keyword_task(5, seed=3) == eb.keyword_task(5, seed=3)
    assert eb.render([3, 4, eb.SEP]) == "AB|"
    with pytest.raises(ValueError, match="max_len"):
        eb.keyword_task(5, min_len=6, max_len=4)
    with pytest.raises(ValueError, match="n"):
        eb.keyword_task(0)


@pytest.fixture(scope="module")
def tiny() -> tuple:
    src, tgt = eb.keyword_task(300, n_symbols=5, min_len=2, max_len=5, seed=1)
    model, hist = eb.train_variant(
        src, tgt, "baseline", vocab_size=8, steps=30, d=16, n_heads=2, seed=0, bar=False
    )
    return src, tgt, model, hist


def test_train_variants_run_and_do_not_touch_start(tiny: tuple) -> None:
    src, tgt, model, hist = tiny
    assert len(hist["loss"]) == 30 and hist["loss"][-1] < hist["loss"][0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for variant in ("replace", "penalty"):
        m, h = eb.train_variant(
            src, tgt, variant, vocab_size=8, steps=3, seed=1, start=model, bar=False
        )
        assert m is not model and all(math.isfinite(x) for x in h["loss"])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="variant"):
        eb.train_variant(src, tgt, "dropout", vocab_size=8, steps=1)
    with pytest.raises(ValueError, match="start"):
        eb.train_variant(src, tgt, "baseline", vocab_size=9, steps=1, start=model)


def test_teacher_forced_correct_matches_one_by_one(tiny: tuple) -> None:
    src, tgt, model, _ = tiny
    got = eb.teacher_forced_correct(model, src[:20], tgt[:20])
    for s, t, row in zip(src[:20], tgt[:20], got, strict=True):
        ids = torch.tensor([s + t])
        seg = torch.tensor([[0] * len(s) + [1] * len(t)])
        with torch.no_grad():
            pred = model(ids, seg)[0].argmax(-1)
        assert row == [int(pred[len(s) - 1 + j]) == t[j] for j in range(len(t))]


def test_evaluate_scores_and_greedy_identity(tiny: tuple) -> None:
    src, tgt, model, _ = tiny
    out = eb.evaluate(model, src[:40], tgt[:40], beams=(1, 2))
    assert set(out["beam"]) == {1, 2}
    assert set(out["beam"][1]) == {"rouge-l", "rouge-1", "rouge-2", "bleu", "exact"}
    assert all(0 <= v <= 100 for s in out["beam"].values() for v in s.values())
    assert out["agree"] == 1.0 and out["greedy_exact"] == out["tf_exact"]
    assert 0 <= out["free_acc"] <= 1 and 0 <= out["tf_acc"] <= 1
    with pytest.raises(ValueError, match="beams"):
        eb.evaluate(model, src[:4], tgt[:4], beams=(0,))
