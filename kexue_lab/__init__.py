"""kexue_lab: the companion package of the Kexue Lab book.

Everything the chapters reuse lives here: run profiles (:mod:`.runtime`), the
claim ledger (:mod:`.claims`), data loaders (:mod:`.data`), a training loop
(:mod:`.train`), explorations (:mod:`.widgets`), the plot style (:mod:`.plot`),
exercise checks (:mod:`.exercises`), each chapter's explorations
(:mod:`.views`), and the models and formulas of each chapter, laid out like the
book: ``kexue_lab/<part>/<topic>.py`` (:mod:`.generative`, :mod:`.architecture`,
:mod:`.optimization`, …). Mathematics several chapters share lives in
:mod:`.maths`, shared network blocks in :mod:`.nn`.
Submodules are imported on first use, so ``import kexue_lab`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "architecture",
    "claims",
    "data",
    "exercises",
    "generative",
    "maths",
    "nn",
    "optimization",
    "plot",
    "results",
    "runtime",
    "train",
    "views",
    "widgets",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(
        f"module 'kexue_lab' has no attribute {name!r}; submodules: {', '.join(_SUBMODULES)}"
    )


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])
