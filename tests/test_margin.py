"""Margin softmax losses and retrieval accuracy (chapter 31) against plain reference code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kexue_lab.losses import margin


def _cosines(n: int = 7, k: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    cos = torch.rand(n, k, generator=gen, dtype=torch.float64) * 2 - 1
    return cos, torch.randint(0, k, (n,), generator=gen)


def _reference(cos: torch.Tensor, target: torch.Tensor, s: float, psi) -> float:
    """Slow: −log e^{sψ_t}/(e^{sψ_t} + Σ_{i≠t} e^{s cos_i}), row by row with math.exp."""
    total = 0.0
    for row, t in zip(cos.tolist(), target.tolist()):
        top = math.exp(s * psi(row[t]))
        rest = sum(math.exp(s * c) for i, c in enumerate(row) if i != t)
        total += -math.log(top / (top + rest))
    return total / len(cos)


@pytest.mark.parametrize("s, m", [(30.0, 0.35), (1.0, 0.0), (10.0, 0.2), (64.0, 0.5)])
def test_am_softmax_matches_the_definition(s: float, m: float) -> None:
    cos, target = _cosines()
    want = _reference(cos, target, s, lambda c: c - m)
    assert margin.am_softmax_loss(cos, target, s, m).item() == pytest.approx(want, rel=1e-10)
    assert margin.sparse_am_softmax_loss(cos, target, s, m).item() == pytest.approx(want, rel=1e-10)
    assert margin.margin_loss(cos, target, "am", s, m).item() == pytest.approx(want, rel=1e-10)


def test_worked_example_and_softmax() -> None:
    cos, target = torch.tensor([[0.8, 0.3, -0.1]]), torch.tensor([0])
    want = math.log(1 + math.exp(-4.5) + math.exp(-16.5))  # logits (13.5, 9, −3)
    assert margin.am_softmax_loss(cos, target).item() == pytest.approx(want, rel=1e-5)
    plain = torch.nn.functional.cross_entropy(30 * cos, target).item()
    assert margin.margin_loss(cos, target, "softmax").item() == pytest.approx(plain, rel=1e-6)


def test_sparse_form_is_stable_where_the_articles_form_fails() -> None:
    cos = torch.tensor([[1.0, -1.0, 0.0]], dtype=torch.float32)
    target = torch.tensor([0])
    s, m = 64.0, 0.5  # s·m = 32 > −log(float32 ε) ≈ 15.9
    ours = margin.sparse_am_softmax_loss(cos, target, s, m)
    want = math.log1p(math.exp(-s * (1 - m)) * (math.exp(-s) + 1))
    assert torch.isfinite(ours) and ours.item() == pytest.approx(want, rel=1e-4, abs=1e-30)
    ours.backward() if ours.requires_grad else None


def test_simpler_a_softmax() -> None:
    cos, target = _cosines(seed=1)

    def psi(c: float) -> float:
        return min(math.cos(4 * math.acos(c)), c)

    want = _reference(cos, target, 30.0, psi)
    assert margin.simpler_a_softmax_loss(cos, target).item() == pytest.approx(want, rel=1e-10)
    theta = torch.linspace(0, math.pi, 181, dtype=torch.float64)
    for k in (1, 2, 3, 5):
        got = margin.chebyshev_cos(torch.cos(theta), k)
        assert torch.allclose(got, torch.cos(k * theta), atol=1e-12)


def test_gradients_flow() -> None:
    cos, target = _cosines()
    cos.requires_grad_(True)
    for kind in margin.LOSSES:
        margin.margin_loss(cos, target, kind).backward()
        assert torch.isfinite(cos.grad).all()
        cos.grad = None


@pytest.mark.parametrize(
    "cos, target, kwargs, error, match",
    [
        (torch.tensor([[1.5, 0.0]]), torch.tensor([0]), {}, ValueError, r"\[-1, 1\]"),
        (torch.tensor([[0.5, -1.2]]), torch.tensor([0]), {}, ValueError, "cos"),
        (torch.tensor([[0.5, float("nan")]]), torch.tensor([0]), {}, ValueError, "finite"),
        (np.zeros((1, 2)), torch.tensor([0]), {}, TypeError, "cos"),
        (torch.zeros(3), torch.tensor([0]), {}, TypeError, "2-D"),
        (torch.zeros(1, 2), torch.tensor([2]), {}, ValueError, "target"),
        (torch.zeros(1, 2), torch.tensor([0.0]), {}, TypeError, "target"),
        (torch.zeros(2, 2), torch.tensor([0]), {}, ValueError, "shape"),
        (torch.zeros(1, 2), torch.tensor([0]), {"s": 0.0}, ValueError, "s must be > 0"),
        (torch.zeros(1, 2), torch.tensor([0]), {"m": -0.1}, ValueError, "m must be >= 0"),
    ],
)
def test_bad_input(cos, target, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        margin.am_softmax_loss(cos, target, **kwargs)


def test_bad_input_other_losses() -> None:
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        margin.sparse_am_softmax_loss(torch.tensor([[2.0, 0.0]]), torch.tensor([0]))
    with pytest.raises(TypeError, match="m must be"):
        margin.simpler_a_softmax_loss(torch.zeros(1, 2), torch.tensor([0]), m=2.5)
    with pytest.raises(ValueError, match="kind"):
        margin.margin_loss(torch.zeros(1, 2), torch.tensor([0]), "arcface")


def test_cosine_classifier_gives_cosines() -> None:
    clf = margin.CosineClassifier(5, 3)
    z = torch.randn(4, 5)
    want = torch.nn.functional.cosine_similarity(z[:, None], clf.weight[None], dim=-1)
    assert torch.allclose(clf(z), want, atol=1e-6)
    with pytest.raises(ValueError, match="n_classes"):
        margin.CosineClassifier(5, 1)


def test_retrieval_topk_against_a_loop() -> None:
    gen = torch.Generator().manual_seed(3)
    groups = torch.arange(30).repeat_interleave(3)
    emb = torch.randn(30, 4, generator=gen)[groups] + 0.8 * torch.randn(90, 4, generator=gen)
    got = margin.retrieval_topk(emb, groups, ks=(1, 5, 10), chunk=16)
    unit = emb / emb.norm(dim=1, keepdim=True)
    sim = (unit @ unit.T).numpy()
    for k in (1, 5, 10):
        hits = 0
        for i in range(90):
            order = [j for j in np.argsort(-sim[i]) if j != i][:k]
            hits += any(groups[j] == groups[i] for j in order)
        assert got[k] == pytest.approx(hits / 90)
    assert got[1] <= got[5] <= got[10]
    with pytest.raises(ValueError, match="ks"):
        margin.retrieval_topk(emb, groups, ks=(90,))
    with pytest.raises(ValueError, match="groups"):
        margin.retrieval_topk(emb, groups[:5])


def test_sparse_form_is_exact_in_float64_for_large_losses():
    # large losses (x > 20): F.softplus would return x and lose e^{-x} (about 1e-11 relative)
    gen = torch.Generator().manual_seed(4)
    cos = torch.rand(256, 1000, generator=gen, dtype=torch.float64) * 2 - 1
    target = torch.randint(0, 1000, (256,), generator=gen)
    from kexue_lab.losses.margin import am_softmax_loss, sparse_am_softmax_loss

    dense, sparse = am_softmax_loss(cos, target), sparse_am_softmax_loss(cos, target)
    assert float(dense) > 20
    torch.testing.assert_close(sparse, dense, rtol=1e-14, atol=0)
