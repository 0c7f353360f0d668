import math

import numpy as np
import pytest
import torch

from kexue_lab.architecture import attention as attn
from kexue_lab.widgets import choice, explore, slider


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _direct_entropy(scores: np.ndarray) -> np.ndarray:
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return -(p * np.log(p)).sum(axis=-1)


# ---- attention_entropy ------------------------------------------------------------------------
def test_entropy_matches_the_direct_formula_and_the_split_form():
    rng = np.random.default_rng(0)
    s = rng.normal(scale=2.0, size=(7, 5, 30))
    h = attn.attention_entropy(s)
    assert isinstance(h, np.ndarray) and h.shape == (7, 5)
    assert np.allclose(h, _direct_entropy(s), atol=1e-12, rtol=0)
    p = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    split = np.log(np.exp(s).sum(-1)) - (p * s).sum(-1)  # eq. (6) with λ = 1
    assert np.allclose(h, split, atol=1e-12, rtol=0)


def test_entropy_known_cases():
    for n in (1, 2, 10, 4096):
        assert attn.attention_entropy(np.zeros(n)) == pytest.approx(math.log(n), abs=1e-12)
    assert isinstance(attn.attention_entropy([0.0, 0.0]), float)
    assert attn.attention_entropy([3.0, -np.inf, -np.inf]) == 0.0  # one-hot
    assert attn.attention_entropy([5.0, 5.0, -np.inf, -np.inf]) == pytest.approx(math.log(2), abs=1e-12)
    assert attn.attention_entropy([0.0, 1e4]) == pytest.approx(0.0, abs=1e-12)  # practically one-hot


def test_entropy_is_stable_for_large_scores_and_shift_invariant():
    s = np.array([1000.0, 999.0, 998.0])
    assert attn.attention_entropy(s) == pytest.approx(_direct_entropy(s - 1000.0), abs=1e-12)
    assert attn.attention_entropy(s + 1e6) == pytest.approx(attn.attention_entropy(s), abs=1e-9)
    assert np.isfinite(attn.attention_entropy(np.array([1e300, 0.0])))


def test_entropy_tensors_keep_dtype_and_gradients():
    s = torch.randn(4, 9, dtype=torch.float64, requires_grad=True)
    masked = s.masked_fill(torch.arange(9) >= 6, -math.inf)
    h = attn.attention_entropy(masked)
    assert h.shape == (4,) and h.dtype == torch.float64
    h.sum().backward()
    assert torch.isfinite(s.grad).all() and (s.grad[:, 6:] == 0).all()
    # autograd agrees with the closed form dH/dλ = −λ Var_p(s) (chapter 16, §1)
    lam = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    row = torch.randn(12, dtype=torch.float64)
    attn.attention_entropy(lam * row).backward()
    p = torch.softmax(0.7 * row, -1)
    var = (p * row**2).sum() - (p * row).sum() ** 2
    assert lam.grad.item() == pytest.approx(-0.7 * var.item(), rel=1e-10)
    assert attn.attention_entropy(torch.zeros(3, 5, dtype=torch.float32)).dtype == torch.float32


def test_entropy_bad_input():
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        attn.attention_entropy([0.0, np.nan])
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        attn.attention_entropy([0.0, np.inf])
    with pytest.raises(ValueError, match="fully masked"):
        attn.attention_entropy([[0.0, 1.0], [-np.inf, -np.inf]])
    with pytest.raises(ValueError, match="at least one entry"):
        attn.attention_entropy(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="at least one entry"):
        attn.attention_entropy(1.0)
    with pytest.raises(TypeError, match="floating-point tensor"):
        attn.attention_entropy(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="numeric"):
        attn.attention_entropy(["a", "b"])


# ---- entropy_invariant_scale --------------------------------------------------------------------
def test_scale_closed_form_and_calibration():
    for d in (1, 16, 64, 128):
        assert attn.entropy_invariant_scale(512, d) == pytest.approx(1 / math.sqrt(d), rel=1e-15)
        assert attn.entropy_invariant_scale(64, d, train_len=64) == pytest.approx(1 / math.sqrt(d), rel=1e-15)
    for n, frac in zip((64, 128, 256, 1024), (6 / 9, 7 / 9, 8 / 9, 10 / 9)):
        assert attn.entropy_invariant_scale(n, 64) * 8 == pytest.approx(frac, rel=1e-14)
    # κ log n / d with κ = √d / log 512 (chapter 16, eq. (5))
    n, d = 3000, 48
    assert attn.entropy_invariant_scale(n, d) == pytest.approx(math.sqrt(d) / math.log(512) * math.log(n) / d, rel=1e-14)
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


