"""Tests of kexue_lab.regularization.weissi against straightforward reference computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kexue_lab import nn
from kexue_lab.regularization import weissi


def _net(seed: int = 0, sizes=(5, 8, 8, 3)) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    model = nn.mlp(list(sizes)).double()
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                m.bias.normal_()  # non-zero biases: the cumulative scaling matters
    return model


def _reference_forward(weights, biases, x: np.ndarray, gammas=None, cumulative=True) -> np.ndarray:
    """A plain NumPy ReLU MLP, with layer l's weight × γ_l and bias × γ_1⋯γ_l (or × γ_l)."""
    h = x
    prod = 1.0
    for i, (w, b) in enumerate(zip(weights, biases)):
        g = 1.0 if gammas is None else gammas[i]
        prod *= g
        h = h @ (g * w).T + (prod if cumulative else g) * b
        if i < len(weights) - 1:
            h = np.maximum(h, 0)
    return h


def _params(model):
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [m.weight.detach().numpy().copy() for m in lins], [
        m.bias.detach().numpy().copy() for m in lins
    ]


def test_rescale_matches_the_reference_and_keeps_the_function() -> None:
    model = _net()
    ws, bs = _params(model)
    x = np.random.default_rng(0).normal(size=(50, 5))
    before = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(before, _reference_forward(ws, bs, x), atol=1e-12)
    gammas = [2.0, 0.25, 2.0]
    weissi.rescale_layers(model, gammas)
    ws2, bs2 = _params(model)
    np.testing.assert_allclose(ws2[1], 0.25 * ws[1], rtol=1e-15)
    np.testing.assert_allclose(bs2[1], 0.5 * bs[1], rtol=1e-15)  # 2 · 0.25
    np.testing.assert_allclose(bs2[2], bs[2], rtol=1e-15)  # 2 · 0.25 · 2
    after = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(after, before, atol=1e-12)
    naive = _reference_forward(ws, bs, x, gammas, cumulative=False)
    assert np.abs(naive - before).max() > 1e-3  # per-layer bias scaling changes the function


def test_rescale_multiplies_the_output_by_the_product() -> None:
    model = _net(1)
    ws, bs = _params(model)
    x = np.random.default_rng(1).normal(size=(20, 5))
    gammas = [3.0, 0.5, 1.5]
    out = weissi.rescale_layers(model, gammas)(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, 2.25 * _reference_forward(ws, bs, x), rtol=1e-12)
    np.testing.assert_allclose(out, _reference_forward(ws, bs, x, gammas), rtol=1e-12)


def test_penalties_match_a_direct_computation() -> None:
    model = _net(2)
    ws, _ = _params(model)
    lam1, lam2 = 0.3, 0.07
    want = sum(
        lam1 * math.log(np.sqrt((w**2).sum())) + lam2 * np.abs(w).sum() / np.sqrt((w**2).sum())
        for w in ws
    )
    assert weissi.weissi_penalty(model, lam1, lam2).item() == pytest.approx(want, rel=1e-12)
    assert weissi.l2_penalty(model).item() == pytest.approx(sum((w**2).sum() for w in ws), 1e-12)
    norms = weissi.layer_norms(model).detach().numpy()
    np.testing.assert_allclose(norms, [np.linalg.norm(w) for w in ws], rtol=1e-12)


def test_weissi_is_invariant_and_l2_is_not() -> None:
    model = _net(3)
    before = [weissi.weissi_penalty(model, 1.0, lam2).item() for lam2 in (0.0, 0.5)]
    l2_before = weissi.l2_penalty(model).item()
    weissi.rescale_layers(model, [5.0, 0.1, 2.0])
    after = [weissi.weissi_penalty(model, 1.0, lam2).item() for lam2 in (0.0, 0.5)]
    np.testing.assert_allclose(after, before, atol=1e-12)
    assert abs(weissi.l2_penalty(model).item() - l2_before) > 1.0
    # a rescaling with product ≠ 1 shifts λ₁Σlog‖W‖ by λ₁·log Πγ
    weissi.rescale_layers(model, [2.0, 1.0, 1.0])
    assert weissi.weissi_penalty(model, 1.0).item() == pytest.approx(before[0] + math.log(2), 1e-12)


def test_penalty_gradient_is_lambda_w_over_norm_squared() -> None:
    model = _net(4)
    w = model[0].weight
    (g,) = torch.autograd.grad(weissi.weissi_penalty(model, 0.2), [w])
    torch.testing.assert_close(g, 0.2 * w / (w**2).sum())


def test_stacked_members_match_their_sequential_export() -> None:
    torch.manual_seed(0)
    stack = nn.StackedMLP([4, 6, 3], [0, 1]).double()
    weissi.rescale_layers(stack, [3.0, 1 / 3])
    per_member = weissi.weissi_penalty(stack, 0.5, 0.1)
    assert per_member.shape == (2,)
    for s in range(2):
        seq = stack.member(s).double()
        assert per_member[s].item() == pytest.approx(weissi.weissi_penalty(seq, 0.5, 0.1).item())
        np.testing.assert_allclose(
            weissi.layer_norms(stack)[:, s].detach(), weissi.layer_norms(seq).detach()
        )
        assert weissi.l2_penalty(stack)[s].item() == pytest.approx(weissi.l2_penalty(seq).item())


