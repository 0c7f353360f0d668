"""GELU and its two elementary approximations (chapter 12, kexue.fm/archives/7309).

GELU(x) = x·Φ(x), with Φ the standard normal CDF, Φ(x) = ½[1 + erf(x/√2)].
The GELU paper offers two cheap stand-ins for Φ:

* tanh form:    Φ(x) ≈ ½[1 + tanh(a(x + c·x³))],  a = √(2/π), c = 0.044715;
* sigmoid form: Φ(x) ≈ σ(λx),                     λ = 1.702.

The chapter shows that ``a`` is the Taylor slope at 0 while ``c`` and ``λ``
are min–max (Chebyshev) fits, and :func:`fit_gelu_constants` recomputes them.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate

Approximation = Literal["none", "tanh", "sigmoid"]
APPROXIMATIONS: tuple[str, ...] = ("none", "tanh", "sigmoid")

#: a = √(2/π): the slope of erf(x/√2) at 0, kept fixed in both fits.
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
#: The published cubic coefficient of the tanh form (GELU paper; Page, 1977).
TANH_C = 0.044715
#: The published scale of the sigmoid form (GELU paper; Bowling et al., 2009).
SIGMOID_LAMBDA = 1.702
#: The Taylor-matched cubic coefficient, c = (4 − π)/(6π) ≈ 0.0455399 (article eq. (8)).
TANH_C_TAYLOR = (4 - math.pi) / (6 * math.pi)
#: The slope-matched sigmoid scale: σ'(0)·λ = Φ'(0) gives λ = 4/√(2π) ≈ 1.5958.
SIGMOID_LAMBDA_SLOPE = 4 / math.sqrt(2 * math.pi)


def gelu(x: Any, approximate: Approximation = "none") -> Any:
    """GELU(x) = x·Φ(x), exactly or by one of the paper's two approximations.

    * ``"none"``:    x·½[1 + erf(x/√2)]
    * ``"tanh"``:    x·½[1 + tanh(√(2/π)(x + 0.044715x³))]
    * ``"sigmoid"``: x·σ(1.702x)

    ``"none"`` and ``"tanh"`` agree with ``torch.nn.functional.gelu``. Accepts a
    torch tensor (returned as a tensor of the same dtype) or anything NumPy can
    turn into a float array (returned as a NumPy array, or a float for a scalar).
    """
    _validate.choice("approximate", approximate, APPROXIMATIONS)
    is_tensor = torch.is_tensor(x)
    if not is_tensor:
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise TypeError(
                f"x must be numeric (a tensor, array or number), got {type(x).__name__} "
                f"of dtype {arr.dtype}"
            )
        arr = arr.astype(np.float64)
        t = torch.from_numpy(arr)
    else:
        if not (x.is_floating_point() or x.is_complex()):
            raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        t = x
    if approximate == "none":
        out = 0.5 * t * (1.0 + torch.erf(t / math.sqrt(2.0)))
    elif approximate == "tanh":
        out = 0.5 * t * (1.0 + torch.tanh(SQRT_2_OVER_PI * (t + TANH_C * t**3)))
    else:
        out = t * torch.sigmoid(SIGMOID_LAMBDA * t)
    if is_tensor:
        return out
    res = out.numpy()
    return float(res) if res.ndim == 0 else res


def normal_cdf(x: Any) -> np.ndarray:
    """Φ(x) = ½[1 + erf(x/√2)], in float64 (SciPy's ``ndtr``)."""
    from scipy.special import ndtr

    return ndtr(np.asarray(x, dtype=np.float64))


def phi_tanh(x: Any, a: float = SQRT_2_OVER_PI, c: float = TANH_C) -> np.ndarray:
    """The tanh approximation of Φ: ½[1 + tanh(a(x + c·x³))]."""
    a, c = _validate.real("a", a), _validate.real("c", c)
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(a * (x + c * x**3)))


def phi_sigmoid(x: Any, lam: float = SIGMOID_LAMBDA) -> np.ndarray:
    """The sigmoid approximation of Φ: σ(λx) = 1/(1 + e^(−λx))."""
    from scipy.special import expit

    lam = _validate.real("lam", lam)
    return expit(lam * np.asarray(x, dtype=np.float64))