# ---- the Laplace estimate -------------------------------------------------------------------------
def test_angle_density_normalised_with_the_right_moments():
    from scipy.integrate import quad

    for d in (3, 8, 64):
        assert quad(lambda t: attn.angle_density(t, d), 0, math.pi)[0] == pytest.approx(1.0, abs=1e-10)
        assert quad(lambda t: math.cos(t) ** 2 * attn.angle_density(t, d), 0, math.pi)[0] == pytest.approx(1 / d, abs=1e-10)
    assert attn.angle_density(-0.1, 8) == 0.0 and attn.angle_density(4.0, 8) == 0.0
    with pytest.raises(ValueError, match="d must be >= 2"):
        attn.angle_density(1.0, 1)


def test_laplace_h_against_a_direct_quadrature_and_its_limit():
    from scipy.integrate import quad

    d, lam = 40, 0.8
    w = lambda t: attn.angle_density(t, d) * math.exp(lam * d * math.cos(t))  # noqa: E731
    z = quad(w, 0, math.pi, limit=200)[0]
    m = quad(lambda t: w(t) * math.cos(t), 0, math.pi, limit=200)[0]
    assert attn.laplace_h(d, lam) == pytest.approx(math.log(z) - lam * d * m / z, rel=1e-8)
    assert attn.laplace_h(32) == pytest.approx(-7.77471, rel=1e-5)
    assert attn.laplace_limit(1.0) == pytest.approx(-0.5 * math.log((1 + math.sqrt(5)) / 2), rel=1e-14)
    assert attn.laplace_peak(1.0) == pytest.approx((math.sqrt(5) - 1) / 2, rel=1e-14)
    for lv in (0.3, 1.0, 3.0):
        slope = (attn.laplace_h(2048, lv) - attn.laplace_h(1024, lv)) / 1024
        assert slope == pytest.approx(attn.laplace_limit(lv), rel=1e-4)
    with pytest.raises(ValueError, match="lam must be > 0"):
        attn.laplace_h(64, 0.0)
    with pytest.raises(ValueError, match="d must be >= 3"):
        attn.laplace_h(2)


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
            assert (attn.attention_entropy(a_e.log()) < attn.attention_entropy(a_o.log())).all()
    assert "train_len=16" in repr(model)
    with pytest.raises(ValueError, match="scale"):
        model(x, "sqrt")
    with pytest.raises(ValueError, match="2n \\+ 1"):
        model(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="train_len must be >= 2"):
        attn.RetrievalAttention(8, 2, train_len=1)


# ---- explorations ----------------------------------------------------------------------------------
def test_exploration_views_over_their_whole_grids():
    entropy = explore(
        attn.entropy_view,
        slider("d", 16, 256, steps=5, log=True, integer=True, default=64),
        slider("n", 16, 8192, steps=10, log=True, integer=True, default=2048),
        slider("cos", 0.0, 1.0, steps=6, default=0.6),
        choice("base", {"512": 512, "64": 64}),
    )
    laplace = explore(
        attn.laplace_view,
        slider("lam", 0.1, 3.0, steps=30, log=True, default=1.0, include=[1.0]),
        slider("d", 16, 512, steps=6, log=True, integer=True, default=128),
    )
    for ex in (entropy, laplace):
        for view in ex.sweep().values():
            for panel in view.panels:
                for curve in panel.curves:
                    assert np.all(np.isfinite(curve.y))
    # at the calibration length the two curves meet; beyond it the log-n curve is lower
    view = entropy(d=64, n=2048, cos=0.6, base=512)
    std, logn = (np.asarray(c.y) for c in view.panels[0].curves[:2])
    grid = np.asarray(view.panels[0].curves[0].x)
    assert np.all(logn[grid > 512] < std[grid > 512]) and np.all(logn[grid < 512] > std[grid < 512])
    assert "mass on the relevant key" in view.readout
    assert "-0.2406" in laplace(lam=1.0, d=128).readout


def test_compare_scales_reports_both_scales_per_length():
    torch.manual_seed(1)
    model = attn.RetrievalAttention(n_keys=32, n_values=3, dim=8, train_len=8).train()
    tests = {n: attn.retrieval_task(50, n, n_keys=32, n_values=3, seed=n) for n in (8, 16)}
    out = attn.compare_scales(model, tests)
    assert set(out) == {(m, n) for m in attn.SCALES for n in (8, 16)} and model.training
    hit, h = out["standard", 16]
    x, y = tests[16]
    assert torch.equal(hit, (model(x, "standard").argmax(-1) == y).float())
    assert h == pytest.approx(attn.attention_entropy(model.weights(x, "standard").log()).mean().item())
    assert torch.equal(out["standard", 8][0], out["log_n", 8][0])
