"""Tests for kexue_lab.optimization.accumulation (chapter 20) against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue_lab.optimization import accumulation as acc


def _grads(blocks: int, k: int, shapes: list[tuple[int, ...]], seed: int = 0) -> list:
    gen = torch.Generator().manual_seed(seed)
    return [
        [[torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes] for _ in range(k)]
        for _ in range(blocks)
    ]


def _params(shapes: list[tuple[int, ...]], seed: int = 1) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64)) for s in shapes]


def _clone(params: list[torch.nn.Parameter]) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(p.detach().clone()) for p in params]


SHAPES = [(4, 3), (5,)]


def test_chi_and_beta_tilde() -> None:
    assert [acc.chi(t, 3) for t in range(7)] == [1, 0, 0, 1, 0, 0, 1]
    assert all(acc.chi(t, 1) == 1 for t in range(5))
    for beta, k in [(0.9, 4), (0.9, 8), (0.99, 16), (0.0, 3)]:
        bt = acc.beta_tilde(beta, k)
        assert bt == pytest.approx(1 - (1 - beta) / k, abs=1e-15)
        assert (1 - bt) * k == pytest.approx(1 - beta, abs=1e-14)
    assert acc.beta_tilde(0.9, 1) == pytest.approx(0.9)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_sgdm_equals_torch_sgd_on_the_mean_gradient(k: int) -> None:
    lr, beta = 0.05, 0.9
    ours = _params(SHAPES)
    ref = _clone(ours)
    opt = acc.AccumSGDM(ours, lr=lr, beta=beta, k=k)
    # torch keeps b = βb + g, i.e. b = m/(1 − β); the same step needs lr·(1 − β)
    torch_opt = torch.optim.SGD(ref, lr=lr * (1 - beta), momentum=beta)
    for block in _grads(5, k, SHAPES):
        before = [p.detach().clone() for p in ours]
        for j, gs in enumerate(block):
            for p, g in zip(ours, gs):
                p.grad = g.clone()
            opt.step()
            if j < k - 1:  # frozen inside a block
                assert all(torch.equal(p, b) for p, b in zip(ours, before))
        for q, *gs in zip(ref, *block):
            q.grad = torch.stack(gs).mean(0)
        torch_opt.step()
        for p, q in zip(ours, ref):
            torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13)
            m = opt.state[p]["momentum"]
            b = torch_opt.state[q]["momentum_buffer"]
            torch.testing.assert_close(m, (1 - beta) * b, rtol=1e-12, atol=1e-13)


def test_sgdm_equals_a_hand_loop_with_a_buffer() -> None:
    k, lr, beta = 4, 0.1, 0.8
    ours = _params(SHAPES)
    opt = acc.AccumSGDM(ours, lr=lr, beta=beta, k=k)
    theta = [p.detach().numpy().copy() for p in ours]
    m = [np.zeros_like(t) for t in theta]
    for block in _grads(6, k, SHAPES, seed=3):
        buf = [np.zeros_like(t) for t in theta]
        for gs in block:
            for p, g in zip(ours, gs):
                p.grad = g.clone()
            opt.step()
            buf = [b + g.numpy() for b, g in zip(buf, gs)]
        m = [beta * mi + (1 - beta) * b / k for mi, b in zip(m, buf)]
        theta = [t - lr * mi for t, mi in zip(theta, m)]
        for p, t in zip(ours, theta):
            np.testing.assert_allclose(p.detach().numpy(), t, rtol=0, atol=1e-13)


def test_sgdm_missing_grad_counts_as_zero_and_closure() -> None:
    p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = acc.AccumSGDM([p], lr=1.0, beta=0.5, k=2)
    p.grad = torch.full((3,), 4.0, dtype=torch.float64)
    opt.step()
    p.grad = None
    loss = opt.step(lambda: torch.tensor(7.0))
    assert float(loss) == 7.0
    # m = 0.5·0 + 0.5·4/2 = 1 after the block; θ = 1 − 1·1 = 0
    torch.testing.assert_close(p.detach(), torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("exact", [False, True])
def test_adam_with_k1_is_torch_adam(exact: bool) -> None:
    ours = _params(SHAPES)
    ref = _clone(ours)
    opt = acc.AccumAdam(ours, lr=0.01, betas=(0.9, 0.99), k=1, exact_second_moment=exact)
    torch_opt = torch.optim.Adam(ref, lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    for (gs,) in _grads(7, 1, SHAPES):
        for p, q, g in zip(ours, ref, gs):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        torch_opt.step()
    for p, q in zip(ours, ref):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13)


def test_exact_adam_is_torch_adam_on_the_mean_gradient() -> None:
    k = 5
    ours = _params(SHAPES)
    ref = _clone(ours)
    opt = acc.AccumAdam(ours, lr=0.01, betas=(0.9, 0.999), k=k, exact_second_moment=True)
    torch_opt = torch.optim.Adam(ref, lr=0.01, betas=(0.9, 0.999))
    for block in _grads(6, k, SHAPES, seed=5):
        for gs in block:
            for p, g in zip(ours, gs):
                p.grad = g.clone()
            opt.step()
        for q, *gs in zip(ref, *block):
            q.grad = torch.stack(gs).mean(0)
        torch_opt.step()
        for p, q in zip(ours, ref):
            torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13)


def test_folded_adam_uses_the_mean_of_squares() -> None:
    """Hand loop of the article's modified Adam (v from (1/k)Σg², bias correction with t/k)."""
    k, lr, b1, b2, eps = 3, 0.02, 0.9, 0.99, 1e-8
    ours = _params([(6,)])
    opt = acc.AccumAdam(ours, lr=lr, betas=(b1, b2), k=k, eps=eps)
    theta = ours[0].detach().numpy().copy()
    m, v = np.zeros(6), np.zeros(6)
    for n, block in enumerate(_grads(5, k, [(6,)], seed=9), start=1):
        gs = np.stack([g[0].numpy() for g in block])
        for g in block:
            ours[0].grad = g[0].clone()
            opt.step()
        m = b1 * m + (1 - b1) * gs.mean(0)
        v = b2 * v + (1 - b2) * (gs**2).mean(0)
        theta = theta - lr * (m / (1 - b1**n)) / (np.sqrt(v / (1 - b2**n)) + eps)
        np.testing.assert_allclose(ours[0].detach().numpy(), theta, rtol=0, atol=1e-12)
    exact = acc.AccumAdam(_params([(6,)]), k=k, exact_second_moment=True)
    assert "grad_sum" not in opt.state[ours[0]]  # no extra buffer in the folded version
    p = exact.param_groups[0]["params"][0]
    p.grad = torch.ones(6, dtype=torch.float64)
    exact.step()
    assert "grad_sum" in exact.state[p]


