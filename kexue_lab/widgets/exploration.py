"""An exploration: a pure function of its controls, swept over their grid, shown two ways."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import _validate
from ..plot import PALETTE
from .controls import Control
from .view import View

MAX_GRID_POINTS = 1500


def _sig(v: Any, digits: int = 4) -> Any:
    if isinstance(v, str):
        return v
    f = float(v)
    if not math.isfinite(f):
        return None
    return float(f"{f:.{digits}g}")


@dataclass
class Exploration:
    """A pure function ``fn(**params) -> View`` and the controls that feed it."""

    fn: Callable[..., View]
    controls: Sequence[Control]
    title: str = ""
    height: int = 330
    _cache: dict[tuple[int, ...], View] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"fn must be callable, got {self.fn!r}")
        if not self.controls:
            raise ValueError("an exploration needs at least one control")
        names = [c.name for c in self.controls]
        if len(set(names)) != len(names):
            raise ValueError(f"control names must be distinct, got {names}")
        size = math.prod(len(c.values) for c in self.controls)
        if size > MAX_GRID_POINTS:
            raise ValueError(
                f"the grid has {size} points (product of the controls' steps); at most "
                f"{MAX_GRID_POINTS} "
                "are precomputed for the static book: use fewer steps"
            )

    @property
    def defaults(self) -> dict[str, Any]:
        """The default value of every control."""
        return {c.name: c.default for c in self.controls}

    def __call__(self, **params: Any) -> View:
        """Evaluate the function, filling unnamed parameters with their defaults."""
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {sorted(unknown)}; this exploration takes "
                f"{sorted(self.defaults)}"
            )
        view = self.fn(**{**self.defaults, **params})
        if not isinstance(view, View):
            raise TypeError(
                "the exploration function must return a kexue_lab.widgets.View, got "
                f"{type(view).__name__}"
            )
        return view

    def grid(self) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
        """Every combination of control values, as (indices, parameters)."""
        for idx in itertools.product(*(range(len(c.values)) for c in self.controls)):
            yield idx, {c.name: c.values[i] for c, i in zip(self.controls, idx)}

    def sweep(self) -> dict[tuple[int, ...], View]:
        """Evaluate the function at every grid point (what the static version embeds)."""
        if not self._cache:
            for idx, params in self.grid():
                self._cache[idx] = self(**params)
        return self._cache

    # ---- static ---------------------------------------------------------------------------
    def _payload(self) -> dict[str, Any]:
        series: list[list[Any]] = []  # every distinct x or y array, stored once
        index: dict[tuple[Any, ...], int] = {}

        def ref(values: Sequence[Any]) -> int:
            key = tuple(_sig(v) for v in values)
            if key not in index:
                index[key] = len(series)
                series.append(list(key))
            return index[key]

        frames: dict[str, Any] = {}
        first = self(**self.defaults)
        for idx, view in self.sweep().items():
            traces = []
            for p, panel in enumerate(view.panels):
                for k, c in enumerate(panel.curves):
                    traces.append(
                        [
                            p,
                            c.name,
                            c.style,
                            c.color if c.color is not None else k,
                            ref(c.x),
                            ref(c.y),
                        ]
                    )
            vl = [
                [p, _sig(x), lab] for p, panel in enumerate(view.panels) for x, lab in panel.vlines
            ]
            yl = [list(map(_sig, panel.ylim)) if panel.ylim else None for panel in view.panels]
            frames["-".join(map(str, idx))] = [traces, view.readout, vl, yl]
        panels = [
            {
                "title": pn.title,
                "xlabel": pn.xlabel,
                "ylabel": pn.ylabel,
                "xlog": pn.xlog,
                "ylog": pn.ylog,
            }
            for pn in first.panels
        ]
        controls = [
            {
                "label": c.label,
                "texts": [c.text(v) for v in c.values],
                "default": c.default_index,
                "choice": c.kind == "choice",
            }
            for c in self.controls
        ]
        return {
            "xs": series,
            "frames": frames,
            "panels": panels,
            "controls": controls,
            "palette": list(PALETTE),
        }

    def static_html(self) -> str:
        """Self-contained HTML + JavaScript: plotly chart redrawn from the precomputed grid."""
        from .static import static_html

        return static_html(self)

    def live(self) -> Any:
        """ipywidgets controls wired to a matplotlib rendering of the function."""
        from .live import live_widget

        return live_widget(self)

    def _repr_html_(self) -> str:
        return self.static_html()

    def _ipython_display_(self) -> None:
        """A bare exploration as a cell's last expression: live in Jupyter, static in the book."""
        self.show()

    def show(self, mode: Literal["auto", "live", "static"] = "auto") -> None:
        """Display the exploration: static while building the book, live otherwise."""
        from IPython.display import HTML, display

        from ..runtime import in_book_build

        _validate.choice("mode", mode, ("auto", "live", "static"))
        if mode == "auto":
            mode = "static" if in_book_build() else "live"
        if mode == "static":
            display(HTML(self.static_html()))
        else:
            display(self.live())


def exploration(
    *controls: Control, title: str = "", height: int = 330
) -> Callable[[Callable[..., View]], Exploration]:
    """Declare an exploration once, in ``kexue_lab/views/chNN.py``: the function and its controls.

    .. code-block:: python

        @exploration(slider("lam", 1.5, 1.9, steps=41, label="λ"), title="Φ(x) ≈ σ(λx)")
        def sigmoid_error(lam: float) -> View: ...

    The result is an :class:`Exploration`: the notebook shows it as a cell's last
    expression (``ch12.sigmoid_error``), and the tests sweep exactly this grid.
    """
    for c in controls:
        if not isinstance(c, Control):
            raise TypeError(f"controls must be made with slider(...) or choice(...), got {c!r}")

    def wrap(fn: Callable[..., View]) -> Exploration:
        exp = Exploration(fn=fn, controls=list(controls), title=title, height=height)
        exp.__doc__ = fn.__doc__
        exp.__name__ = fn.__name__  # type: ignore[attr-defined]
        return exp

    return wrap
