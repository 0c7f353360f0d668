# Sourced by build.sh and test.sh: create .venv (first time) and install the pinned requirements.
# Re-installs only when requirements.txt or pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=".venv/.kexue-installed"
want="$(cat requirements.txt requirements-nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing requirements (about a minute the first time)"
  python -m pip install -q --disable-pip-version-check -r requirements.txt
  # packages whose declared dependencies would need compiling and that work without them
  python -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
# Debian's chromium (and a CJK font for the Chinese titles) for tools/pagecheck.py
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "[setup] installing chromium and fonts-noto-cjk (page checks)"
  (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null 2>&1 \
    || echo "[setup] could not install chromium: the page check will be skipped"
elif ! fc-list :lang=zh 2>/dev/null | grep -q . && command -v apt-get >/dev/null \
  && [ "$(id -u)" = 0 ]; then
  echo "[setup] installing fonts-noto-cjk (Chinese in pages and figures)"
  (apt-get update -qq && apt-get install -y -qq fonts-noto-cjk) >/dev/null 2>&1 \
    || echo "[setup] could not install fonts-noto-cjk: Chinese in figures will show as boxes"
fi
if [ -d .git ] && command -v git >/dev/null; then
  nbstripout --install --attributes .gitattributes >/dev/null 2>&1 || true
fi
