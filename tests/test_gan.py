"""Tests of kexue_lab.generative.gan: gradient-normalised critics (ch. 10) and R1 (ch. 11).

References are independent of the module: closed forms for a linear critic, a per-sample
loop of ``torch.autograd.grad``, and ``torch.autograd.gradcheck`` in float64.
"""

import pytest
import torch

from kexue_lab.generative.gan import normalized_critic, r1_penalty
from kexue_lab.nn import mlp


def linear_critic(dim=5, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    w = torch.randn(dim, dtype=dtype)
    b = torch.randn((), dtype=dtype)
    return w, b, (lambda t: t @ w + b)


def leaky_mlp(seed=0):
    torch.manual_seed(seed)
    return mlp([3, 16, 16, 1], activation=lambda: torch.nn.LeakyReLU(0.2)).double()


def tanh_mlp(seed=0):
    torch.manual_seed(seed)
    return mlp([3, 8, 1], activation="tanh").double()


def loop_reference(D, x, mode, eps=1e-4):
    """D̂ sample by sample, with one autograd.grad call per sample."""
    out = []
    for xi in x:
        xi = xi.unsqueeze(0)
        if not xi.requires_grad:
            xi = xi.clone().requires_grad_(True)
        d = D(xi).reshape(())
        (grad,) = torch.autograd.grad(d, xi, create_graph=True)
        g = grad.norm()
        out.append(d / (g + d.abs()) if mode == "gn" else d * g / (g**2 + eps))
    return torch.stack(out)


# --- closed forms for a linear critic --------------------------------------------------


@pytest.mark.parametrize("eps", [1e-4, 0.5])
def test_linear_critic_closed_forms(eps):
    w, b, D = linear_critic()
    x = torch.randn(7, 5, dtype=torch.float64)
    d, g = x @ w + b, w.norm()
    gn = normalized_critic(D, x, mode="gn")
    gran = normalized_critic(D, x, mode="gran", eps=eps)
    assert gn.shape == gran.shape == (7,)
    torch.testing.assert_close(gn, d / (g + d.abs()))
    torch.testing.assert_close(gran, d * g / (g**2 + eps))


def test_gn_lies_strictly_between_minus_one_and_one():
    D = leaky_mlp()
    x = 50 * torch.randn(500, 3, dtype=torch.float64)  # large |D| pushes D̂ towards ±1
    out = normalized_critic(D, x)
    assert out.abs().max() < 1
    assert out.abs().max() > 0.5


def test_output_shape_for_scores_of_shape_b_and_b1():
    D = leaky_mlp()
    x = torch.randn(4, 3, dtype=torch.float64)
    flat = normalized_critic(lambda t: D(t).squeeze(1), x, mode="gran")
    col = normalized_critic(D, x, mode="gran")
    assert flat.shape == col.shape == (4,)
    torch.testing.assert_close(flat, col)


# --- against a per-sample loop ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["gn", "gran"])
@pytest.mark.parametrize("make", [leaky_mlp, tanh_mlp])
def test_matches_a_per_sample_loop_in_value_and_gradients(mode, make):
    D = make()
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    ours = normalized_critic(D, x, mode=mode)
    ref = loop_reference(D, x, mode)
    torch.testing.assert_close(ours, ref)
    # gradients of a scalar loss, w.r.t. the parameters and w.r.t. x (the generator path)
    weights = torch.linspace(-1, 2, len(x), dtype=torch.float64)
    params = list(D.parameters())
    g_ours = torch.autograd.grad((weights * ours).sum(), [x, *params])
    g_ref = torch.autograd.grad((weights * ref).sum(), [x, *params])
    for a, r in zip(g_ours, g_ref):
        torch.testing.assert_close(a, r)


def test_gradients_reach_a_generator():
    torch.manual_seed(1)
    G = torch.nn.Linear(2, 3).double()
    D = tanh_mlp()
    out = normalized_critic(D, G(torch.randn(8, 2, dtype=torch.float64)), mode="gn")
    out.mean().backward()
    assert G.weight.grad is not None and G.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in D.parameters())


