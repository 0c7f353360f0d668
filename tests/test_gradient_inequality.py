"""Tests of kexue_lab.regularization.gradient_inequality against slow per-network autograd."""

from __future__ import annotations

import pytest
import torch

from kexue_lab.nn import StackedMLP, input_gradient_norm, parameter_gradient_norm
from kexue_lab.regularization import gradient_inequality as gi

ACTS = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda t: t}


def _reference(model: StackedMLP, s: int, x: torch.Tensor) -> dict[str, list[float] | float]:
    """Network s at input x, one layer at a time, with autograd only (no forward mode)."""
    ws = [w[s].detach().T.clone().requires_grad_(True) for w in model.weights]  # W: (out, in)
    bs = [b[s, 0].detach().clone().requires_grad_(True) for b in model.biases]
    act = ACTS[model.activation]

    def upto(t: int, xx: torch.Tensor) -> torch.Tensor:  # h^(t+1) as a function of x
        h = xx
        for i in range(t):
            z = ws[i] @ h + bs[i]
            h = z if i == len(ws) - 1 else act(z)
        return h

    xg = x.clone().requires_grad_(True)
    f = 0.5 * (upto(len(ws), xg) ** 2).sum()
    grads = torch.autograd.grad(f, [xg, *ws, *bs])
    gx, gw, gb = grads[0], grads[1 : 1 + len(ws)], grads[1 + len(ws) :]
    out: dict[str, list[float] | float] = {"grad_x_sq": float((gx**2).sum())}
    out["h_sq"] = [float((upto(t, x) ** 2).sum()) for t in range(len(ws))]
    out["w_norm"] = [float(torch.linalg.svdvals(w.detach())[0]) for w in ws]
    jac = [
        torch.autograd.functional.jacobian(lambda xx, t=t: upto(t, xx), x) for t in range(len(ws))
    ]
    out["jac_norm"] = [float(torch.linalg.svdvals(j)[0]) for j in jac]
    out["grad_w_sq"] = [float((g**2).sum()) for g in gw]
    out["grad_b_sq"] = [float((g**2).sum()) for g in gb]
    return out


@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
def test_terms_match_a_slow_autograd_loop(activation: str) -> None:
    model = gi.random_networks([3, 5, 4, 2], 6, activation=activation, seed=3)
    x = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    terms = gi.inequality_terms(model, x)
    for s in range(6):
        ref = _reference(model, s, x[s])
        assert terms.grad_x_sq[s].item() == pytest.approx(ref["grad_x_sq"], rel=1e-10)
        for key in ("h_sq", "w_norm", "jac_norm", "grad_w_sq", "grad_b_sq"):
            got = getattr(terms, key)[:, s].tolist()
            assert got == pytest.approx(ref[key], rel=1e-9, abs=1e-14), key
    assert (terms.ratio <= 1 + 1e-12).all() and (terms.left <= terms.right * (1 + 1e-12)).all()
    # eq. (5): ‖∇_W f‖_F² = ‖δ‖²‖h‖² and ∇_b f = δ
    assert torch.allclose(terms.grad_w_sq, terms.delta_sq * terms.h_sq, rtol=1e-12)
    assert torch.allclose(terms.grad_b_sq, terms.delta_sq, rtol=1e-12)


def test_one_layer_scalar_output_is_an_equality_and_frobenius_is_weaker() -> None:
    model = gi.random_networks([5, 1], 50, activation="tanh", seed=1)
    x = torch.randn(50, 5, dtype=torch.float64)
    assert torch.allclose(gi.inequality_terms(model, x).ratio, torch.ones(50, dtype=torch.float64))
    deep = gi.random_networks([4, 8, 8, 3], 50, activation="relu", seed=2)
    x = torch.randn(50, 4, dtype=torch.float64)
    spec = gi.inequality_terms(deep, x).ratio
    fro = gi.inequality_terms(deep, x, norm="fro").ratio
    assert (fro <= spec * (1 + 1e-12)).all() and (fro < spec).any()


def test_layer_jacobians_against_autograd() -> None:
    model = gi.random_networks([3, 4, 2], 4, activation="tanh", seed=0)
    x = torch.randn(4, 3, dtype=torch.float64)
    hs, jacs = gi.layer_jacobians(model, x)
    net = model.member(2).double()
    assert torch.allclose(hs[-1][2], net(x[2]), atol=1e-6)
    assert torch.allclose(jacs[-1][2], torch.autograd.functional.jacobian(net, x[2]), atol=1e-6)


