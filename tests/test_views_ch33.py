"""Tests of kexue_lab.views.ch33: the beam-table exploration and the chapter's figures."""

from __future__ import annotations

import math

import pytest

from kexue_lab.views import ch33
from kexue_lab.widgets import View


def test_beam_table_is_declared_with_the_notebook_grid() -> None:
    ex = ch33.beam_table
    assert [c.name for c in ex.controls] == ["p_a", "p_b_a", "p_d_c"]
    assert ex.defaults == {"p_a": 0.6, "p_b_a": 0.55, "p_d_c": 0.9}


def test_every_view_holds_a_distribution_and_both_decodings() -> None:
    for view in ch33.beam_table.sweep().values():
        assert isinstance(view, View) and len(view.panels) == 1
        (curve,) = view.panels[0].curves
        assert len(curve.x) == 4 and math.isclose(sum(curve.y), 1.0, abs_tol=1e-12)
        assert "greedy (beam 1): (a, b)" in view.readout and "beam 2:" in view.readout


def test_article_values_and_the_two_failure_modes() -> None:
    assert "beam 2: (c, d), not the target" in ch33.beam_table().readout
    assert "beam 2: (a, b), target" in ch33.beam_table(p_d_c=0.5).readout
    assert "beam 2: (c, b)" in ch33.beam_table(p_d_c=0.0).readout
    with pytest.raises(ValueError, match="p_d_c"):
        ch33.beam_table(p_d_c=1.5)


def test_figures_and_rows() -> None:
    acc = {v: {"tf_acc": [0.9, 0.8], "free_acc": [0.7, 0.6]} for v in ch33.NAMES}
    assert ch33.gap_bars(acc) is not None
    row = {m: [50.0, 52.0] for m in (*ch33.METRICS, "exact")}
    scores = {v: {k: row for k in (1, 2, 3)} for v in ch33.NAMES}
    assert ch33.beam_sweep(scores) is not None
    rows = ch33.comparison_rows(scores, {})
    assert len(rows) == 9 and all(len(r) == 5 and r[4] == "—" for r in rows)
    assert (
        rows[0][2] == "63.81 / 65.45 / 54.91 / 45.52" and rows[0][3] == "51.0 / 51.0 / 51.0 / 51.0"
    )
    recorded = {"baseline": {"1": row}}  # a JSON record has string keys
    assert ch33.comparison_rows(scores, recorded)[0][4] == "51.0 / 51.0 / 51.0 / 51.0"
