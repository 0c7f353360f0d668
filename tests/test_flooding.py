"""Tests of kexue_lab.regularization.flooding (chapter 25) against plain references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue_lab import nn
from kexue_lab.regularization import flooding as fl


def test_flood_matches_the_two_branches_and_numpy() -> None:
    loss = torch.tensor([0.05, 0.2, 0.3, 1.5], dtype=torch.float64)
    for b in (0.0, 0.1, 0.3, 2.0):
        got = fl.flood(loss, b).numpy()
        want = np.where(loss.numpy() > b, loss.numpy(), 2 * b - loss.numpy())
        assert np.allclose(got, want, atol=1e-15)
        assert np.allclose(got, np.abs(loss.numpy() - b) + b)
    per_member = fl.flood(loss, [0.1, 0.1, 0.5, 0.5])
    assert np.allclose(per_member.numpy(), [0.15, 0.2, 0.7, 1.5])


def test_flood_gradient_is_sign_times_the_loss_gradient() -> None:
    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    x = torch.randn(10, 3)
    loss = ((x @ w) ** 2).mean()
    (plain,) = torch.autograd.grad(loss, w, retain_graph=True)
    (below,) = torch.autograd.grad(fl.flood(loss, loss.item() + 1.0), w, retain_graph=True)
    (above,) = torch.autograd.grad(fl.flood(loss, 0.0), w, retain_graph=True)
    (at,) = torch.autograd.grad(fl.flood(loss, loss.detach()), w)
    assert torch.allclose(above, plain) and torch.allclose(below, -plain)
    assert torch.count_nonzero(at) == 0


def test_flood_bad_input() -> None:
    with pytest.raises(TypeError, match="loss must"):
        fl.flood(torch.tensor([1, 2]), 0.1)
    with pytest.raises(TypeError, match="loss must"):
        fl.flood(0.5, 0.1)
    with pytest.raises(ValueError, match="b must be >= 0"):
        fl.flood(torch.tensor(0.5), -0.1)
    with pytest.raises(ValueError, match="b must be a finite"):
        fl.flood(torch.tensor(0.5), float("nan"))
    with pytest.raises(ValueError, match="levels >= 0"):
        fl.flood(torch.tensor([0.5, 0.2]), [0.1, -0.2])
    with pytest.raises(ValueError, match="does not broadcast"):
        fl.flood(torch.zeros(3), torch.zeros(2))
    with pytest.raises(TypeError, match="b must"):
        fl.flood(torch.tensor(0.5), True)


def test_sinusoid_data_follows_the_papers_sampler() -> None:
    x, y, clean = fl.make_sinusoid2d(2000, label_noise=0.1, seed=3)
    assert x.shape == (2000, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    r = x.double().norm(dim=1)
    assert r.max() <= 2 + 1e-6
    # uniform in the disc: P(r < 1) = 1/4 (binomial standard error 0.01)
    assert abs((r < 1).double().mean().item() - 0.25) < 0.04
    rule = (1.5 * x[:, 0].double() + torch.sin(1.5 * x[:, 1].double()) > 0).long()
    assert torch.equal(rule, clean)
    assert int((y != clean).sum()) == 200
    again = fl.make_sinusoid2d(2000, label_noise=0.1, seed=3)
    assert all(torch.equal(a, b) for a, b in zip((x, y, clean), again))
    with pytest.raises(ValueError, match="label_noise"):
        fl.make_sinusoid2d(10, label_noise=1.5)
    with pytest.raises(TypeError, match="n must"):
        fl.make_sinusoid2d(2.5)


def test_fit_flooded_equals_a_loop_of_plain_models() -> None:
    """Member s of the stack trains exactly as one torch model with SGD on flood(L, b_s)."""
    x, y, _ = fl.make_sinusoid2d(40, seed=1)
    levels = [0.0, 0.4, 0.6]
    stack = nn.StackedMLP([2, 8, 1], [5, 5, 5])
    singles = [stack.member(s) for s in range(3)]
    hist = fl.fit_flooded(stack, x, y, levels, steps=30, lr=0.1, momentum=0.9)
    for s, (net, b) in enumerate(zip(singles, levels)):
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        for t in range(30):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x)[:, 0], y.float())
            assert abs(loss.item() - hist["train_loss"][t, s]) < 1e-5
            opt.zero_grad()
            (abs(loss - b) + b).backward()
            opt.step()
        loss_s, acc_s = fl.member_metrics(stack, x, y)
        with torch.no_grad():
            out = net(x)[:, 0]
        ref = torch.nn.functional.binary_cross_entropy_with_logits(out, y.float()).item()
        assert abs(loss_s[s] - ref) < 1e-5
        assert abs(acc_s[s] - ((out > 0).long() == y).float().mean().item()) < 1e-6


def test_fit_flooded_pins_the_full_batch_loss_at_b() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    stack = nn.StackedMLP([5, 32, 3], 2)
    hist = fl.fit_flooded(stack, x, y, [0.0, 0.5], steps=400, lr=0.1, task="multiclass")
    loss = hist["train_loss"]
    first = int(np.argmax(loss[:, 1] < 0.5))
    assert 0 < first < 300 and np.abs(loss[first:, 1] - 0.5).max() < 0.05
    assert loss[-1, 0] < 0.3


def test_fit_flooded_per_member_data_minibatches_and_records() -> None:
    x = torch.randn(2, 30, 2)
    y = torch.randint(0, 2, (2, 30))
    stack = nn.StackedMLP([2, 4, 1], [0, 1])
    hist = fl.fit_flooded(
        stack,
        x,
        y,
        [0.1, 0.2],
        steps=7,
        lr=0.01,
        batch_size=8,
        record_every=3,
        eval_every=2,
        evaluate=(x, y),
    )
    assert hist["step"].tolist() == [0, 3, 6] and hist["train_loss"].shape == (3, 2)
    assert hist["eval_step"].tolist() == [0, 2, 4, 6] and hist["eval_acc"].shape == (4, 2)


def test_fit_flooded_bad_input() -> None:
    x, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    stack = nn.StackedMLP([2, 3, 1], 2)
    with pytest.raises(TypeError, match="StackedMLP"):
        fl.fit_flooded(torch.nn.Linear(2, 1), x, y, [0.0], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="one flood level per member"):
        fl.fit_flooded(stack, x, y, [0.0], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="y must"):
        fl.fit_flooded(stack, x, y[:3], [0.0, 0.1], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="one slice per member"):
        fl.fit_flooded(stack, torch.zeros(3, 4, 2), y, [0.0, 0.1], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        fl.fit_flooded(stack, x, y, [0.0, 0.1], steps=1, lr=0.0)
    with pytest.raises(ValueError, match="task"):
        fl.member_metrics(stack, x, y, task="regression")
