"""Tests of kexue_lab.views.ch24: the toy exploration and the chapter's figures."""

from __future__ import annotations

import math

import numpy as np

from kexue_lab.optimization import simsiam
from kexue_lab.views import ch24
from kexue_lab.widgets import View


def test_toy_phase_is_declared_with_the_article_start() -> None:
    names = [c.name for c in ch24.toy_phase.controls]
    assert names == ["phi0", "theta0", "speed"]
    assert ch24.toy_phase.defaults == {"phi0": 0.6, "theta0": 0.1, "speed": 1.0}


def test_toy_phase_views_are_finite_and_short() -> None:
    for view in ch24.toy_phase.sweep().values():
        assert isinstance(view, View) and len(view.panels) == 2
        for panel in view.panels:
            assert len(panel.curves) == 2
            for curve in panel.curves:
                assert np.isfinite(np.asarray(curve.y, float)).all() and len(curve.y) <= 101


def test_toy_phase_readout_gives_the_article_limits() -> None:
    text = ch24.toy_phase().readout
    assert f"θ → {math.sqrt(0.65):.3f}, φ → 1.000" in text  # stop-gradient: no collapse
    assert f"θ → 0.001, φ → {1 - math.sqrt(0.15):.3f}" in text  # full gradient: collapse


def test_figures_are_returned_once() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    runs = {m: simsiam.toy_flow(0.6, 0.1, m, 10.0, 100) for m in ("stopgrad", "full")}
    hist = {"step": [0, 10, 20], "std": [0.1, 0.05, 0.01]}
    for fig in (ch24.toy_curves(runs), ch24.collapse_curves({"a": hist, "b": hist}, d=64)):
        assert isinstance(fig, Figure) and fig.axes
    assert not plt.get_fignums()
