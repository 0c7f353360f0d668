"""Paraphrase groups from real text, pair components and the GRU encoder (chapter 31)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue_lab.losses import paraphrase as para

TABLE = para.synonym_table([("喜欢", "喜爱", "爱好"), ("质量", "品质"), ("很", "挺"), ("书",)])


def test_synonym_table_and_segment() -> None:
    assert TABLE["喜欢"] == ("喜爱", "爱好")
    assert "很" not in TABLE  # one-character words are left out by default
    assert para.segment("我很喜欢这本书的质量", TABLE) == list("我很") + ["喜欢"] + list(
        "这本书的"
    ) + ["质量"]
    long = {"北京": 1, "北京大学": 1}
    assert para.segment("北京大学生", long) == ["北京大学", "生"]  # greedy longest match
    with pytest.raises(TypeError, match="text"):
        para.segment(3, TABLE)


def test_paraphrase_replaces_synonyms_and_deletes_one_character() -> None:
    rng = np.random.default_rng(0)
    text = "我很喜欢这本书的质量"
    out = para.paraphrase(text, TABLE, rng, p=1.0)
    assert len(out) == len(text) - 1
    assert "喜欢" not in out and "质量" not in out
    same = para.paraphrase(text, TABLE, np.random.default_rng(1), p=0.0)
    assert len(same) == len(text) - 1 and all(c in text for c in same)
    with pytest.raises(ValueError, match="p must lie"):
        para.paraphrase(text, TABLE, rng, p=1.5)


def test_review_clauses_cut_and_filter() -> None:
    texts = ["这本书的质量很好，我很喜欢！ＡＢＣ太短", "这本书的质量很好。另外一句话也还可以吧"]
    got = para.review_clauses(texts, min_len=5, max_len=9)
    # "我很喜欢" (4) and "另外一句话也还可以吧" (10) fall outside [5, 9]; the repeat is dropped
    assert got == ["这本书的质量很好", "abc太短"]
    with pytest.raises(ValueError, match="max_len"):
        para.review_clauses(texts, min_len=5, max_len=3)


def test_paraphrase_groups_shape_and_seed() -> None:
    clauses = ["我很喜欢这本书的质量", "质量不错我喜欢", "这本书的品质很一般", "没有同义词"]
    sents, groups = para.paraphrase_groups(clauses, TABLE, 3, 3, seed=0, min_words=1)
    assert len(sents) == 9 and groups.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert "没有同义词" not in sents
    for g in range(3):
        assert len(set(sents[3 * g : 3 * g + 3])) == 3
    again, _ = para.paraphrase_groups(clauses, TABLE, 3, 3, seed=0, min_words=1)
    assert again == sents
    with pytest.raises(ValueError, match="usable"):
        para.paraphrase_groups(clauses, TABLE, 4, 3, min_words=1)


def test_pair_groups_are_connected_components() -> None:
    pairs = [("a", "b"), ("c", "d"), ("b", "e"), ("f", "a"), ("d", "g")]
    sents, groups = para.pair_groups(pairs)
    comp = {s: int(g) for s, g in zip(sents, groups)}
    assert len(sents) == 7
    assert len({comp[x] for x in "abef"}) == 1 and len({comp[x] for x in "cdg"}) == 1
    assert comp["a"] != comp["c"] and list(groups) == sorted(groups)
    with pytest.raises(TypeError, match="two strings"):
        para.pair_groups([("a", 1)])


def test_encoder_takes_the_state_at_each_length() -> None:
    torch.manual_seed(0)
    enc = para.GRUEncoder(10, 8, 6)
    ids = torch.tensor([[3, 4, 5, 0, 0], [3, 4, 5, 6, 7]])
    z = enc(ids)
    assert torch.allclose(z.norm(dim=1), torch.ones(2))
    short = enc(ids[:1, :3])  # the padding must not change the embedding
    assert torch.allclose(z[0], short[0], atol=1e-6)
    out, _ = enc.gru(enc.embed(ids[1:]))
    assert torch.allclose(z[1], torch.nn.functional.normalize(out[0, -1], dim=0), atol=1e-6)
    with pytest.raises(TypeError, match="ids"):
        enc(torch.zeros(2, 5))


def test_train_similarity_learns_separable_groups() -> None:
    gen = torch.Generator().manual_seed(0)
    groups = torch.arange(8).repeat_interleave(4)
    ids = torch.randint(2, 20, (8, 6), generator=gen)[groups]
    ids[:, -1] = torch.randint(2, 20, (32,), generator=gen)  # one noisy character per sentence
    enc = para.train_similarity(ids, groups, 20, loss="am", embed_dim=8, hidden=16, epochs=30,
                                batch_size=16, lr=1e-2)  # fmt: skip
    z = para.encode(enc, ids)
    from kexue_lab.losses.margin import retrieval_topk

    assert retrieval_topk(z, groups, ks=(1,))[1] > 0.9


def test_read_pairs_both_layouts(tmp_path) -> None:
    lcqmc = tmp_path / "train.txt"
    lcqmc.write_text(
        "沙发一般有多高\t沙发一般高度是多少\t1\n今天天气\t明天下雨\t0\nＡＢ\tab\t1\n", "utf-8"
    )
    assert para.read_pairs(lcqmc) == [("沙发一般有多高", "沙发一般高度是多少"), ("ab", "ab")]
    qqp = tmp_path / "train.tsv"
    qqp.write_text(
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "0\t1\t2\tHow old are you?\tWhat is your age?\t1\n"
        "1\t3\t4\tWhy?\tWhere?\t0\n",
        "utf-8",
    )
    pairs = para.read_pairs(qqp)
    assert pairs == [("how old are you?", "what is your age?")]
    sents, groups = para.pair_groups(pairs)
    assert len(sents) == 2 and groups.tolist() == [0, 0]
    bad = tmp_path / "bad.txt"
    bad.write_text("one\ttwo\n", "utf-8")
    with pytest.raises(ValueError, match="3 tab-separated"):
        para.read_pairs(bad)
    with pytest.raises(FileNotFoundError, match="path"):
        para.read_pairs(tmp_path / "missing.txt")