# --- gradient norm of D̂ inside a linear region -----------------------------------------
# With g = ‖∇D‖ constant on the region, ∂/∂D [D/(g+|D|)] = ((g+|D|) − D·sign D)/(g+|D|)²
# = g/(g+|D|)², so ‖∇D̂‖ = g²/(g+|D|)² ≤ 1; for GraN ∇D̂ = g/(g²+ε)·∇D, ‖∇D̂‖ = g²/(g²+ε).


@pytest.mark.parametrize("mode", ["gn", "gran"])
def test_gradient_norm_of_the_normalised_critic_inside_a_linear_region(mode):
    D, eps = leaky_mlp(), 1e-4
    x = torch.randn(300, 3, dtype=torch.float64, requires_grad=True)
    (grad_hat,) = torch.autograd.grad(normalized_critic(D, x, mode=mode, eps=eps).sum(), x)
    (grad_d,) = torch.autograd.grad(D(x).sum(), x)
    g, d = grad_d.norm(dim=1), D(x).reshape(-1).detach()
    expected = g**2 / (g + d.abs()) ** 2 if mode == "gn" else g**2 / (g**2 + eps)
    torch.testing.assert_close(grad_hat.norm(dim=1), expected, rtol=1e-9, atol=1e-12)
    assert grad_hat.norm(dim=1).max() <= 1 + 1e-12
    # the direction is that of ∇D (the scalar factor g/(g+|D|)² or g/(g²+ε) is positive)
    cos = (grad_hat * grad_d).sum(1) / (grad_hat.norm(dim=1) * g)
    torch.testing.assert_close(cos, torch.ones_like(cos))


def test_gn_gradient_norm_is_one_where_d_is_zero():
    w, _, _ = linear_critic()
    D = lambda t: t @ w  # noqa: E731  D(0) = 0
    x = torch.zeros(1, 5, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(normalized_critic(D, x).sum(), x)
    torch.testing.assert_close(grad.norm(), torch.tensor(1.0, dtype=torch.float64))


# --- gradcheck in float64 ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["gn", "gran"])
def test_gradcheck_wrt_x_and_parameters(mode):
    torch.manual_seed(0)
    kw = dict(dtype=torch.float64, requires_grad=True)
    x = torch.randn(4, 3, **kw)
    W1, b1 = torch.randn(5, 3, **kw), torch.randn(5, **kw)
    w2, b2 = torch.randn(5, **kw), torch.randn((), **kw)

    def f(x, W1, b1, w2, b2):
        return normalized_critic(
            lambda t: torch.tanh(t @ W1.T + b1) @ w2 + b2, x, mode=mode, eps=0.1
        )

    assert torch.autograd.gradcheck(f, (x, W1, b1, w2, b2))


def test_r1_gradcheck_wrt_parameters():
    torch.manual_seed(0)
    kw = dict(dtype=torch.float64, requires_grad=True)
    x = torch.randn(4, 3, dtype=torch.float64)
    W1, b1, w2 = torch.randn(5, 3, **kw), torch.randn(5, **kw), torch.randn(5, **kw)

    def f(W1, b1, w2):
        return r1_penalty(lambda t: torch.tanh(t @ W1.T + b1) @ w2, x, gamma=0.7)

    assert torch.autograd.gradcheck(f, (W1, b1, w2))


# --- R1 --------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.1, 10.0])
def test_r1_of_a_linear_critic_is_half_gamma_w_squared(gamma):
    w, b, _ = linear_critic()
    w.requires_grad_(True)
    x = 3 * torch.randn(9, 5, dtype=torch.float64)
    r1 = r1_penalty(lambda t: t @ w + b, x, gamma)
    assert r1.shape == ()
    torch.testing.assert_close(r1, gamma / 2 * w.detach().square().sum())
    (grad_w,) = torch.autograd.grad(r1, w)  # ∂/∂w γ/2‖w‖² = γw
    torch.testing.assert_close(grad_w, gamma * w.detach())


def test_r1_matches_a_per_sample_loop():
    D = tanh_mlp()
    x = torch.randn(6, 3, dtype=torch.float64)
    norms = []
    for xi in x:
        xi = xi.unsqueeze(0).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(xi).sum(), xi)
        norms.append(grad.norm() ** 2)
    torch.testing.assert_close(r1_penalty(D, x, 2.0), torch.stack(norms).mean())