def test_random_networks_leave_the_global_stream_and_scale() -> None:
    torch.manual_seed(0)
    a = torch.rand(1)
    torch.manual_seed(0)
    model = gi.random_networks([200, 300], 2, scale=2.0, seed=5)
    assert torch.rand(1) == a
    assert model.weights[0].std().item() == pytest.approx(2.0 / 200**0.5, rel=0.02)
    again = gi.random_networks([200, 300], 2, scale=2.0, seed=5)
    assert torch.equal(model.weights[0], again.weights[0])


def test_jacobian_sq_norm_against_functional_jacobian() -> None:
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)
    ).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    got = gi.jacobian_sq_norm(net, x)
    want = [float((torch.autograd.functional.jacobian(net, xi) ** 2).sum()) for xi in x]
    assert got.tolist() == pytest.approx(want, rel=1e-10)


def test_stacked_penalty_equals_each_members_own() -> None:
    model = StackedMLP([6, 5, 3], [0, 1, 2])
    x, y = torch.randn(8, 6), torch.randint(3, (8,))
    lam = torch.tensor([0.0, 0.5, 2.0])
    per = torch.nn.functional.cross_entropy(
        model(x.expand(3, -1, -1)).transpose(1, 2), y.expand(3, -1), reduction="none"
    ).mean(dim=1)
    params = list(model.parameters())
    trick = parameter_gradient_norm((lam.sqrt() * per).sum(), params, squared=True)
    loop = 0.0
    for s in range(3):
        net = model.member(s)
        own = torch.nn.functional.cross_entropy(net(x), y)
        loop += lam[s] * parameter_gradient_norm(own, list(net.parameters()), squared=True)
    assert trick.item() == pytest.approx(float(loop), rel=1e-5)


def test_train_penalised_and_metrics() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 4, 4, generator=gen)
    y = (x.flatten(1).sum(dim=1) > 8).long()
    model = StackedMLP([16, 8, 2], [0, 0])
    history = gi.train_penalised(model, x.flatten(1), y, [0.0, 1.0], steps=5, batch_size=16)
    assert len(history) == 5 and all(h > 0 for h in history)
    assert not torch.equal(model.weights[0][0], model.weights[0][1])  # the penalty acted
    m = gi.member_metrics(model, x.flatten(1), y, eps=0.1)
    assert set(m) == {"accuracy", "fgsm_accuracy", "input_grad", "dirichlet", "residual"}
    assert all(v.shape == (2,) for v in m.values())
    net = model.member(1)
    want = input_gradient_norm(
        lambda z: torch.nn.functional.cross_entropy(net(z), y, reduction="none"), x.flatten(1)
    ).mean()
    assert m["input_grad"][1].item() == pytest.approx(want.item(), rel=1e-5)
    assert m["dirichlet"][1].item() == pytest.approx(
        gi.jacobian_sq_norm(net, x.flatten(1)).mean().item(), rel=1e-5
    )


def test_replicate_copies_one_member() -> None:
    model = StackedMLP([3, 4, 2], [0, 1, 2])
    rep = gi.replicate(model, 1, 5)
    x = torch.randn(5, 3)
    assert torch.allclose(rep(x.unsqueeze(1)).squeeze(1), model.member(1)(x), atol=1e-6)


def test_bad_input() -> None:
    model = gi.random_networks([3, 2], 2)
    with pytest.raises(ValueError, match="shape"):
        gi.inequality_terms(model, torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="norm"):
        gi.inequality_terms(model, torch.zeros(2, 3, dtype=torch.float64), norm="nuclear")
    with pytest.raises(TypeError, match="StackedMLP"):
        gi.inequality_terms(torch.nn.Linear(3, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="one scalar per network"):
        gi.inequality_terms(model, torch.zeros(2, 3, dtype=torch.float64), f=lambda h: h)
    with pytest.raises(ValueError, match="n_nets"):
        gi.random_networks([3, 2], 0)
    with pytest.raises(ValueError, match="scale"):
        gi.random_networks([3, 2], 2, scale=-1.0)
    with pytest.raises(ValueError, match="lambdas"):
        gi.train_penalised(
            StackedMLP([3, 2], 2), torch.zeros(4, 3), torch.zeros(4).long(), [0.0], steps=1
        )
    with pytest.raises(ValueError, match="lambdas"):
        gi.train_penalised(
            StackedMLP([3, 2], 2), torch.zeros(4, 3), torch.zeros(4).long(), [0.0, -1.0], steps=1
        )
    with pytest.raises(ValueError, match="member"):
        gi.replicate(StackedMLP([3, 2], 2), 2, 3)
    with pytest.raises(TypeError, match="x must"):
        gi.jacobian_sq_norm(torch.nn.Linear(3, 2), torch.zeros(3))
