"""Tests of kexue_lab.sequences.memm against a direct product of local softmaxes."""

from __future__ import annotations

import itertools

import pytest
import torch

from kexue_lab.sequences import memm


def _case(b=3, n=4, k=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    em = torch.randn(b, n, k, generator=gen, dtype=torch.float64)
    trans = torch.randn(k, k, generator=gen, dtype=torch.float64)
    lengths = torch.randint(1, n + 1, (b,), generator=gen)
    lengths[0] = n
    mask = torch.arange(n) < lengths[:, None]
    tags = torch.randint(0, k, (b, n), generator=gen)
    return em, trans, mask, tags, lengths


def _log_p(em, trans, path, direction):
    """log P of one path, one local softmax at a time (article, eq. 6 and its mirror)."""
    n = len(path)
    order = range(n) if direction == "l2r" else range(n - 1, -1, -1)
    total = 0.0
    for t in order:
        logits = em[t].clone()
        if direction == "l2r" and t > 0:
            logits = logits + trans[path[t - 1]]
        if direction == "r2l" and t < n - 1:
            logits = logits + trans[:, path[t + 1]]
        total += float(torch.log_softmax(logits, 0)[path[t]])
    return total


@pytest.mark.parametrize("seed", range(3))
def test_nll_matches_local_softmax_product(seed: int) -> None:
    em, trans, mask, tags, lengths = _case(seed=seed)
    got = {d: memm.memm_nll(em, trans, tags, mask, d) for d in memm.DIRECTIONS}
    for i, length in enumerate(lengths.tolist()):
        path = tags[i, :length].tolist()
        want = {d: -_log_p(em[i], trans, path, d) for d in ("l2r", "r2l")}
        want["bi"] = 0.5 * (want["l2r"] + want["r2l"])
        for d in memm.DIRECTIONS:
            assert abs(float(got[d][i]) - want[d]) < 1e-10


@pytest.mark.parametrize("direction", ["l2r", "r2l"])
def test_distribution_is_normalised(direction: str) -> None:
    em, trans, _, _, _ = _case(b=1, n=4, k=3, seed=5)
    paths = torch.tensor(list(itertools.product(range(3), repeat=4)))
    b = len(paths)
    mask = torch.ones(b, 4, dtype=torch.bool)
    nll = memm.memm_nll(em.expand(b, 4, 3), trans, paths, mask, direction)
    assert abs(float(torch.exp(-nll).sum()) - 1.0) < 1e-12


def test_bad_input() -> None:
    em, trans, mask, tags, _ = _case()
    with pytest.raises(ValueError, match="direction"):
        memm.memm_nll(em, trans, tags, mask, "both")
    with pytest.raises(ValueError, match="tags"):
        memm.memm_nll(em, trans, tags[:, :2], mask)
    with pytest.raises(TypeError, match="trans"):
        memm.memm_step_logits(em, trans.tolist(), tags, mask)
