"""Each chapter's explorations, declared once: ``kexue_lab/views/chNN.py``.

A views module holds the explorations of one chapter, each a pure function with its
controls (:func:`kexue_lab.widgets.exploration`). The notebook shows one as a cell's
last expression (``ch12.tanh_error``): live in Jupyter and Colab, static in the built
book. The tests sweep every exploration over exactly the grid the notebook shows
(:func:`explorations`). Topic modules never import :mod:`kexue_lab.widgets`; only these do.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..widgets import Exploration


def modules() -> list[str]:
    """The names of the views modules (``ch06``, ``ch12``, …), in chapter order."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch"))


def explorations(chapter: str | None = None) -> dict[str, Exploration]:
    """Every exploration, as ``{"ch12.tanh_error": Exploration}`` (one chapter's if ``chapter``)."""
    names = modules()
    if chapter is not None:
        wanted = f"ch{str(chapter).zfill(2)}"
        if wanted not in names:
            raise ValueError(
                f"chapter={chapter!r} has no views module; there are: {', '.join(names)}"
            )
        names = [wanted]
    found: dict[str, Exploration] = {}
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        for attr, value in vars(module).items():
            if isinstance(value, Exploration):
                found[f"{name}.{attr}"] = value
    return found
