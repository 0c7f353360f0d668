"""SPACES pieces (chapter 40): Sparse Softmax, the margin, the LCS alignment and BIO tags, the
oracle, the extractor block, copy-constrained decoding and the generated judgments."""

import itertools
import math
import random

import pytest
import torch

from kexue_lab.sequences import judgments as J
from kexue_lab.sequences import metrics
from kexue_lab.sequences import summarization as S


def _sparse_reference(row: list[float], k: int) -> list[float]:
    order = sorted(range(len(row)), key=lambda i: -row[i])[:k]
    z = sum(math.exp(row[i]) for i in order)
    return [math.exp(row[i]) / z if i in order else 0.0 for i in range(len(row))]


def test_sparse_softmax_matches_a_sorting_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, 9, generator=g, dtype=torch.float64)
    for k in (1, 3, 9):
        got = S.sparse_softmax(x, k)
        for row_in, row_out in zip(x.reshape(-1, 9).tolist(), got.reshape(-1, 9).tolist()):
            assert row_out == pytest.approx(_sparse_reference(row_in, k), abs=1e-12)
        assert ((got > 0).sum(-1) == k).all()
    assert torch.allclose(S.sparse_softmax(x, 9), torch.softmax(x, -1), atol=1e-15)


def test_sparse_softmax_keeps_exactly_k_on_ties_and_handles_minus_inf():
    p = S.sparse_softmax(torch.tensor([1.0, 1.0, 1.0, 0.0]), 2)
    assert (p > 0).sum() == 2 and p.sum() == pytest.approx(1.0)
    q = S.sparse_softmax(torch.tensor([0.0, -math.inf, 2.0, -math.inf]), 3)
    assert q[1] == q[3] == 0 and q.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "args, err",
    [
        (([1.0, 2.0], 1), TypeError),
        ((torch.tensor([1, 2]), 1), TypeError),
        ((torch.randn(3), 0), ValueError),
        ((torch.randn(3), 4), ValueError),
        ((torch.randn(3), 1.5), TypeError),
    ],
)
def test_sparse_softmax_rejects_bad_input(args, err):
    with pytest.raises(err, match="logits|k"):
        S.sparse_softmax(*args)


def test_sparse_cross_entropy_properties_and_gradient():
    g = torch.Generator().manual_seed(1)
    s = (3 * torch.randn(2000, 12, generator=g, dtype=torch.float64)).requires_grad_()
    t = torch.randint(0, 12, (2000,), generator=g)
    full = torch.logsumexp(s, 1) - s.gather(1, t[:, None])[:, 0]
    per = [S.sparse_cross_entropy(s[i : i + 1], t[i : i + 1], 4) for i in range(50)]
    assert all(0 <= v <= f + 1e-12 for v, f in zip(per, full[:50]))
    assert S.sparse_cross_entropy(s, t, 12).item() == pytest.approx(full.mean().item(), abs=1e-12)
    loss = S.sparse_cross_entropy(s, t, 4)
    (grad,) = torch.autograd.grad(loss, s)
    p = S.sparse_softmax(s.detach(), 4)
    want = (p - torch.nn.functional.one_hot(t, 12)) / len(t)
    assert torch.allclose(grad, want, atol=1e-14)  # zero outside the top-k and the target
    ignored = torch.where(torch.arange(2000) % 2 == 0, t, -100)
    assert S.sparse_cross_entropy(s, ignored, 4).item() == pytest.approx(
        S.sparse_cross_entropy(s[::2], t[::2], 4).item(), abs=1e-12
    )


def test_sparse_cross_entropy_rejects_bad_input():
    s = torch.randn(3, 5)
    with pytest.raises(ValueError, match="target"):
        S.sparse_cross_entropy(s, torch.tensor([0, 1]), 2)
    with pytest.raises(ValueError, match="target"):
        S.sparse_cross_entropy(s, torch.tensor([0, 1, 5]), 2)
    with pytest.raises(ValueError, match="ignore_index"):
        S.sparse_cross_entropy(s, torch.full((3,), -100), 2)
    with pytest.raises(ValueError, match="logits"):
        S.sparse_cross_entropy(torch.randn(5), torch.tensor([0]), 2)


def test_required_margin_is_tight():
    for n, eps in [(21128, math.log(2)), (10, 0.1), (5000, 0.69)]:
        gap = S.required_margin(n, eps)
        logits = torch.tensor([gap] + [0.0] * (n - 1), dtype=torch.float64)
        loss = torch.logsumexp(logits, 0) - logits[0]
        assert loss.item() == pytest.approx(eps, abs=1e-9)
    assert S.required_margin(21128, math.log(2)) == pytest.approx(math.log(21127), abs=1e-12)
    with pytest.raises(ValueError, match="n"):
        S.required_margin(1, 0.5)
    with pytest.raises(ValueError, match="eps"):
        S.required_margin(10, 0.0)


