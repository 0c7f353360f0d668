"""Chapter 34's exploration and figure (the grid itself is swept by test_views.py)."""

from __future__ import annotations

import numpy as np

from kexue_lab.sequences.dgcnn import receptive_field
from kexue_lab.views import ch34


def test_path_counts_support_is_the_receptive_field() -> None:
    for k in (3, 5):
        for rates in ([1, 2, 4, 1], [1, 1], [2, 2, 2]):
            counts = ch34.path_counts(k, rates)
            assert len(counts) == receptive_field(k, rates)
            assert counts.sum() == k ** len(rates)  # every tap of every layer: kᴸ paths
    assert (ch34.path_counts(3, [2, 2]) == 0).sum() == 4  # gridding: odd offsets unreachable


def test_receptive_readout_and_defaults() -> None:
    view = ch34.receptive()
    assert "= 17" in view.readout and "never reached: 0" in view.readout
    assert ch34.receptive.defaults == {"kernel": 3, "pattern": "1,2,4,1"}
    for v in ch34.receptive.sweep().values():
        assert np.isfinite(v.panels[0].curves[0].y).all()


def test_vote_bars() -> None:
    from matplotlib.figure import Figure

    assert isinstance(ch34.vote_bars({"argmax": (0.7, 0.8), "vote": (0.75, 0.85)}), Figure)
