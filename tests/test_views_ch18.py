import math

import numpy as np
import pytest

from kexue_lab.architecture import embeddings as emb
from kexue_lab.views import ch18


def test_dimension_view_grid_and_readout():
    ex = ch18.dimension_view
    n, N = ex.controls
    assert (n.values[0], n.values[-1]) == (8, 512) and 64 in n.values
    assert 512.0 in N.values and 1e5 in N.values and ex.defaults == {"n": 64, "N": 1e5}
    assert "H < 0" in ex(n=128, N=1e5).readout and "H ≥ 0" in ex(n=64, N=1e5).readout
    view = ex(n=64, N=1e5)
    left, right = view.panels
    assert max(left.curves[0].y) == pytest.approx(1.0)
    assert list(right.curves[2].x) == [pytest.approx(math.log(1e5))]
    with pytest.raises(ValueError, match="n must lie"):
        ex(n=1, N=1e5)


def test_needed_dimension_figure():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")  # figures other tests left open in this worker
    Ns = [16, 64, 256]
    fit = emb.fit_log_slope(Ns, 2 * np.log(Ns) + 1)
    fig = ch18.needed_dimension_figure((Ns, list(2 * np.log(Ns) + 1), fit), (Ns, [2, 3, 4], fit))
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.lines) == 5 and ax.get_xlabel() == "ln N"
    assert not plt.get_fignums()  # closed: the notebook shows it once, as the cell's value
    with pytest.raises(ValueError, match="must match"):
        ch18.needed_dimension_figure((Ns, [1, 2], fit), (Ns, [2, 3, 4], fit))