def _reference_gd(x, y, sizes, gammas, lr, steps, l2=0.0, decay=0.0, lam1=0.0):
    """Plain full-batch GD on one torch.nn.Sequential, the slow way: ‖W_l‖ after every step."""
    model = nn.StackedMLP(sizes, [0]).member(0).double()
    for m in model:
        if isinstance(m, torch.nn.Linear):
            m.bias.requires_grad_(False)
    weissi.rescale_layers(model, gammas)
    ws = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    out = []
    for _ in range(steps + 1):
        out.append([w.norm().item() for w in ws])
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss = loss + l2 * sum((w**2).sum() for w in ws)
        loss = loss + lam1 * sum(torch.log(w.norm()) for w in ws)
        grads = torch.autograd.grad(loss, ws)
        with torch.no_grad():
            for w, g in zip(ws, grads):
                w.mul_(1 - lr * decay).sub_(lr * g)
    return np.array(out)


def test_train_regimes_gd_matches_a_plain_loop() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=gen)
    regimes = {"none": {}, "l2": {"l2": 0.05}, "decay": {"decay": 0.1}, "w": {"weissi": 0.01}}
    kw = dict(gammas=[3.0, 1 / 3], lr=0.05, steps=30)
    out = weissi.train_regimes(x, y, [6, 8, 3], regimes, show_progress=False, **kw)
    assert out.norms.shape == (31, 2, 4) and out.loss.shape == (31, 4)
    refs = [{}, {"l2": 0.05}, {"decay": 0.1}, {"lam1": 0.01}]
    for s, extra in enumerate(refs):
        want = _reference_gd(x, y, [6, 8, 3], **kw, **extra)
        np.testing.assert_allclose(out.norms[:, :, s], want, rtol=1e-7)  # baddbmm vs Linear
    assert out.train_acc.shape == (4, 1) and np.isnan(out.test_acc).all()


def test_train_regimes_adam_runs_and_records_every() -> None:
    x = torch.randn(32, 4)
    y = torch.randint(0, 2, (32,))
    out = weissi.train_regimes(
        x,
        y,
        [4, 5, 2],
        {"a": {}, "b": {"decay": 0.1}},
        seeds=[0, 1],
        optimizer="adam",
        lr=1e-2,
        steps=10,
        every=4,
        x_test=x,
        y_test=y,
        show_progress=False,
    )
    assert list(out.t) == [0, 4, 8, 10] and out.test_acc.shape == (2, 2)
    assert np.isfinite(out.norms).all()


def test_bad_input() -> None:
    model = _net()
    with pytest.raises(ValueError, match="one factor per Linear layer"):
        weissi.rescale_layers(model, [1.0, 2.0])
    with pytest.raises(ValueError, match="gammas must all be > 0"):
        weissi.rescale_layers(model, [1.0, -1.0, -1.0])
    with pytest.raises(TypeError, match="gammas"):
        weissi.rescale_layers(model, ["a", 1, 1])
    with pytest.raises(ValueError, match="lam1 must be >= 0"):
        weissi.weissi_penalty(model, -0.1)
    with pytest.raises(TypeError, match="lam2"):
        weissi.weissi_penalty(model, 0.1, lam2="x")
    with pytest.raises(ValueError, match="not positively homogeneous"):
        weissi.layer_norms(nn.mlp([3, 4, 2], activation="tanh"))
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        weissi.layer_norms(torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="at least one"):
        weissi.layer_norms(torch.nn.Sequential(torch.nn.ReLU()))
    with pytest.raises(ValueError, match="activation"):
        weissi.layer_norms(nn.StackedMLP([3, 4, 2], 2, activation="tanh"))
    zero = nn.mlp([3, 2])
    torch.nn.init.zeros_(zero[0].weight)
    with pytest.raises(ValueError, match="non-zero"):
        weissi.weissi_penalty(zero, 1.0)
    x, y = torch.randn(8, 3), torch.zeros(8, dtype=torch.long)
    with pytest.raises(ValueError, match="optimizer"):
        weissi.train_regimes(x, y, [3, 2], {"a": {}}, optimizer="sgd", show_progress=False)
    with pytest.raises(ValueError, match="keys among"):
        weissi.train_regimes(x, y, [3, 2], {"a": {"l1": 1.0}}, show_progress=False)
    with pytest.raises(ValueError, match="must be >= 0"):
        weissi.train_regimes(x, y, [3, 2], {"a": {"l2": -1.0}}, show_progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        weissi.train_regimes(x, y, [3, 2], {}, show_progress=False)
    with pytest.raises(ValueError, match="x must be"):
        weissi.train_regimes(x[:, 0], y, [3, 2], {"a": {}}, show_progress=False)
