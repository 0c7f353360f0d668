"""Regenerate ``kexue_lab/_data/poems_5x4.json.gz`` from the npm package chinese-poetry 2.0.1.

A one-off derivation, not run by the book (chapter 05 loads the shipped file). It needs the
tarball and OpenCC for the traditional → simplified conversion::

    cd /tmp && npm pack chinese-poetry@2.0.1        # chinese-poetry-2.0.1.tgz, 85 MB
    pip install opencc==1.4.2
    python tools/make_poems.py /tmp/chinese-poetry-2.0.1.tgz

What it keeps (see ``kexue_lab/_data/README.md``):

* ``poems``: every five-character quatrain (五言绝句: four lines of five characters, split at
  ，。！？；) of ``dist/quantangshi/poet.{tang,song}.*.json``, converted to simplified characters,
  as one 20-character string; duplicates removed, sorted;
* ``t2s``: a character-level traditional → simplified map for every character of the Tang
  poems whose lines all have five characters (what chapter 05's ``full`` loader reads from
  the tarball, so that the ``full`` profile needs no OpenCC);
* ``ping`` / ``ze``: the level (平) and oblique (仄) characters according to the package's
  ``dist/strains`` annotations of the same poems: a simplified character is listed when it was
  annotated at least ``MIN_COUNT`` times and at least ``MAJORITY`` of its labels agree.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import tarfile
from collections import Counter, defaultdict
from pathlib import Path

POEMS = re.compile(r"dist/quantangshi/poet\.(tang|song)\.\d+\.json$")
STRAINS = re.compile(r"dist/strains/json/poet\.(tang|song)\.\d+\.json$")
SPLIT = re.compile(r"[，。！？；]")
MIN_COUNT, MAJORITY = 3, 0.8
OUT = Path(__file__).resolve().parents[1] / "kexue_lab" / "_data" / "poems_5x4.json.gz"


def lines(paragraphs: list[str]) -> list[str]:
    return [s for s in SPLIT.split("".join(paragraphs)) if s]


def main() -> None:
    import opencc

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tarball", type=Path)
    args = parser.parse_args()
    t2s = opencc.OpenCC("t2s")
    quatrains: set[str] = set()
    tang5: set[str] = set()  # characters of all-five-character Tang poems
    tones: dict[str, Counter] = defaultdict(Counter)
    texts: dict[str, str] = {}  # poem id -> its characters without punctuation
    strains: dict[str, str] = {}  # poem id -> its tone marks without punctuation
    with tarfile.open(args.tarball) as tar:
        for member in tar.getmembers():
            poems, marks = POEMS.search(member.name), STRAINS.search(member.name)
            if not (poems or marks):
                continue
            fh = tar.extractfile(member)
            assert fh is not None
            for item in json.load(fh):
                if poems:
                    parts = lines(item.get("paragraphs", []))
                    texts[item["id"]] = "".join(parts)
                    if [len(s) for s in parts] == [5] * 4:
                        quatrains.add(t2s.convert("".join(parts)))
                    if poems.group(1) == "tang" and parts and all(len(s) == 5 for s in parts):
                        tang5.update("".join(parts))
                else:
                    strains[item["id"]] = "".join(lines(item.get("strains", [])))
    for key, marks in strains.items():
        text = texts.get(key)
        if text is None or len(text) != len(marks):
            continue
        for char, mark in zip(t2s.convert(text), marks, strict=True):
            if mark in "平仄":
                tones[char][mark] += 1
    ping, ze = [], []
    for char, count in tones.items():
        total = sum(count.values())
        mark, top = count.most_common(1)[0]
        if total >= MIN_COUNT and top >= MAJORITY * total:
            (ping if mark == "平" else ze).append(char)
    chinese = re.compile(r"^[\u4e00-\u9fff]{20}$")
    kept = sorted(q for q in quatrains if chinese.match(q))
    mapping = {c: t2s.convert(c) for c in sorted(tang5)}
    mapping = {c: s for c, s in mapping.items() if s != c and len(s) == 1}
    record = {
        "source": "npm chinese-poetry 2.0.1 (MIT), dist/quantangshi and dist/strains",
        "poems": kept,
        "t2s": "".join(k + v for k, v in mapping.items()),
        "ping": "".join(sorted(ping)),
        "ze": "".join(sorted(ze)),
    }
    raw = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    OUT.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(
        f"{len(kept)} quatrains, {len(mapping)} t2s pairs, "
        f"{len(ping)} level and {len(ze)} oblique characters"
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
