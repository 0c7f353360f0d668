"""Tests of kexue_lab.views.ch26: the rescaling playground, the figure and the table rows."""

from __future__ import annotations

import numpy as np
import torch

from kexue_lab.regularization import weissi
from kexue_lab.views import ch26
from kexue_lab.widgets import View


def test_rescaling_is_declared_with_its_grid() -> None:
    names = [c.name for c in ch26.rescaling.controls]
    assert names == ["log2_g1", "log2_g2", "bias"]
    assert ch26.rescaling.defaults == {"log2_g1": 0, "log2_g2": 0, "bias": "cumulative"}


def test_cumulative_keeps_the_function_and_naive_does_not() -> None:
    same = ch26.rescaling(log2_g1=2, log2_g2=-1, bias="cumulative")
    naive = ch26.rescaling(log2_g1=2, log2_g2=-1, bias="naive")
    assert isinstance(same, View) and len(same.panels) == 2
    before, after = (np.asarray(c.y) for c in same.panels[0].curves)
    np.testing.assert_allclose(after, before, atol=1e-12)
    before, after = (np.asarray(c.y) for c in naive.panels[0].curves)
    assert np.abs(after - before).max() > 1e-2
    # Σ log‖W‖ is the same in every view; Σ‖W‖² is not
    logs = {v.readout.split("Σ log‖W_l‖ = ")[1] for v in ch26.rescaling.sweep().values()}
    assert len(logs) == 1
    assert same.readout != ch26.rescaling().readout


def test_orbit_minimum_in_the_readout_is_reached_by_balancing() -> None:
    net = ch26._playground_net()
    norms = weissi.layer_norms(net).detach().numpy()
    geo = np.prod(norms) ** (1 / 3)
    weissi.rescale_layers(net, list(geo / norms))
    balanced = float(weissi.l2_penalty(net).detach())
    floor = float(ch26.rescaling().readout.split("= ")[3].split(")")[0])
    assert abs(balanced - floor) < 0.01 * floor  # the readout prints 3 digits


def test_norm_trajectories_and_rows() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
    run = weissi.train_regimes(
        x, y, [3, 4, 2], {"none": {}, "L2": {"l2": 0.1}}, steps=5, show_progress=False
    )
    assert isinstance(ch26.norm_trajectories(run, "GD"), Figure)
    ours = {"data": "digits", "test_acc": {"L2": [0.9, 0.92]}, "balance": {"L2": 1.04}}
    rows = ch26.comparison_rows(ours, {})
    assert len(rows) == 2 and rows[0][3] == "—" and "0.910 ± 0.014" in rows[0][2]
    full = ch26.comparison_rows(ours, {**ours, "data": "fashion-mnist"})
    assert "fashion-mnist" in full[0][3] and full[1][3] == "1.04"
    plt.close("all")
