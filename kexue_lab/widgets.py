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

from __future__ import annotations

import html
import itertools
import json
import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from . import _validate
from .plot import PALETTE

Style = Literal["line", "dashed", "dotted", "markers", "bar"]
STYLES: tuple[str, ...] = ("line", "dashed", "dotted", "markers", "bar")
MAX_GRID_POINTS = 1500
MAX_STATIC_BYTES = 1_500_000
PLOTLY_CDN = "https://cdn.plot.ly/plotly-2.35.2.min.js"


@dataclass(frozen=True)
class Control:
    """One parameter of an exploration: its name, label, grid and default."""

    name: str
    label: str
    values: tuple[Any, ...]
    default: Any
    kind: Literal["float", "log", "int", "choice"]
    names: tuple[str, ...] = ()

    @property
    def default_index(self) -> int:
        """Index of the default in :attr:`values`."""
        return self.values.index(self.default)

    def text(self, value: Any) -> str:
        """How the value is printed beside the control."""
        if self.kind == "choice":
            return self.names[self.values.index(value)]
        if self.kind == "int":
            return str(int(value))
        return f"{value:.4g}"


def slider(
    name: str,
    lo: float,
    hi: float,
    *,
    steps: int = 11,
    default: float | None = None,
    label: str | None = None,
    log: bool = False,
    integer: bool = False,
    include: Sequence[float] = (),
) -> Control:
    """A numeric control over ``[lo, hi]`` with ``steps`` grid values (log-spaced if ``log``).

    The static rendering offers exactly the grid values; the live one moves
    continuously over the same range. ``default`` and the values in ``include``
    (e.g. the article's constants) are added to the grid, so the static version
    can show them exactly; the default is the midpoint when omitted.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"name must be a Python identifier (it becomes a keyword argument), got {name!r}"
        )
    lo, hi = _validate.real("lo", lo), _validate.real("hi", hi)
    if not lo < hi:
        raise ValueError(f"lo must be < hi, got lo={lo}, hi={hi}")
    steps = _validate.positive_int("steps", steps)
    if steps < 2:
        raise ValueError(f"steps must be >= 2 so the control can move, got {steps}")
    if log and lo <= 0:
        raise ValueError(f"a log slider needs lo > 0, got lo={lo}")
    grid = list(np.geomspace(lo, hi, steps) if log else np.linspace(lo, hi, steps))
    extra = [_validate.real("include", v) for v in include]
    if default is not None:
        extra.append(_validate.real("default", default))
    for v in extra:
        if not lo <= v <= hi:
            raise ValueError(f"default and include values must lie in [{lo}, {hi}], got {v!r}")
    if integer:
        values = tuple(sorted({int(round(v)) for v in [*grid, *extra]}))
    else:
        values = tuple(sorted({float(f"{v:.10g}") for v in [*grid, *extra]}))
    target = (math.sqrt(lo * hi) if log else (lo + hi) / 2) if default is None else float(default)
    key = (lambda v: abs(math.log(v) - math.log(target))) if log else (lambda v: abs(v - target))
    snapped = min(values, key=key)
    kind = "int" if integer else ("log" if log else "float")
    return Control(name=name, label=label or name, values=values, default=snapped, kind=kind)


def choice(
    name: str,
    options: Mapping[str, Any] | Sequence[Any],
    *,
    default: Any = None,
    label: str | None = None,
) -> Control:
    """A control that picks one of ``options`` (a mapping from shown name to value, or a list)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"name must be a Python identifier (it becomes a keyword argument), got {name!r}"
        )
    pairs = (
        list(options.items()) if isinstance(options, Mapping) else [(str(o), o) for o in options]
    )
    if len(pairs) < 2:
        raise ValueError(f"options must offer at least 2 choices, got {len(pairs)}")
    names = tuple(str(k) for k, _ in pairs)
    values = tuple(v for _, v in pairs)
    if default is None:
        default = values[0]
    _validate.choice("default", default, values)
    return Control(
        name=name, label=label or name, values=values, default=default, kind="choice", names=names
    )


@dataclass(frozen=True)
class Curve:
    """A named series on a panel. ``x`` may hold category names for bars."""

    x: Sequence[Any]
    y: Sequence[float]
    name: str = ""
    style: Style = "line"
    color: int | None = None

    def __post_init__(self) -> None:
        _validate.choice("style", self.style, STYLES)
        if len(self.x) != len(self.y):
            raise ValueError(
                f"curve {self.name!r}: x and y must have the same length, got {len(self.x)} "
                f"and {len(self.y)}"
            )


@dataclass(frozen=True)
class Panel:
    """One plot: curves, labels, optional log axes, y-limits and vertical markers."""

    curves: Sequence[Curve]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xlog: bool = False
    ylog: bool = False
    ylim: tuple[float, float] | None = None
    vlines: Sequence[tuple[float, str]] = ()


