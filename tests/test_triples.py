"""Chapter 38: cascade triple extraction, against straightforward references."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from kexue_lab.sequences import relation_data as rd
from kexue_lab.sequences import triples as tr


def reference_prf(pred, gold):
    """The article's evaluate(), written out plainly."""
    X = Y = Z = 1e-10
    for r, t in zip(pred, gold):
        R, T = set(r), set(t)
        X += len(R & T)
        Y += len(R)
        Z += len(T)
    return 2 * X / (Y + Z), X / Y, X / Z


def test_triple_prf_matches_the_article_and_its_order() -> None:
    rng = random.Random(0)
    pool = [(s, p, o) for s in "abc" for p in "xy" for o in "de"]
    for _ in range(50):
        n = rng.randint(1, 6)
        pred = [set(rng.sample(pool, rng.randint(0, 4))) for _ in range(n)]
        gold = [set(rng.sample(pool, rng.randint(0, 4))) for _ in range(n)]
        assert tr.triple_prf(pred, gold) == pytest.approx(reference_prf(pred, gold), rel=1e-12)
    pred = [{("a", "x", "b"), ("a", "x", "c")}, set()]
    gold = [{("a", "x", "b")}, {("d", "y", "e")}]
    f1, p, r = tr.triple_prf(pred, gold)
    assert (f1, p, r) == pytest.approx((2 / 4, 1 / 2, 1 / 2))


def test_triple_prf_empty_cases_and_duplicates() -> None:
    assert tr.triple_prf([set(), set()], [set(), set()]) == pytest.approx((1.0, 1.0, 1.0))
    assert tr.triple_prf([], []) == pytest.approx((1.0, 1.0, 1.0))
    f1, p, r = tr.triple_prf([set()], [{("a", "x", "b")}])
    assert p == pytest.approx(1.0) and f1 < 1e-9 and r < 1e-9
    f1, p, r = tr.triple_prf([{("a", "x", "b")}], [set()])
    assert p < 1e-9 and r == pytest.approx(1.0) and f1 < 1e-9
    # a list with a repeated triple counts it once; lists and tuples of triples are accepted
    assert tr.triple_prf([[("a", "x", "b"), ("a", "x", "b")]], [[["a", "x", "b"]]]) == (
        pytest.approx((1.0, 1.0, 1.0))
    )


def test_triple_prf_bad_input() -> None:
    with pytest.raises(ValueError, match="one entry per example"):
        tr.triple_prf([set()], [set(), set()])
    with pytest.raises(TypeError, match="pred"):
        tr.triple_prf("abc", ["abc"])
    with pytest.raises(TypeError, match="gold"):
        tr.triple_prf([set()], {("a", "b", "c")})
    with pytest.raises(ValueError, match="triple"):
        tr.triple_prf([{("a", "b")}], [set()])
    with pytest.raises(TypeError, match=r"gold\[0\]"):
        tr.triple_prf([set()], [5])


def test_conditional_layernorm_starts_as_layernorm_then_depends_on_c() -> None:
    torch.manual_seed(0)
    cln = tr.ConditionalLayerNorm(6, 4, eps=1e-5)
    ln = nn.LayerNorm(6, eps=1e-5)
    x, c = torch.randn(3, 5, 6), torch.randn(3, 4)
    torch.testing.assert_close(cln(x, c), ln(x))
    torch.testing.assert_close(cln(x, torch.zeros(3, 4)), ln(x))
    opt = torch.optim.SGD(cln.parameters(), lr=0.1)
    (cln(x, c) * torch.randn(3, 5, 6)).sum().backward()
    opt.step()
    assert not torch.allclose(cln(x, c), cln(x, 2 * c))
    with torch.no_grad():  # the definition: (γ + W_γ c)·LN₀(x) + (β + W_β c)
        mu, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
        want = (cln.weight + c @ cln.to_gamma.weight.T)[:, None] * (x - mu) / torch.sqrt(
            var + 1e-5
        ) + (cln.bias + c @ cln.to_beta.weight.T)[:, None]
        torch.testing.assert_close(cln(x, c), want)
    with pytest.raises(ValueError, match="cond"):
        cln(x, torch.randn(3, 5))
    with pytest.raises(ValueError, match="x must be"):
        cln(torch.randn(5, 6), c)
    with pytest.raises(TypeError, match="cond_dim"):
        tr.ConditionalLayerNorm(6, 2.5)


