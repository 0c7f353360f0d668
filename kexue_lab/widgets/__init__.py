"""Explorations: one pure function, two renderings.

A chapter describes an exploration once, as a pure function of its parameters
that returns a :class:`View` (panels of curves plus a readout line), and the
ranges of those parameters (:func:`slider`, :func:`choice`). From that one
description :class:`Exploration` builds

* a **live** version: ipywidgets controls that call the function on every
  change and redraw with matplotlib (Jupyter, Colab: a kernel is running);
* a **static** version: the function evaluated over the whole grid of control
  values ahead of time, embedded as JSON with a few lines of JavaScript that
  redraw a plotly chart when a control moves. It needs no kernel, so it stays
  interactive in the rendered book.

``show()`` picks the static version while the book is being built
(``KEXUE_BOOK=1``) and the live one otherwise. Tests call :meth:`Exploration.sweep`,
which evaluates the function over every grid point of every control.
"""

from .controls import Control, choice, slider
from .exploration import MAX_GRID_POINTS, Exploration, exploration
from .live import render_matplotlib
from .view import STYLES, Curve, Panel, View

__all__ = [
    "MAX_GRID_POINTS",
    "STYLES",
    "Control",
    "Curve",
    "Exploration",
    "Panel",
    "View",
    "choice",
    "exploration",
    "render_matplotlib",
    "slider",
]
