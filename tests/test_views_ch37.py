"""Chapter 37's exploration and figures (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch37


def test_knobs_default_and_extremes():
    t, k, p = ch37.sampling_knobs.controls
    assert (t.default, k.default, p.default) == (1.0, 5, 1.0)
    assert 1.0 in t.values and 0.95 in p.values
    view = ch37.sampling_knobs()
    kept = np.asarray(view.panels[0].curves[1].y)
    assert int((kept > 0).sum()) == 5 and view.readout.startswith("5 token(s) kept")
    greedy = ch37.sampling_knobs(top_k=1)
    assert greedy.readout.startswith("1 token(s) kept, entropy 0.000")
    # top-p = 0.5 at T = 0.25 keeps only the most likely token (its probability exceeds 0.5)
    assert ch37.sampling_knobs(temperature=0.25, top_k=20, top_p=0.5).readout.startswith("1 ")
    for view in (ch37.sampling_knobs(temperature=2.0, top_k=20), greedy):
        assert abs(sum(view.panels[0].curves[1].y) - 1) < 1e-12


def test_figures_and_rows():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    fig = ch37.block_diagrams()
    assert isinstance(fig, Figure) and len(fig.axes) == 3 and not plt.get_fignums()
    assert [ax.get_title() for ax in fig.axes][2] == "GPT2_ML (Grover)"
    fig = ch37.training_curve([10, 20], [1.6, 1.5], 1.4, 1.41)
    assert len(fig.axes[0].get_lines()) == 3
    with pytest.raises(ValueError, match="same"):
        ch37.training_curve([10], [1.6, 1.5], 1.4, 1.41)
    with pytest.raises(ValueError, match="rate"):
        ch37.training_curve([10], [1.6], float("nan"), 1.41)
    rows = ch37.comparison_rows({"params": 1_393_941_504, "excess": 0.07}, {})
    assert rows[0][2] == "1,393,941,504" and rows[3][2] == "0.0700" and rows[1][2] == "—"
    assert all(r[3] == "—" for r in rows)
