import math

import numpy as np
import pytest
import torch
from scipy.special import expit, ndtr

from kexue_lab.architecture import activations as act


@pytest.mark.parametrize("mode", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gelu_matches_torch(mode, dtype):
    x = torch.linspace(-10, 10, 4001, dtype=dtype)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert torch.allclose(
        act.gelu(x, mode), torch.nn.functional.gelu(x, approximate=mode), atol=tol, rtol=0
    )
    assert act.gelu(x, mode).dtype == dtype


def test_gelu_sigmoid_is_x_sigma_1702x():
    x = np.linspace(-6, 6, 101)
    assert np.allclose(act.gelu(x, "sigmoid"), x * expit(1.702 * x), atol=1e-14)


def test_gelu_numpy_and_scalar_inputs():
    assert isinstance(act.gelu(1.0), float)
    assert abs(act.gelu(1.0) - ndtr(1.0)) < 1e-15
    assert isinstance(act.gelu([0.0, 1.0]), np.ndarray)


def test_gelu_gradients_flow():
    x = torch.linspace(-3, 3, 7, dtype=torch.float64, requires_grad=True)
    act.gelu(x, "tanh").sum().backward()
    assert torch.isfinite(x.grad).all()


def test_gelu_bad_input():
    with pytest.raises(ValueError, match=r"approximate='erf'.*'none', 'tanh', 'sigmoid'"):
        act.gelu(torch.zeros(2), "erf")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="floating-point"):
        act.gelu(torch.zeros(2, dtype=torch.int64))
    with pytest.raises(TypeError, match="numeric"):
        act.gelu(["a"])
    with pytest.raises(ValueError, match="approximate"):
        act.GELU("fast")  # type: ignore[arg-type]


def test_gelu_module():
    layer = act.GELU("tanh")
    x = torch.randn(5)
    assert torch.equal(layer(x), act.gelu(x, "tanh")) and "tanh" in repr(layer)


def test_phi_approximations_closed_forms():
    x = np.linspace(-3, 3, 13)
    assert np.allclose(act.phi_tanh(x, 0.5, 0.0), 0.5 * (1 + np.tanh(0.5 * x)))
    assert np.allclose(act.phi_sigmoid(x, 2.0), 0.5 * (1 + np.tanh(x)))  # σ(2x) = ½(1 + tanh x)
    assert np.allclose(act.normal_cdf(x), 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2))))
    with pytest.raises(ValueError, match="c must be a finite"):
        act.phi_tanh(x, c=float("nan"))


def test_fit_gelu_constants_recovers_the_published_values():
    fit = act.fit_gelu_constants()
    assert abs(fit["tanh_c"] - 0.044715) < 5e-7
    assert abs(fit["sigmoid_lambda"] - 1.7017449256) < 1e-7
    assert fit["tanh_max_error"] == pytest.approx(1.7892e-4, rel=1e-3)
    assert fit["sigmoid_max_error"] == pytest.approx(9.4573e-3, rel=1e-3)
    # the min-max optimum beats its neighbours
    for c in (fit["tanh_c"] * 0.99, fit["tanh_c"] * 1.01):
        assert act.max_phi_error(lambda t: act.phi_tanh(t, c=c))[0] > fit["tanh_max_error"]


def test_max_error_helpers():
    err, at = act.max_phi_error(lambda t: act.normal_cdf(t) + 0.0)
    assert err == 0.0
    with pytest.raises(ValueError, match="step"):
        act.max_phi_error(act.phi_tanh, x_max=1.0, step=2.0)
    with pytest.raises(ValueError, match="x_max"):
        act.max_gelu_error(act.phi_tanh, x_max=-1.0)


def test_closed_form_constants():
    assert act.TANH_C_TAYLOR == pytest.approx(0.0455399, abs=5e-8)
    assert act.SIGMOID_LAMBDA_SLOPE == pytest.approx(2 * act.SQRT_2_OVER_PI, rel=1e-15)


def test_error_peaks_equioscillate_at_the_minimax_constants():
    fit = act.fit_gelu_constants()
    (x1, e1), (x2, e2) = act.error_peaks(lambda t: act.phi_tanh(t, c=fit["tanh_c"]))
    assert x1 < x2 and e1 * e2 < 0
    assert abs(abs(e1) - abs(e2)) / abs(e1) < 1e-4
    assert abs(e1) == pytest.approx(fit["tanh_max_error"], rel=1e-4)
    peaks = act.error_peaks(act.phi_sigmoid, count=1)
    assert len(peaks) == 1 and abs(peaks[0][1]) == pytest.approx(9.486e-3, rel=2e-3)


def test_error_peaks_bad_input():
    with pytest.raises(ValueError, match="count"):
        act.error_peaks(act.phi_tanh, count=0)
    with pytest.raises(TypeError, match="approx must be a function"):
        act.error_peaks(1.7)
    with pytest.raises(ValueError, match="interior extrema"):
        act.error_peaks(lambda t: act.normal_cdf(t) - 0.1 * t, count=1)  # monotone error
    with pytest.raises(ValueError, match="x_max"):
        act.error_peaks(act.phi_tanh, x_max=0.0)


def test_time_gelu_on_the_cpu():
    ms = act.time_gelu(torch.randn(64, 64), repeats=2, warmup=1)
    assert set(ms) == set(act.APPROXIMATIONS) and all(v > 0 for v in ms.values())
    with pytest.raises(TypeError, match="floating-point"):
        act.time_gelu(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="repeats"):
        act.time_gelu(torch.zeros(3), repeats=0)


def test_fit_sigmoid_scale_criteria_against_scipy():
    from scipy.integrate import quad
    from scipy.optimize import minimize_scalar

    ls = act.fit_sigmoid_scale("least-squares")
    ref = minimize_scalar(
        lambda lam: quad(lambda t: (ndtr(t) - expit(lam * t)) ** 2, 0, 20, limit=200)[0],
        bounds=(1.5, 2.0),
        method="bounded",
        options={"xatol": 1e-10},
    ).x
    assert abs(ls - ref) < 1e-6
    assert act.fit_sigmoid_scale("minimax-gelu") == pytest.approx(1.7729, abs=1e-4)
    assert act.fit_sigmoid_scale() == pytest.approx(1.7017449, abs=1e-7)
    with pytest.raises(ValueError, match="criterion"):
        act.fit_sigmoid_scale("l1")  # type: ignore[arg-type]
