"""Tests of kexue_lab.views.ch32: the normalisation exploration and the chapter's figures."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.views import ch32
from kexue_lab.widgets import View


def test_normalisations_is_declared_with_the_notebook_grid() -> None:
    ex = ch32.normalisations
    assert [c.name for c in ex.controls] == ["g11", "f10"]
    assert ex.defaults == {"g11": 2.0, "f10": 1.0}


def test_every_view_holds_three_normalised_distributions() -> None:
    for view in ch32.normalisations.sweep().values():
        assert isinstance(view, View) and len(view.panels) == 1
        curves = view.panels[0].curves
        assert len(curves) == 3
        for c in curves:
            assert len(c.x) == 8 and abs(sum(c.y) - 1) < 1e-9 and c.x[0] == "0→0→0"
        assert "most probable path" in view.readout


def test_default_toy_readout() -> None:
    text = ch32.normalisations().readout
    assert "CRF: 111" in text and "MEMM L→R: 000" in text and "MEMM R→L: 111" in text
    with pytest.raises(TypeError, match="g11"):
        ch32.normalisations(g11="2")


def test_equal_transition_rows_make_crf_and_memm_agree() -> None:
    _, probs = ch32.toy(g11=-1.0)  # g(1, ·) = (0, −1) vs g(0, ·) = (1, −1): rows differ by 1
    assert not np.allclose(probs["crf"], probs["l2r"])


def test_figures_and_rows() -> None:
    labels, probs = ch32.toy()
    assert ch32.toy_bars(labels, probs) is not None
    res = {h: {"f1": [0.8, 0.81], "seconds": [2.0, 2.1]} for h in ("crf", "l2r", "r2l", "bi")}
    assert ch32.training_bars(res) is not None
    metrics = {"f1": {h: v["f1"] for h, v in res.items()}}
    metrics["seconds"] = {h: v["seconds"] for h, v in res.items()}
    rows = ch32.comparison_rows(metrics, {})
    assert len(rows) == 5 and all(len(r) == 4 and r[3] == "—" for r in rows)
