"""Generated Chinese civil judgments and the SPACES pipeline pieces around them (chapter 40).

The CAIL 2020 司法摘要 data cannot be downloaded here, so chapter 40 runs on a generated corpus
with the shape the article describes: long judgments (a header, the parties, the claims with
amounts, the facts, the defence, the court's reasoning with statute articles, the decision, the
appeal notice and signatures, plus boilerplate clauses in random number) and a reference summary
that copies the key spans verbatim (names, amounts, statute names and article numbers, the
decision) and joins them with glue words ("诉称", "辩称", "法院认为", "判决").

Also here: fidelity measures (the share of a summary's numbers, or of its character n-grams,
found in the source), the batch packing with copy tags, and batched decoding with and without the
copy constraint (all documents and beams in one batch via ``beam_search_batch``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch

from .. import _validate
from .seq2seq import beam_search_batch, pack_pairs
from .summarization import CopySeq2Seq, O, bio_copy_labels, copy_allowed, sparse_softmax

__all__ = [
    "make_judgments",
    "number_support",
    "ngram_support",
    "pack_with_tags",
    "decode",
]

_SURNAMES = "张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
_GIVEN = "伟芳娜敏静强磊洋勇军杰涛明超秀英华慧建国平刚桂兰文辉鹏飞玉珍红霞"
_CITIES = [
    "北京市朝阳区",
    "上海市浦东新区",
    "广州市天河区",
    "成都市武侯区",
    "杭州市西湖区",
    "武汉市洪山区",
]
_LAWS = ["合同法", "民法通则", "侵权责任法", "民事诉讼法", "担保法", "道路交通安全法", "劳动合同法"]
_DEFENCE = ["已部分还款", "金额不符", "利息过高", "未收到借款", "无力清偿"]
_FILLER = [
    "本院依法适用简易程序，公开开庭进行了审理。",
    "原告为证明其主张，向本院提交了相关证据。",
    "双方当事人均到庭参加诉讼。",
    "本院组织双方进行了证据交换和质证。",
    "对当事人无异议的证据，本院予以确认并在卷佐证。",
    "经本院主持调解，双方未能达成一致意见。",
    "被告对原告提交的证据的真实性无异议。",
    "本案现已审理终结。",
]


def _name(rng: np.random.Generator) -> str:
    return str(rng.choice(list(_SURNAMES)) + rng.choice(list(_GIVEN)))


def _one(rng: np.random.Generator) -> dict[str, str]:
    a, b = _name(rng), _name(rng)
    while b == a:
        b = _name(rng)
    amt, intr, fee = (
        str(int(rng.integers(lo, hi))) for lo, hi in ((1000, 99999), (100, 9999), (50, 999))
    )
    law1, law2 = rng.choice(_LAWS, 2, replace=False)
    n1, n2 = (str(int(v)) for v in rng.integers(1, 300, 2))
    year = str(int(rng.integers(2014, 2020)))
    month, day = str(int(rng.integers(1, 13))), str(int(rng.integers(1, 29)))
    defence = rng.choice(_DEFENCE)
    head = [
        f"{rng.choice(_CITIES)}人民法院民事判决书（{year}）民初{rng.integers(100, 9999)}号",
        f"原告：{a}，{rng.choice(['男', '女'])}，{rng.integers(1950, 1999)}年出生。",
        f"被告：{b}，{rng.choice(['男', '女'])}，{rng.integers(1950, 1999)}年出生。",
        f"原告{a}与被告{b}民间借贷纠纷一案，本院于{year}年{month}月{day}日立案。",
    ]
    claims = [
        f"原告{a}诉称{year}年{month}月被告借款{amt}元，约定月利率{rng.integers(1, 3)}%，",
        f"请求判令归还本金{amt}元、利息{intr}元。",
        f"被告{b}辩称，{defence}。",
    ]
    court = [
        "本院认为，合法的借贷关系受法律保护。",
        f"依照《{law1}》第{n1}条、《{law2}》第{n2}条的规定，",
        f"判决如下：被告{b}于十日内偿还借款{amt}元；",
        f"案件受理费{fee}元，由被告{b}负担。",
    ]
    tail = [
        "如不服本判决，可在判决书送达之日起十五日内提起上诉。",
        f"审判员{_name(rng)}，书记员{_name(rng)}。",
    ]
    filler = list(rng.choice(_FILLER, int(rng.integers(2, 6)), replace=False))
    k = int(rng.integers(0, len(filler) + 1))
    doc = "\n".join(head + filler[:k] + claims + filler[k:] + court + tail)
    summary = (
        f"{a}诉称借款{amt}元。被告辩称{defence}。依《{law1}》第{n1}条，判决被告偿还借款{amt}元。"
    )
    return {"doc": doc, "summary": summary}


def make_judgments(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` generated (judgment, summary) pairs ``{"doc", "summary"}``, reproducible by
    ``seed``. Every number, name and statute of a summary is copied from its judgment."""
    n = _validate.positive_int("n", n)
    seed = _validate.non_negative_int("seed", seed)
    rng = np.random.default_rng(seed)
    return [_one(rng) for _ in range(n)]


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def number_support(hyp: str, source: str) -> tuple[int, int]:
    """``(supported, total)``: how many of the numbers (maximal digit runs, decimals included)
    in ``hyp`` occur as a whole number in ``source``."""
    if not isinstance(hyp, str) or not isinstance(source, str):
        raise TypeError("hyp and source must be strings")
    known = set(_NUMBER.findall(source))
    found = _NUMBER.findall(hyp)
    return sum(x in known for x in found), len(found)


