"""The controls of an exploration: sliders over a grid of values, and choices."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .. import _validate


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
