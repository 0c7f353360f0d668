#!/usr/bin/env bash
# Set up (first time) and build the book: every chapter runs once (smoke profile, network off),
# the verification report is gathered, and the HTML lands in _build/html/index.html.
#   bash tools/build.sh            # the book
#   bash tools/build.sh student    # the student edition: _build/student/notebooks (to hand out)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
if [ "${1:-}" = "student" ]; then
  python tools/book.py student
else
  python tools/book.py build "$@"
  echo "Open _build/html/index.html in a browser."
fi
