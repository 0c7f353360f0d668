"""Look at built pages the way a reader does: headless Chromium, then checks and screenshots.

    python tools/pagecheck.py _build/html/book/architecture/15-*.html
    python tools/pagecheck.py --shots /tmp/shots _build/html/book/architecture/15-*.html

For every page it reports what a reader would see as broken:

* display equations wider than the text column (cut off on the right);
* math MathJax did not render (a ``$…$`` or a TeX command left in the page text);
* code, printed output or tables wider than the column;
* explorations whose chart did not draw (no plotly SVG), or that say plotly.js is missing;
* images wider than the text column.

With ``--shots DIR`` it also saves the whole page as 1300×1800 slices
(``DIR/<page>_NN.png``) to open in an image viewer. It needs Debian's ``chromium``; the
exit status is 1 when a page has a problem. CI runs it on every chapter of the built book
(``tools/test.sh``; ``tools/setup.sh`` installs Chromium); run it with ``--shots`` on every page
you touch and look at the slices (CONTRIBUTING.md).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
]
WIDTH, SLICE, WINDOW = 1300, 1800, 9000

_PROBE = """
<html><body style="margin:0"><iframe id="f" src="{src}"
style="width:{width}px;height:1000px;border:0"></iframe>
<pre id="out">pending</pre><script>
setTimeout(function () {{
  var w = document.getElementById("f").contentWindow, doc = w.document, problems = [];
  var article = doc.querySelector("article") || doc.body, limit = article.clientWidth;
  function tex(el) {{
    try {{ return w.MathJax.startup.document.getMathItemsWithin(el)[0].math; }}
    catch (e) {{ return "?"; }}
  }}
  doc.querySelectorAll('mjx-container[display="true"]').forEach(function (el) {{
    var first = el.firstElementChild;
    var inner = first ? first.getBoundingClientRect().width : el.scrollWidth;
    var box = Math.min(limit, (el.closest("div.math") || el.parentElement).clientWidth);
    if (inner > box + 2) {{
      problems.push("equation " + Math.round(inner) + " px wide in a " + box + " px column: "
                    + tex(el).replace(/\\s+/g, " ").slice(0, 120));
    }}
  }});
  // a formula MathJax could not typeset shows its error message in place of the math
  doc.querySelectorAll("mjx-merror").forEach(function (el) {{
    var why = el.getAttribute("data-mjx-error") || el.textContent;
    problems.push("MathJax error: " + why.slice(0, 120));
  }});
  doc.querySelectorAll(".kx-plot").forEach(function (el, i) {{
    if (!el.querySelector("svg")) problems.push("exploration " + (i + 1) + " drew no chart");
  }});
  doc.querySelectorAll(".kx-readout").forEach(function (el, i) {{
    if (/could not be loaded/.test(el.textContent)) {{
      problems.push("exploration " + (i + 1) + ": " + el.textContent);
    }}
  }});
  // text that MathJax left alone: a $…$ pair or a TeX command outside code and math
  var walker = doc.createTreeWalker(article, w.NodeFilter.SHOW_TEXT, null), node, raw = [];
  while ((node = walker.nextNode())) {{
    var skip = node.parentElement.closest("pre, code, script, style, mjx-container, .kx-explore");
    if (skip) continue;
    var text = node.textContent;
    // a dollar sign or a backslash command in prose is TeX that MathJax did not typeset
    // (or a \\( … \\) delimiter, e.g. in a claim table outside a .math span)
    var pattern = new w.RegExp("\\\\$|\\\\\\\\[A-Za-z]+|\\\\\\\\[()]");
    var hit = text.match(pattern);
    if (hit) raw.push(text.slice(Math.max(0, hit.index - 30), hit.index + 30).trim());
  }}
  raw.slice(0, 5).forEach(function (t) {{ problems.push("unrendered math in the text: " + t); }});
  // printed output, code and tables must fit the column (a cut line hides what it says)
  doc.querySelectorAll(".cell_output pre, .cell_input pre").forEach(function (el) {{
    if (el.scrollWidth > el.clientWidth + 2) {{
      var kind = el.closest(".cell_output") ? "printed output" : "code";
      var line = el.textContent.split("\\n").reduce(function (a, b) {{
        return a.length > b.length ? a : b;
      }});
      problems.push(kind + " wider than the column (" + el.scrollWidth + " > " + el.clientWidth
                    + " px): " + line.slice(0, 70));
    }}
  }});
  doc.querySelectorAll("article table").forEach(function (el) {{
    var box = el.parentElement.getBoundingClientRect().width;
    if (el.getBoundingClientRect().width > Math.min(limit, box) + 2) {{
      problems.push("table wider than the column (" + Math.round(el.getBoundingClientRect().width)
                    + " > " + Math.round(Math.min(limit, box)) + " px): "
                    + el.textContent.replace(/\\s+/g, " ").slice(0, 60));
    }}
  }});
  doc.querySelectorAll("article img").forEach(function (el) {{
    if (el.getBoundingClientRect().width > limit + 2) {{
      problems.push("image wider than the column: " + el.src.split("/").pop());
    }}
  }});
  var height = doc.documentElement.scrollHeight;
  var report = {{height: height, problems: problems}};
  document.getElementById("out").textContent = JSON.stringify(report);
}}, 10000);
</script></body></html>
"""

_SHOT = """<html><body style="margin:0;overflow:hidden"><iframe src="{src}"
style="position:absolute;top:-{top}px;left:0;width:{width}px;height:{height}px;border:0"></iframe></body></html>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    sys.exit(
        "pagecheck: no Chromium found; install Debian's package: apt-get install -y "
        "chromium fonts-noto-cjk"
    )


