import pytest
import torch

from kexue_lab.nn import mlp
from kexue_lab.regularization.adversarial import fgsm_attack


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
