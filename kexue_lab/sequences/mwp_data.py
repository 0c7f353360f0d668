"""Word-problem data and the expression-writing model of chapter 39.

* :func:`make_synthetic_mwp`: Chinese word problems of the six classic types and simple
  arithmetic stories, as Ape210K records (``original_text``, ``equation``, ``ans``) with the
  gold expression written the way a teacher writes it; the smoke profile's data;
* :func:`load_ape210k`: the real Ape210K (JSON lines) from a folder or the authors' repository,
  refused unless its SHA-256 matches a digest that someone has checked;
* :class:`Solver`: a character-level :class:`~kexue_lab.sequences.seq2seq.UniLMSeq2Seq` that
  reads a problem and writes an expression, with :meth:`Solver.fit` and :meth:`Solver.accuracy`
  (beam search over the whole test set in one batch, answers checked with
  :func:`~kexue_lab.sequences.mwp.safe_eval` and :func:`~kexue_lab.sequences.mwp.is_equal`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..data import DownloadError, RemoteDataset, RemoteFile, fetch, sha256_of
from ..text import CharVocab
from ..train import progress
from .mwp import _MIXED, is_equal, safe_eval
from .seq2seq import UniLMSeq2Seq, pack_pairs

__all__ = [
    "KINDS",
    "make_synthetic_mwp",
    "APE210K",
    "load_ape210k",
    "SLOTS",
    "mask_numbers",
    "fill_numbers",
    "Solver",
]

#: problem types of the synthetic set: the six classic ones, then simple arithmetic stories
KINDS = (
    "chickens_rabbits",
    "surplus_deficit",
    "ages",
    "trees",
    "cows_grass",
    "profit",
    "arithmetic",
)


def _ans(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"({value})"


def _problem(kind: str, r: np.random.Generator) -> tuple[str, str]:
    """(text, equation) of one problem; numbers drawn from ``r``."""
    i = lambda lo, hi: int(r.integers(lo, hi + 1))  # noqa: E731
    if kind == "chickens_rabbits":
        c, b = i(1, 30), i(1, 30)
        h, f = c + b, 2 * c + 4 * b
        if r.random() < 0.5:
            return f"鸡兔同笼，{h}个头，{f}只脚，兔几只？", f"x=({f}-2*{h})/2"
        return f"鸡兔同笼，{h}个头，{f}只脚，鸡几只？", f"x=(4*{h}-{f})/2"
    if kind == "surplus_deficit":
        n, a, gap = i(3, 15), i(2, 6), i(1, 3)
        s = i(1, gap * n - 1)
        b, d = a + gap, gap * n - s
        text = f"分糖，每人{a}颗多{s}颗，每人{b}颗少{d}颗，"
        if r.random() < 0.5:
            return text + "几人？", f"x=({s}+{d})/({b}-{a})"
        return text + "几颗糖？", f"x=({s}+{d})/({b}-{a})*{a}+{s}"
    if kind == "ages":
        c, t, k = i(3, 12), i(1, 10), i(2, 4)
        f = k * c + (k - 1) * t
        return f"爸爸{f}岁，儿子{c}岁，几年后爸爸是儿子的{k}倍？", (f"x=({f}-{k}*{c})/({k}-1)")
    if kind == "trees":
        d, m, v = int(r.choice([2, 3, 4, 5, 6, 8, 10])), i(5, 30), i(0, 3)
        q = "每隔{d}米种一棵，{how}种几棵？"
        if v == 3:
            return f"周长{d * m}米的圆形水池边，" + q.format(d=d, how=""), f"x={d * m}/{d}"
        how, tail = [("两端都种，", "+1"), ("只种一端，", ""), ("两端都不种，", "-1")][v]
        return f"{d * m}米长的路一边，" + q.format(d=d, how=how), f"x={d * m}/{d}{tail}"
    if kind == "cows_grass":
        g, d2, m, x = i(1, 6), i(3, 8), i(2, 3), i(2, 6)
        d1, n1, n2 = m * d2, g + x, g + x * m
        text = f"草匀速生长，{n1}头牛{d1}天吃完，{n2}头牛{d2}天吃完，"
        grow = f"({n1}*{d1}-{n2}*{d2})/({d1}-{d2})"
        if r.random() < 0.5:
            return text + "每天长的草够几头牛吃？", f"x={grow}"
        stock = x * d1
        y = int(r.choice([y for y in range(1, 21) if stock % y == 0 and y not in (x, x * m)]))
        return text + f"{g + y}头牛几天吃完？", f"x=({n1}*{d1}-{grow}*{d1})/({g + y}-{grow})"
    if kind == "profit":
        c, p, z = 50 * i(2, 20), int(r.choice([20, 25, 40, 50])), i(8, 9)
        return f"进价{c}元，提价{p}%后打{z}折卖，赚几元？", (f"x={c}*(1+{p}%)*{z}/10-{c}")
    a, b, v = i(10, 99), i(2, 9), i(0, 5)
    return [
        (f"有{a}个苹果，又买{b * 3}个，共几个？", f"x={a}+{b * 3}"),
        (f"有{a}个苹果，吃了{b}个，剩几个？", f"x={a}-{b}"),
        (f"每箱{a}瓶水，{b}箱共几瓶？", f"x={a}*{b}"),
        (f"{a * b}本书平分给{b}个班，每班几本？", f"x={a * b}/{b}"),
        (f"绳长{a}米，用去(1/{b})，剩几米？", f"x={a}*(1-(1/{b}))"),
        (f"油重{b}(1/{b + 1})千克，又倒进{a}千克，共几千克？", f"x={b}(1/{b + 1})+{a}"),
    ][v]


def make_synthetic_mwp(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` synthetic problems as Ape210K records, the kinds of :data:`KINDS` in turn.

    Each record has ``id``, ``original_text`` (Chinese, with ``(a/b)`` fractions, ``a(b/c)``
    mixed numbers and ``a%`` percentages as Ape210K writes them), ``equation`` (``x=…`` as a
    teacher writes it), ``ans`` (the exact value; ``(p/q)`` when not an integer) and ``kind``.
    """
    n = _validate.positive_int("n", n)
    seed = _validate.non_negative_int("seed", seed)
    r = np.random.default_rng(seed)
    out = []
    for j in range(n):
        kind = KINDS[j % len(KINDS)]
        text, equation = _problem(kind, r)
        plain = _MIXED.sub(r"(\1+\2)", equation[2:])
        value = Fraction(str(safe_eval(plain, exact=True)))
        record = {"original_text": text, "equation": equation, "ans": _ans(value)}
        out.append({"id": str(j), **record, "kind": kind})
    return out


