import math

import pytest
import torch

from kexue_lab.nn import mlp
from kexue_lab.regularization.adversarial import (
    FGM,
    fgm_attack,
    fgsm_attack,
    l2_unit,
    penalty_gradient_gap,
    pgd_attack,
)


def test_fgsm_on_a_linear_model_moves_along_the_weight_signs():
    # L = −y·wᵀx (a linear "loss"): ∇ₓ L = −y w, so FGSM adds −ε·y·sign(w)
    w = torch.tensor([2.0, -0.5, 0.0, 3.0])
    x = torch.randn(5, 4)
    y = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    adv = fgsm_attack(lambda t: t @ w, x, y, 0.1, loss_fn=lambda out, t: -(out * t).sum())
    expected = x - 0.1 * y[:, None] * torch.sign(w)
    assert torch.allclose(adv, expected)
    # the exact maximiser over the ℓ∞ ball raises the loss by ε‖w‖₁ per sample
    assert torch.allclose(-(adv @ w) * y + (x @ w) * y, torch.full((5,), 0.1 * 5.5))


def test_fgsm_raises_the_loss_of_a_network_and_respects_the_clamp():
    torch.manual_seed(0)
    model = mlp([6, 16, 3])
    x, y = torch.rand(32, 6), torch.randint(0, 3, (32,))
    adv = fgsm_attack(model, x, y, 0.05, clamp=(0.0, 1.0))
    f = torch.nn.functional.cross_entropy
    assert f(model(adv), y) > f(model(x), y)
    assert adv.min() >= 0 and adv.max() <= 1 and (adv - x).abs().max() <= 0.05 + 1e-7
    assert all(p.grad is None for p in model.parameters())


def test_fgsm_bad_input():
    model = mlp([2, 2])
    x, y = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    with pytest.raises(TypeError, match="x must"):
        fgsm_attack(model, x.long(), y, 0.1)
    with pytest.raises(ValueError, match="y must"):
        fgsm_attack(model, x, y[:2], 0.1)
    with pytest.raises(ValueError, match="eps"):
        fgsm_attack(model, x, y, -0.1)
    with pytest.raises(ValueError, match="clamp"):
        fgsm_attack(model, x, y, 0.1, clamp=(1.0, 0.0))


# ---- FGM, PGD and the gradient-penalty match (chapter 28) ----


def _linear_loss(out, t):
    return -(out * t).sum()


def test_fgm_attack_on_a_linear_model_is_the_exact_l2_maximiser():
    w = torch.tensor([2.0, -0.5, 0.0, 3.0])
    x, y = torch.randn(5, 4), torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    adv = fgm_attack(lambda t: t @ w, x, y, 0.3, loss_fn=_linear_loss)
    expected = x - 0.3 * y[:, None] * w / w.norm()
    assert torch.allclose(adv, expected, atol=1e-6)
    gain = -(adv @ w) * y + (x @ w) * y  # = ε‖w‖₂ per sample
    assert torch.allclose(gain, torch.full((5,), 0.3 * float(w.norm())), atol=1e-5)
    # a zero gradient leaves the sample where it is
    assert torch.equal(fgm_attack(lambda t: t @ torch.zeros(4), x, y, 0.3, loss_fn=_linear_loss), x)


def test_l2_unit_matches_a_loop_and_keeps_zeros():
    g = torch.randn(4, 2, 3)
    g[2] = 0
    out = l2_unit(g)
    for i in range(4):
        n = float(g[i].norm())
        ref = g[i] / n if n > 0 else torch.zeros_like(g[i])
        assert torch.allclose(out[i], ref)


def test_pgd_on_a_linear_model_reaches_the_corner_or_the_sphere():
    w = torch.tensor([2.0, -0.5, 1.0])
    x, y = torch.randn(6, 3), torch.ones(6)
    model = lambda t: t @ w  # noqa: E731
    inf = pgd_attack(model, x, y, 0.2, steps=7, norm="linf", loss_fn=_linear_loss)
    assert torch.allclose(inf, fgsm_attack(model, x, y, 0.2, loss_fn=_linear_loss), atol=1e-6)
    l2 = pgd_attack(model, x, y, 0.2, steps=7, norm="l2", loss_fn=_linear_loss)
    assert torch.allclose(l2, fgm_attack(model, x, y, 0.2, loss_fn=_linear_loss), atol=1e-6)


def test_pgd_stays_in_the_ball_and_beats_one_step_on_a_network():
    torch.manual_seed(1)
    model = mlp([8, 64, 64, 4])
    x, y = torch.rand(256, 8), torch.randint(0, 4, (256,))
    f = torch.nn.functional.cross_entropy
    for norm, one_step in [("linf", fgsm_attack), ("l2", fgm_attack)]:
        adv = pgd_attack(model, x, y, 0.5, steps=20, norm=norm, clamp=(0.0, 1.0))
        size = (adv - x).abs().amax(1) if norm == "linf" else (adv - x).norm(dim=1)
        assert size.max() <= 0.5 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
        assert f(model(adv), y) > f(model(one_step(model, x, y, 0.5, clamp=(0.0, 1.0))), y)
    assert all(p.grad is None for p in model.parameters())