@dataclass(frozen=True)
class View:
    """What an exploration function returns: one or two panels and a readout line."""

    panels: Sequence[Panel]
    readout: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.panels) <= 3:
            raise ValueError(f"a view holds 1 to 3 panels, got {len(self.panels)}")


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
        uid = "kx" + uuid.uuid4().hex[:10]
        payload = json.dumps(self._payload(), separators=(",", ":"), allow_nan=False)
        if len(payload) > MAX_STATIC_BYTES:
            raise ValueError(
                f"the static exploration would embed {len(payload):,} bytes (limit "
                f"{MAX_STATIC_BYTES:,}); "
                "use fewer grid steps or fewer points per curve"
            )
        inputs = []
        for k, c in enumerate(self.controls):
            label = html.escape(c.label)
            if c.kind == "choice":
                opts = "".join(
                    f'<option value="{i}"{" selected" if i == c.default_index else ""}>'
                    f"{html.escape(n)}</option>"
                    for i, n in enumerate(c.names)
                )
                inputs.append(
                    f'<label class="kx-ctl">{label} <select data-k="{k}">{opts}</select></label>'
                )
            else:
                inputs.append(
                    f'<label class="kx-ctl">{label} <input type="range" data-k="{k}" '
                    f'min="0" max="{len(c.values) - 1}" '
                    f'step="1" value="{c.default_index}"> '
                    f"<output>{html.escape(c.text(c.default))}</output></label>"
                )
        title = f'<div class="kx-title">{html.escape(self.title)}</div>' if self.title else ""
        return _STATIC_TEMPLATE.format(
            uid=uid,
            title=title,
            inputs="".join(inputs),
            height=self.height,
            payload=payload,
            cdn=PLOTLY_CDN,
        )

    def _repr_html_(self) -> str:
        return self.static_html()

    def _ipython_display_(self) -> None:
        """A bare exploration as a cell's last expression: live in Jupyter, static in the book."""
        self.show()

    # ---- live -----------------------------------------------------------------------------
    def live(self) -> Any:
        """ipywidgets controls wired to a matplotlib rendering of the function."""
        import ipywidgets as w

        widgets = {}
        for c in self.controls:
            style = {"description_width": "initial"}
            layout = w.Layout(width="330px")
            if c.kind == "choice":
                widgets[c.name] = w.Dropdown(
                    options=list(zip(c.names, c.values)),
                    value=c.default,
                    description=c.label,
                    style=style,
                )
            elif c.kind == "int":
                widgets[c.name] = w.SelectionSlider(
                    options=list(c.values),
                    value=c.default,
                    description=c.label,
                    style=style,
                    layout=layout,
                )
            elif c.kind == "log":
                lo, hi = math.log10(c.values[0]), math.log10(c.values[-1])
                widgets[c.name] = w.FloatLogSlider(
                    value=c.default,
                    base=10,
                    min=lo,
                    max=hi,
                    step=(hi - lo) / 200,
                    description=c.label,
                    style=style,
                    layout=layout,
                )
            else:
                lo, hi = c.values[0], c.values[-1]
                widgets[c.name] = w.FloatSlider(
                    value=c.default,
                    min=lo,
                    max=hi,
                    step=(hi - lo) / 200,
                    readout_format=".4g",
                    description=c.label,
                    style=style,
                    layout=layout,
                )

        def draw(**params: Any) -> None:
            import matplotlib.pyplot as plt

            render_matplotlib(self(**params), height=self.height)
            plt.show()

        out = w.interactive_output(draw, widgets)
        header = [w.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []
        return w.VBox(
            [*header, w.HBox(list(widgets.values()), layout=w.Layout(flex_flow="row wrap")), out]
        )

    def show(self, mode: Literal["auto", "live", "static"] = "auto") -> None:
        """Display the exploration: static while building the book, live otherwise."""
        from IPython.display import HTML, display

        from .runtime import in_book_build

        _validate.choice("mode", mode, ("auto", "live", "static"))
        if mode == "auto":
            mode = "static" if in_book_build() else "live"
        if mode == "static":
            display(HTML(self.static_html()))
        else:
            display(self.live())


def explore(
    fn: Callable[..., View], *controls: Control, title: str = "", height: int = 330
) -> Exploration:
    """Build an :class:`Exploration` from a pure function and its controls."""
    return Exploration(fn=fn, controls=list(controls), title=title, height=height)


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


def render_matplotlib(view: View, *, height: int = 330) -> Any:
    """Draw a :class:`View` with matplotlib (the live rendering); returns the figure."""
    import matplotlib.pyplot as plt

    n = len(view.panels)
    fig, axes = plt.subplots(1, n, figsize=(min(4.6 * n, 11), height / 90), squeeze=False)
    for ax, panel in zip(axes[0], view.panels):
        for k, c in enumerate(panel.curves):
            color = PALETTE[(c.color if c.color is not None else k) % len(PALETTE)]
            if c.style == "bar":
                ax.bar([str(v) for v in c.x], c.y, color=color, label=c.name or None)
            elif c.style == "markers":
                ax.plot(c.x, c.y, "o", ms=4, color=color, label=c.name or None)
            else:
                ls = {"line": "-", "dashed": "--", "dotted": ":"}[c.style]
                ax.plot(c.x, c.y, ls, color=color, label=c.name or None)
        for x, lab in panel.vlines:
            ax.axvline(x, color="0.5", lw=0.9, ls=":")
            ax.annotate(
                lab,
                (x, 1),
                xycoords=("data", "axes fraction"),
                fontsize=8,
                rotation=90,
                va="top",
                ha="right",
                color="0.35",
            )
        if panel.xlog:
            ax.set_xscale("log")
        if panel.ylog:
            ax.set_yscale("log")
        if panel.ylim:
            ax.set_ylim(*panel.ylim)
        ax.set_title(panel.title)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        named = sum(bool(c.name) for c in panel.curves)
        if named and named <= 3:
            ax.legend()
        elif named:  # many curves: the legend goes under the panel, where it hides nothing
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8.5)
    if view.readout:
        import textwrap

        fig.suptitle(textwrap.fill(view.readout, width=int(fig.get_figwidth() * 13)), fontsize=10)
    return fig