def test_powered_bce_is_bce_on_p_to_the_n() -> None:
    z = torch.linspace(-15, 15, 121, dtype=torch.float64)
    for t in (0.0, 1.0):
        target = torch.full_like(z, t)
        for n in (1, 2, 4):
            p = torch.sigmoid(z) ** n
            ref = -(t * torch.log(p) + (1 - t) * torch.log1p(-p))
            ok = torch.isfinite(ref)
            got = tr.powered_bce(z, target, n)
            torch.testing.assert_close(got[ok], ref[ok], rtol=1e-8, atol=1e-12)
    import mpmath

    mpmath.mp.dps = 50
    for zz in (-40.0, 25.0, 40.0):  # far tails, where 1 − p^n cancels in floating point
        q = 1 / (1 + mpmath.exp(-mpmath.mpf(zz)))
        got = tr.powered_bce(torch.tensor([zz], dtype=torch.float64), torch.zeros(1), 4)
        assert got.item() == pytest.approx(float(-mpmath.log(1 - q**4)), rel=1e-9)
    plain = nn.functional.binary_cross_entropy_with_logits(z, torch.ones_like(z), reduction="none")
    torch.testing.assert_close(tr.powered_bce(z, torch.ones_like(z), 1), plain)
    with pytest.raises(ValueError, match="target"):
        tr.powered_bce(z, z[:3], 2)
    with pytest.raises(ValueError, match="n"):
        tr.powered_bce(z, z, 0)


def test_threshold_equivalent() -> None:
    for tau, n in [(0.6, 2), (0.5, 2), (0.6, 4), (0.5, 4), (0.3, 1)]:
        p, z = tr.threshold_equivalent(tau, n)
        assert p**n == pytest.approx(tau, rel=1e-12)
        assert 1 / (1 + math.exp(-z)) == pytest.approx(p, rel=1e-12)
    assert tr.threshold_equivalent(0.6, 4)[0] == pytest.approx(0.880112, abs=5e-7)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            tr.threshold_equivalent(bad, 2)
    with pytest.raises(TypeError, match="n"):
        tr.threshold_equivalent(0.5, 2.0)


def slow_decode(s, e, ts=0.6, te=0.5):
    out = []
    for i in range(len(s)):
        if s[i] > ts:
            js = [j for j in range(i, len(e)) if e[j] > te]
            if js:
                out.append((i, js[0]))
    return out


def test_decode_spans_against_loops() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        s, e = rng.random(12) ** 3, rng.random(12) ** 3
        assert tr.decode_spans(s, e) == slow_decode(s, e)
    s, e = rng.random((3, 4, 9)), rng.random((3, 4, 9))
    rows = tr.decode_spans(s, e, 0.7, 0.8).tolist()
    want = [
        [a, b, i, j]
        for a in range(3)
        for b in range(4)
        for i, j in slow_decode(s[a, b], e[a, b], 0.7, 0.8)
    ]
    assert rows == want
    # overlapping spans: two starts share one end; a start after the last end gives nothing
    assert tr.decode_spans([0.9, 0.9, 0, 0, 0.9], [0, 0, 0.6, 0, 0]) == [(0, 2), (1, 2)]
    with pytest.raises(ValueError, match="one shape"):
        tr.decode_spans([0.1, 0.2], [0.1])
    with pytest.raises(TypeError, match="start_probs"):
        tr.decode_spans("ab", [0.1, 0.2])


