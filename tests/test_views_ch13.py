"""Tests of kexue_lab.views.ch13: the averaging exploration over its declared grid, the figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kexue_lab.architecture import init
from kexue_lab.views import ch13


def test_averaging_over_its_whole_grid() -> None:
    exp = ch13.averaging
    views = exp.sweep()
    assert len(views) == math.prod(len(c.values) for c in exp.controls)
    for idx, params in exp.grid():
        view = views[idx]
        assert len(view.panels) == 3
        m, n, pairs = int(params["m"]), int(params["n"]), int(params["pairs"])
        for panel in view.panels[1:]:
            lo, hi = panel.ylim
            for curve in panel.curves:
                y = np.asarray(curve.y, dtype=float)
                assert np.all(np.isfinite(y)) and len(y) == 2 * pairs + 1
                assert np.all((y >= lo) & (y <= hi)), (params, curve.name)
        fwd = {c.name: c.y[-1] for c in view.panels[1].curves}
        assert fwd["geometric"] == pytest.approx(0.0, abs=1e-12)
        xavier = pairs * math.log10(4 * m * n / (m + n) ** 2)
        assert fwd["arithmetic (Xavier)"] == pytest.approx(xavier, abs=1e-9)
        loss = view.panels[0]
        assert len(loss.vlines) == 6 and all(np.all(np.isfinite(c.y)) for c in loss.curves)
        # each excess loss touches 0 at its minimizer (the quadratic and geometric means)
        assert all(min(c.y) > -1e-9 for c in loss.curves)
        assert min(loss.curves[1].y) == pytest.approx(0.0, abs=1e-12)
        assert "d̄:" in view.readout and f"m = {m}" in view.readout


def test_averaging_defaults_are_the_chapters_shape() -> None:
    assert ch13.averaging.defaults == {"m": 64, "n": 256, "pairs": 4}


def test_averaging_static_payload_is_small() -> None:
    assert len(ch13.averaging.static_html()) < 600_000


def test_averaging_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="pairs"):
        ch13.averaging.fn(64, 256, 0)
    with pytest.raises(TypeError, match="m"):
        ch13.averaging.fn("64", 256, 2)


def test_stack_profiles_and_training_curves() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    dims = init.alternating_dims(8, 16, 2)
    kinds = ("geometric", "arithmetic")
    lines = {k: init.stack_log_gains(dims, k) for k in kinds}
    dots = {k: init.propagate(dims, k, seeds=2, batch=4) for k in kinds}
    fig = ch13.stack_profiles(lines, dots, title="linear stack", note=": theory")
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == [
        "linear stack, forward: theory",
        "linear stack, backward: theory",
    ]
    assert len(fig.axes[0].lines) == 4
    with pytest.raises(ValueError, match="dots must have the rules of lines"):
        ch13.stack_profiles(lines, {"geometric": dots["geometric"]}, title="x")
    with pytest.raises(ValueError, match="xavier"):
        ch13.stack_profiles({"xavier": lines["geometric"]}, dots, title="x")
    fig = ch13.training_curves({"geometric": [2.0, 1.0, 0.5]}, title="t")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].lines) == 1
    assert not plt.get_fignums()  # closed: the notebook shows each once, as the cell's value
    with pytest.raises(TypeError, match="curves"):
        ch13.training_curves([1.0, 2.0], title="t")
