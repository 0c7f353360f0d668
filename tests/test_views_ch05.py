"""Chapter 05's exploration and figures (the exploration's grid is swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.generative import poetry_data
from kexue_lab.train import History
from kexue_lab.views import ch05


def test_temperature_limits() -> None:
    position, t = ch05.temperature.controls
    assert position.default == 5 and t.default == pytest.approx(1.0)
    assert min(abs(v) for v in t.values) == 0.0  # the article's argmax is on the grid
    at_one = ch05.temperature(position=1, t=1.0)
    corpus, tempered = at_one.panels[0].curves
    np.testing.assert_allclose(corpus.y, tempered.y)  # T = 1 leaves p unchanged
    argmax = ch05.temperature(position=1, t=0.0)
    y = np.asarray(argmax.panels[0].curves[1].y)
    assert y[0] == 1.0 and not y[1:].any()
    assert "P(top character) = 1.000" in argmax.readout
    # the most frequent first character of the shipped couplets leads the readout
    first = [c[0] for c in poetry_data.load_couplets("shipped")]
    top = max(set(first), key=first.count)
    assert f"most frequent here: {top}" in argmax.readout
    hot = ch05.temperature(position=10, t=1.5)
    assert "entropy" in hot.readout
    with pytest.raises(ValueError, match="position"):
        ch05.temperature(position=11)


def test_poem_table() -> None:
    table = ch05.poem_table({"a": ["白日依山尽黄河入海流"], "b": []}, caption="x<y")
    html = table.data
    assert "白日依山尽，黄河入海流。" in html and "x&lt;y" in html
    assert html.count("<tr>") == 2
    with pytest.raises(ValueError, match="10-character"):
        ch05.poem_table({"a": ["白日依山尽"]})
    with pytest.raises(ValueError, match="at least one"):
        ch05.poem_table({})


def test_figures() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    history = History()
    for nll, kl in ((60.0, 0.1), (58.0, 1.0)):
        history.add("nll", nll)
        history.add("kl", kl)
    fig = ch05.training_and_latent(history, [0.0, 0.5, 0.2])
    assert isinstance(fig, Figure) and not plt.get_fignums()
    heights = [p.get_height() for p in fig.axes[1].patches]
    assert heights == [0.5, 0.2, 0.0]
    with pytest.warns(UserWarning) if not _has_cjk() else _nothing():
        bars = ch05.top_characters(
            {"a": ["风风风风风风风风风花"], "b": ["白日依山尽黄河入海流"]}, k=3
        )
    left = bars.axes[0]
    assert [t.get_text() for t in left.get_xticklabels()] == ["风", "花"]
    assert left.patches[0].get_height() == pytest.approx(0.9)
    with pytest.raises(ValueError, match="kl_dims"):
        ch05.training_and_latent(history, [float("nan")])
    with pytest.raises(ValueError, match="groups"):
        ch05.top_characters({})


def _has_cjk() -> bool:
    import warnings

    from kexue_lab.plot import use_cjk_font

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return use_cjk_font() is not None


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None
