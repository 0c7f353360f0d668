"""Tests of kexue_lab.foundations.capsules against a plain-loop NumPy reference of EM routing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kexue_lab.foundations import capsules as C


# ---- an independent reference: the paper's Procedure 1, one capsule and one number at a time ---
def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def reference_routing(votes, a_in, beta_u, beta_a, iters, lam, eps=C.EPS):
    """EM routing with explicit loops over the batch, the capsules and the dimensions."""
    votes, a_in = np.asarray(votes, float), np.asarray(a_in, float)
    n_b, n_in, n_out, d = votes.shape
    bu = np.broadcast_to(np.asarray(beta_u, float), (n_b, n_out))
    ba = np.broadcast_to(np.asarray(beta_a, float), (n_b, n_out))
    lm = np.broadcast_to(np.asarray(lam, float), (n_b, n_out))
    mu, var, act = np.zeros((n_b, n_out, d)), np.zeros((n_b, n_out, d)), np.zeros((n_b, n_out))
    for b in range(n_b):
        big_r = [[1.0 / n_out] * n_out for _ in range(n_in)]
        for t in range(iters):
            if t:  # E-step: R_ij = a_j p_ij / Σ_k a_k p_ik, p from the last M-step
                for i in range(n_in):
                    logs = []
                    for j in range(n_out):
                        lp = 0.0
                        for h in range(d):
                            diff = votes[b, i, j, h] - mu[b, j, h]
                            lp -= diff**2 / (2 * var[b, j, h]) + 0.5 * math.log(
                                2 * math.pi * var[b, j, h]
                            )
                        logs.append(math.log(act[b, j]) + lp)
                    top = max(logs)
                    total = sum(math.exp(v - top) for v in logs)
                    big_r[i] = [math.exp(v - top) / total for v in logs]
            for j in range(n_out):  # M-step for one upper capsule
                w = [a_in[b, i] * big_r[i][j] for i in range(n_in)]
                mass = sum(w)
                log_sigma = 0.0
                for h in range(d):
                    m_h = sum(w[i] * votes[b, i, j, h] for i in range(n_in)) / mass
                    v_h = sum(w[i] * (votes[b, i, j, h] - m_h) ** 2 for i in range(n_in)) / mass
                    mu[b, j, h], var[b, j, h] = m_h, v_h + eps
                    log_sigma += 0.5 * math.log(v_h + eps)
                cost = (bu[b, j] + log_sigma) * mass
                act[b, j] = _sigmoid(lm[b, j] * (ba[b, j] - cost))
    return mu, var, act


def _inputs(b=3, n_in=6, n_out=4, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    votes = torch.randn(b, n_in, n_out, d, generator=g, dtype=dtype)
    votes[:, : n_in // 2, 0] = 0.3 * votes[:, : n_in // 2, 0] + 1.0  # a cluster to find
    a_in = torch.rand(b, n_in, generator=g, dtype=dtype) * 0.9 + 0.1
    return votes, a_in


@pytest.mark.parametrize("iters", [1, 2, 3, 5])
def test_em_routing_matches_loop_reference(iters):
    votes, a_in = _inputs(seed=iters)
    g = torch.Generator().manual_seed(10 + iters)
    beta_u = torch.randn(4, generator=g, dtype=torch.float64)  # one per upper capsule
    beta_a = torch.randn(3, 4, generator=g, dtype=torch.float64)  # per example and capsule
    lam = torch.rand(3, 1, generator=g, dtype=torch.float64) + 0.05
    mu, var, act = C.em_routing(votes, a_in, beta_u, beta_a, iters=iters, lam=lam)
    ref = reference_routing(votes, a_in, beta_u, beta_a, iters, lam)
    for ours, want in zip((mu, var, act), ref):
        np.testing.assert_allclose(ours.numpy(), want, rtol=1e-10, atol=1e-12)


def test_defaults_scalars_shapes_and_dtype():
    votes, a_in = _inputs()
    mu, var, act = C.em_routing(votes, a_in, 0.5, -0.2)
    ref = reference_routing(votes, a_in, 0.5, -0.2, 3, 1.0)
    np.testing.assert_allclose(act.numpy(), ref[2], rtol=1e-10)
    assert mu.shape == var.shape == (3, 4, 5) and act.shape == (3, 4)
    assert mu.dtype == var.dtype == act.dtype == torch.float64
    out32 = C.em_routing(votes.float(), a_in.float(), 0.5, -0.2)
    assert all(t.dtype == torch.float32 for t in out32)
    torch.testing.assert_close(out32[2].double(), act, rtol=1e-4, atol=1e-5)


def test_one_iteration_is_the_activation_weighted_moments():
    votes, a_in = _inputs(seed=4)
    mu, var, _ = C.em_routing(votes, a_in, 0.0, 0.0, iters=1)
    w = a_in / a_in.sum(1, keepdim=True)
    mean = torch.einsum("bi,bijd->bjd", w, votes)
    torch.testing.assert_close(mu, mean, rtol=1e-12, atol=1e-12)
    spread = torch.einsum("bi,bijd->bjd", w, (votes - mean[:, None]) ** 2)
    torch.testing.assert_close(var, spread + C.EPS, rtol=1e-12, atol=1e-12)


def test_one_iteration_matches_the_chapter_01_m_step():
    em = pytest.importorskip("kexue_lab.foundations.em")
    g = torch.Generator().manual_seed(5)
    x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    resp = torch.full((40, 2), 0.5, dtype=torch.float64)
    _, means, covs = em.m_step(x, resp, "diag")
    votes = x[None, :, None].expand(1, 40, 2, 3)  # every lower capsule votes x_i for both
    mu, var, _ = C.em_routing(votes, torch.ones(1, 40, dtype=torch.float64), 0.0, 0.0, iters=1)
    torch.testing.assert_close(mu[0], means, rtol=1e-12, atol=1e-12)
    diag = torch.diagonal(covs, dim1=1, dim2=2)  # its variances carry REG_COVAR, ours EPS
    torch.testing.assert_close(var[0] - C.EPS, diag - em.REG_COVAR, rtol=1e-9, atol=1e-12)


def test_gradients_by_gradcheck():
    votes, a_in = _inputs(b=2, n_in=4, n_out=3, d=2, seed=7)
    beta_u = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    beta_a = torch.tensor(0.4, dtype=torch.float64)
    lam = torch.tensor(0.7, dtype=torch.float64)
    args = [t.clone().requires_grad_() for t in (votes, a_in, beta_u, beta_a, lam)]

    def f(v, a, bu, ba, lm):
        return C.em_routing(v, a, bu, ba, 3, lm)

    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_assignments_is_the_e_step_and_sums_to_one():
    votes, a_in = _inputs(seed=8)
    mu, var, act = C.em_routing(votes, a_in, 0.2, 0.1, iters=2)
    resp = C.assignments(votes, mu, var, act)
    torch.testing.assert_close(resp.sum(2), torch.ones(3, 6, dtype=torch.float64))
    log_p = torch.distributions.Normal(mu[:, None], var[:, None].sqrt()).log_prob(votes[:, :, :])
    ref = torch.softmax(act.log()[:, None] + log_p.sum(-1), dim=2)
    torch.testing.assert_close(resp, ref, rtol=1e-10, atol=1e-12)
    # one more iteration by hand = em_routing with one more iteration
    w = a_in[..., None] * resp
    mu3 = (w[..., None] * votes).sum(1) / w.sum(1)[..., None]
    torch.testing.assert_close(mu3, C.em_routing(votes, a_in, 0.2, 0.1, iters=3)[0])


def test_tight_cluster_wins_and_means_are_found():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(2, 16, generator=g, dtype=torch.float64)
    votes = torch.stack(
        [
            centres[0] + 0.1 * torch.randn(32, 16, generator=g, dtype=torch.float64),
            centres[1] + 1.0 * torch.randn(32, 16, generator=g, dtype=torch.float64),
        ],
        dim=1,
    )[None]
    mu, _, act = C.em_routing(votes, torch.ones(1, 32, dtype=torch.float64), 0.0, 0.0, lam=0.01)
    assert act[0, 0] > act[0, 1]
    assert (mu[0, 0] - centres[0]).abs().max() < 0.1


def test_a_parent_with_no_data_is_defined():
    votes, _ = _inputs(b=1)
    mu, var, act = C.em_routing(votes, torch.zeros(1, 6, dtype=torch.float64), 0.0, 0.3, lam=2.0)
    assert torch.isfinite(mu).all() and torch.isfinite(var).all()
    torch.testing.assert_close(act, torch.full_like(act, _sigmoid(0.6)))


@pytest.mark.parametrize(
    "kwargs, err, name",
    [
        (dict(votes=np.zeros((1, 2, 2, 2))), TypeError, "votes"),
        (dict(votes=torch.zeros(1, 2, 2, 2, dtype=torch.long)), TypeError, "votes"),
        (dict(votes=torch.zeros(2, 2, 2)), ValueError, "votes"),
        (dict(votes=torch.full((1, 2, 2, 2), float("nan"))), ValueError, "votes"),
        (dict(a_in=torch.ones(1, 3)), ValueError, "a_in"),
        (dict(a_in=torch.full((1, 2), 1.5)), ValueError, "a_in"),
        (dict(a_in=[[1.0, 1.0]]), TypeError, "a_in"),
        (dict(beta_u="0"), TypeError, "beta_u"),
        (dict(beta_u=torch.zeros(3)), ValueError, "beta_u"),
        (dict(beta_a=float("inf")), ValueError, "beta_a"),
        (dict(iters=0), ValueError, "iters"),
        (dict(iters=2.0), TypeError, "iters"),
        (dict(iters=True), TypeError, "iters"),
        (dict(lam=0.0), ValueError, "lam"),
        (dict(lam=torch.tensor([1.0, -1.0])), ValueError, "lam"),
    ],
)
def test_em_routing_bad_input(kwargs, err, name):
    args = dict(votes=torch.zeros(1, 2, 2, 2), a_in=torch.ones(1, 2), beta_u=0.0, beta_a=0.0)
    args.update(kwargs)
    with pytest.raises(err, match=name):
        C.em_routing(**args)


def test_assignments_bad_input():
    votes = torch.zeros(1, 2, 2, 3)
    mu, var, act = torch.zeros(1, 2, 3), torch.ones(1, 2, 3), torch.full((1, 2), 0.5)
    with pytest.raises(ValueError, match="sigma2"):
        C.assignments(votes, mu, 0 * var, act)
    with pytest.raises(ValueError, match="a_out"):
        C.assignments(votes, mu, var, 0 * act)
    with pytest.raises(ValueError, match="mu"):
        C.assignments(votes, mu[:, :1], var, act)


# ---- the entropy and the loss -------------------------------------------------------------------
def test_weighted_entropy_is_the_gaussian_entropy_times_the_mass():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 16, generator=g, dtype=torch.float64) * torch.linspace(0.5, 2, 16)
    r = torch.rand(50, generator=g, dtype=torch.float64)
    for mass in (1.0, 3.7):
        w = mass * r / r.sum()
        ours = C.weighted_gaussian_entropy(x, w)
        mu = (w[:, None] * x).sum(0) / mass
        var = (w[:, None] * (x - mu) ** 2).sum(0) / mass
        from scipy.stats import norm

        direct = -(
            w[:, None].numpy() * norm.logpdf(x.numpy(), mu.numpy(), var.sqrt().numpy())
        ).sum()
        analytic = 0.5 * torch.log(2 * math.pi * math.e * var).sum() * mass
        assert float(ours) == pytest.approx(float(direct), rel=1e-12)
        assert float(ours) == pytest.approx(float(analytic), rel=1e-12)


def test_weighted_entropy_batches_and_bad_input():
    x = torch.randn(4, 10, 3, dtype=torch.float64)
    r = torch.rand(4, 10, dtype=torch.float64)
    out = C.weighted_gaussian_entropy(x, r)
    assert out.shape == (4,)
    torch.testing.assert_close(out[2], C.weighted_gaussian_entropy(x[2], r[2]))
    with pytest.raises(ValueError, match="r"):
        C.weighted_gaussian_entropy(x, -r)
    with pytest.raises(ValueError, match="r"):
        C.weighted_gaussian_entropy(x, r[:, :3])
    with pytest.raises(ValueError, match="x"):
        C.weighted_gaussian_entropy(torch.ones(10), r[0])
    with pytest.raises(ValueError, match="variance"):
        C.weighted_gaussian_entropy(torch.zeros(10, 2, dtype=torch.float64), r[0])


def test_spread_loss_matches_loop_and_rejects_bad_input():
    g = torch.Generator().manual_seed(3)
    a = torch.rand(6, 4, generator=g, dtype=torch.float64)
    t = torch.randint(4, (6,), generator=g)
    want = np.mean(
        [
            sum(max(0.0, 0.6 - (a[b, t[b]] - a[b, i]).item()) ** 2 for i in range(4) if i != t[b])
            for b in range(6)
        ]
    )
    assert float(C.spread_loss(a, t, 0.6)) == pytest.approx(want, rel=1e-12)
    assert float(C.spread_loss(torch.eye(4), torch.arange(4), 0.9)) == 0.0
    with pytest.raises(TypeError, match="target"):
        C.spread_loss(a, t.float(), 0.5)
    with pytest.raises(ValueError, match="target"):
        C.spread_loss(a, t + 4, 0.5)
    with pytest.raises(ValueError, match="margin"):
        C.spread_loss(a, t, -0.1)


# ---- the layer and the task ---------------------------------------------------------------------
def test_layer_votes_and_members_are_independent():
    torch.manual_seed(0)
    layer = C.MatrixCapsules(3, 2, (2, 3), iters=2, lam=(0.5, 2.0), members=2).double()
    poses = torch.randn(2, 4, 3, 2, 3, dtype=torch.float64)
    a_in = torch.rand(2, 4, 3, dtype=torch.float64)
    mu, var, act = layer(poses, a_in)
    assert mu.shape == var.shape == (2, 4, 2, 6) and act.shape == (2, 4, 2)
    for k in range(2):  # each member routes its own votes P_i W_ij with its own λ, β
        votes = (poses[k][:, :, None] @ layer.weight[k]).flatten(-2)
        ref = C.em_routing(votes, a_in[k], layer.beta_u[k], layer.beta_a[k], 2, layer.lam[k].item())
        torch.testing.assert_close(act[k], ref[2])
        torch.testing.assert_close(mu[k], ref[0])
    with pytest.raises(ValueError, match="lam"):
        C.MatrixCapsules(3, 2, members=2, lam=(1.0,))
    with pytest.raises(ValueError, match="poses"):
        layer(poses[:1], a_in[:1])


def test_task_ideal_transforms_recognise_every_object():
    task = C.part_whole_task(classes=4, part_types=4, parts=4, noise=0.0, clutter=1, seed=2)
    poses, a_in, labels = C.sample_parts(task, 200, generator=torch.Generator().manual_seed(0))
    assert poses.shape == (200, 4, 2, 3) and a_in.shape == (200, 4) and labels.max() < 4
    layer = C.MatrixCapsules(4, 4, (2, 3), iters=3, lam=0.1).double()
    with torch.no_grad():  # W_ij = T_kp⁻¹: part i's vote for its object k is the object's pose
        for k in range(4):
            for p, i in enumerate(task.members[k]):
                layer.weight[0, i, k] = torch.linalg.inv(task.transforms[k, p])
    _, var, act = layer(poses.double()[None], a_in.double()[None])
    assert (act[0].argmax(1) == labels).all()
    # three of the four parts agree exactly (clutter = 1); in most scenes routing leaves the
    # fourth out, and the winner's variance is the floor EPS (up to the float32 poses)
    at_floor = (var[0, torch.arange(200), labels] - C.EPS).abs().amax(1) < 1e-9
    assert at_floor.float().mean() > 0.75


def test_sampling_is_reproducible_and_replaces_clutter_parts():
    task = C.part_whole_task(noise=0.0, clutter=2, seed=1)
    draw = [C.sample_parts(task, 50, generator=torch.Generator().manual_seed(9)) for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(*draw))
    poses, _, labels = draw[0]
    full = torch.cat([poses.double(), torch.tensor([0, 0, 1.0]).expand(50, 5, 1, 3)], 2)
    inv = torch.linalg.inv(task.transforms[labels])  # (50, parts, 3, 3)
    wholes = full[torch.arange(50)[:, None], task.members[labels]] @ inv  # each part's G
    agree = (wholes[:, :, None] - wholes[:, None]).abs().amax((-1, -2)) < 1e-5  # (50, 5, 5)
    assert (agree.sum(2).amax(1) == 3).all()  # 5 parts, 2 replaced: 3 agree on G


def test_task_bad_input():
    with pytest.raises(ValueError, match="clutter"):
        C.part_whole_task(parts=4, clutter=3)
    with pytest.raises(ValueError, match="parts"):
        C.part_whole_task(part_types=3, parts=4, clutter=0)
    with pytest.raises(ValueError, match="max_angle"):
        C.sample_parts(C.part_whole_task(), 3, generator=torch.Generator(), max_angle=4.0)


def test_training_lowers_the_loss_and_reports_accuracy():
    task = C.part_whole_task(seed=0)
    torch.manual_seed(0)
    model = C.MatrixCapsules(5, 5, (2, 3), iters=2, lam=0.3, members=2)
    losses = C.fit_part_whole(model, task, steps=40, batch_size=32, seed=0, margins=(0.2, 0.2))
    assert len(losses) == 40 and np.mean(losses[-10:]) < np.mean(losses[:10])
    test = C.sample_parts(task, 300, generator=torch.Generator().manual_seed(1))
    acc = C.part_whole_accuracy(model, *test)
    assert acc.shape == (2,) and (acc > 0.3).all()  # chance is 0.2
    with pytest.raises(ValueError, match="steps"):
        C.fit_part_whole(model, task, steps=0, batch_size=8)
