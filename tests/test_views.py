"""Every exploration of the book, swept over exactly the grid its notebook shows.

The explorations are declared once, in ``kexue_lab/views/chNN.py``; the notebooks show
those objects, so this sweep covers what readers move.
"""

from __future__ import annotations

import json
import math

import pytest

from kexue_lab import views
from kexue_lab.widgets import Exploration, View

ALL = views.explorations()


def test_every_views_module_declares_an_exploration() -> None:
    for name in views.modules():
        assert views.explorations(name[2:]), f"kexue_lab/views/{name}.py declares no exploration"


@pytest.mark.parametrize("name", sorted(ALL))
def test_sweep_covers_the_grid_and_embeds(name: str) -> None:
    exp = ALL[name]
    assert isinstance(exp, Exploration)
    frames = exp.sweep()
    assert len(frames) == math.prod(len(c.values) for c in exp.controls)
    for view in frames.values():
        assert isinstance(view, View)
        for panel in view.panels:
            for curve in panel.curves:
                assert len(curve.x) == len(curve.y) > 0
    payload = exp._payload()
    json.dumps(payload, allow_nan=False)  # the static page embeds it


def test_unknown_chapter_is_refused() -> None:
    with pytest.raises(ValueError, match="chapter"):
        views.explorations("99")
