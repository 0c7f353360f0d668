"""Chapter 17's explorations and figures, as declared in kexue_lab/views/ch17.py."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from kexue_lab.architecture import attention as attn  # noqa: E402
from kexue_lab.views import ch17  # noqa: E402
from kexue_lab.widgets import Exploration  # noqa: E402


def test_declared_grids():
    assert isinstance(ch17.jl_view, Exploration) and isinstance(ch17.sharpen_view, Exploration)
    assert ch17.jl_view.defaults == {"n_points": 512, "eps": 0.5, "dim": 64}
    assert ch17.sharpen_view.defaults == {"length": 4096}


def test_readouts():
    assert "exact 0.006" in ch17.jl_view(n_points=512, eps=0.5, dim=64).readout
    assert ch17.sharpen_view(length=512).readout.startswith("entropy 3.097 → 3.097")
    assert "→ 2." in ch17.sharpen_view(length=65536).readout  # sharper beyond 512


def test_figures_draw():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    figs = [
        ch17.tail_curves(np.arange(1, 200)),
        ch17.key_size_curves([16, 64, 256], [5, 8, 11], [9, 20, 40], {64: 19, 256: 41}),
        ch17.mass_curves([32, 512], [0.5, 0.1], [0.3, 0.1]),
    ]
    figs.append(
        ch17.key_size_curves(
            [16, 64, 256], [5, 8, 11], [9, 20, 40], {64: 19}, [8, 12, 16], {64: 12}
        )
    )
    figs.append(ch17.mass_curves([32, 512], [0.5, 0.1], [0.3, 0.1], 126, [0.5, 0.5]))
    for fig in figs:
        assert isinstance(fig, Figure) and len(fig.axes) == 1
    split = attn.head_split(96, 512)
    fig = ch17.head_curves(split, 512, 96, 50.0)
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # the head count on a twin axis
    assert len(fig.axes[0].lines) == 3 and len(fig.axes[1].lines) == 1
    assert not plt.get_fignums()  # closed: the notebook shows each once, as the cell's value
