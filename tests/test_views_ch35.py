"""Chapter 35's exploration and figures (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.sequences import spectra
from kexue_lab.views import ch35


def test_exploration_matches_sklearn() -> None:
    from sklearn.metrics import accuracy_score, f1_score

    star, r = 0.8, 0.5
    rare = np.repeat([1, 2, 3], [1000, 500, 500])  # the rare mix does not matter
    y = np.r_[np.zeros(int(len(rare) * star / (1 - star))), rare]
    pred = y.copy()
    for c in (1, 2, 3):  # find the first half of each rare class, call the rest stars
        idx = np.flatnonzero(y == c)
        pred[idx[int(r * len(idx)) :]] = 0
    view = ch35.accuracy_hides(star=star, recall=r)
    acc = accuracy_score(y, pred)
    f1 = f1_score(y, pred, average="macro")
    assert f"accuracy {acc:.3f}" in view.readout
    assert f"macro F1 {f1:.3f}" in view.readout
    curves = view.panels[0].curves
    assert curves[1].y[0] == pytest.approx(star / (2 * (1 + star)), abs=1e-12)  # r = 0
    assert curves[0].y[-1] == pytest.approx(1.0) and curves[1].y[-1] == pytest.approx(1.0)


def test_figures() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    d = spectra.make_spectra(400, 64, seed=0)
    assert isinstance(ch35.spectra_examples(d), Figure)
    hist = {"a": {"loss": [1.0, 0.5, 0.2]}}
    assert isinstance(ch35.training_curves(hist), Figure)
    fig = ch35.saliency_map(d["wave"], np.abs(d["flux"]), d["lines"], d["labels"])
    assert len(fig.axes) == 3
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="saliency"):
        ch35.saliency_map(d["wave"], np.full((400, 64), np.nan), d["lines"], d["labels"])


def test_comparison_rows() -> None:
    ours = {k: 0.5 for k in ("f1_stage1", "f1_two", "f1_ce", "f1_logreg")}
    rows = ch35.comparison_rows(ours, {})
    assert len(rows) == 6 and rows[1][1].startswith("0.82")
    assert rows[1][2] == "0.500" and rows[4][2] == "—" and rows[0][3] == "—"
