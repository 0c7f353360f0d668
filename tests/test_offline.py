"""tools/offline cuts the network for notebooks: a cell that reaches for it fails fast."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, code: str) -> Path:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "c0",
                "metadata": {},
                "outputs": [],
                "source": code,
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))
    return path


def _nbmake(nb: Path, mode: str) -> tuple[int, str, float]:
    env = dict(os.environ)
    env.pop("KEXUE_OFFLINE_MODE", None)
    if mode == "python":
        env["KEXUE_OFFLINE_MODE"] = "python"
    cmd = [
        str(ROOT / "tools" / "offline"),
        sys.executable,
        "-m",
        "pytest",
        "--nbmake",
        "--nbmake-timeout=60",
        "-p",
        "no:cacheprovider",
        "-q",
        str(nb),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=nb.parent)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


@pytest.mark.parametrize("mode", ["namespace", "python"])
def test_a_notebook_that_opens_a_connection_fails_fast(tmp_path, mode):
    nb = _notebook(
        tmp_path / "net.ipynb",
        "import urllib.request\nurllib.request.urlopen('https://pypi.org/simple/', timeout=300)",
    )
    code, out, seconds = _nbmake(nb, mode)
    assert code != 0, f"the notebook reached the network:\n{out}"
    assert any(
        s in out
        for s in (
            "name resolution",
            "NetworkBlockedError",
            "DNS lookup is blocked",
            "Network is unreachable",
        )
    ), out
    assert seconds < 60, f"it took {seconds:.0f} s: the cut must fail fast, not wait for a timeout"


@pytest.mark.parametrize("mode", ["namespace", "python"])
def test_kernels_still_work_offline(tmp_path, mode):
    nb = _notebook(tmp_path / "ok.ipynb", "import socket\nprint(1 + 1)")
    code, out, _ = _nbmake(nb, mode)
    assert code == 0, out
