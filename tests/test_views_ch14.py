"""Chapter 14's exploration and figure (the grid itself is swept by tests/test_views.py)."""

import numpy as np
import pytest

from kexue_lab.views import ch14


def test_conditioning_readout_over_its_grid():
    ex = ch14.conditioning
    for view in ex.sweep().values():
        for panel in view.panels:
            for curve in panel.curves:
                assert np.all(np.isfinite(curve.y)) and np.all(np.isfinite(curve.x))
        assert view.readout.startswith("L = λ_max")
    # standardising makes the curvature independent of the offset and the ratio
    offsets, ratios = ex.controls[0].values, ex.controls[1].values
    heads = {
        ex(offset=o, ratio=r, prep="standardised").readout.split(";")[0]
        for o in (offsets[0], offsets[-1])
        for r in (ratios[0], ratios[-1])
    }
    assert heads == {"L = λ_max = 1.5, condition number 3"}
    assert "condition number 1.36e+06" in ex(offset=10, ratio=100, prep="raw").readout


def test_sweep_figure():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    lrs, norms = [0.1, 1.0], ["none", "pre"]
    row = {"loss": 0.5, "grad change": 0.1, "loss range": 0.01}
    summary = {(n, lr): dict(row) for n in norms for lr in lrs}
    summary[("none", 1.0)]["loss"] = float("inf")  # a diverged run is drawn at the top edge
    fig = ch14.sweep_figure(summary, lrs, norms)
    assert isinstance(fig, Figure)
    assert not plt.get_fignums()  # closed: the notebook shows it once, as the cell's value
    assert len(fig.axes) == 3 and fig.axes[0].get_ylim()[1] == 20
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == norms
    with pytest.raises(ValueError, match="no entry"):
        ch14.sweep_figure(summary, [0.1, 3.0], norms)