def _grid(x_max: float, step: float) -> np.ndarray:
    x_max = _validate.positive("x_max", x_max)
    step = _validate.positive("step", step)
    if step >= x_max:
        raise ValueError(f"step must be smaller than x_max, got step={step}, x_max={x_max}")
    return np.arange(0.0, x_max + step / 2, step)


def max_phi_error(approx: Any, *, x_max: float = 10.0, step: float = 1e-4) -> tuple[float, float]:
    """max over x of |Φ(x) − approx(x)| and where it is reached (|x|).

    Both approximations are Φ(x) − ½ plus an odd function, so the error is odd and
    the maximum over the real line equals the maximum over [0, x_max] (the error
    decays to 0 well before x = 10).
    """
    x = _grid(x_max, step)
    err = np.abs(normal_cdf(x) - approx(x))
    i = int(np.argmax(err))
    return float(err[i]), float(x[i])


def max_gelu_error(approx: Any, *, x_max: float = 20.0, step: float = 1e-4) -> tuple[float, float]:
    """max over x of |x·Φ(x) − x·approx(x)| and where it is reached (|x|); the error is even."""
    x = _grid(x_max, step)
    err = np.abs(x * (normal_cdf(x) - approx(x)))
    i = int(np.argmax(err))
    return float(err[i]), float(x[i])


def _minimize_scalar(objective: Any, lo: float, hi: float) -> float:
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(
        objective, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12, "maxiter": 500}
    )
    if not res.success:
        raise RuntimeError(f"the min–max search did not converge: {res.message}")
    return float(res.x)


SigmoidCriterion = Literal["minimax", "minimax-gelu", "least-squares"]


def fit_sigmoid_scale(
    criterion: SigmoidCriterion = "minimax", *, x_max: float = 20.0, step: float = 1e-4
) -> float:
    """The λ of Φ(x) ≈ σ(λx) that is best under ``criterion``:

    * ``"minimax"``:       min_λ max_x |Φ(x) − σ(λx)|        (the paper's 1.702);
    * ``"minimax-gelu"``:  min_λ max_x |x·(Φ(x) − σ(λx))|    (the worst GELU error instead);
    * ``"least-squares"``: min_λ ∫₀^∞ (Φ(x) − σ(λx))² dx      (trapezoid rule on the grid).

    The errors are odd (so their squares and |x|-weighted versions are even): x ≥ 0 suffices.
    Different criteria give different constants, which is chapter 12's point about choosing one.
    """
    _validate.choice("criterion", criterion, ("minimax", "minimax-gelu", "least-squares"))
    x = _grid(x_max, step)
    phi = normal_cdf(x)
    objectives = {
        "minimax": lambda lam: float(np.max(np.abs(phi - phi_sigmoid(x, lam)))),
        "minimax-gelu": lambda lam: float(np.max(np.abs(x * (phi - phi_sigmoid(x, lam))))),
        "least-squares": lambda lam: float(np.trapezoid((phi - phi_sigmoid(x, lam)) ** 2, x)),
    }
    return _minimize_scalar(objectives[criterion], 1.0, 2.5)


