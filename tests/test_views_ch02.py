"""Chapter 02's exploration and figure (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue_lab.views import ch02
from kexue_lab.widgets import Exploration, View


def test_routing_is_declared_with_its_grid():
    exp = ch02.routing
    assert isinstance(exp, Exploration)
    assert [c.name for c in exp.controls] == ["spread", "iters", "lam", "beta_u"]
    assert exp.defaults == {"spread": 0.1, "iters": 3, "lam": 0.3, "beta_u": 0.0}
    assert exp.controls[1].values == (1, 2, 3, 4, 5)
    assert len(exp.static_html()) < 600_000


def test_frames_have_three_panels_and_probabilities():
    view = ch02.routing()
    assert isinstance(view, View) and len(view.panels) == 3
    shares = np.asarray(view.panels[1].curves[0].y)
    assert shares.shape == (ch02.N_LOWER,) and ((shares >= 0) & (shares <= 1)).all()
    assert view.readout.startswith("A: S = ")
    (a_a, a_b) = view.panels[2].curves
    assert list(a_a.x) == [1] and list(a_b.x) == [2] and 0 < a_a.y[0] <= 1


def test_one_iteration_splits_every_vote_evenly():
    view = ch02.routing(iters=1)
    np.testing.assert_allclose(view.panels[1].curves[0].y, 0.5)
    _, _, _, _, resp = ch02.routing_state(0.1, 1, 0.3, 0.0)
    assert torch.equal(resp, torch.full((ch02.N_LOWER, 2), 0.5, dtype=torch.float64))


def test_routing_sends_each_part_to_its_whole():
    _, mu, _, _, resp = ch02.routing_state(0.1, 5, 0.3, 0.0)  # five iterations: settled
    assert (resp[: ch02.PARTS_A, 0] > 0.9).all()  # A's parts go to A
    assert (resp[ch02.PARTS_A : ch02.PARTS_A + ch02.PARTS_B, 1] > 0.9).all()  # B's to B
    centre = torch.tensor(ch02.CENTRE_A, dtype=torch.float64)
    torch.testing.assert_close(mu[0], centre, atol=0.2, rtol=0)


def test_spreading_a_lowers_its_activation_and_raises_its_entropy():
    tight = ch02.routing_state(0.05, 3, 0.3, 0.0)
    loose = ch02.routing_state(1.0, 3, 0.3, 0.0)
    assert loose[3][0] < tight[3][0]
    assert loose[2][0].log().sum() > tight[2][0].log().sum()


def test_beta_u_decides_whether_many_loose_votes_help():
    # with β_u = +3 the per-vote cost is positive, every vote adds cost: activations drop
    low = ch02.routing_state(1.0, 3, 0.3, 3.0)[3]
    high = ch02.routing_state(1.0, 3, 0.3, -3.0)[3]
    assert (low < high).all()


def test_bad_input():
    with pytest.raises(ValueError, match="spread"):
        ch02.routing_state(0.0, 3, 0.3, 0.0)
    with pytest.raises(ValueError, match="iters"):
        ch02.routing_state(0.1, 0, 0.3, 0.0)
    with pytest.raises(ValueError, match="lam"):
        ch02.routing_state(0.1, 2, -1.0, 0.0)


def test_accuracy_by_lambda_figure():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    lams = (0.01, 0.1, 1.0)
    acc = {1: np.array([[0.5, 0.6], [0.7, 0.7], [0.8, 0.82]]), 3: np.full((3, 2), 0.9)}
    fig = ch02.accuracy_by_lambda(lams, acc, chance=0.2)
    assert isinstance(fig, Figure) and not plt.get_fignums()
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    means = [line for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(means[0].get_ydata(), [0.55, 0.7, 0.81])
    with pytest.raises(ValueError, match="accuracy"):
        ch02.accuracy_by_lambda(lams, {1: np.ones((2, 2))})
    with pytest.raises(ValueError, match="lams"):
        ch02.accuracy_by_lambda((0.0, 1.0, 2.0), acc)