def _run(browser: str, wrapper: Path, tmp: Path, *extra: str) -> str:
    cmd = [
        browser,
        *FLAGS,
        f"--user-data-dir={tmp / 'profile'}",
        "--virtual-time-budget=20000",
        *extra,
        wrapper.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180).stdout


def probe(browser: str, page: Path, tmp: Path) -> dict:
    """Page height and the list of problems a reader would see."""
    wrapper = tmp / "probe.html"
    wrapper.write_text(_PROBE.format(src=page.as_uri(), width=WIDTH), encoding="utf-8")
    dom = _run(browser, wrapper, tmp, "--window-size=1300,1100", "--dump-dom")
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    if not found or found.group(1) == "pending":
        return {"height": 0, "problems": ["the page did not finish loading within the time budget"]}
    return json.loads(html.unescape(found.group(1)))


def shots(browser: str, page: Path, height: int, out: Path, tmp: Path) -> list[Path]:
    """Screenshots of the whole page, cut into WIDTH×SLICE slices."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    for top in range(0, max(height, 1), WINDOW):
        wrapper, png = tmp / "shot.html", tmp / "shot.png"
        wrapper.write_text(
            _SHOT.format(src=page.as_uri(), top=top, width=WIDTH, height=height + WINDOW),
            encoding="utf-8",
        )
        _run(browser, wrapper, tmp, f"--window-size={WIDTH},{WINDOW}", f"--screenshot={png}")
        image = Image.open(png)
        for y in range(0, min(WINDOW, height - top), SLICE):
            target = out / f"{page.stem}_{len(saved):02d}.png"
            image.crop((0, y, WIDTH, min(y + SLICE, height - top))).save(target)
            saved.append(target)
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="+", type=Path, help="built HTML pages")
    parser.add_argument(
        "--shots", type=Path, help="also save 1300×1800 screenshot slices to this folder"
    )
    args = parser.parse_args(argv)
    browser, bad = chromium(), 0
    for page in args.pages:
        if not page.is_file():
            print(f"{page}: no such page (build the book first: bash tools/build.sh)")
            bad += 1
            continue
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            result = probe(browser, page.resolve(), tmp)
            status = "ok" if not result["problems"] else f"{len(result['problems'])} problem(s)"
            print(f"{page}: {status} ({result['height']} px tall)")
            for problem in result["problems"]:
                print(f"  - {problem}")
            bad += bool(result["problems"])
            if args.shots and result["height"]:
                saved = shots(browser, page.resolve(), result["height"], args.shots, tmp)
                print(f"  {len(saved)} screenshot slices in {args.shots}/{page.stem}_NN.png")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
