"""Tests of kexue_lab.sequences.dgcnn against independent references."""

from __future__ import annotations

import pytest
import torch

from kexue_lab.sequences import dgcnn as D


def _empirical_rf(kernel: int, dilations: list[int], T: int = 101) -> int:
    torch.manual_seed(0)
    layers = [
        torch.nn.Conv1d(1, 1, kernel, dilation=r, padding=r * (kernel - 1) // 2) for r in dilations
    ]
    for layer in layers:
        torch.nn.init.uniform_(layer.weight, 0.5, 1.5)  # positive: no accidental cancellation
    x = torch.zeros(1, 1, T, requires_grad=True)
    y = x + 0.0
    for layer in layers:
        y = layer(y)
    y[0, 0, T // 2].backward()
    return int((x.grad[0, 0] != 0).sum())


@pytest.mark.parametrize(
    "kernel, dilations", [(3, [1, 2, 4, 8, 16, 1]), (3, [1, 2, 1]), (5, [1, 3]), (3, []), (1, [4])]
)
def test_receptive_field_matches_gradient_support(kernel: int, dilations: list[int]) -> None:
    assert D.receptive_field(kernel, dilations) == _empirical_rf(kernel, dilations)


def test_receptive_field_bad_input() -> None:
    with pytest.raises(ValueError, match="kernel"):
        D.receptive_field(0, [1])
    with pytest.raises(ValueError, match="dilations"):
        D.receptive_field(3, [1, 0])
    with pytest.raises(TypeError, match="dilations"):
        D.receptive_field(3, "12")


def test_gated_block_is_highway_form_and_masks() -> None:
    torch.manual_seed(1)
    block = D.GatedDilatedConv1d(4, 3, 2).eval()
    x = torch.randn(2, 4, 9)
    c, g = torch.nn.functional.conv1d(
        x, block.conv.weight, block.conv.bias, padding=2, dilation=2
    ).chunk(2, 1)
    s = torch.sigmoid(g)
    torch.testing.assert_close(block(x), x + (c - x) * s)  # eq. (2) with C₁ = C − I
    mask = torch.ones(2, 1, 9)
    mask[:, :, 6:] = 0
    y = block(x, mask)
    assert (y[:, :, 6:] == 0).all()
    x2 = x.clone()
    x2[:, :, 6:] = 100.0  # padding content must not leak
    torch.testing.assert_close(block(x2, mask), y)
    with pytest.raises(ValueError, match="kernel"):
        D.GatedDilatedConv1d(4, 2)
    with pytest.raises(ValueError, match="x must have shape"):
        block(torch.randn(2, 3, 9))


def test_attention_pooling_ignores_padding() -> None:
    torch.manual_seed(2)
    pool = D.AttentionPooling1d(3)
    x = torch.randn(1, 3, 5)
    mask = torch.tensor([[[1.0, 1, 1, 0, 0]]])
    w = pool.weights(x, mask)
    assert (w[0, 3:] == 0).all() and abs(float(w.detach().sum()) - 1) < 1e-6
    torch.testing.assert_close(pool(x, mask), pool(x[:, :, :3]))


def test_focal_loss_reduces_to_half_bce() -> None:
    p, y = torch.rand(20) * 0.98 + 0.01, (torch.rand(20) > 0.5).float()
    bce = torch.nn.functional.binary_cross_entropy(p, y)
    torch.testing.assert_close(D.binary_focal_loss(p, y, alpha=0.5, gamma=0.0), bce / 2)
    with pytest.raises(ValueError, match="alpha"):
        D.binary_focal_loss(p, y, alpha=2.0)


def test_top_spans_against_brute_force() -> None:
    torch.manual_seed(3)
    ps, pe = torch.rand(3, 12), torch.rand(3, 12)
    best, i, j = D.top_spans(ps, pe, max_len=4, k=1)
    for b in range(3):
        ref = max(
            (float(ps[b, a] * pe[b, c]), a, c) for a in range(12) for c in range(a, min(12, a + 4))
        )
        assert (int(i[b, 0]), int(j[b, 0])) == ref[1:] and abs(float(best[b, 0]) - ref[0]) < 1e-6
    with pytest.raises(ValueError, match="max_len"):
        D.top_spans(ps, pe, max_len=0)


def test_squared_vote_article_example() -> None:
    votes = D.squared_vote([{"A": 0.7}, {"B": 0.2}, {"B": 0.2}, {"B": 0.2}, {"B": 0.2}])
    assert abs(votes["A"] - 0.49 / 1.7) < 1e-12 and abs(votes["B"] - 0.16 / 1.8) < 1e-12
    with pytest.raises(TypeError, match="per_passage"):
        D.squared_vote({"A": 0.5})
    with pytest.raises(ValueError, match="score"):
        D.squared_vote([{"A": -1.0}])


def test_reader_shapes_and_padding() -> None:
    torch.manual_seed(4)
    model = D.DGCNNReader(20, 8).eval()
    q = torch.tensor([[3, 4, 0]])
    p = torch.tensor([[5, 6, 7, 0, 0]])
    ps, pe, pg = model(q, p)
    assert ps.shape == (1, 5) and pg.shape == (1,) and (ps[0, 3:] == 0).all()
    ps2, _, _ = model(q, p[:, :3])
    torch.testing.assert_close(ps[:, :3], ps2)
    with pytest.raises(ValueError, match="passage"):
        model(q, p.float())
