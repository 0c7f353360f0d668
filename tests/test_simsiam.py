"""Tests of kexue_lab.optimization.simsiam against independent references (chapter 24)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from kexue_lab.optimization import simsiam


def _reference_rhs(mode: str, k: float = 1.0):
    """The flow written out from l = ½(φθ − θ_target)², by hand, for solve_ivp."""

    def rhs(_t, y):
        phi, theta = y
        r = phi * theta - theta
        dtheta = -r * phi + (r if mode == "full" else 0.0)  # full: minus ∂l/∂θ_target = +r
        return [-k * r * theta, dtheta]

    return rhs


@pytest.mark.parametrize("mode", ["stopgrad", "full"])
@pytest.mark.parametrize("start", [(0.6, 0.1), (0.3, 0.5), (-0.6, 0.1), (1.4, -0.3)])
def test_toy_flow_matches_solve_ivp(mode: str, start: tuple[float, float]) -> None:
    t, phi, theta = simsiam.toy_flow(*start, mode=mode, t_max=20.0, steps=4000)
    ref = solve_ivp(_reference_rhs(mode), (0, 20), list(start), t_eval=t, rtol=1e-11, atol=1e-13)
    assert t.shape == phi.shape == theta.shape == (4001,)
    np.testing.assert_allclose(phi, ref.y[0], atol=1e-8)
    np.testing.assert_allclose(theta, ref.y[1], atol=1e-8)


def test_predictor_speed_and_array_starts() -> None:
    starts = np.array([0.2, 0.6, 0.9]), np.array([0.3, 0.1, 0.4])
    t, phi, theta = simsiam.toy_flow(*starts, t_max=5.0, steps=1000, predictor_speed=4.0)
    assert phi.shape == theta.shape == (1001, 3)
    for j in range(3):
        y0 = [starts[0][j], starts[1][j]]
        ref = solve_ivp(_reference_rhs("stopgrad", 4.0), (0, 5), y0, rtol=1e-11, atol=1e-13)
        assert phi[-1, j] == pytest.approx(ref.y[0, -1], abs=1e-8)
        assert theta[-1, j] == pytest.approx(ref.y[1, -1], abs=1e-8)


@pytest.mark.parametrize("mode", ["stopgrad", "full"])
def test_invariant_is_conserved(mode: str) -> None:
    _, phi, theta = simsiam.toy_flow(0.6, 0.1, mode=mode, t_max=50.0, steps=5000)
    c = simsiam.invariant(phi, theta, mode)
    assert np.ptp(c) < 1e-9
    other = "full" if mode == "stopgrad" else "stopgrad"
    assert np.ptp(simsiam.invariant(phi, theta, other)) > 1e-2  # not conserved by the other


def test_toy_limits() -> None:
    _, phi, theta = simsiam.toy_flow(0.6, 0.1, "stopgrad", t_max=200.0, steps=20000)
    assert phi[-1] == pytest.approx(1.0, abs=1e-6)
    assert theta[-1] == pytest.approx(math.sqrt(0.65), abs=1e-6)
    _, phi, theta = simsiam.toy_flow(0.6, 0.1, "full", t_max=200.0, steps=20000)
    assert abs(theta[-1]) < 1e-6
    assert phi[-1] == pytest.approx(1 - math.sqrt(0.15), abs=1e-6)


def test_toy_bad_input() -> None:
    with pytest.raises(ValueError, match="mode='sg' is not allowed"):
        simsiam.toy_flow(0.6, 0.1, mode="sg")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        simsiam.toy_flow(0.6, 0.1, steps=0)
    with pytest.raises(TypeError, match="steps"):
        simsiam.toy_flow(0.6, 0.1, steps=10.5)
    with pytest.raises(ValueError, match="t_max must be > 0"):
        simsiam.toy_flow(0.6, 0.1, t_max=-1.0)
    with pytest.raises(ValueError, match="phi0 must be finite"):
        simsiam.toy_flow(float("nan"), 0.1)
    with pytest.raises(ValueError, match="same shape"):
        simsiam.toy_flow([0.1, 0.2], 0.1)
    with pytest.raises(ValueError, match="predictor_speed must be > 0"):
        simsiam.toy_flow(0.6, 0.1, predictor_speed=0.0)
    with pytest.raises(ValueError, match="mode"):
        simsiam.invariant(0.1, 0.2, "direct")


def test_augment_shifts_like_a_slow_loop() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(20, 1, 8, 8, generator=gen)
    out = simsiam.augment(x, noise=0.0, max_shift=2, generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(1)  # the same draws, replayed
    dy = torch.randint(0, 5, (20, 1, 1), generator=gen).flatten()
    dx = torch.randint(0, 5, (20, 1, 1), generator=gen).flatten()
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i in range(20):
        want = padded[i, :, dy[i] : dy[i] + 8, dx[i] : dx[i] + 8]
        np.testing.assert_array_equal(out[i].numpy(), want)
    same = simsiam.augment(x, noise=0.0, max_shift=0)
    assert torch.equal(same, x)
    noisy = simsiam.augment(x, noise=0.5, max_shift=0, generator=torch.Generator().manual_seed(0))
    assert (noisy - x).std().item() == pytest.approx(0.5, rel=0.1)
    with pytest.raises(ValueError, match="x must be a tensor of images"):
        simsiam.augment(x[0])
    with pytest.raises(ValueError, match="noise must be >= 0"):
        simsiam.augment(x, noise=-1.0)


def test_loss_stop_gradient_blocks_the_target_branch() -> None:
    z1, z2 = torch.randn(8, 4, requires_grad=True), torch.randn(8, 4, requires_grad=True)
    p1, p2 = torch.randn(8, 4), torch.randn(8, 4)
    loss = simsiam.simsiam_loss(p1, p2, z1, z2, stop_grad=True)
    assert loss.requires_grad is False
    loss = simsiam.simsiam_loss(p1, p2, z1, z2, stop_grad=False)
    loss.backward()
    assert z1.grad is not None and z1.grad.abs().sum() > 0
    cos = (p1 * z2).sum(1) / (p1.norm(dim=1) * z2.norm(dim=1))
    cos2 = (p2 * z1).sum(1) / (p2.norm(dim=1) * z1.norm(dim=1))
    assert loss.item() == pytest.approx(-0.5 * (cos.mean() + cos2.mean()).item(), abs=1e-6)


def test_output_std_and_knn_against_references() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 64, generator=gen)
    assert simsiam.output_std(z) == pytest.approx(1 / 8, rel=0.02)  # isotropic: ≈ 1/√d
    assert simsiam.output_std(torch.ones(10, 64)) == 0.0
    zn = z.numpy() / np.linalg.norm(z.numpy(), axis=1, keepdims=True)
    assert simsiam.output_std(z) == pytest.approx(zn.std(0, ddof=1).mean(), rel=1e-6)
    with pytest.raises(ValueError, match="z must be a tensor"):
        simsiam.output_std(torch.ones(5))
    f, y = torch.randn(300, 6, generator=gen), torch.randint(0, 4, (300,), generator=gen)
    f[:, 0] += 2 * y  # some signal
    ours = simsiam.knn_accuracy(f[:200], y[:200], f[200:], y[200:], k=5)
    sk = KNeighborsClassifier(5, metric="cosine").fit(f[:200].numpy(), y[:200].numpy())
    assert ours == pytest.approx(sk.score(f[200:].numpy(), y[200:].numpy()), abs=0.011)
    with pytest.raises(ValueError, match="k=500 exceeds"):
        simsiam.knn_accuracy(f[:200], y[:200], f[200:], y[200:], k=500)


def test_augmentation_variance_against_a_loop() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(7, 5, 3))
    want = np.mean(
        [np.sum((feats[i, v] - feats[i].mean(0)) ** 2) for i in range(7) for v in range(5)]
    )
    assert simsiam.augmentation_variance(feats) == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="feats must have shape"):
        simsiam.augmentation_variance(feats[:, :1])


def test_train_runs_and_records() -> None:
    x = torch.rand(64, 1, 8, 8)
    model, hist = simsiam.train(x, steps=5, batch=16, record_every=2, stop_grad=False)
    assert hist["step"] == [0, 2, 4] and len(hist["std"]) == 3
    assert all(math.isfinite(v) for v in hist["loss"]) and not model.training
    model, _ = simsiam.train(x, steps=2, batch=16, predictor=False)
    assert isinstance(model["predictor"], torch.nn.Identity)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        simsiam.train(x, steps=0)