def ngram_support(hyp: Sequence, source: Sequence, n: int = 4) -> tuple[int, int]:
    """``(supported, total)``: the n-grams of ``hyp`` (token lists or strings of characters)
    that occur somewhere in ``source``."""
    n = _validate.positive_int("n", n)
    grams = {tuple(source[i : i + n]) for i in range(len(source) - n + 1)}
    mine = [tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1)]
    return sum(g in grams for g in mine), len(mine)


def pack_with_tags(
    sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`pack_pairs` plus copy-tag labels ``(B, L)`` (−100 where unused): source position
    p gets its token's tag, the position that predicts target token j gets target tag j (the
    first and last tokens of each are special tokens and are tagged O)."""
    ids, seg, labels = pack_pairs(sources, targets, pad_id)
    tag_labels = torch.full_like(labels, -100)
    for b, (s, t) in enumerate(zip(sources, targets, strict=True)):
        src_tags, tgt_tags = bio_copy_labels(list(s[1:-1]), list(t[:-1]))
        tag_labels[b, : len(s)] = torch.tensor([0, *src_tags, 0])
        tag_labels[b, len(s) - 1 : len(s) + len(t) - 1] = torch.tensor([*tgt_tags, 0])
    return ids, seg, labels, tag_labels


def _left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    inner = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, r in enumerate(rows):
        out[b, width - len(r) :] = torch.tensor(list(r), dtype=torch.long)
        inner[b, width - len(r) + 1 : width - 1] = True  # between [CLS] and [SEP]
    return out, inner


@torch.no_grad()
def decode(
    model: CopySeq2Seq,
    prompts: Sequence[Sequence[int]],
    eos: int,
    *,
    copy: bool,
    k_sparse: int = 10,
    beam: int = 1,
    max_len: int = 128,
) -> tuple[list[list[int]], list[list[int]], list[list[bool]]]:
    """Decode every prompt (``[CLS] x [SEP]``) in one batch with :func:`beam_search_batch`,
    Sparse Softmax top-``k_sparse`` at every step; with ``copy=True`` the tokens outside
    :func:`copy_allowed` (the copy state replayed from the prefix) are removed first.

    Returns ``(sequences, tags, fallbacks)``: the generated tokens (ending with ``eos`` when
    finished), and per generated token its copy tag and whether an ``I`` fell back to ``B``
    (replayed with the same rule; all ``O``/``False`` when ``copy=False``). ``eos`` is always
    allowed (it may end a copied span) and is reported with tag ``O``."""
    if not isinstance(model, CopySeq2Seq):
        raise TypeError(f"model must be a CopySeq2Seq, got {type(model).__name__}")
    model.eval()
    device = model.tok.weight.device
    left, src_mask = _left_pad(prompts, model.pad_id)
    width = left.shape[1]

    def run(rows: torch.Tensor, gen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.cat([left[rows], gen], dim=1).to(device)
        seg = torch.zeros_like(ids)
        seg[:, width:] = 1
        logits, tags = model.tagged(ids, seg)
        return logits[:, width - 1 :].float().cpu(), tags[:, width - 1 :].float().cpu()

    def step(rows: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
        logits, tags = run(rows, gen)
        logits = logits[:, -1]
        if copy:
            allowed, _, _ = copy_allowed(tags, gen, left[rows], src_mask[rows], logits.shape[1])
            allowed[:, eos] = True
            logits = logits.masked_fill(~allowed, -torch.inf)
        return torch.log(sparse_softmax(logits, k_sparse))

    seqs, _ = beam_search_batch(step, len(prompts), eos, beam, max_len)
    lengths = [len(s) for s in seqs]
    if not copy:
        return seqs, [[0] * n for n in lengths], [[False] * n for n in lengths]
    gen = torch.zeros(len(seqs), max(lengths), dtype=torch.long)
    for b, s in enumerate(seqs):
        gen[b, : len(s)] = torch.tensor(s, dtype=torch.long)
    _, tags = run(torch.arange(len(seqs)), gen[:, :-1])
    _, z, fb = copy_allowed(tags, gen[:, :-1], left, src_mask, model.vocab_size)
    z = z.masked_fill(gen == eos, O)  # eos is always allowed; it ends any span
    return (
        seqs,
        [z[b, :n].tolist() for b, n in enumerate(lengths)],
        [fb[b, :n].tolist() for b, n in enumerate(lengths)],
    )
