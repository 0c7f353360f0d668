"""Chapter 40's exploration and figure (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import math

import numpy as np

from kexue_lab.views import ch40


def test_margin_curves_and_readout():
    view = ch40.margin()
    full, sparse = view.panels[0].curves
    assert math.isclose(full.y[-1], math.log(100_000 - 1), rel_tol=1e-9)
    assert all(math.isclose(v, math.log(9), rel_tol=1e-9) for v in sparse.y)
    assert "9.958" in view.readout and "2.197" in view.readout
    assert ch40.margin.defaults["k"] == 10
    for v in ch40.margin.sweep().values():
        assert all(np.isfinite(c.y).all() for c in v.panels[0].curves)


def test_fidelity_bars():
    from matplotlib.figure import Figure

    fig = ch40.fidelity_bars({"plain": [0.1, 0.5], "copy": [1.0, 0.9]}, ["numbers", "4-grams"])
    assert isinstance(fig, Figure)
