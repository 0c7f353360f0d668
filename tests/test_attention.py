import math

import numpy as np
import pytest
import torch

from kexue_lab.architecture import attention as attn
from kexue_lab.maths.entropy import softmax_entropy


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- entropy_invariant_scale --------------------------------------------------------------------
def test_scale_closed_form_and_calibration():
    for d in (1, 16, 64, 128):
        assert attn.entropy_invariant_scale(512, d) == pytest.approx(1 / math.sqrt(d), rel=1e-15)
        assert attn.entropy_invariant_scale(64, d, train_len=64) == pytest.approx(
            1 / math.sqrt(d), rel=1e-15
        )
    for n, frac in zip((64, 128, 256, 1024), (6 / 9, 7 / 9, 8 / 9, 10 / 9)):
        assert attn.entropy_invariant_scale(n, 64) * 8 == pytest.approx(frac, rel=1e-14)
    # κ log n / d with κ = √d / log 512 (chapter 16, eq. (5))
    n, d = 3000, 48
    assert attn.entropy_invariant_scale(n, d) == pytest.approx(
        math.sqrt(d) / math.log(512) * math.log(n) / d, rel=1e-14
    )
    assert attn.entropy_invariant_scale(2.5, 4.0, train_len=2.5) == pytest.approx(0.5)


def test_scale_accepts_arrays_and_tensors():
    ns = np.array([64, 512, 4096])
    out = attn.entropy_invariant_scale(ns, 64)
    assert isinstance(out, np.ndarray) and np.allclose(out, np.log(ns) / np.log(512) / 8)
    t = attn.entropy_invariant_scale(torch.tensor([64, 512]), 64)
    assert torch.is_tensor(t) and t.dtype == torch.get_default_dtype()
    assert torch.allclose(t, torch.tensor([2 / 3 / 8, 1 / 8]))
    t64 = attn.entropy_invariant_scale(torch.tensor([100.0], dtype=torch.float64), 16, train_len=10)
    assert t64.dtype == torch.float64 and t64.item() == pytest.approx(0.5)
    assert isinstance(attn.entropy_invariant_scale(np.int64(1024), 64), float)


def test_scale_bad_input():
    with pytest.raises(ValueError, match="n must be >= 2"):
        attn.entropy_invariant_scale(1, 64)
    with pytest.raises(ValueError, match="n must be >= 2"):
        attn.entropy_invariant_scale(np.array([64, 1]), 64)
    with pytest.raises(ValueError, match="n must be >= 2"):
        attn.entropy_invariant_scale(torch.tensor([0, 8]), 64)
    with pytest.raises(ValueError, match="d \\(the head size\\) must be >= 1"):
        attn.entropy_invariant_scale(64, 0)
    with pytest.raises(ValueError, match="train_len must be >= 2"):
        attn.entropy_invariant_scale(64, 64, train_len=1)
    with pytest.raises(ValueError, match="n must be a finite"):
        attn.entropy_invariant_scale(float("nan"), 64)
    with pytest.raises(TypeError, match="n must be"):
        attn.entropy_invariant_scale("512", 64)
    with pytest.raises(TypeError, match="d must be a real"):
        attn.entropy_invariant_scale(512, None)


def test_planted_key_scores():
    s = attn.planted_key_scores(100, 64, cos=0.6, draws=3000, seed=1)
    assert s.shape == (3000, 100) and np.all(s[:, 0] == pytest.approx(0.6 * 64))
    cos = s[:, 1:] / 64
    assert abs(cos.mean()) < 4 * math.sqrt(1 / 64 / cos.size)  # E cos = 0
    assert cos.var() == pytest.approx(1 / 64, rel=0.01)  # Var cos = 1/d
    assert np.array_equal(s, attn.planted_key_scores(100, 64, cos=0.6, draws=3000, seed=1))
    with pytest.raises(ValueError, match="n must be >= 2"):
        attn.planted_key_scores(1, 64)
    with pytest.raises(ValueError, match="cos must lie"):
        attn.planted_key_scores(10, 64, cos=1.5)
    with pytest.raises(ValueError, match="d must be >= 2"):
        attn.planted_key_scores(10, 1)
    with pytest.raises(TypeError, match="draws must be a positive integer"):
        attn.planted_key_scores(10, 8, draws=2.5)


def test_the_planted_key_draws_are_the_sphere_law():
    from kexue_lab.maths import sphere

    rng = np.random.default_rng(4)
    want = sphere.random_cosines(16, (7, 29), rng)
    assert np.array_equal(attn.planted_key_scores(30, 16, draws=7, seed=4)[:, 1:], 16 * want)
    mass, top = attn.planted_key_trials(30, 16, draws=7, seed=4)
    assert np.array_equal(top, want.max(axis=1) < 0.6)
    logits = 4.0 * np.concatenate([np.full((7, 1), 0.6), want], axis=1)
    assert np.allclose(mass, np.exp(logits[:, 0]) / np.exp(logits).sum(1), rtol=1e-12)


