"""Records of runs, so the book can show a GPU run's numbers beside the CPU smoke run.

A chapter run under the ``full`` profile calls :func:`save`; the record (the
numbers, the seed, torch version, device and date) is written as JSON next to
the notebook, in ``results/<chapter>-<profile>.json``, and committed. When the
book is built (smoke profile, CPU) the chapter calls :func:`load` and shows the
recorded full-profile numbers beside the ones it has just measured.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
from pathlib import Path
from typing import Any

from . import _validate

RESULTS_DIR = Path("results")


def _path(chapter: str, profile: str, folder: Path | None) -> Path:
    if not isinstance(chapter, str) or not chapter.strip():
        raise ValueError(f"chapter must be a non-empty string such as '12', got {chapter!r}")
    _validate.choice("profile", profile, ("smoke", "full"))
    return (folder or RESULTS_DIR) / f"{chapter}-{profile}.json"


def environment() -> dict[str, str]:
    """Where a run happened: torch version, device name, Python version, UTC date."""
    import torch

    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or platform.machine()})"
    )
    return {
        "torch": torch.__version__,
        "device": device,
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"),
    }


def save(
    chapter: str,
    metrics: dict[str, Any],
    *,
    profile: str,
    seed: int,
    seconds: float,
    timings: dict[str, float] | None = None,
    folder: Path | None = None,
) -> Path:
    """Write ``metrics`` (name → number, string or list of numbers) with the run's environment.

    Chapters call it through :meth:`kexue_lab.runtime.Chapter.save`, which fills in the
    chapter, profile, seed, run time and the blocks timed with ``run.timed``.
    """
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError("metrics must be a non-empty dict of name -> value")
    for name, value in metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metric {name!r} is {value}: only finite numbers are recorded")
    record = {
        "chapter": chapter,
        "profile": profile,
        "seed": _validate.non_negative_int("seed", seed),
        "seconds": round(_validate.non_negative("seconds", seconds), 1),
        "timings": {
            k: round(_validate.non_negative(f"timings[{k!r}]", v), 2)
            for k, v in (timings or {}).items()
        },
        **environment(),
        "metrics": metrics,
    }
    path = _path(chapter, profile, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load(chapter: str, profile: str = "full", folder: Path | None = None) -> dict[str, Any] | None:
    """The recorded run of ``chapter`` under ``profile``, or ``None`` if there is none yet."""
    path = _path(chapter, profile, folder)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def full_column(
    chapter: str, detail: str = "", folder: Path | None = None
) -> tuple[dict[str, Any], str | None]:
    """The recorded full run's metrics and the header of its column in a comparison table.

    Returns ``(metrics, "full run (<detail>, <device>, <date>)")``, ``detail`` being a format
    string filled from the metrics (e.g. ``"L = {train_len}"``), or ``({}, None)`` before a
    full run is recorded: :func:`kexue_lab.plot.comparison_table` then leaves the column out
    and says, under the table, that no record is committed yet.
    """
    record = load(chapter, "full", folder)
    if record is None:
        return {}, None
    metrics = record["metrics"]
    try:
        parts = [detail.format(**metrics)] if detail else []
    except KeyError as missing:
        raise ValueError(
            f"detail={detail!r} names {missing}, which the chapter {chapter} record lacks; "
            f"it has {sorted(metrics)}"
        ) from None
    return metrics, f"full run ({', '.join([*parts, record['device'], record['date']])})"
