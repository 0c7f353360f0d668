"""Chapter 16's explorations and figures, as declared in kexue_lab/views/ch16.py."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from kexue_lab.views import ch16  # noqa: E402
from kexue_lab.widgets import Exploration  # noqa: E402


def test_declared_grids():
    assert isinstance(ch16.entropy_view, Exploration) and isinstance(ch16.laplace_view, Exploration)
    assert ch16.entropy_view.defaults == {"d": 64, "n": 2048, "cos": 0.6, "base": 512}
    lam = ch16.laplace_view.controls[0]
    assert 1.0 in lam.values and lam.default == 1.0


def test_entropy_curves_cross_at_the_calibration_length():
    view = ch16.entropy_view(d=64, n=2048, cos=0.6, base=512)
    std, logn = (np.asarray(c.y) for c in view.panels[0].curves[:2])
    grid = np.asarray(view.panels[0].curves[0].x)
    assert np.all(logn[grid > 512] < std[grid > 512]) and np.all(logn[grid < 512] > std[grid < 512])
    assert "mass on the relevant key" in view.readout


def test_laplace_readout_shows_the_golden_slope():
    assert "-0.2406" in ch16.laplace_view(lam=1.0, d=128).readout


def test_figures_draw():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    figs = [
        ch16.laplace_slopes([16, 32, 64, 128], np.geomspace(0.1, 2, 5)),
        ch16.planted_key_curves([64, 512, 4096], [[1, 2, 3], [2, 2, 2.5]], [[0.1] * 3] * 2, "ab"),
        ch16.accuracy_curves(
            [16, 32],
            {(m, n): 0.5 for m in ("standard", "log_n") for n in (16, 32)},
            {(m, n): 1.0 for m in ("standard", "log_n") for n in (16, 32)},
            {"standard": [40, 30], "log_n": [41, 35]},
            {"standard": "O", "log_n": "E"},
        ),
    ]
    for fig in figs:
        assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert not plt.get_fignums()  # closed: the notebook shows each once, as the cell's value


def test_accuracy_curves_draw_a_mode_the_article_lacks():
    import matplotlib.pyplot as plt

    modes = ("standard", "log_n", "rescaled")
    fig = ch16.accuracy_curves(
        [16, 32],
        {(m, n): 0.5 for m in modes for n in (16, 32)},
        {(m, n): 1.0 for m in modes for n in (16, 32)},
        {"standard": [40, 30], "log_n": [41, 35]},
        {"standard": "O", "log_n": "E", "rescaled": "O, rescaled"},
    )
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["ours, O", "article, O", "ours, E", "article, E", "ours, O, rescaled"]
    plt.close(fig)