def test_planted_key_exact_and_mean_field_against_monte_carlo():
    n, d, draws = 1024, 32, 4000
    mass, top = attn.planted_key_trials(n, d, draws=draws, seed=5)
    p = attn.planted_key_argmax_prob(n, d)
    assert isinstance(p, float)
    assert abs(top.mean() - p) < 4 * math.sqrt(p * (1 - p) / draws)
    # many keys: the sum concentrates, so the mean field is close to the Monte Carlo mean
    assert mass.mean() == pytest.approx(attn.planted_key_mass(n, d), rel=0.03)
    # large d: E[e^{s cos}] → e^{1/2}
    big = attn.planted_key_mass(100, 600)
    assert big == pytest.approx(1 / (1 + 99 * math.exp(0.5 - 0.6 * math.sqrt(600))), rel=0.01)
    grid = np.arange(3, 50)
    assert attn.planted_key_mass(64, grid).shape == grid.shape
    assert np.all(np.diff(attn.planted_key_argmax_prob(64, grid)) > 0)
    with pytest.raises(ValueError, match="d must be an integer key size >= 3"):
        attn.planted_key_mass(64, 2)
    with pytest.raises(ValueError, match="d must be an integer key size >= 2"):
        attn.planted_key_argmax_prob(64, np.array([4.5]))
    with pytest.raises(ValueError, match="cos must lie in"):
        attn.planted_key_argmax_prob(64, 8, cos=1.5)
    with pytest.raises(ValueError, match="scale must be > 0"):
        attn.planted_key_mass(64, 8, scale=0.0)


def test_typical_cosines_are_the_mid_quantiles():
    from kexue_lab.maths import sphere

    c = attn.typical_cosines(41, 12)
    assert c.shape == (40,) and np.all(np.diff(c) > 0) and not c.flags.writeable
    assert np.allclose(sphere.cosine_cdf(c, 12), (np.arange(40) + 0.5) / 40, atol=1e-10)
    assert abs(c.mean()) < 1e-12  # symmetric law
    with pytest.raises(ValueError, match="n must be >= 2"):
        attn.typical_cosines(1, 12)


def test_power_law_fit_and_smallest_passing():
    x = np.array([2.0, 4.0, 8.0])
    assert attn.power_law_fit(x, 3 * x**2) == pytest.approx((2.0, 0.0), abs=1e-12)
    assert attn.power_law_fit(x, 3 * x**2, power=1.0)[1] > 0.1
    assert attn.smallest_passing(np.arange(2, 6), np.array([0.1, 0.4, 0.6, 0.9]), 0.5) == 4
    with pytest.raises(ValueError, match="extend the grid"):
        attn.smallest_passing(np.arange(2, 5), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="same length"):
        attn.smallest_passing(np.arange(2, 5), np.zeros(4), 0.5)
    with pytest.raises(ValueError, match="positive"):
        attn.power_law_fit(x, -x)
    with pytest.raises(ValueError, match="same length"):
        attn.power_law_fit(x, x[:2])