def test_sampling_and_object_targets() -> None:
    subj = torch.zeros(1, 8, 2)
    subj[0, [1, 5], 0] = 1
    subj[0, [2, 6], 1] = 1
    g = torch.Generator().manual_seed(0)
    s = tr.sample_subjects(subj.expand(40_000, 8, 2), g)
    real = ((s[:, 0] == 1) & (s[:, 1] == 2)) | ((s[:, 0] == 5) & (s[:, 1] == 6))
    assert real.float().mean().item() == pytest.approx(0.75, abs=0.01)
    assert set(map(tuple, s.tolist())) == {(1, 2), (1, 6), (5, 6)}
    assert tr.sample_subjects(torch.zeros(2, 5, 2)).tolist() == [[0, 0], [0, 0]]
    spans = [[((1, 2), 3, (4, 5)), ((1, 2), 0, (6, 6))], [], [((0, 0), 1, (2, 3))]]
    labels, table = tr.label_tensors(spans, 8)
    assert table.shape == (3, 7) and labels[0, 1, 0] == 1 and labels[2, 0, 1] == 1
    obj = tr.object_targets(table, torch.tensor([2, 0]), torch.tensor([[0, 0], [1, 2]]), 8, 4)
    assert obj.shape == (2, 8, 4, 2) and obj.sum() == 6
    assert obj[1, 4, 3, 0] == 1 and obj[1, 5, 3, 1] == 1 and obj[1, 6, 0].tolist() == [1, 1]
    spurious = tr.object_targets(table, torch.tensor([0]), torch.tensor([[1, 6]]), 8, 4)
    assert spurious.sum() == 0


def test_extractor_shapes_tap_and_initial_outputs() -> None:
    from kexue_lab.sequences.bert import TinyBert

    torch.manual_seed(0)
    bert = TinyBert(30, d=16, n_layers=1, n_heads=2, max_len=12, dropout=0.0)
    model = tr.SPOExtractor(bert, 16, 3, tap=bert.blocks[-1].ln2)
    ids = torch.randint(2, 30, (4, 10))
    h, h_obj = model.encode(ids)
    assert h.shape == h_obj.shape == (4, 10, 16)
    torch.testing.assert_close(bert.blocks[-1].ln2(h_obj), h)  # the tap is the last LN's input
    logits = model.object_logits(h, h_obj, torch.tensor([[0, 1], [2, 3], [4, 4], [1, 9]]))
    assert logits.shape == (4, 10, 3, 2)
    p0 = torch.sigmoid(model.subject_logits(h)) ** 2
    assert p0.mean().item() == pytest.approx(0.25, abs=0.02)
    mask = torch.ones(4, 10, dtype=torch.bool)
    loss = model.loss(
        ids,
        mask,
        torch.zeros(4, 10, 2),
        torch.zeros(4, 2, dtype=torch.long),
        torch.zeros(4, 10, 3, 2),
    )
    assert loss.item() == pytest.approx(-math.log(0.75) - 3 * math.log(1 - 0.5**4), rel=0.1)
    texts = ["abcdefghij"] * 4
    found = tr.extract_triples(model, ids, torch.full((4,), 10), texts, ["x", "y", "z"])
    assert found == [set()] * 4  # nothing passes the thresholds at initialisation
    with pytest.raises(TypeError, match="n_predicates"):
        tr.SPOExtractor(bert, 16, "3")


def test_relation_corpus_spans_and_overlap_classes() -> None:
    corpus = rd.make_relation_corpus(300, seed=1, split="test")
    assert len(corpus) == 300
    train = rd.entity_pools()["train"]
    for text, triples, spans in zip(corpus.texts, corpus.triples, corpus.spans):
        got = {
            (text[s[0] : s[1] + 1], rd.PREDICATES[p], text[o[0] : o[1] + 1]) for s, p, o in spans
        }
        assert got == triples
        for s, _, o in triples:
            assert s not in train["P"] and s not in train["L"]
    classes = {rd.overlap_class(t) for t in corpus.triples}
    assert classes == {"normal", "SEO", "EPO"}
    assert rd.overlap_class({("a", "p", "b"), ("b", "q", "a")}) == "EPO"
    assert rd.overlap_class({("a", "p", "b"), ("a", "q", "c")}) == "SEO"
    assert rd.overlap_class({("a", "p", "b"), ("c", "q", "d")}) == "normal"
    assert rd.make_relation_corpus(5, seed=3).texts == rd.make_relation_corpus(5, seed=3).texts
    with pytest.raises(ValueError, match="split"):
        rd.make_relation_corpus(5, split="dev")
    with pytest.raises(TypeError, match="triples"):
        rd.overlap_class("abc")
