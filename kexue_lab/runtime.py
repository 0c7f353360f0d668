"""Run profiles, devices, seeds and the setup call every chapter makes first.

Two profiles run the same code path with different sizes:

* ``smoke``: CPU, no network, under 60 s per notebook on 2 cores. CI runs it.
* ``full``: a GPU (Colab T4: under 5 minutes per chapter) and real data.

:func:`profile` picks ``smoke`` when the ``CI`` variable is set or no CUDA
device is present and ``full`` otherwise; ``KEXUE_PROFILE`` overrides both.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from . import _validate

if TYPE_CHECKING:
    from .claims import Ledger

Profile = Literal["smoke", "full"]
PROFILES: tuple[str, ...] = ("smoke", "full")
PROFILE_ENV = "KEXUE_PROFILE"
BOOK_ENV = "KEXUE_BOOK"
FULL_DATA_ENV = "KEXUE_FULL_DATA"
THREADS_ENV = "KEXUE_THREADS"
SEED_ENV = "KEXUE_SEED"

T = TypeVar("T")


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false", "no", "off")


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def profile() -> Profile:
    """Return the run profile: ``"smoke"`` or ``"full"``.

    Order of precedence: ``KEXUE_PROFILE`` (``smoke`` or ``full``, any case),
    then ``CI`` (set and not ``0``/``false``: ``smoke``), then the hardware
    (a CUDA device: ``full``; none: ``smoke``).
    """
    raw = os.environ.get(PROFILE_ENV)
    if raw is not None and raw.strip():
        value = raw.strip().lower()
        if value not in PROFILES:
            raise ValueError(
                f"{PROFILE_ENV}={raw!r} is not a profile; allowed: 'smoke' (CPU, small data, "
                f"what CI runs) or 'full' (GPU, real data); unset it to choose automatically"
            )
        return value  # type: ignore[return-value]
    if _truthy(os.environ.get("CI")):
        return "smoke"
    return "full" if _cuda_available() else "smoke"


def device(for_profile: Profile | None = None) -> "torch.device":  # noqa: F821
    """Return the torch device a profile runs on.

    ``smoke`` always runs on the CPU, so that CI numbers are the same on every
    machine; ``full`` uses CUDA when present (and the CPU otherwise, slowly).
    """
    import torch

    chosen = (
        profile() if for_profile is None else _validate.choice("for_profile", for_profile, PROFILES)
    )
    if chosen == "full" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (CPU and CUDA) with ``seed``."""
    import torch

    seed = _validate.non_negative_int("seed", seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def in_book_build() -> bool:
    """True while the notebooks are executed to render the static book (``KEXUE_BOOK=1``)."""
    return _truthy(os.environ.get(BOOK_ENV))


def _format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"about {seconds:.0f} s"
    return f"about {seconds / 60:.1f} min"


@dataclass
class Timer:
    """The wall-clock time of one ``with run.timed(name):`` block (``seconds`` once it ends)."""

    name: str
    seconds: float = 0.0


@dataclass
class Chapter:
    """A chapter's context, returned by :func:`setup`: everything the notebook needs from the run.

    * where it runs: ``profile``, ``device``, ``seed``, :meth:`pick`, :meth:`dataset`;
    * what it claims: :attr:`ledger` (titled from the catalog);
    * what it records: :meth:`timed` (one way to time a block), :meth:`save` (the full
      run's record; does nothing outside ``full``) and :meth:`full_column` (the recorded
      full run for the comparison table).

    Pass it to :func:`kexue_lab.train.fit` as ``run=run`` for the device and the seed.
    """

    chapter: str
    profile: Profile
    device: Any
    seed: int
    expected_seconds: dict[str, float] = field(default_factory=dict)
    title: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    results_dir: Path | None = None
    _started: float = field(default_factory=time.perf_counter, repr=False)
    _ledger: Any = field(default=None, repr=False)

    @property
    def smoke(self) -> bool:
        """True under the ``smoke`` profile."""
        return self.profile == "smoke"

    @property
    def ledger(self) -> Ledger:
        """The chapter's claim ledger (one per chapter, created on first use)."""
        if self._ledger is None:
            from .claims import Ledger

            self._ledger = Ledger(self.chapter, self.title)
        return self._ledger

    @property
    def seconds(self) -> float:
        """Seconds since :func:`setup` was called."""
        return time.perf_counter() - self._started

    def pick(self, *, smoke: T, full: T) -> T:
        """Return ``smoke`` or ``full`` according to the profile (e.g. epochs, data size)."""
        return smoke if self.profile == "smoke" else full

    def dataset(self, *, smoke: str, full: str) -> str:
        """The data set name for this profile (see :func:`kexue_lab.data.load`).

        Under ``full``, the variable ``KEXUE_FULL_DATA`` may name another data set,
        e.g. ``fashion-mnist`` on a GPU machine without internet that has Debian's
        ``dataset-fashion-mnist`` package. The chapter records which one it used.
        """
        from .data import DATASETS

        if self.profile == "smoke":
            return _validate.choice("smoke", smoke, DATASETS)
        override = os.environ.get(FULL_DATA_ENV, "").strip()
        if override:
            return _validate.choice(FULL_DATA_ENV, override, DATASETS)
        return _validate.choice("full", full, DATASETS)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[Timer]:
        """Time the ``with`` block: ``with run.timed("training") as t: ...``, then ``t.seconds``.

        The time is also kept in :attr:`timings` (and so in the full run's record). CUDA work
        is synchronised before the clock stops.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        timer = Timer(name)
        start = time.perf_counter()
        try:
            yield timer
        finally:
            if getattr(self.device, "type", "cpu") == "cuda":
                import torch

                torch.cuda.synchronize()
            timer.seconds = time.perf_counter() - start
            self.timings[name] = timer.seconds

    def save(self, metrics: dict[str, Any]) -> Path | None:
        """Record the numbers of a ``full`` run (with chapter, seed, timings and run time).

        Does nothing under ``smoke`` (returns ``None``); under ``full`` writes
        ``results/<chapter>-full.json`` beside the notebook and returns its path.
        """
        from . import results

        if self.profile != "full":
            return None
        return results.save(
            self.chapter,
            metrics,
            profile=self.profile,
            seed=self.seed,
            seconds=self.seconds,
            timings=dict(self.timings),
            folder=self.results_dir,
        )

    def full_column(self, detail: str = "") -> tuple[dict[str, Any], str]:
        """The recorded full run's metrics and column header (see ``results.full_column``)."""
        from . import results

        return results.full_column(self.chapter, detail, folder=self.results_dir)


def _env_int(name: str, minimum: int, meaning: str) -> int | None:
    """The integer in environment variable ``name`` (``None`` if unset), at least ``minimum``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return _validate.int_at_least(name, int(raw), minimum)
    except ValueError:
        kind = "a positive" if minimum >= 1 else "a non-negative"
        raise ValueError(f"{name}={raw!r} must be {kind} integer ({meaning})") from None


def _threads(chosen: Profile) -> int | None:
    threads = _env_int(THREADS_ENV, 1, "the number of CPU threads torch may use")
    if threads is not None:
        return threads
    return 1 if chosen == "smoke" else None


def chapter_info(chapter: str) -> dict[str, str]:
    """The catalog entry of ``chapter`` ("12"): English and Chinese title, link, date, part."""
    catalog = json.loads((Path(__file__).with_name("catalog.json")).read_text(encoding="utf-8"))
    if chapter not in catalog:
        raise ValueError(
            f"chapter={chapter!r} is not in the catalog; allowed: '01' … '{max(catalog)}' "
            "(two digits)"
        )
    return catalog[chapter]


def default_seed() -> int:
    """The seed :func:`setup` uses: ``KEXUE_SEED`` if set (a non-negative integer), else 0."""
    seed = _env_int(SEED_ENV, 0, "the seed every chapter starts from")
    return 0 if seed is None else seed


def setup(
    chapter: str, *, smoke_seconds: float, full_seconds: float, seed: int | None = None
) -> Chapter:
    """Prepare a chapter: choose profile and device, seed everything, set the plot style.

    Returns the chapter's context (:class:`Chapter`): its ledger, profile, device and seed,
    and the calls that time blocks and record the full run. ``seed`` defaults to
    ``KEXUE_SEED`` (or 0). The ``smoke`` profile runs torch on one CPU thread: its models
    are tiny, so more threads only add overhead, and CI runs two notebooks at once on two
    cores. ``KEXUE_THREADS`` sets another count; under ``full`` torch keeps its default.

    Prints one block that tells the reader what will run: the profile (and how
    to change it), the device, and the expected run time of this profile.
    ``smoke_seconds`` and ``full_seconds`` are the chapter's measured run times
    (2 CPU cores, and a Colab T4 GPU).
    """
    from . import __version__, plot

    if not isinstance(chapter, str) or not chapter.strip().isdigit():
        raise TypeError(
            f"chapter must be the chapter number as a string such as '12', got {chapter!r}"
        )
    chapter = chapter.strip().zfill(2)
    info = chapter_info(chapter)
    expected = {
        "smoke": _validate.positive("smoke_seconds", smoke_seconds),
        "full": _validate.positive("full_seconds", full_seconds),
    }
    seed = default_seed() if seed is None else _validate.non_negative_int("seed", seed)
    chosen = profile()
    dev = device(chosen)
    seed_everything(seed)
    plot.use_style()
    import torch

    threads = _threads(chosen)
    if threads is not None:
        torch.set_num_threads(threads)

    if dev.type == "cuda":
        where = f"cuda ({torch.cuda.get_device_name(0)})"
    else:
        where = (
            f"cpu ({torch.get_num_threads()} of {os.cpu_count()} cores, torch {torch.__version__})"
        )
    other = "full" if chosen == "smoke" else "smoke"
    note = ""
    if chosen == "full" and dev.type == "cpu":
        note = "\n  warning: the full profile without a GPU will be much slower than stated"
    print(
        f"kexue_lab {__version__} · chapter {chapter} · Python {platform.python_version()}\n"
        f"  profile : {chosen}  (set {PROFILE_ENV}={other} to switch)\n"
        f"  device  : {where}\n"
        f"  seed    : {seed}  (set {SEED_ENV} to change it)\n"
        f"  expected: {_format_seconds(expected[chosen])} for the whole notebook ({chosen} profile)"
        f"{note}"
    )
    return Chapter(
        chapter=chapter,
        profile=chosen,
        device=dev,
        seed=seed,
        expected_seconds=expected,
        title=info["title"],
    )