# ---- sharpening and the ideal key size (chapter 17) ---------------------------------------
def test_sharpen_is_softmax_of_scaled_logits():
    z = torch.randn(3, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for a in (0.5, 1.0, 1.7, 3.0):
        p = torch.softmax(z, -1)
        assert torch.allclose(attn.sharpen(p, a), torch.softmax(a * z, -1), atol=1e-14)
    assert (softmax_entropy(2.0 * z) < softmax_entropy(z)).all()
    assert torch.equal(attn.sharpen([0.0, 1.0], 2.0), torch.tensor([0.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="non-negative"):
        attn.sharpen(torch.tensor([-0.1, 1.1]), 2.0)
    with pytest.raises(ValueError, match="a must be > 0"):
        attn.sharpen(p, 0.0)
    with pytest.raises(TypeError, match="floating-point"):
        attn.sharpen(torch.tensor(0.5), 2.0)


def test_ideal_key_size():
    assert attn.ideal_key_size(512, 64) == pytest.approx(64)
    assert attn.ideal_key_size(64, 64) == pytest.approx(64 * 2 / 3)
    assert attn.ideal_key_size(4096, 64) == pytest.approx(64 * 4 / 3)
    assert attn.ideal_key_size(100, 10, base=10) == pytest.approx(20)
    with pytest.raises(ValueError, match="n and base must be > 1"):
        attn.ideal_key_size(1, 64)
    with pytest.raises(ValueError, match="d must be > 0"):
        attn.ideal_key_size(64, 0)


# ---- the retrieval task and model ----------------------------------------------------------------
def test_retrieval_task_layout():
    x, y = attn.retrieval_task(500, 12, n_keys=40, n_values=3, seed=3)
    assert x.shape == (500, 25) and y.shape == (500,)
    keys, values, query = x[:, :12], x[:, 12:24], x[:, 24]
    assert all(len(set(row.tolist())) == 12 for row in keys)  # distinct keys
    assert keys.max() < 40 and values.max() < 3
    where = (keys == query[:, None]).float().argmax(1)
    assert torch.equal(values.gather(1, where[:, None]).squeeze(1), y)
    x2, y2 = attn.retrieval_task(500, 12, n_keys=40, n_values=3, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="n must be <= n_keys"):
        attn.retrieval_task(10, 50, n_keys=40, n_values=3)


def test_retrieval_model_scales():
    torch.manual_seed(0)
    model = attn.RetrievalAttention(n_keys=64, n_values=4, dim=8, train_len=16)
    for n in (16, 64):
        x, _ = attn.retrieval_task(32, n, n_keys=64, n_values=4, seed=n)
        a_o, a_e = model.weights(x, "standard"), model.weights(x, "log_n")
        assert a_o.shape == (32, n) and torch.allclose(a_o.sum(-1), torch.ones(32))
        assert model(x).shape == (32, 4)
        if n == 16:  # calibrated to the training length: the two scales coincide
            assert torch.allclose(a_o, a_e, atol=1e-6)
        else:  # a larger scale sharpens every row
            assert (softmax_entropy(a_e.log()) < softmax_entropy(a_o.log())).all()
    assert "train_len=16" in repr(model)
    with pytest.raises(ValueError, match="scale"):
        model(x, "sqrt")
    with pytest.raises(ValueError, match="2n \\+ 1"):
        model(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="train_len must be >= 2"):
        attn.RetrievalAttention(8, 2, train_len=1)


def test_compare_scales_reports_both_scales_per_length():
    torch.manual_seed(1)
    model = attn.RetrievalAttention(n_keys=32, n_values=3, dim=8, train_len=8).train()
    tests = {n: attn.retrieval_task(50, n, n_keys=32, n_values=3, seed=n) for n in (8, 16)}
    out = attn.compare_scales(model, tests)
    assert set(out) == {(m, n) for m in attn.SCALES for n in (8, 16)} and model.training
    hit, h = out["standard", 16]
    x, y = tests[16]
    assert torch.equal(hit, (model(x, "standard").argmax(-1) == y).float())
    assert h == pytest.approx(softmax_entropy(model.weights(x, "standard").log()).mean().item())
    assert torch.equal(out["standard", 8][0], out["log_n", 8][0])


# ---- the planted-key toy at a fixed temperature, and heads at a fixed width (chapter 17) -------
def _mean_exp_cos_quad(d: int, s: float) -> float:
    """E[e^{s cos θ}] by quadrature of the cosine density ∝ (1 − t²)^{(d−3)/2} on [−1, 1]."""
    from scipy.integrate import quad

    w = lambda t: (1 - t * t) ** ((d - 3) / 2)  # noqa: E731
    num = quad(lambda t: w(t) * math.exp(s * (t - 1)), -1, 1, epsabs=0, epsrel=1e-12)[0]
    return num * math.exp(s) / quad(w, -1, 1, epsabs=0, epsrel=1e-12)[0]


def test_planted_key_mass_fixed_against_quadrature():
    for n, d, d_ref in [(64, 3, 10.0), (512, 40, 126.0), (4096, 300, 64.0), (100, 128, 128.0)]:
        s = d / math.sqrt(d_ref)
        want = 1 / (1 + (n - 1) * _mean_exp_cos_quad(d, s) * math.exp(-0.6 * s))
        assert attn.planted_key_mass_fixed(n, d, d_ref) == pytest.approx(want, rel=1e-8)
    # at d = d_ref the fixed and the rescaled temperature coincide
    assert attn.planted_key_mass_fixed(512, 64, 64) == pytest.approx(attn.planted_key_mass(512, 64))
    many = attn.planted_key_mass_fixed(512, np.arange(3, 601), 126.0)
    assert many.shape == (598,) and np.all(np.diff(many) > 0) and np.isfinite(many).all()
    with pytest.raises(ValueError, match="d_ref"):
        attn.planted_key_mass_fixed(512, 64, 0.0)
    with pytest.raises(ValueError, match="d must be an integer"):
        attn.planted_key_mass_fixed(512, 2, 64.0)


def test_head_split():
    from scipy.stats import beta

    out = attn.head_split(96, 512)
    assert list(out["head_size"]) == [3, 4, 6, 8, 12, 16, 24, 32, 48, 96]
    assert np.all(out["head_size"] * out["heads"] == 96)
    for k, d in enumerate(out["head_size"]):  # F_d(0.6) = P(2·Beta − 1 ≤ 0.6)
        f = beta.cdf(0.8, (d - 1) / 2, (d - 1) / 2) ** 511
        assert out["find"][k] == pytest.approx(f, rel=1e-9, abs=1e-300)
        assert out["any_finds"][k] == pytest.approx(1 - (1 - f) ** out["heads"][k], abs=1e-12)
    assert np.allclose(out["mass"], attn.planted_key_mass(512, out["head_size"]))
    assert np.allclose(out["heads_finding"], out["heads"] * out["find"])
    with pytest.raises(ValueError, match="width"):
        attn.head_split(2, 512)
