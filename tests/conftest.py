"""Shared test settings: no test depends on the profile of the machine it runs on."""

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_profile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEXUE_PROFILE", "KEXUE_BOOK", "KEXUE_FULL_DATA"):
        monkeypatch.delenv(name, raising=False)
    os.environ.setdefault("MPLBACKEND", "Agg")
