"""Tests of kexue_lab.losses.reweighting against independent references (chapter 30)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from kexue_lab.losses import reweighting as rw


def test_soft_macro_f1_is_sklearn_macro_f1_on_hard_predictions() -> None:
    gen = torch.Generator().manual_seed(0)
    for n, c in [(50, 3), (200, 10), (7, 2)]:
        y = torch.randint(0, c, (n,), generator=gen)
        pred = torch.randint(0, c, (n,), generator=gen)
        y[:c] = torch.arange(c)  # every class present in the labels
        onehot = torch.nn.functional.one_hot(y, c).double()
        probs = torch.nn.functional.one_hot(pred, c).double()
        ours = rw.soft_macro_f1(probs, onehot).item()
        want = f1_score(y.numpy(), pred.numpy(), average="macro", labels=list(range(c)))
        assert ours == pytest.approx(want, abs=1e-6)


def test_soft_macro_f1_formula_and_gradient() -> None:
    gen = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(30, 4, generator=gen), 1).requires_grad_()
    onehot = torch.nn.functional.one_hot(torch.randint(0, 4, (30,), generator=gen), 4).float()
    value = rw.soft_macro_f1(probs, onehot, eps=1e-7)
    slow = np.mean(
        [
            2
            * sum(probs[i, c].item() * onehot[i, c].item() for i in range(30))
            / (sum(probs[i, c].item() for i in range(30)) + onehot[:, c].sum().item() + 1e-7)
            for c in range(4)
        ]
    )
    assert value.item() == pytest.approx(slow, rel=1e-5)
    value.backward()
    assert probs.grad is not None and torch.isfinite(probs.grad).all()


@pytest.mark.parametrize(
    ("probs", "onehot", "match"),
    [
        (torch.ones(3, 2) * 0.5, torch.ones(3, 3), "same shape"),
        (torch.ones(3), torch.ones(3), "2-D"),
        (torch.ones(3, 2) * 1.5, torch.ones(3, 2), r"\[0, 1\]"),
        (torch.zeros(0, 2), torch.zeros(0, 2), "at least one"),
        (torch.tensor([[float("nan")]]), torch.ones(1, 1), "finite"),
    ],
)
def test_soft_macro_f1_rejects_bad_input(probs, onehot, match) -> None:
    with pytest.raises(ValueError, match=match):
        rw.soft_macro_f1(probs, onehot)
    with pytest.raises(TypeError, match="probs"):
        rw.soft_macro_f1(np.ones((2, 2)), torch.ones(2, 2))
    with pytest.raises(ValueError, match="eps"):
        rw.soft_macro_f1(torch.ones(2, 2) / 2, torch.ones(2, 2), eps=0.0)


def test_focal_loss_is_cross_entropy_at_gamma_zero_and_the_formula_otherwise() -> None:
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(64, 5, generator=gen, dtype=torch.float64) * 3
    y = torch.randint(0, 5, (64,), generator=gen)
    ce = torch.nn.functional.cross_entropy(logits, y)
    assert rw.focal_loss(logits, y, 0.0).item() == pytest.approx(ce.item(), rel=1e-12)
    p = torch.softmax(logits, 1)[torch.arange(64), y].numpy()
    for gamma in (0.5, 1.0, 2.0, 5.0):
        want = np.mean(-((1 - p) ** gamma) * np.log(p))
        assert rw.focal_loss(logits, y, gamma).item() == pytest.approx(want, rel=1e-10)
    big = torch.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]])
    assert torch.isfinite(rw.focal_loss(big, torch.tensor([1, 0]), 2.0))


def test_focal_loss_rejects_bad_input() -> None:
    logits, y = torch.zeros(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="gamma"):
        rw.focal_loss(logits, y, -1.0)
    with pytest.raises(TypeError, match="gamma"):
        rw.focal_loss(logits, y, "2")
    with pytest.raises(ValueError, match="y must lie"):
        rw.focal_loss(logits, torch.tensor([0, 1, 3, 0]), 2.0)
    with pytest.raises(TypeError, match="integer"):
        rw.focal_loss(logits, y.float(), 2.0)
    with pytest.raises(ValueError, match="one label per row"):
        rw.focal_loss(logits, y[:3], 2.0)
    with pytest.raises(ValueError, match="2-D"):
        rw.focal_loss(torch.zeros(4), y, 2.0)


def test_f1_weighted_bce_has_the_gradient_of_eq_6() -> None:
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(40, generator=gen, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(40, generator=gen) < 0.3).double()
    rw.f1_weighted_bce(z, y).backward()
    p = torch.sigmoid(z.detach())
    f1 = 2 * (p * y).sum() / (p.sum() + y.sum() + 1e-7)
    # d/dz of −[y(1 − F/2) log p + (1 − y)(F/2) log(1 − p)] with F held fixed
    want = (-(y * (1 - f1 / 2) * (1 - p)) + (1 - y) * (f1 / 2) * p) / 40
    assert torch.allclose(z.grad, want, rtol=1e-10, atol=1e-14)


def test_binary_losses_match_their_definitions() -> None:
    gen = torch.Generator().manual_seed(4)
    z = torch.randn(100, generator=gen, dtype=torch.float64)
    y = (torch.rand(100, generator=gen) < 0.1).double()
    p, pi = torch.sigmoid(z), y.mean()
    bce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    assert rw.binary_loss("ce", z, y).item() == pytest.approx(bce.mean().item(), rel=1e-10)
    w = torch.where(y > 0, 0.5 / pi, 0.5 / (1 - pi))
    assert rw.binary_loss("balanced_ce", z, y).item() == pytest.approx((w * bce).mean().item())
    pt = torch.where(y > 0, p, 1 - p)
    focal = (-((1 - pt) ** 2) * torch.log(pt)).mean()
    assert rw.binary_loss("focal", z, y).item() == pytest.approx(focal.item(), rel=1e-10)
    soft = 2 * (p * y).sum() / (p.sum() + y.sum())
    assert rw.binary_loss("soft_f1", z, y).item() == pytest.approx(-soft.item(), rel=1e-6)
    assert rw.binary_loss("f1_ce", z, y).item() == pytest.approx(
        2 * rw.f1_weighted_bce(z, y).item()
    )
    with pytest.raises(ValueError, match="name"):
        rw.binary_loss("dice", z, y)
    with pytest.raises(ValueError, match="binary"):
        rw.binary_loss("ce", z, y + 2)
    with pytest.raises(ValueError, match="prior"):
        rw.binary_loss("balanced_ce", z, y, prior=1.0)


def test_gradient_factor_matches_the_closed_forms() -> None:
    p = np.linspace(0.01, 0.99, 99)
    assert np.allclose(rw.gradient_factor("smooth_acc", p), p * (1 - p), atol=1e-12)
    assert np.allclose(rw.gradient_factor("ce", p), 1 - p, atol=1e-12)
    assert np.allclose(rw.gradient_factor("ce", p, y=0), p, atol=1e-12)
    assert np.allclose(rw.gradient_factor("f1_ce", p, f1=0.4), 0.8 * (1 - p), atol=1e-12)
    assert np.allclose(rw.gradient_factor("f1_ce", p, y=0, f1=0.4), 0.2 * p, atol=1e-12)
    assert np.allclose(rw.gradient_factor("focal", p, gamma=0.0), 1 - p, atol=1e-12)
    h = 1e-6  # focal by central differences in z
    z = np.log(p / (1 - p))

    def focal(zz):
        q = 1 / (1 + np.exp(-zz))
        return -((1 - q) ** 2) * np.log(q)

    numeric = np.abs((focal(z + h) - focal(z - h)) / (2 * h))
    assert np.allclose(rw.gradient_factor("focal", p, gamma=2.0), numeric, atol=1e-7)
    for bad, match in [({"p": [0.0, 0.5]}, "strictly"), ({"p": 0.5, "y": 2}, "y")]:
        with pytest.raises(ValueError, match=match):
            rw.gradient_factor("ce", **bad)
    with pytest.raises(ValueError, match="f1"):
        rw.gradient_factor("f1_ce", 0.5, f1=1.5)


def test_f1_at_thresholds_matches_sklearn() -> None:
    gen = np.random.default_rng(5)
    scores = gen.random((3, 200))
    y = (gen.random(200) < 0.2).astype(float)
    thresholds = [0.1, 0.5, 0.9, 0.999]
    ours = rw.f1_at_thresholds(torch.tensor(scores), torch.tensor(y), thresholds).numpy()
    for r in range(3):
        for j, t in enumerate(thresholds):
            want = f1_score(y, scores[r] > t, zero_division=0)
            assert ours[r, j] == pytest.approx(want, abs=1e-12)
    best = rw.best_threshold(torch.tensor(scores), torch.tensor(y), thresholds).numpy()
    assert np.all(best == np.asarray(thresholds)[ours.argmax(1)])
    with pytest.raises(ValueError, match="trailing shape"):
        rw.f1_at_thresholds(torch.tensor(scores), torch.tensor(y[:10]), thresholds)
    with pytest.raises(ValueError, match="binary"):
        rw.f1_at_thresholds(torch.tensor(scores), torch.tensor(y * 2), thresholds)
    with pytest.raises(ValueError, match="non-empty"):
        rw.f1_at_thresholds(torch.tensor(scores), torch.tensor(y), [])


def test_splits_and_fit_variants() -> None:
    gen = torch.Generator().manual_seed(6)
    labels = torch.arange(600) % 3
    x = torch.randn(600, 4, generator=gen) + labels[:, None].float()
    d = rw.one_vs_rest_splits(x, labels, 2, 30, [0, 1], fractions=(0.5, 0.25))
    n = 30 + 400
    assert d["x_train"].shape == (2, n // 2, 4) and d["y_test"].shape[0] == 2
    total = d["y_train"].sum(1) + d["y_val"].sum(1) + d["y_test"].sum(1)
    assert torch.all(total == 30)
    model = rw.fit_variants(d["x_train"], d["y_train"], ["ce", "focal"], [0, 1], steps=5)
    assert model.members == 4
    out = model(d["x_train"].repeat(2, 1, 1))
    assert out.shape == (4, n // 2, 1)
    # the same seed gives the same initial network, so the same loss gives the same network
    twin = rw.fit_variants(d["x_train"], d["y_train"], ["ce", "ce"], [0, 1], steps=3)
    assert torch.allclose(twin.weights[0][0], twin.weights[0][2])
    with pytest.raises(ValueError, match="n_positive"):
        rw.one_vs_rest_splits(x, labels, 2, 500, [0])
    with pytest.raises(ValueError, match="R = len"):
        rw.fit_variants(d["x_train"], d["y_train"], ["ce"], [0])
    with pytest.raises(ValueError, match="losses"):
        rw.fit_variants(d["x_train"], d["y_train"], ["hinge"], [0, 1])


def test_stacked_losses_sum_the_per_seed_losses() -> None:
    gen = torch.Generator().manual_seed(7)
    z = torch.randn(3, 80, generator=gen, dtype=torch.float64)
    y = (torch.rand(3, 80, generator=gen) < 0.2).double()
    y[:, 0] = 1
    for name in rw.BINARY_LOSSES:
        want = sum(rw.binary_loss(name, z[r], y[r]) for r in range(3))
        got = rw._stacked_losses(name, z, y)
        assert got.item() == pytest.approx(want.item(), rel=1e-9), name
    with pytest.raises(ValueError, match="both classes"):
        rw.fit_variants(torch.zeros(1, 4, 2), torch.zeros(1, 4), ["ce"], [0])