def test_rouge_l_is_the_metrics_one_and_weighted_rouge():
    assert S.rouge_l is metrics.rouge_l
    assert "rouge_l" in S.__all__
    ref = list("原告诉称被告借款")
    assert S.weighted_rouge(ref, ref)["main"] == pytest.approx(1.0)
    assert S.weighted_rouge(list("甲乙"), ref)["main"] == 0.0
    h = list("原告称被告借")
    r = S.weighted_rouge(h, ref)
    want = 0.2 * metrics.rouge_n(h, ref, 1) + 0.4 * metrics.rouge_n(h, ref, 2)
    assert r["main"] == pytest.approx(want + 0.4 * metrics.rouge_l(h, ref))


def test_split_clauses():
    assert S.split_clauses("甲，乙。\n丙；丁") == ["甲，", "乙。", "丙；", "丁"]
    assert S.split_clauses("a，b，c", keep_last=2) == ["b，", "c"]
    with pytest.raises(TypeError, match="text"):
        S.split_clauses(["a"])
    with pytest.raises(ValueError, match="seps"):
        S.split_clauses("a", seps="")


def _brute_lcs(a, b):
    best = 0
    for r in range(min(len(a), len(b)), 0, -1):
        for idx in itertools.combinations(range(len(a)), r):
            sub = [a[i] for i in idx]
            it = iter(b)
            if all(any(x == y for y in it) for x in sub):
                return r
    return best


def test_lcs_alignment_is_a_longest_common_subsequence():
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("abc") for _ in range(rng.randint(0, 9))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 9))]
        pairs = S.lcs_alignment(a, b)
        assert len(pairs) == metrics.lcs_length(a, b)
        assert all(a[i] == b[j] for i, j in pairs)
        assert all(i0 < i1 and j0 < j1 for (i0, j0), (i1, j1) in zip(pairs, pairs[1:]))
    for _ in range(30):
        a = [rng.choice("ab") for _ in range(rng.randint(1, 7))]
        b = [rng.choice("ab") for _ in range(rng.randint(1, 7))]
        assert len(S.lcs_alignment(a, b)) == _brute_lcs(a, b)
    with pytest.raises(TypeError, match="list"):
        S.lcs_alignment("abc", ["a"])


def test_lcs_alignment_tie_break_matches_late():
    assert S.lcs_alignment(list("aa"), list("a")) == [(1, 0)]
    assert S.lcs_alignment(list("ab"), list("ba")) == [(0, 1)]  # a tie steps back in a


def test_bio_labels_on_the_article_example():
    src = "我 真的 非常 热爱 我 的 祖国".split()
    tgt = "我 爱 我 的 祖国".split()
    s_tags, t_tags = S.bio_copy_labels(src, tgt)
    names = "OBI"
    assert "".join(names[z] for z in t_tags) == "BOBII"
    assert "".join(names[z] for z in s_tags) == "BOOOBII"


def test_oracle_extract_order_and_reference_score():
    rng = random.Random(3)
    for _ in range(40):
        doc = [
            "".join(rng.choice("甲乙丙丁戊己") for _ in range(rng.randint(2, 6))) for _ in range(8)
        ]
        summ = [
            "".join(rng.choice("甲乙丙丁戊") for _ in range(rng.randint(2, 6))) for _ in range(4)
        ]
        pairs = S.oracle_extract(doc, summ)
        assert [i for i, _ in pairs] == list(range(4))
        assert all(j0 <= j1 for (_, j0), (_, j1) in zip(pairs, pairs[1:]))
        slow = S.oracle_extract(doc, summ, lambda d, s: S.weighted_rouge(list(d), list(s))["main"])
        assert slow == pairs
    with pytest.raises(TypeError, match="doc"):
        S.oracle_extract("abc", ["a"])


def test_residual_block_starts_as_identity_and_extractor_masks():
    torch.manual_seed(0)
    block = S.ResidualGatedBlock(8, 3, 2)
    x, m = torch.randn(2, 8, 10), torch.ones(2, 1, 10)
    assert torch.equal(block(x, m), x)
    with torch.no_grad():
        block.alpha.fill_(0.5)
    glu = block.glu(x, m).transpose(1, 2)
    want = x + 0.5 * torch.nn.functional.layer_norm(glu, (8,)).transpose(1, 2)
    assert torch.allclose(block(x, m), want, atol=1e-6)
    ext = S.SentenceExtractor(5, 16, (1, 2), dropout=0.0).eval()
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    xs = torch.randn(2, 4, 5)
    p = ext(xs, mask)
    assert p[0, 3] == 0 and ((p[mask] > 0) & (p[mask] < 1)).all()
    xs2 = xs.clone()
    xs2[0, 3] = 100.0
    assert torch.allclose(ext(xs2, mask), p)
    with pytest.raises(ValueError, match="mask"):
        ext(xs, mask[:, :3])


