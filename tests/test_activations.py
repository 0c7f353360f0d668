import math

import numpy as np
import pytest
import torch
from scipy.special import expit, ndtr

from kexue_lab.architecture import activations as act
from kexue_lab.widgets import explore, slider


@pytest.mark.parametrize("mode", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gelu_matches_torch(mode, dtype):
    x = torch.linspace(-10, 10, 4001, dtype=dtype)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert torch.allclose(act.gelu(x, mode), torch.nn.functional.gelu(x, approximate=mode), atol=tol, rtol=0)
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


def test_exploration_views_over_their_whole_grids():
    tanh = explore(act.tanh_error_view, slider("a", 0.76, 0.84, steps=9), slider("c", 0.040, 0.050, steps=21))
    sig = explore(act.sigmoid_error_view, slider("lam", 1.5, 1.9, steps=41))
    for ex in (tanh, sig):
        for view in ex.sweep().values():
            for curve in view.panels[0].curves:
                assert np.all(np.isfinite(curve.y))
            assert view.readout.startswith("max |error|")
    best = sig(lam=1.7017449)
    assert "9.457e-03" in best.readout


def test_fit_sigmoid_scale_criteria_against_scipy():
    from scipy.integrate import quad
    from scipy.optimize import minimize_scalar

    ls = act.fit_sigmoid_scale("least-squares")
    ref = minimize_scalar(lambda l: quad(lambda t: (ndtr(t) - expit(l * t)) ** 2, 0, 20, limit=200)[0],
                          bounds=(1.5, 2.0), method="bounded", options={"xatol": 1e-10}).x
    assert abs(ls - ref) < 1e-6
    assert act.fit_sigmoid_scale("minimax-gelu") == pytest.approx(1.7729, abs=1e-4)
    assert act.fit_sigmoid_scale() == pytest.approx(1.7017449, abs=1e-7)
    with pytest.raises(ValueError, match="criterion"):
        act.fit_sigmoid_scale("l1")  # type: ignore[arg-type]
