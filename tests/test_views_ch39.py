"""Chapter 39's exploration and figure (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from kexue_lab.views import ch39


def test_pasture_matches_sympy_solve() -> None:
    g, stock = sp.symbols("g G")
    for n1, d1, n2, d2 in ch39.PASTURES.values():
        want = sp.solve([stock + g * d1 - n1 * d1, stock + g * d2 - n2 * d2], [g, stock])
        got = ch39.pasture(n1, d1, n2, d2)
        assert np.allclose(got, (float(want[g]), float(want[stock])))
    assert ch39.pasture(10, 20, 15, 10) == (5.0, 100.0)


def test_cows_grass_readout_and_ill_posed_case() -> None:
    view = ch39.cows_grass()
    assert "g = 5" in view.readout and "G = 100" in view.readout and "= 5 days" in view.readout
    assert "never runs out" in ch39.cows_grass(field=(10, 20, 15, 10), n3=5).readout
    assert ch39.cows_grass.defaults == {"field": (10, 20, 15, 10), "n3": 25}
    for v in ch39.cows_grass.sweep().values():
        for panel in v.panels:
            for curve in panel.curves:
                assert np.isfinite(curve.y).all()


def test_accuracy_bars() -> None:
    from matplotlib.figure import Figure

    fig = ch39.accuracy_bars({"trees": (0.5, 0.6), "ages": (0.9, 0.95)})
    assert isinstance(fig, Figure)