#: Ape210K as the authors publish it (github.com/Chenny0808/ape210k, ``data/``). The digests
#: are empty because no one has yet checked the published files: :func:`load_ape210k` refuses
#: them until the true SHA-256 values are filled in here (or passed as ``sha256=``).
APE210K = RemoteDataset(
    key="ape210k",
    files={split: RemoteFile(f"{split}.ape.json", "") for split in ("train", "valid", "test")},
    mirrors=("https://raw.githubusercontent.com/Chenny0808/ape210k/master/data/",),
)


def load_ape210k(
    split: str, root: str | os.PathLike[str] | None = None, *, sha256: str | None = None
) -> list[dict[str, Any]]:
    """The records of one Ape210K split (``train``, ``valid`` or ``test``; JSON lines).

    The file is taken from ``root`` if it holds ``<split>.ape.json``, else fetched by
    :func:`kexue_lab.data.fetch`. It is used only if its SHA-256 equals ``sha256`` or the digest
    pinned in :data:`APE210K`; with neither, :class:`~kexue_lab.data.DownloadError` says so.
    """
    _validate.choice("split", split, tuple(APE210K.files))
    spec = APE210K.files[split]
    digest = sha256 or spec.sha256
    if not digest:
        raise DownloadError(
            f"no SHA-256 is pinned for Ape210K {spec.name}: check the published file and pass "
            "sha256=…, or fill it in kexue_lab.sequences.mwp_data.APE210K"
        )
    if root is not None and (Path(root) / spec.name).is_file():
        path = Path(root) / spec.name
        if sha256_of(path) != digest:
            raise DownloadError(f"{path}: SHA-256 {sha256_of(path)} differs from {digest}")
    else:
        pinned = RemoteDataset(APE210K.key, {split: RemoteFile(spec.name, digest)}, APE210K.mirrors)
        path = fetch(pinned, split, root)
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


#: placeholders for the numbers of a problem, in order of appearance
SLOTS = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def mask_numbers(question: str, expression: str = "") -> tuple[str, str, list[str]]:
    """Replace the numbers of ``question`` by :data:`SLOTS` (①, ②, … in order of first
    appearance; a repeated number keeps its slot) and, in ``expression``, every number that
    occurs in the question by the same slot; other numbers (constants such as 2 or 100) stay.
    Returns ``(masked_question, masked_expression, numbers)``; numbers after the 20th stay."""
    if not isinstance(question, str) or not isinstance(expression, str):
        raise TypeError("question and expression must be strings")
    numbers: list[str] = []

    def slot(m: re.Match[str]) -> str:
        if m.group() not in numbers:
            if len(numbers) == len(SLOTS):
                return m.group()
            numbers.append(m.group())
        return SLOTS[numbers.index(m.group())]

    masked_q = _NUMBER.sub(slot, question)
    lookup = {n: SLOTS[i] for i, n in enumerate(numbers)}
    masked_e = _NUMBER.sub(lambda m: lookup.get(m.group(), m.group()), expression)
    return masked_q, masked_e, numbers


