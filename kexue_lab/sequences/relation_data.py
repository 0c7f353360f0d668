"""A generated relation corpus built from real Chinese entity names (chapter 38).

The article trains on Baidu's LIC2019 information-extraction data (DuIE), which cannot be
downloaded here with a pinned checksum. This module builds a corpus with the same *shape*: each
sentence carries a set of (subject, predicate, object) triples, with the overlaps the cascade
model is designed for, one subject with several objects (SEO), several subjects sharing an object,
and the same entity pair with two predicates (EPO, including a reversed pair: 妻子/丈夫).

* Entity names are real: persons, places and organisations from People's Daily, January 1998
  (:func:`kexue_lab.text.peoples_daily`, PKU tags ``nr``, ``ns``, ``nt``). A person is a run of
  consecutive ``nr`` words (surname + given name), 2–4 characters.
* Names are split into a *train* and a *test* pool by a fixed hash of the name, so the test
  sentences talk about people, places and organisations the model never saw in training: it
  must read the context, not memorise names.
* Sentences come from templates with several phrasings per predicate, distractor entities that
  take part in no triple, and sentences without any triple. Entity positions are recorded while
  a template is filled, so labels never depend on searching a name in the text.
"""

from __future__ import annotations

import random
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import cache

from .. import _validate

__all__ = [
    "PREDICATES",
    "TEMPLATES",
    "RelationCorpus",
    "entity_pools",
    "make_relation_corpus",
    "overlap_class",
]

#: The predicates (DuIE-style names): birthplace, residence, school, employer, headquarters,
#: founder, wife, husband.
PREDICATES = ("出生地", "居住地", "毕业院校", "任职于", "总部位于", "创始人", "妻子", "丈夫")

_VARIANTS = {
    "born": ("出生于", "生于", "出生在"),
    "live": ("居住在", "定居在", "住在"),
    "work": ("任职于", "就职于", "供职于"),
    "hq": ("总部位于", "总部设在"),
    "found": ("创办了", "创立了"),
    "meet": ("会见了", "看望了", "拜访了"),
    "visit": ("访问了", "考察了", "来到了"),
}

#: Templates: text with slots {P1} (person), {L1} (place), {O1} (organisation), {U1}
#: (university) and phrasing variants <born> etc., and the triples as (slot, predicate, slot).
TEMPLATES: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    ("{P1}<born>{L1}。", (("P1", "出生地", "L1"),)),
    ("{P1}长期<live>{L1}。", (("P1", "居住地", "L1"),)),
    ("{P1}毕业于{U1}。", (("P1", "毕业院校", "U1"),)),
    ("{P1}目前<work>{O1}。", (("P1", "任职于", "O1"),)),
    ("{O1}的<hq>{L1}。", (("O1", "总部位于", "L1"),)),
    ("{O1}由{P1}创办。", (("O1", "创始人", "P1"),)),
    ("{P1}<born>{L1}，毕业于{U1}，现<work>{O1}。", (
        ("P1", "出生地", "L1"), ("P1", "毕业院校", "U1"), ("P1", "任职于", "O1"))),
    ("{P1}<born>{L1}，后来<live>{L2}。", (("P1", "出生地", "L1"), ("P1", "居住地", "L2"))),
    ("{P1}和{P2}<found>{O1}，<hq>{L1}。", (
        ("O1", "创始人", "P1"), ("O1", "创始人", "P2"), ("O1", "总部位于", "L1"))),
    ("{P1}和{P2}都毕业于{U1}。", (("P1", "毕业院校", "U1"), ("P2", "毕业院校", "U1"))),
    ("{P1}与{P2}同在{O1}工作。", (("P1", "任职于", "O1"), ("P2", "任职于", "O1"))),
    ("{P1}在{L1}出生并长大。", (("P1", "出生地", "L1"), ("P1", "居住地", "L1"))),
    ("{P1}从{U1}毕业后留校任教。", (("P1", "毕业院校", "U1"), ("P1", "任职于", "U1"))),
    ("{P1}和妻子{P2}<live>{L1}。", (
        ("P1", "妻子", "P2"), ("P2", "丈夫", "P1"),
        ("P1", "居住地", "L1"), ("P2", "居住地", "L1"))),
    ("{P2}的丈夫{P1}<born>{L1}。", (
        ("P1", "妻子", "P2"), ("P2", "丈夫", "P1"), ("P1", "出生地", "L1"))),
    ("{P1}<born>{L1}，曾<visit>{L2}。", (("P1", "出生地", "L1"),)),
    ("{P1}昨天<visit>{L1}。", ()),
    ("{P1}在{L1}<meet>{P2}。", ()),
    ("{P1}<meet>{O1}的代表。", ()),
)  # fmt: skip

_SLOT = re.compile(r"\{([PLOU]\d)\}|<(\w+)>")
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")


