"""Chapter 01's explorations and figures (the grids themselves are swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.foundations import em
from kexue_lab.views import ch01
from kexue_lab.widgets import Exploration, View


def test_explorations_are_declared_with_the_notebooks_grid() -> None:
    step, half = ch01.coordinate_descent.controls
    assert isinstance(ch01.coordinate_descent, Exploration)
    assert step.values == tuple(range(1, ch01.PETAL_ITERS + 1)) and half.values == ("M", "E")
    start, r = ch01.local_optima.controls
    assert start.values == tuple(ch01.STARTS) and r.values == tuple(range(ch01.OPTIMA_ITERS + 1))
    for exp in (ch01.coordinate_descent, ch01.local_optima):
        assert len(exp.static_html()) < 400_000


def test_coordinate_descent_shows_the_gap_open_and_close() -> None:
    after_m, after_e = (
        ch01.coordinate_descent(step=3, half="M"),
        ch01.coordinate_descent(step=3, half="E"),
    )
    assert isinstance(after_m, View) and len(after_m.panels) == 3
    assert after_m.readout.startswith("M 3:") and after_e.readout.startswith("E 3:")
    assert "= 0.00e+00" in after_e.readout and "= 0.00e+00" not in after_m.readout
    guess, posterior = (np.asarray(c.y) for c in after_m.panels[1].curves)
    assert np.abs(guess - posterior).max() > 0.01  # the guess lags behind after an M-step
    guess, posterior = (np.asarray(c.y) for c in after_e.panels[1].curves)
    assert np.abs(guess - posterior).max() < 1e-4  # rounded to 4 digits for the page
    with pytest.raises(ValueError, match="half"):
        ch01.coordinate_descent.fn(1, "X")


def test_half_steps_match_em_gmm() -> None:
    states = ch01.petal_half_steps()
    assert len(states) == 2 * ch01.PETAL_ITERS + 1
    x = ch01._iris()[0][:, 2:3]
    fit = em.em_gmm(x, 2, iters=ch01.PETAL_ITERS, init_means=np.array(ch01.PETAL_START))
    assert np.allclose(states[-1].means, fit.means, atol=1e-12)
    assert -states[-1].nll == pytest.approx(fit.loglik[-1], abs=1e-12)


def test_local_optima_readouts() -> None:
    worse = ch01.local_optima(start="two in setosa")
    assert "-1.5604 at 40" in worse.readout
    best = ch01.local_optima(start="one per species", r=0)
    assert "-1.3073 at 40" in best.readout and "at iteration 0" in best.readout
    saddle = ch01.local_optima(start="all equal")
    assert "weights [0.333, 0.333, 0.333]" in saddle.readout
    rings = [c for c in saddle.panels[0].curves if c.name.startswith("component")]
    assert len(rings) == 3 and np.allclose(rings[0].x, rings[2].x)  # identical components


def test_do_batzoglou_table_is_what_em_coins_computes() -> None:
    coins = em.em_coins([5, 9, 8, 4, 7], 10, [0.6, 0.5], iters=10)
    values, tol = ch01.DO_BATZOGLOU["θ_A, θ_B after iteration 10"]
    assert np.allclose(coins.thetas[10], values, atol=tol)
    values, tol = ch01.DO_BATZOGLOU["p(A | set), E-step 1"]
    assert np.allclose(coins.weights[0][:, 0], values, atol=tol)


def test_figures_are_shown_once() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    fig = ch01.kl_staircase(
        [1.0, 0.8, 0.7, 0.65, 0.6],
        [0.9, 0.75, 0.7, 0.6, 0.6],
        ["start", "M 1", "E 1", "M 2", "E 2"],
    )
    assert isinstance(fig, Figure) and not plt.get_fignums()
    assert len(fig.axes[1].get_lines()[0].get_xdata()) == 2  # one gap per M-step
    fig = ch01.loglik_curves({"full": [-3.0, -2.5, -2.4]}, reference={"full": -2.4})
    assert isinstance(fig, Figure) and len(fig.axes[0].get_lines()) == 2
    with pytest.raises(ValueError, match="same length"):
        ch01.kl_staircase([1.0, 0.5], [0.5], ["start", "M 1"])
    with pytest.raises(ValueError, match="curves"):
        ch01.loglik_curves({})
