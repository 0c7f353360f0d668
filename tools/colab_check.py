"""Would installing kexue_lab on Colab change a package Colab preinstalls? (It must not.)

    python tools/colab_check.py            # remembered until pyproject.toml or the pins change
    python tools/colab_check.py --force

pip resolves an install of this checkout (``pip install --dry-run --ignore-installed``) with
the versions of ``tests/colab-constraints.txt`` pinned, as pip would on Colab, where those
versions are installed and kept unless a requirement forces a change. If a requirement of
kexue_lab, or of anything it pulls in, needs another version of a pinned package, the
resolution fails, and so does this check, naming the conflict. It reads package metadata from
the package index (no wheel is installed); ``tools/test.sh`` runs it before the offline tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "tests" / "colab-constraints.txt"


def pinned(path: Path = CONSTRAINTS) -> dict[str, str]:
    """``{package: version}`` from a constraints file of ``name==version`` lines."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
            if not match:
                raise ValueError(f"{path}: expected name==version, got {line!r}")
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def _name(item: dict) -> str:
    return str(item.get("metadata", {}).get("name", "")).lower().replace("_", "-")


def changed(report: dict, pins: dict[str, str]) -> list[str]:
    """The pinned packages a pip ``--report`` would install at another version."""
    out = []
    for item in report.get("install", []):
        name, version = _name(item), str(item.get("metadata", {}).get("version", ""))
        if name in pins and version.split("+")[0] != pins[name].split("+")[0]:
            out.append(f"{name} {pins[name]} → {version}")
    return out


def _stamp() -> Path:
    """Where a passed check is remembered: keyed by pyproject.toml and the constraints."""
    key = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes()
    ).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "kexue_lab" / "colab-check" / key


def main() -> int:
    pins = pinned()
    stamp = _stamp()
    if stamp.exists() and "--force" not in sys.argv:
        print(
            f"colab check: ok (pyproject.toml and the pins are unchanged since {stamp.read_text()})"
        )
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--report", str(report_path), "-c", str(CONSTRAINTS), str(ROOT),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr.strip()[-3000:], file=sys.stderr)
            print("colab check: FAILED: kexue_lab cannot install next to Colab's packages")
            return 1
        report = json.loads(report_path.read_text())
    moved = changed(report, pins)
    if moved:
        print("colab check: FAILED: installing would change " + ", ".join(moved))
        return 1
    others = [i for i in report.get("install", []) if _name(i) not in pins]
    print(
        f"colab check: ok: none of the {len(pins)} preinstalled packages would change "
        f"({len(others)} other packages in the resolved set, most of them already on Colab)"
    )
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(time.strftime("%Y-%m-%d %H:%M"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