@cache
def entity_pools() -> dict[str, dict[str, tuple[str, ...]]]:
    """Real entity names from People's Daily 1998, by type and split.

    ``{"train" | "test": {"P": persons, "L": places, "O": organisations, "U": universities}}``.
    A name goes to ``test`` when ``crc32(name) % 5 == 0`` (about a fifth, fixed across seeds).
    Persons are runs of consecutive ``nr`` words of 2–4 characters; places ``ns`` words of 2–4
    characters; organisations ``nt`` words of 3–6 characters; universities are the organisations
    whose name contains 大学 or 学院 (only three, so shared by both splits). Only Chinese
    characters, names seen at least twice.
    """
    from ..text import peoples_daily

    counts: dict[str, Counter[str]] = {"P": Counter(), "L": Counter(), "O": Counter()}
    for sentence in peoples_daily():
        run: list[str] = []
        for word, tag in (*sentence, ("", "")):
            if tag == "nr":
                run.append(word)
                continue
            if run:
                counts["P"]["".join(run)] += 1
                run = []
            if tag == "ns":
                counts["L"][word] += 1
            elif tag == "nt":
                counts["O"][word] += 1
    sizes = {"P": (2, 4), "L": (2, 4), "O": (3, 6)}
    kept = {
        k: sorted(
            w
            for w, n in c.items()
            if n >= 2 and sizes[k][0] <= len(w) <= sizes[k][1] and _HAN.match(w)
        )
        for k, c in counts.items()
    }
    schools = tuple(w for w in kept["O"] if "大学" in w or "学院" in w)
    kept["O"] = [w for w in kept["O"] if w not in schools]
    pools: dict[str, dict[str, tuple[str, ...]]] = {"train": {}, "test": {}}
    for k, names in kept.items():
        test = [w for w in names if zlib.crc32(w.encode("utf-8")) % 5 == 0]
        pools["test"][k] = tuple(test)
        pools["train"][k] = tuple(w for w in names if w not in set(test))
    pools["train"]["U"] = pools["test"]["U"] = schools
    return pools


@dataclass
class RelationCorpus:
    """Sentences with their triples, as strings and as character spans.

    ``spans[i]`` holds ``((s_start, s_end), predicate_id, (o_start, o_end))`` with inclusive
    character positions in ``texts[i]``; ``triples[i]`` the same as a set of strings.
    """

    texts: list[str]
    triples: list[set[tuple[str, str, str]]]
    spans: list[list[tuple[tuple[int, int], int, tuple[int, int]]]]
    template: list[int]

    def __len__(self) -> int:
        return len(self.texts)


def _fill(
    template: str, names: dict[str, str], rng: random.Random
) -> tuple[str, dict[str, tuple[int, int]]]:
    where: dict[str, tuple[int, int]] = {}
    text, last = "", 0
    for m in _SLOT.finditer(template):
        text += template[last : m.start()]
        word = names[m.group(1)] if m.group(1) else rng.choice(_VARIANTS[m.group(2)])
        if m.group(1):
            where[m.group(1)] = (len(text), len(text) + len(word) - 1)
        text += word
        last = m.end()
    return text + template[last:], where


def make_relation_corpus(n: int, seed: int = 0, split: str = "train") -> RelationCorpus:
    """``n`` sentences drawn uniformly from :data:`TEMPLATES`, names from the ``split`` pool.

    Entities within one sentence are distinct and none contains another, so every triple's
    strings are unambiguous. Deterministic for a given ``(n, seed, split)``.
    """
    n = _validate.positive_int("n", n)
    seed = _validate.non_negative_int("seed", seed)
    _validate.choice("split", split, ("train", "test"))
    pools = entity_pools()[split]
    rng = random.Random(seed * 2 + (split == "test"))
    pid = {p: i for i, p in enumerate(PREDICATES)}
    corpus = RelationCorpus([], [], [], [])
    for _ in range(n):
        k = rng.randrange(len(TEMPLATES))
        template, rels = TEMPLATES[k]
        names: dict[str, str] = {}
        for slot in dict.fromkeys(m.group(1) for m in _SLOT.finditer(template) if m.group(1)):
            while True:
                word = rng.choice(pools[slot[0]])
                if all(word not in w and w not in word for w in names.values()):
                    break
            names[slot] = word
        text, where = _fill(template, names, rng)
        corpus.texts.append(text)
        corpus.triples.append({(names[s], p, names[o]) for s, p, o in rels})
        corpus.spans.append([(where[s], pid[p], where[o]) for s, p, o in rels])
        corpus.template.append(k)
    return corpus


def overlap_class(triples: set[tuple[str, str, str]]) -> str:
    """``"EPO"`` if some entity pair (either order) is in two triples, else ``"SEO"`` if some
    entity is in two triples, else ``"normal"`` (the categories of Wei et al. 2020, CasRel)."""
    if not isinstance(triples, (set, frozenset, list, tuple)):
        raise TypeError(f"triples must be a set of (s, p, o) tuples, got {type(triples).__name__}")
    pairs = Counter(frozenset((s, o)) for s, _, o in triples)
    if any(c > 1 for c in pairs.values()):
        return "EPO"
    entities = Counter(e for s, _, o in triples for e in (s, o))
    return "SEO" if any(c > 1 for c in entities.values()) else "normal"
