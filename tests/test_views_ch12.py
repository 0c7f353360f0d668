"""Chapter 12's explorations and figure (the grids themselves are swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.architecture import activations as act
from kexue_lab.views import ch12


def test_sliders_show_the_chapter_constants() -> None:
    a, c = ch12.tanh_error.controls
    (lam,) = ch12.sigmoid_error.controls
    assert a.default == pytest.approx(act.SQRT_2_OVER_PI, abs=0.005)
    assert c.default == pytest.approx(act.TANH_C, abs=1e-9)
    assert lam.default == pytest.approx(act.SIGMOID_LAMBDA, abs=1e-9)
    for value in (act.TANH_C_TAYLOR, ch12.ARTICLE_C):
        assert min(abs(v - value) for v in c.values) < 1e-10
    for value in (act.SIGMOID_LAMBDA_SLOPE, ch12.ARTICLE_LAMBDA):
        assert min(abs(v - value) for v in lam.values) < 1e-9


def test_article_constants_are_the_minimax_fits() -> None:
    fit = act.fit_gelu_constants()
    assert ch12.ARTICLE_C == pytest.approx(fit["tanh_c"], abs=1e-9)
    assert ch12.ARTICLE_LAMBDA == pytest.approx(fit["sigmoid_lambda"], abs=1e-7)


def test_readouts_name_the_worst_error() -> None:
    best = ch12.sigmoid_error(lam=1.7017449)
    assert "9.457e-03" in best.readout
    paper = ch12.tanh_error()
    assert paper.readout.startswith("max |error| over ℝ = 1.789e-04")
    for view in (best, paper):
        assert all(np.all(np.isfinite(curve.y)) for curve in view.panels[0].curves)


def test_error_curves_figure() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    fig = ch12.error_curves(
        act.TANH_C_TAYLOR, ch12.ARTICLE_C, act.SIGMOID_LAMBDA_SLOPE, ch12.ARTICLE_LAMBDA
    )
    assert isinstance(fig, Figure)
    assert not plt.get_fignums()  # closed: the notebook shows it once, as the cell's value
    left, right = fig.axes
    assert len(left.get_lines()) == len(right.get_lines()) == 3  # two curves and the zero line
    peak = np.max(np.abs(left.get_lines()[1].get_ydata()))
    assert peak == pytest.approx(1.789, rel=1e-3)  # min–max tanh error × 10⁴
    with pytest.raises(ValueError, match="lam_slope"):
        ch12.error_curves(0.045, 0.045, float("nan"), 1.7)