def test_attacks_bad_input():
    model = mlp([2, 2])
    x, y = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    with pytest.raises(TypeError, match="x must"):
        fgm_attack(model, x.long(), y, 0.1)
    with pytest.raises(ValueError, match="eps"):
        pgd_attack(model, x, y, -1.0)
    with pytest.raises(ValueError, match="norm"):
        pgd_attack(model, x, y, 0.1, norm="l1")
    with pytest.raises(ValueError, match="steps"):
        pgd_attack(model, x, y, 0.1, steps=0)
    with pytest.raises(ValueError, match="alpha"):
        pgd_attack(model, x, y, 0.1, alpha=0.0)


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(7, 3)
        self.out = torch.nn.Linear(3, 2)

    def forward(self, ids):
        return self.out(self.embedding(ids).mean(1))


def test_fgm_class_moves_the_embedding_by_eps_along_its_gradient_and_restores_exactly():
    torch.manual_seed(0)
    model = _Tiny()
    ids, y = torch.randint(0, 7, (5, 4)), torch.randint(0, 2, (5,))
    torch.nn.functional.cross_entropy(model(ids), y).backward()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    g = model.embedding.weight.grad.clone()
    fgm = FGM(model, "embedding", eps=0.7)
    norms = fgm.attack()
    assert math.isclose(norms["embedding.weight"], float(g.norm()), rel_tol=1e-6)
    delta = model.embedding.weight.detach() - before["embedding.weight"]
    assert torch.allclose(delta, 0.7 * g / g.norm(), atol=1e-6)
    assert math.isclose(float(delta.norm()), 0.7, rel_tol=1e-5)
    assert torch.equal(model.out.weight, before["out.weight"])
    with pytest.raises(RuntimeError, match="restore"):
        fgm.attack()
    fgm.restore()
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n])  # bit-identical


def test_fgm_class_leaves_zero_or_missing_gradients_alone_and_checks_input():
    model = _Tiny()
    before = model.embedding.weight.detach().clone()
    fgm = FGM(model, "embedding", eps=1.0)
    assert fgm.attack() == {} and torch.equal(model.embedding.weight, before)
    fgm.restore()
    model.embedding.weight.grad = torch.zeros_like(before)
    assert fgm.attack() == {"embedding.weight": 0.0}
    assert torch.equal(model.embedding.weight, before)
    fgm.restore()
    with pytest.raises(ValueError, match="no trainable parameter name contains 'emb_x'"):
        FGM(model, "emb_x")
    with pytest.raises(ValueError, match="eps"):
        FGM(model, eps=-1)
    with pytest.raises(TypeError, match="model"):
        FGM(lambda t: t)


def test_penalty_gradient_gap_is_first_order_in_eps():
    torch.manual_seed(0)
    model = mlp([6, 24, 3], activation="tanh").double()
    x, y = torch.randn(40, 6, dtype=torch.float64), torch.randint(0, 3, (40,))
    for kind in ("unnormalised", "normalised", "sign"):
        (c1, r1), (c2, r2) = (penalty_gradient_gap(model, x, y, e, kind) for e in (1e-2, 1e-3))
        assert c2 > 1 - 1e-6 and r2 < 1e-2
        assert 8 < r1 / r2 < 12  # the error falls like ε
    with pytest.raises(ValueError, match="kind"):
        penalty_gradient_gap(model, x, y, 0.1, "l3")
    with pytest.raises(ValueError, match="eps"):
        penalty_gradient_gap(model, x, y, 0.0)


def test_penalty_gradient_gap_against_a_hand_computed_logistic_regression():
    # L = softplus(−w·x) (labels +1); ∇ₓL = −σ(−w·x)·w; unnormalised penalty ½ε‖∇ₓL‖²
    w = torch.tensor([[0.3, -0.7]], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[1.1, 0.4]], dtype=torch.float64)
    eps = 1e-4
    s = torch.sigmoid(-(x @ w.T))
    pen = 0.5 * eps * (s**2).sum() * (w**2).sum()
    (ref,) = torch.autograd.grad(pen, w)

    class Logistic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(w.detach().clone())

        def forward(self, t):
            return t @ self.w.T

    loss = lambda out, t: torch.nn.functional.softplus(-out).mean()  # noqa: E731
    cos, rel = penalty_gradient_gap(Logistic(), x, torch.ones(1), eps, "unnormalised", loss_fn=loss)
    assert cos > 1 - 1e-8 and rel < 1e-3
    # by hand: Δ = ε∇ₓL held fixed, increment of the w-gradient against the penalty's gradient
    delta = eps * (-s.detach() * w.detach())
    (g1,) = torch.autograd.grad(torch.nn.functional.softplus(-((x + delta) @ w.T)).sum(), w)
    (g0,) = torch.autograd.grad(torch.nn.functional.softplus(-(x @ w.T)).sum(), w)
    assert float((g1 - g0 - ref).norm() / ref.norm()) < 1e-3
