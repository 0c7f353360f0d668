"""What an exploration function returns: panels of curves and a readout line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .. import _validate

Style = Literal["line", "dashed", "dotted", "markers", "bar"]
STYLES: tuple[str, ...] = ("line", "dashed", "dotted", "markers", "bar")


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
