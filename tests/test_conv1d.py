"""Chapter 35's dilated residual Conv1D, its losses, training loop and saliency."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from kexue_lab.sequences import conv1d


def test_block_matches_the_article_recipe() -> None:
    torch.manual_seed(0)
    block = conv1d.DilatedBlock(3, 4)
    x = torch.randn(2, 3, 20)
    h = x
    for conv in block.convs:  # Conv1D(2f) → ReLU → sum of halves
        out = torch.relu(conv(h))
        h = out[:, :4] + out[:, 4:]
    assert torch.allclose(block(x), block.skip(x) + h)
    assert [c.dilation[0] for c in block.convs] == [1, 2, 4]
    assert isinstance(conv1d.DilatedBlock(4, 4).skip, torch.nn.Identity)


def test_model_shapes() -> None:
    model = conv1d.SpectraCNN(widths=(4, 8, 8), hidden=8, n_classes=3)
    assert model(torch.randn(5, 64)).shape == (5, 3)
    assert model.features(torch.randn(5, 1, 64)).shape == (5, 8, 16)


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_receptive_field_by_gradient_span(blocks: int) -> None:
    torch.manual_seed(0)
    model = conv1d.SpectraCNN(widths=(2,) * blocks, hidden=2, pool="avg", dropout=0.0).double()
    for p in model.parameters():  # positive weights: no cancellations, every path counts
        p.data = p.data.abs() + 0.05
    x = torch.rand(1, 1, 512, dtype=torch.double, requires_grad=True)
    h = model.features(x)
    h[0, 0, h.shape[2] // 2].backward()
    span = torch.nonzero(x.grad[0, 0]).flatten()
    assert int(span.max() - span.min() + 1) == conv1d.receptive_field(blocks)
    assert [conv1d.receptive_field(b) for b in range(1, 6)] == [15, 44, 102, 218, 450]


def test_score_loss_and_macro_f1_against_sklearn() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    want = f1_score(y, p, average="macro", labels=range(4))
    assert conv1d.macro_f1(y, p, 4) == pytest.approx(want, abs=1e-12)
    big = torch.nn.functional.one_hot(torch.as_tensor(p), 4).double() * 60.0  # softmax ≈ one-hot
    onehot = torch.nn.functional.one_hot(torch.as_tensor(y), 4)
    assert float(conv1d.score_loss(big, onehot)) == pytest.approx(-np.log(want), abs=1e-6)


def test_stratified_batches_have_the_article_counts() -> None:
    labels = np.repeat([0, 1, 2, 3], [500, 60, 30, 20])
    idx = conv1d.stratified_batches(labels, (0.8, 0.1, 0.05, 0.05), 160, 7, seed=0)
    assert idx.shape == (7, 160)
    counts = np.stack([np.bincount(labels[row], minlength=4) for row in idx])
    assert np.all(counts == [128, 16, 8, 8])
    with pytest.raises(ValueError, match="class 3"):
        conv1d.stratified_batches(np.array([0, 1, 2, 2]), (0.5, 0.2, 0.2, 0.1), 10, 1, 0)


def test_training_learns_a_separable_toy_and_saliency_is_the_gradient() -> None:
    torch.manual_seed(0)
    x = torch.randn(400, 32) * 0.3
    y = torch.arange(400) % 2
    x[y == 1, 10:13] += 2.0  # class 1: a bump at positions 10–12
    model = conv1d.SpectraCNN(widths=(4, 8), hidden=8, n_classes=2, dropout=0.0)
    hist = conv1d.train_two_stage(
        model,
        x,
        y,
        stages=(("ce", 60, 1e-2), ("f1", 20, 1e-3)),
        batch_size=64,
        x_eval=x,
        y_eval=y.numpy(),
    )
    assert len(hist["loss"]) == 80 and hist["stage"][-1] == 1
    assert hist["eval"][-1][1] > 0.95
    # saliency against central finite differences of the class-1 logit (float64)
    model = model.double().eval()
    x1 = x[y == 1][:3].double()
    sal = conv1d.saliency(model, x1, torch.ones(3, dtype=torch.long))
    h = 1e-6
    for t in (0, 11, 20):
        bump = torch.zeros_like(x1)
        bump[:, t] = h
        with torch.no_grad():
            fd = (model(x1 + bump)[:, 1] - model(x1 - bump)[:, 1]) / (2 * h)
        assert torch.allclose(sal[:, t], fd.abs(), atol=1e-6)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="pool"):
        conv1d.SpectraCNN(pool="min")
    with pytest.raises(ValueError, match="widths"):
        conv1d.SpectraCNN(widths=())
    with pytest.raises(ValueError, match="loss"):
        conv1d.train_two_stage(
            conv1d.SpectraCNN(widths=(2,), hidden=2, n_classes=2),
            torch.randn(8, 16),
            torch.arange(8) % 2,
            stages=(("mse", 1, 1e-3),),
            batch_size=4,
        )
    with pytest.raises(ValueError, match="n_blocks"):
        conv1d.receptive_field(0)