def fill_numbers(expression: str, numbers: Sequence[str]) -> str:
    """Undo :func:`mask_numbers` on an expression: slot k becomes ``numbers[k]``. A slot with no
    number is left as it is (and :func:`~kexue_lab.sequences.mwp.safe_eval` then rejects it)."""
    table = {SLOTS[i]: n for i, n in enumerate(numbers)}
    return "".join(table.get(c, c) for c in expression)


class Solver:
    """Problem text → expression with a character-level UniLM (chapter 39, the article's model
    at toy scale). The vocabulary is built from ``texts``; ``\x02`` and ``\x03`` play
    ``[CLS]`` and ``[SEP]``: source ``[CLS] question [SEP]``, target ``expression [SEP]``.

    ``numbers="slots"`` hands the model the copying: numbers are replaced by slots on the way in
    (:func:`mask_numbers`) and put back into the written expression (:func:`fill_numbers`);
    ``numbers="digits"`` is the article's setting, digits read and written one by one."""

    def __init__(
        self,
        texts: Sequence[str],
        *,
        d: int = 128,
        n_layers: int = 3,
        n_heads: int = 4,
        max_len: int = 256,
        numbers: str = "slots",
        device: str | torch.device = "cpu",
    ) -> None:
        self.numbers = _validate.choice("numbers", numbers, ("slots", "digits"))
        self.vocab = CharVocab([*texts, "\x02\x03", SLOTS])
        self.cls, self.sep = self.vocab.index["\x02"], self.vocab.index["\x03"]
        self.device = torch.device(device)
        self.model = UniLMSeq2Seq(len(self.vocab), d, n_layers, n_heads, max_len=max_len)
        self.model.to(self.device)

    def _ids(self, texts: Sequence[str], head: list[int], tail: list[int]) -> list[list[int]]:
        unk = self.vocab.index.get
        return [head + [unk(c, 1) for c in t] + tail for t in texts]

    def fit(
        self,
        questions: Sequence[str],
        expressions: Sequence[str],
        *,
        steps: int,
        batch_size: int = 64,
        lr: float = 2e-3,
        seed: int = 0,
    ) -> list[float]:
        """Teacher-forced training (:meth:`UniLMSeq2Seq.loss`) with Adam, linear warm-up over the
        first 5 % of ``steps`` and linear decay to 0; returns the loss of every step."""
        steps = _validate.positive_int("steps", steps)
        if len(questions) != len(expressions) or not questions:
            raise ValueError("questions and expressions must be non-empty and of equal length")
        if self.numbers == "slots":
            pairs = [mask_numbers(q, e)[:2] for q, e in zip(questions, expressions, strict=True)]
            questions, expressions = zip(*pairs, strict=True)
        src = self._ids(questions, [self.cls], [self.sep])
        tgt = self._ids(expressions, [], [self.sep])
        ids, seg, labels = pack_pairs(src, tgt, pad_id=0)
        real = (ids != 0).sum(1)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        warm = max(1, steps // 20)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t: min((t + 1) / warm, max(0.0, (steps - t) / (steps - warm + 1)))
        )
        self.model.train()
        losses = []
        for _ in progress(range(steps), desc="training"):
            rows = torch.randint(len(ids), (batch_size,), generator=gen)
            width = int(real[rows].max())
            batch = [t[rows, :width].to(self.device) for t in (ids, seg, labels)]
            loss = self.model.loss(*batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        return losses

    def solve(self, questions: Sequence[str], *, k: int = 1, max_len: int = 64) -> list[str]:
        """The expression written for every question (beam search of width ``k``, batched)."""
        masked = [mask_numbers(q) for q in questions]
        if self.numbers == "slots":
            questions = [m[0] for m in masked]
        prompts = self._ids(questions, [self.cls], [self.sep])
        out = self.model.generate(prompts, self.sep, k=k, max_len=max_len)
        written = ["".join(self.vocab.chars[t] for t in seq if t != self.sep) for seq in out]
        if self.numbers == "digits":
            return written
        return [fill_numbers(w, m[2]) for w, m in zip(written, masked, strict=True)]

    @staticmethod
    def check(expressions: Sequence[str], answers: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(correct, parsed)`` per expression: its :func:`safe_eval` value equals the answer's
        to 6 decimals; it evaluates at all."""
        correct = np.zeros(len(expressions), dtype=bool)
        parsed = np.zeros(len(expressions), dtype=bool)
        for j, (e, a) in enumerate(zip(expressions, answers, strict=True)):
            try:
                value = safe_eval(e)
            except ValueError:
                continue
            parsed[j] = True
            correct[j] = is_equal(value, safe_eval(a))
        return correct, parsed