_STATIC_TEMPLATE = """<div class="kx-explore" id="{uid}">{title}
<div class="kx-controls">{inputs}</div>
<div class="kx-plot" style="width:100%;height:{height}px"></div><div class="kx-readout"></div>
<noscript>This exploration needs JavaScript.</noscript></div>
<script>
(function() {{
  var D = {payload};
  var root = document.getElementById("{uid}");
  var plot = root.querySelector(".kx-plot"), readout = root.querySelector(".kx-readout");
  var ctl = Array.prototype.slice.call(root.querySelectorAll("[data-k]"));
  var dash = {{line: "solid", dashed: "dash", dotted: "dot"}};
  function key() {{ return ctl.map(function(e) {{ return e.value; }}).join("-"); }}
  function draw() {{
    ctl.forEach(function(e) {{
      var out = e.parentNode.querySelector("output");
      if (out) out.textContent = D.controls[+e.dataset.k].texts[+e.value];
    }});
    var f = D.frames[key()], n = D.panels.length, traces = [], shapes = [], notes = [];
    var layout = {{margin: {{l: 60, r: 20, t: 36, b: 46}}, showlegend: true,
                  legend: {{orientation: "h", y: -0.22}}, font: {{size: 12}}, annotations: notes,
                  shapes: shapes}};
    D.panels.forEach(function(p, i) {{
      var s = i ? String(i + 1) : "", w = 1 / n;
      var gap = 0.06, lo = i * w + (i ? gap : 0), hi = (i + 1) * w - (i < n - 1 ? gap : 0);
      layout["xaxis" + s] = {{domain: [lo, hi], title: {{text: p.xlabel}},
                             type: p.xlog ? "log" : "linear", anchor: "y" + s}};
      layout["yaxis" + s] = {{title: {{text: p.ylabel}}, type: p.ylog ? "log" : "linear",
                             anchor: "x" + s}};
      if (f[3][i]) layout["yaxis" + s].range = p.ylog ? f[3][i].map(Math.log10) : f[3][i];
      if (p.title) notes.push({{text: "<b>" + p.title + "</b>", xref: "x" + s + " domain",
                                yref: "paper", x: 0.5, y: 1.08, showarrow: false}});
    }});
    f[0].forEach(function(t) {{
      var s = t[0] ? String(t[0] + 1) : "", c = D.palette[t[3] % D.palette.length];
      var tr = {{x: D.xs[t[4]], y: D.xs[t[5]], name: t[1], xaxis: "x" + s, yaxis: "y" + s,
                 showlegend: !!t[1]}};
      if (t[2] === "bar") {{ tr.type = "bar"; tr.marker = {{color: c}}; }}
      else if (t[2] === "markers") {{ tr.mode = "markers"; tr.marker = {{color: c, size: 6}}; }}
      else {{ tr.mode = "lines"; tr.line = {{color: c, dash: dash[t[2]], width: 2}}; }}
      traces.push(tr);
    }});
    f[2].forEach(function(v) {{
      // on a log axis plotly.js places shapes by data value but annotations by log10 of it
      var s = v[0] ? String(v[0] + 1) : "", x = D.panels[v[0]].xlog ? Math.log10(v[1]) : v[1];
      shapes.push({{type: "line", xref: "x" + s, yref: "y" + s + " domain",
                    x0: v[1], x1: v[1], y0: 0, y1: 1,
                    line: {{color: "#888", width: 1, dash: "dot"}}}});
      notes.push({{text: v[2], xref: "x" + s, yref: "y" + s + " domain", x: x, y: 1, textangle: -90,
                   xanchor: "right", yanchor: "top", showarrow: false,
                   font: {{size: 10, color: "#666"}}}});
    }});
    readout.textContent = f[1];
    window.Plotly.react(plot, traces, layout, {{responsive: true, displayModeBar: false}});
  }}
  function start() {{ ctl.forEach(function(e) {{ e.addEventListener("input", draw); }}); draw(); }}
  if (window.Plotly) start();
  else {{
    var s = document.createElement("script"); s.src = "{cdn}"; s.onload = start;
    s.onerror = function() {{
      readout.textContent = "plotly.js could not be loaded, so this exploration cannot be drawn.";
    }};
    document.head.appendChild(s);
  }}
}})();
</script>"""
