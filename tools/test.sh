#!/usr/bin/env bash
# Set up (first time) and run every test; what CI runs (.ci/run). Any failure stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
start=$SECONDS
echo "== 1/5 notebooks are stored without outputs"
python tools/book.py check-clean
echo "== 2/5 generated files (_toc.yml, chapter lists) are up to date"
python tools/catalog.py --check
echo "== 3/5 unit tests (network cut off)"
tools/offline python -m pytest tests -q -n 2 -p no:cacheprovider
echo "== 4/5 every notebook under nbmake (network cut off), then a strict book build (-W)"
python tools/book.py build --strict --jobs 2
echo "== 5/5 student edition (strict build)"
python tools/book.py student --strict
echo "== all tests passed in $((SECONDS - start)) s"
