"""Chapter 09's explorations and figure (the grids themselves are swept by test_views.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kexue_lab.generative.density import LinearGaussian
from kexue_lab.views import ch09


def _readout_number(readout: str, key: str) -> float:
    part = readout.split(key, 1)[1].split(";")[0].strip().lstrip("=≈ ").split(" ")[0]
    return float(part)


def test_proposal_controls_offer_the_posterior_and_the_prior():
    m, tau, s = ch09.proposal_quality.controls
    assert 0.8 in m.values  # the posterior mean at s = 0.5
    assert any(abs(t - math.sqrt(0.2)) < 1e-4 for t in tau.values)  # the posterior s.d.
    assert 1.0 in tau.values and 0.5 in s.values


def test_posterior_proposal_is_exact_for_every_m():
    view = ch09.proposal_quality(m=0.8, tau=math.sqrt(0.2), s=0.5)
    bounds = view.panels[2].curves[0].y
    assert np.max(np.abs(bounds)) < 1e-4
    hist = view.panels[1].curves[0]
    assert max(hist.y) > 0.99  # every log-weight falls in the bin holding 0
    assert "KL to the posterior 0.000" in view.readout


def test_proposal_readout_matches_linear_gaussian():
    view = ch09.proposal_quality(m=0.5, tau=math.sqrt(0.5), s=0.5)
    model = LinearGaussian(torch.ones(1, 1, dtype=torch.float64), sigma=0.5)
    x = torch.ones(1, 1, dtype=torch.float64)
    assert _readout_number(view.readout, "log p(x)") == pytest.approx(
        model.log_px(x).item(), abs=1e-4
    )
    exact_l1 = model.elbo(x, torch.tensor([0.5]), torch.tensor([[0.5]])).item()
    assert _readout_number(view.readout, "exact L₁") == pytest.approx(exact_l1, abs=1e-4)
    bounds = np.asarray(view.panels[2].curves[0].y)
    assert bounds[0] == pytest.approx(exact_l1 - model.log_px(x).item(), abs=0.02)
    assert np.all(np.diff(bounds[:6]) > 0)  # E[L_M] grows with M (Burda et al., Theorem 1)


def test_dimension_curse_matches_the_closed_form():
    view = ch09.dimension_curse(d=10, s=0.1)
    model = LinearGaussian(torch.eye(10, dtype=torch.float64), sigma=0.1)
    ratio = model.prior_log_moment_ratio(torch.zeros(1, 10, dtype=torch.float64)).exp().item()
    line = view.panels[0].curves[0]
    assert line.y[9] == pytest.approx(math.log10(ratio), abs=1e-3)
    assert view.readout.startswith("E[w²]/E[w]² = 3.37e+08")
    share = view.panels[1].curves[0].y
    assert share[0] > 0.5 and share[-1] == pytest.approx(1.0)
    easy = ch09.dimension_curse(d=1, s=1.0)
    assert _readout_number(easy.readout, "ESS of these 1000 draws") > 500
    with pytest.raises(ValueError, match="d must be at most 20"):
        ch09.dimension_curse(d=21)


def test_bound_curves_figure():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch09.bound_curves(
        {"a": ([1, 10], [3.0, 2.0]), "b": ([1, 10], [4.0, 1.0])}, reference=(0, "x")
    )
    assert isinstance(fig, Figure)
    assert not plt.get_fignums()
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 3 and ax.get_xscale() == "log"
    log_fig = ch09.bound_curves({"a": ([1, 10], [3.0, -1e-4])}, yscale="symlog")
    assert log_fig.axes[0].get_yscale() == "symlog"
    with pytest.raises(ValueError, match="yscale"):
        ch09.bound_curves({"a": ([1], [1.0])}, yscale="log")
    with pytest.raises(ValueError, match="curves"):
        ch09.bound_curves({})
    with pytest.raises(ValueError, match="same non-zero length"):
        ch09.bound_curves({"a": ([1, 2], [1.0])})
