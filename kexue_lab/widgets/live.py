"""The live rendering: ipywidgets controls and matplotlib, in Jupyter and Colab."""

from __future__ import annotations

import html
import math
import textwrap
from typing import TYPE_CHECKING, Any

from ..plot import PALETTE
from .view import View

if TYPE_CHECKING:
    from .exploration import Exploration


def live_widget(exp: Exploration) -> Any:
    """ipywidgets controls wired to a matplotlib rendering of the function."""
    import ipywidgets as w

    widgets = {}
    for c in exp.controls:
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

        render_matplotlib(exp(**params), height=exp.height)
        plt.show()

    out = w.interactive_output(draw, widgets)
    header = [w.HTML(f"<b>{html.escape(exp.title)}</b>")] if exp.title else []
    return w.VBox(
        [*header, w.HBox(list(widgets.values()), layout=w.Layout(flex_flow="row wrap")), out]
    )


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
        fig.suptitle(textwrap.fill(view.readout, width=int(fig.get_figwidth() * 13)), fontsize=10)
    return fig