def test_simulation_modes() -> None:
    kw = dict(k=4, beta=0.9, lr=0.05, batch=2, steps=400, dim=5, seeds=[0, 1])
    runs = {mode: acc.simulate_regression(mode, **kw) for mode in acc.MODES}
    np.testing.assert_allclose(runs["accum"]["w"], runs["embedded"]["w"], rtol=0, atol=1e-12)
    assert not np.allclose(runs["accum"]["w"], runs["beta_tilde"]["w"])
    for out in runs.values():
        assert out["excess"].shape == (2,)
        np.testing.assert_allclose(
            out["excess"], 0.5 * ((out["w"] - out["w_star"]) ** 2).sum(1), rtol=1e-12
        )
    rec = acc.simulate_regression("plain", record_every=100, **kw)
    assert rec["curve"].shape == (2, 4) and list(rec["at"]) == [100, 200, 300, 400]
    np.testing.assert_allclose(rec["curve"][:, -1], rec["excess"])
    # with k = 1 every gated mode is plain momentum SGD
    one = {m: acc.simulate_regression(m, **{**kw, "k": 1})["w"] for m in acc.MODES}
    for w in one.values():
        np.testing.assert_allclose(w, one["plain"], rtol=0, atol=1e-12)


def test_bad_input() -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="lr"):
        acc.AccumSGDM(p, lr=0.0, beta=0.9, k=2)
    with pytest.raises(ValueError, match="beta"):
        acc.AccumSGDM(p, lr=0.1, beta=1.0, k=2)
    with pytest.raises(ValueError, match="k"):
        acc.AccumSGDM(p, lr=0.1, beta=0.9, k=0)
    with pytest.raises(TypeError, match="k"):
        acc.AccumSGDM(p, lr=0.1, beta=0.9, k=2.5)
    with pytest.raises(TypeError, match="beta"):
        acc.AccumSGDM(p, lr=0.1, beta="0.9", k=2)
    with pytest.raises(TypeError, match="betas"):
        acc.AccumAdam(p, betas=0.9)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        acc.AccumAdam(p, betas=(0.9, -0.1))
    with pytest.raises(ValueError, match="eps"):
        acc.AccumAdam(p, eps=0.0)
    with pytest.raises(TypeError, match="exact_second_moment"):
        acc.AccumAdam(p, exact_second_moment=1)
    with pytest.raises(ValueError, match="t"):
        acc.chi(-1, 2)
    with pytest.raises(ValueError, match="beta"):
        acc.beta_tilde(float("nan"), 2)
    with pytest.raises(ValueError, match="mode"):
        acc.simulate_regression("adam")
    with pytest.raises(ValueError, match="seeds"):
        acc.simulate_regression("plain", seeds=[])
    with pytest.raises(ValueError, match="noise"):
        acc.simulate_regression("plain", noise=-1.0)