def _copy_runs_are_source_ngrams(tags, tokens, source):
    runs, cur = [], []
    for z, y in zip(tags, tokens):
        if z == S.I:
            cur.append(y)
        else:
            if cur:
                runs.append(cur)
            cur = [y] if z == S.B else []
    if cur:
        runs.append(cur)
    text = [tuple(source[i : i + len(r)]) for r in runs for i in range(len(source))]
    return all(tuple(r) in text for r in runs)


def test_copy_allowed_invariant_with_random_models():
    g = torch.Generator().manual_seed(5)
    n, S_len, V, steps = 64, 12, 7, 15
    source = torch.randint(1, V, (n, S_len), generator=g)
    smask = torch.rand(n, S_len, generator=g) < 0.9
    tag_logits = torch.randn(n, steps + 1, 3, generator=g)
    gen = torch.zeros(n, 0, dtype=torch.long)
    for t in range(steps):
        allowed, _, _ = S.copy_allowed(tag_logits[:, : t + 1], gen, source, smask, V)
        scores = torch.rand(n, V, generator=g).masked_fill(~allowed, -1)
        gen = torch.cat([gen, scores.argmax(1, keepdim=True)], 1)
    _, tags, fb = S.copy_allowed(tag_logits[:, :steps], gen[:, :-1], source, smask, V)
    for b in range(n):
        z, src = tags[b].tolist(), [s for s, m in zip(source[b].tolist(), smask[b].tolist()) if m]
        assert all(not (z[i] == S.I and z[i - 1] == S.O) for i in range(1, len(z)))
        assert z[0] != S.I
        full = source[b].tolist()
        ok = _copy_runs_are_source_ngrams(z, gen[b].tolist(), full)
        assert ok or fb[b].any()
        copied = [y for y, zz in zip(gen[b].tolist(), z) if zz != S.O]
        assert set(copied) <= set(src)


def test_copy_allowed_rejects_bad_shapes():
    with pytest.raises(ValueError, match="tag_logits"):
        S.copy_allowed(
            torch.zeros(2, 3, 3),
            torch.zeros(2, 1, dtype=torch.long),
            torch.zeros(2, 4, dtype=torch.long),
            torch.ones(2, 4, dtype=torch.bool),
            5,
        )


def test_judgments_and_support_measures():
    data = J.make_judgments(20, seed=3)
    assert data == J.make_judgments(20, seed=3)
    for d in data:
        sup, tot = J.number_support(d["summary"], d["doc"])
        assert tot == 3 and sup == tot  # amount, article, amount
        assert J.ngram_support(d["summary"], d["doc"], 2)[0] > 0
    assert J.number_support("借款123元和45.6元", "借款123元") == (1, 2)
    assert J.ngram_support("abcd", "xabcy", 3) == (1, 2)
    with pytest.raises(ValueError, match="n"):
        J.make_judgments(0)
    with pytest.raises(TypeError, match="hyp"):
        J.number_support(3, "x")


def test_pack_with_tags_and_decode_run():
    torch.manual_seed(0)
    src, tgt = [[5, 3, 4, 6, 3, 7, 6]], [[4, 6, 2, 7, 6]]  # [CLS]=5, [SEP]=6
    ids, seg, labels, tl = J.pack_with_tags(src, tgt)
    s_tags, t_tags = S.bio_copy_labels([3, 4, 6, 3, 7], [4, 6, 2, 7])
    assert tl[0, :6].tolist() == [0, *s_tags]  # the source's [SEP] predicts the first tag
    assert tl[0, 6:11].tolist() == [*t_tags, 0]
    model = S.CopySeq2Seq(8, d=16, n_layers=1, n_heads=2, max_len=40)
    logits, tags = model.tagged(ids, seg)
    assert logits.shape == (1, 12, 8) and tags.shape == (1, 12, 3)
    prompts = [[5, 3, 4, 3, 6], [5, 7, 7, 3, 4, 6]]
    for copy in (False, True):
        seqs, z, fb = J.decode(model, prompts, 6, copy=copy, k_sparse=3, max_len=6)
        assert len(seqs) == 2 and all(len(a) == len(b) == len(c) for a, b, c in zip(seqs, z, fb))
        if copy:
            for p, s, zz in zip(prompts, seqs, z):
                assert all(y in p[1:-1] for y, t in zip(s, zz) if t != S.O and y != 6)
    with pytest.raises(TypeError, match="model"):
        J.decode(object(), prompts, 6, copy=True)