def fit_gelu_constants(*, x_max: float = 10.0, step: float = 1e-4) -> dict[str, float]:
    """Recompute the constants of both approximations as min–max fits of Φ.

    * tanh form: with a = √(2/π) fixed (the Taylor slope), choose b to minimise
      max_x |erf(x/√2) − tanh(a·x + b·x³)|; then c = b/a. Since
      Φ − ½[1 + tanh(·)] = ½[erf(x/√2) − tanh(·)], this also minimises the Φ error.
    * sigmoid form: choose λ to minimise max_x |Φ(x) − σ(λx)|.

    Returns ``tanh_b``, ``tanh_c``, ``tanh_max_error``, ``tanh_argmax``,
    ``sigmoid_lambda``, ``sigmoid_max_error``, ``sigmoid_argmax`` (errors of the
    Φ approximation over the real line, and the |x| where they peak).
    """
    x = _grid(x_max, step)
    target_erf = 2.0 * normal_cdf(x) - 1.0
    a = SQRT_2_OVER_PI
    b = _minimize_scalar(
        lambda b: float(np.max(np.abs(target_erf - np.tanh(a * x + b * x**3)))), 0.0, 0.1
    )
    lam = fit_sigmoid_scale("minimax", x_max=x_max, step=step)
    tanh_err, tanh_at = max_phi_error(lambda t: phi_tanh(t, a, b / a), x_max=x_max, step=step)
    sig_err, sig_at = max_phi_error(lambda t: phi_sigmoid(t, lam), x_max=x_max, step=step)
    return {
        "tanh_b": b,
        "tanh_c": b / a,
        "tanh_max_error": tanh_err,
        "tanh_argmax": tanh_at,
        "sigmoid_lambda": lam,
        "sigmoid_max_error": sig_err,
        "sigmoid_argmax": sig_at,
    }


def error_peaks(
    approx: Any, *, count: int = 2, x_max: float = 8.0, step: float = 1e-5
) -> list[tuple[float, float]]:
    """The ``count`` largest interior extrema (x, e(x)) of e(x) = Φ(x) − approx(x), sorted by x.

    A min–max (Chebyshev) fit equioscillates: at the optimum the largest |e| is reached at
    several points with alternating signs (chapter 12, §3). The extrema are the local maxima
    and minima of e on the grid 0, step, 2·step, … < x_max; the ``count`` largest in size
    are returned. ``approx`` maps an array of x to the approximation of Φ (e.g. :func:`phi_tanh`).
    """
    from scipy.signal import argrelextrema

    if not callable(approx):
        raise TypeError(f"approx must be a function of x (e.g. phi_tanh), got {approx!r}")
    count = _validate.positive_int("count", count)
    x = _grid(x_max, step)
    x = x[x < x_max]
    err = normal_cdf(x) - approx(x)
    idx = np.concatenate([argrelextrema(err, np.greater)[0], argrelextrema(err, np.less)[0]])
    if len(idx) < count:
        raise ValueError(
            f"count={count} but the error has only {len(idx)} interior extrema on [0, {x_max})"
        )
    top = sorted(idx, key=lambda i: -abs(err[i]))[:count]
    return sorted((float(x[i]), float(err[i])) for i in top)


def time_gelu(x: torch.Tensor, *, repeats: int = 50, warmup: int = 3) -> dict[str, float]:
    """Milliseconds per call of :func:`gelu` on ``x`` for each approximation (chapter 12, §4).

    Each form runs ``warmup`` times, then ``repeats`` times under the clock; on CUDA the
    clock is a pair of CUDA events (the kernels run asynchronously), on the CPU the wall clock.
    """
    import time

    if not torch.is_tensor(x) or not x.is_floating_point():
        kind = f"a tensor of dtype {x.dtype}" if torch.is_tensor(x) else type(x).__name__
        raise TypeError(f"x must be a floating-point tensor, got {kind}")
    repeats = _validate.positive_int("repeats", repeats)
    warmup = _validate.non_negative_int("warmup", warmup)
    cuda = x.device.type == "cuda"
    timings: dict[str, float] = {}
    for mode in APPROXIMATIONS:
        for _ in range(warmup):
            gelu(x, mode)  # type: ignore[arg-type]
        if cuda:
            torch.cuda.synchronize(x.device)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(repeats):
                gelu(x, mode)  # type: ignore[arg-type]
            end.record()
            torch.cuda.synchronize(x.device)
            timings[mode] = start.elapsed_time(end) / repeats
        else:
            began = time.perf_counter()
            for _ in range(repeats):
                gelu(x, mode)  # type: ignore[arg-type]
            timings[mode] = 1e3 * (time.perf_counter() - began) / repeats
    return timings


class GELU(torch.nn.Module):
    """GELU as a layer, with the chosen approximation (see :func:`gelu`)."""

    def __init__(self, approximate: Approximation = "none") -> None:
        super().__init__()
        self.approximate = _validate.choice("approximate", approximate, APPROXIMATIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x·Φ(x), exact or approximated."""
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
