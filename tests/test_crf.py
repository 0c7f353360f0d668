"""Tests of kexue_lab.sequences.crf against brute-force enumeration and pytorch-crf."""

from __future__ import annotations

import itertools

import pytest
import torch

from kexue_lab.sequences import crf


def _case(b=3, n=4, k=3, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    em = torch.randn(b, n, k, generator=gen, dtype=dtype)
    trans = torch.randn(k, k, generator=gen, dtype=dtype)
    lengths = torch.randint(1, n + 1, (b,), generator=gen)
    lengths[0] = n
    mask = torch.arange(n) < lengths[:, None]
    tags = torch.randint(0, k, (b, n), generator=gen)
    return em, trans, mask, tags, lengths


def _brute(em, trans, length):
    """All K^L paths of one sequence: their scores, written out directly."""
    k = em.shape[-1]
    paths = list(itertools.product(range(k), repeat=length))
    scores = []
    for p in paths:
        s = sum(em[t, p[t]] for t in range(length))
        s = s + sum(trans[p[t - 1], p[t]] for t in range(1, length))
        scores.append(float(s))
    return paths, torch.tensor(scores, dtype=torch.float64)


@pytest.mark.parametrize("seed", range(4))
def test_log_partition_nll_and_viterbi_match_enumeration(seed: int) -> None:
    em, trans, mask, tags, lengths = _case(seed=seed)
    log_z = crf.crf_log_partition(em, trans, mask)
    nll = crf.crf_nll(em, trans, tags, mask)
    best = crf.viterbi_decode(em, trans, mask)
    for i, length in enumerate(lengths.tolist()):
        paths, scores = _brute(em[i], trans, length)
        assert abs(float(log_z[i]) - float(torch.logsumexp(scores, 0))) < 1e-10
        j = paths.index(tuple(tags[i, :length].tolist()))
        assert abs(float(nll[i]) - float(torch.logsumexp(scores, 0) - scores[j])) < 1e-10
        assert tuple(best[i]) == paths[int(scores.argmax())]
        assert len(best[i]) == length


@pytest.mark.parametrize("k", [2, 5, 10])
def test_nll_matches_pytorch_crf_with_zero_start_and_end(k: int) -> None:
    torchcrf = pytest.importorskip("torchcrf")
    em, _, mask, tags, _ = _case(b=16, n=12, k=k, seed=k, dtype=torch.float32)
    ref = torchcrf.CRF(k, batch_first=True)
    with torch.no_grad():
        ref.start_transitions.zero_()
        ref.end_transitions.zero_()
        ref.transitions.normal_()
    ref = ref.double()
    want = -ref(em.double(), tags, mask, reduction="none")
    got = crf.crf_nll(em.double(), ref.transitions.detach(), tags, mask)
    assert torch.allclose(got, want.detach(), atol=1e-5, rtol=0)
    got32 = crf.crf_nll(em, ref.transitions.detach().float(), tags, mask)
    assert torch.allclose(got32.double(), want.detach(), rtol=1e-5, atol=1e-4)
    assert crf.viterbi_decode(em, ref.transitions.detach().float(), mask) == ref.float().decode(
        em, mask
    )


def test_gradient_is_marginal_minus_one_hot() -> None:
    em, trans, mask, tags, _ = _case(b=2, n=3, k=2, seed=7)
    em.requires_grad_(True)
    crf.crf_log_partition(em, trans, mask).sum().backward()
    paths, scores = _brute(em[0].detach(), trans, 3)
    probs = torch.softmax(scores, 0)
    marg = torch.zeros(3, 2, dtype=torch.float64)
    for p, q in zip(paths, probs):
        for t, y in enumerate(p):
            marg[t, y] += q
    assert torch.allclose(em.grad[0], marg, atol=1e-10)


def test_padding_content_is_ignored() -> None:
    em, trans, mask, tags, _ = _case(b=4, n=6, k=3, seed=3)
    em2, tags2 = em.clone(), tags.clone()
    em2[~mask] = 99.0
    tags2[~mask] = -1
    assert torch.allclose(crf.crf_nll(em, trans, tags, mask), crf.crf_nll(em2, trans, tags2, mask))


def test_bad_input() -> None:
    em, trans, mask, tags, _ = _case()
    with pytest.raises(TypeError, match="emissions"):
        crf.crf_log_partition(em.numpy(), trans, mask)
    with pytest.raises(ValueError, match="trans"):
        crf.crf_log_partition(em, trans[:2], mask)
    with pytest.raises(ValueError, match="mask"):
        crf.crf_log_partition(em, trans, mask[:, :2])
    with pytest.raises(TypeError, match="mask"):
        crf.crf_log_partition(em, trans, mask.float())
    gap = mask.clone()
    gap[0, 1] = False
    with pytest.raises(ValueError, match="prefix"):
        crf.crf_log_partition(em, trans, gap)
    empty = mask.clone()
    empty[1] = False
    with pytest.raises(ValueError, match="first step"):
        crf.viterbi_decode(em, trans, empty)
    with pytest.raises(ValueError, match="tags"):
        crf.crf_nll(em, trans, tags + 5, mask)
    with pytest.raises(TypeError, match="tags"):
        crf.crf_nll(em, trans, tags.double(), mask)
    bad = em.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        crf.crf_nll(bad, trans, tags, mask)
