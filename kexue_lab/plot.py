"""One look for every figure of the book (matplotlib), plus image grids.

:func:`use_style` is called by :func:`kexue_lab.runtime.setup`; chapters then
draw with plain matplotlib and get the same fonts, colours and sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validate

#: Colour-blind-safe palette (Okabe & Ito, 2008), in the order curves use it.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

STYLE: dict[str, Any] = {
    "figure.figsize": (7.0, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "figure.constrained_layout.use": True,
    "font.size": 10.5,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 9.5,
    "lines.linewidth": 1.8,
    "image.cmap": "gray",
}


def use_style() -> None:
    """Apply the book's matplotlib style (palette, sizes, grid) to all later figures."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))


#: CJK families tried in order by :func:`use_cjk_font` (simplified Chinese first)
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans CJK JP",
)


def use_cjk_font() -> str | None:
    """Let figures draw Chinese characters (chapter 05's poems); returns the family used.

    Looks for an installed CJK font (Debian/Ubuntu ``fonts-noto-cjk``, which the book's
    setup installs, or a system font on Windows/macOS), registers it with matplotlib when
    its font cache predates the install, and appends it to the sans-serif fallback list:
    Latin text keeps the book's font and only missing glyphs come from the CJK one. With
    no CJK font it warns, naming the package to install (on Colab:
    ``!apt-get -qq install fonts-noto-cjk``), and returns ``None``; figures then show boxes
    in place of the characters, nothing fails.
    """
    import warnings

    import matplotlib as mpl
    from matplotlib import font_manager as fm

    def installed() -> set[str]:
        return {f.name for f in fm.fontManager.ttflist}

    names = installed()
    if not any(family in names for family in CJK_FAMILIES):
        for path in fm.findSystemFonts():
            if "cjk" in path.lower() or "wqy" in path.lower():
                fm.fontManager.addfont(path)
        names = installed()
    family = next((f for f in CJK_FAMILIES if f in names), None)
    if family is None:
        warnings.warn(
            "no CJK font found, so Chinese characters in figures will show as boxes; "
            "install one (Debian/Ubuntu/Colab: apt-get install fonts-noto-cjk) and rerun",
            stacklevel=2,
        )
        return None
    # an explicit family list makes matplotlib (≥ 3.6) fall back glyph by glyph
    fallback = [f for f in mpl.rcParams["font.sans-serif"] if f != family]
    mpl.rcParams["font.sans-serif"] = [fallback[0], family, *fallback[1:]]
    mpl.rcParams["font.family"] = [fallback[0], family]
    return family


def figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs: Any
) -> Any:
    """A new figure and its axes for a chapter's figure function: ``fig, axes = figure(1, 2)``.

    Made through pyplot (which, in Jupyter, registers the inline display of figures) and
    closed at once, so that a figure function can return ``fig`` and the notebook shows it
    exactly once, as the cell's value, in Jupyter, Colab and the built book. ``axes`` is a
    single Axes for a 1×1 grid, else an array, as with ``plt.subplots`` (which receives
    ``kwargs``, e.g. ``squeeze=False``).
    """
    import matplotlib.pyplot as plt

    nrows, ncols = _validate.positive_int("nrows", nrows), _validate.positive_int("ncols", ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, **kwargs)
    plt.close(fig)
    return fig, axes


def image_grid(
    images: Any,
    ncols: int = 8,
    *,
    ax: Any = None,
    title: str = "",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Any:
    """Draw a batch of images ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, 3, H, W)`` as one grid.

    Values are clipped to ``[vmin, vmax]``; returns the axes.
    """
    import matplotlib.pyplot as plt

    ncols = _validate.positive_int("ncols", ncols)
    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(
            "images must have shape (N, H, W), (N, 1, H, W) or (N, 3, H, W), got "
            f"{tuple(arr.shape)}"
        )
    n, c, h, w = arr.shape
    if n == 0:
        raise ValueError("images is empty: nothing to draw")
    nrows = -(-n // ncols)
    canvas = np.full((c, nrows * (h + 1) + 1, ncols * (w + 1) + 1), vmax, dtype=float)
    for i in range(n):
        r, q = divmod(i, ncols)
        canvas[:, 1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = (
            arr[i]
        )
    canvas = np.clip((canvas - vmin) / (vmax - vmin), 0, 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(1.0 * ncols, 9), min(1.0 * nrows, 9) + 0.3))
    ax.imshow(
        canvas[0] if c == 1 else canvas.transpose(1, 2, 0),
        cmap="gray",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


NO_FULL_RECORD = (
    "No record of the full profile (GPU, real data) is committed yet, so its column is left out; "
    "a run of tools/book.py full on a GPU writes one."
)


def comparison_table(
    rows: Sequence[Sequence[Any]], header: Sequence[str | None], *, note: str = ""
) -> Any:
    """An HTML table (for ``display``) of rows such as (quantity, article, ours, full run).

    A column whose header is ``None`` (the full run's, before one is recorded: see
    :func:`kexue_lab.results.full_column`) is left out, and a line under the table says so
    (``note`` replaces that line's text, e.g. to say what the full profile runs).
    """
    import html

    from IPython.display import HTML

    if any(len(row) != len(header) for row in rows):
        raise ValueError(f"every row must have {len(header)} cells, one per header")
    keep = [i for i, h in enumerate(header) if h is not None]
    head = "".join(f"<th>{html.escape(str(header[i]))}</th>" for i in keep)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row[i]))}</td>" for i in keep) + "</tr>"
        for row in rows
    )
    table = (
        f'<table class="kexue-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
    if len(keep) < len(header):
        table += f'<p class="kexue-note">{html.escape(note or NO_FULL_RECORD)}</p>'
    return HTML(table)