def test_a_training_step_through_r1_changes_the_critic():
    torch.manual_seed(0)
    D = mlp([3, 16, 1], activation="tanh")
    before = [p.detach().clone() for p in D.parameters()]
    opt = torch.optim.SGD(D.parameters(), lr=0.1)
    loss = r1_penalty(D, torch.randn(32, 3), gamma=1.0)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in list(D.parameters())[:-1])
    opt.step()
    changed = [not torch.equal(a, p) for a, p in zip(before, D.parameters())]
    assert any(changed[:-1])


# --- bad input -------------------------------------------------------------------------


def test_bad_input():
    D = leaky_mlp()
    x = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="mode"):
        normalized_critic(D, x, mode="plain")
    for eps in (0.0, -1e-3):
        with pytest.raises(ValueError, match="eps"):
            normalized_critic(D, x, mode="gran", eps=eps)
    with pytest.raises(TypeError, match="eps"):
        normalized_critic(D, x, eps="small")
    with pytest.raises(ValueError, match="gamma"):
        r1_penalty(D, x, gamma=-1.0)
    with pytest.raises(TypeError, match="gamma"):
        r1_penalty(D, x, gamma="1")
    with pytest.raises(ValueError, match="gamma"):
        r1_penalty(D, x, gamma=float("nan"))
    with pytest.raises(TypeError, match="x must"):
        normalized_critic(D, torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="x must"):
        normalized_critic(D, [[0.0, 1.0, 2.0]])
    with pytest.raises(TypeError, match="x_real"):
        r1_penalty(D, torch.ones(4, 3, dtype=torch.int32), gamma=1.0)
    with pytest.raises(ValueError, match="x_real"):
        r1_penalty(D, torch.ones(0, 3), gamma=1.0)
    with pytest.raises(ValueError, match=r"D must return one score per sample.*\(4, 2\)"):
        normalized_critic(lambda t: torch.cat([t[:, :1], t[:, :1]], 1), x)
    with pytest.raises(ValueError, match="D must return"):
        r1_penalty(lambda t: t.sum(), x, gamma=1.0)
    with pytest.raises(TypeError, match="D must be callable"):
        normalized_critic("critic", x)


def test_r1_with_one_weight_per_sample_matches_a_loop():
    D = tanh_mlp(3)
    x = torch.randn(6, 3, dtype=torch.float64)
    gamma = torch.tensor([0.0, 1.0, 2.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    parts = [r1_penalty(D, x[i : i + 1], float(gamma[i])) for i in range(6)]
    torch.testing.assert_close(r1_penalty(D, x, gamma), torch.stack(parts).mean())
    torch.testing.assert_close(
        r1_penalty(D, x, torch.full((6,), 2.0).double()), r1_penalty(D, x, 2.0)
    )


def test_r1_per_member_weights_of_a_stacked_critic():
    # S · R1 with γ_b = γₛ on member s's rows = Σₛ γₛ/2 mean_b ‖∇D⁽ˢ⁾‖², and the
    # non-saturating loss likewise: S times the stacked mean = the sum of the members'
    from kexue_lab.generative.gan_train import ns_d_loss
    from kexue_lab.nn import StackedMLP

    D = StackedMLP([2, 16, 1], [0, 1], activation="leaky_relu")
    x, fake = torch.randn(64, 2), torch.randn(64, 2)
    gammas = [0.0, 1.5]
    per_row = torch.tensor(gammas).repeat_interleave(32)
    total = 2 * r1_penalty(D, x, per_row)
    alone = [r1_penalty(D.member(s), x[32 * s : 32 * (s + 1)], gammas[s]) for s in range(2)]
    assert total.item() == pytest.approx(sum(alone).item(), rel=1e-5)
    loss = 2 * ns_d_loss(D, x, fake)
    ref = sum(
        ns_d_loss(D.member(s), x[32 * s : 32 * (s + 1)], fake[32 * s : 32 * (s + 1)])
        for s in range(2)
    )
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)


def test_r1_per_sample_weights_bad_input():
    D, x = tanh_mlp(), torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"gamma must be .* shape \(4,\)"):
        r1_penalty(D, x, torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=">= 0"):
        r1_penalty(D, x, torch.tensor([1.0, -1.0, 0.0, 0.0], dtype=torch.float64))
