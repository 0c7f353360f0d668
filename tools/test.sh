#!/usr/bin/env bash
# Set up (first time) and run every test; what CI runs (.ci/run). Any failure stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
start=$SECONDS
echo "== 1/6 notebooks are stored without outputs"
python tools/book.py check-clean
echo "== 2/6 generated files (_toc.yml, chapter lists, kexue_lab/catalog.json) are up to date"
python tools/catalog.py --check
echo "== 3/6 ruff: lint and format (package, tests, tools, notebooks; 100 columns)"
ruff check .
ruff format --check .
echo "== 4/6 Colab: installing kexue_lab changes no package Colab preinstalls; then unit tests,"
echo "        chapter shape, exercises (network cut off)"
python tools/colab_check.py
tools/offline python -m pytest tests -q -n 2 --dist loadgroup -p no:cacheprovider
echo "== 5/6 every notebook under nbmake (network cut off), a strict book build (-W), and the"
echo "        page check of every chapter in headless Chromium (math, cut lines, tables)"
python tools/book.py build --strict --jobs 2
python tools/pagecheck.py _build/html/book/*/[0-9][0-9]-*.html _build/html/book/verification.html
echo "== 6/6 student edition: notebooks without solutions, valid, each ending with a summary"
python tools/book.py student
echo "== all tests passed in $((SECONDS - start)) s"
