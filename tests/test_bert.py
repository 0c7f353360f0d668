"""Masked-LM corruption and the tiny BERT encoder (chapters 36 and 38)."""

import pytest
import torch

from kexue_lab.sequences.bert import TinyBert, mlm_mask


def test_mlm_mask_rates_labels_and_specials():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 50, (400, 250), generator=g)
    ids[:, 0], ids[:, -1] = 1, 2  # [CLS], [SEP]
    inputs, labels = mlm_mask(ids, mask_id=3, vocab_size=50, special_ids=(0, 1, 2, 3), generator=g)
    chosen = labels != -100
    assert torch.equal(labels[chosen], ids[chosen])
    assert not chosen[:, [0, -1]].any()
    n = ids[:, 1:-1].numel()
    rate = float(chosen.sum()) / n
    assert rate == pytest.approx(0.15, abs=4 * (0.15 * 0.85 / n) ** 0.5)
    masked = (inputs == 3) & chosen
    kept = (inputs == ids) & chosen
    c = float(chosen.sum())
    # a random draw equals the original w.p. 1/46 and then counts as kept
    assert float(masked.sum()) / c == pytest.approx(0.8, abs=0.01)
    assert float(kept.sum()) / c == pytest.approx(0.1 + 0.1 / 46, abs=0.01)
    assert torch.equal(inputs[~chosen], ids[~chosen])
    assert int(inputs.min()) >= 1 and not ((inputs < 4) & chosen & (inputs != 3)).any()


def test_mlm_mask_rejects_bad_input():
    ids = torch.randint(0, 10, (2, 5))
    with pytest.raises(TypeError, match="ids"):
        mlm_mask(ids.float(), 1, 10)
    with pytest.raises(ValueError, match="mask_id"):
        mlm_mask(ids, 10, 10)
    with pytest.raises(ValueError, match="p"):
        mlm_mask(ids, 1, 10, p=1.5)
    with pytest.raises(ValueError, match="vocab_size"):
        mlm_mask(ids, 1, 5)
    with pytest.raises(ValueError, match="whole vocabulary"):
        mlm_mask(ids, 1, 10, special_ids=range(10))


def test_tiny_bert_ignores_padding_and_ties_the_head():
    torch.manual_seed(0)
    model = TinyBert(20, d=16, n_layers=2, n_heads=2, max_len=10, dropout=0.0).eval()
    ids = torch.tensor([[1, 5, 6, 2, 0, 0]])
    h = model(ids)
    h_short = model(ids[:, :4])
    assert torch.allclose(h[:, :4], h_short, atol=1e-5)
    assert model.mlm_logits(h).shape == (1, 6, 20)
    other = ids.clone()
    other[0, 2] = 7  # bidirectional: position 1 sees position 2
    assert not torch.allclose(model(other)[0, 1], h[0, 1])
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, 11, dtype=torch.long))
    with pytest.raises(ValueError, match="segment_ids"):
        model(ids, torch.zeros(1, 5, dtype=torch.long))


def test_mlm_pretraining_lowers_the_loss():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    base = torch.randint(4, 12, (64, 1), generator=g)
    ids = torch.cat([torch.ones(64, 1, dtype=torch.long), base, base + 8, base], dim=1)
    model = TinyBert(24, d=32, n_layers=2, n_heads=2, max_len=8, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    losses = []
    for _ in range(150):
        inputs, labels = mlm_mask(ids, 3, 24, p=0.3, special_ids=(0, 1, 2, 3), generator=g)
        logits = model.mlm_logits(model(inputs))
        loss = loss_fn(logits.flatten(0, 1), labels.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    # every masked token is determined by any unmasked one of the three copies
    assert sum(losses[-20:]) / 20 < 0.3 * sum(losses[:5]) / 5
