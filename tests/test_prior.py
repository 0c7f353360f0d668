"""Tests of kexue_lab.generative.prior (chapter 06: the PixelCNN prior over code grids)."""

import math

import pytest
import torch

from kexue_lab.generative import prior as P
from kexue_lab.generative import vqvae as V


def test_masks_hide_the_centre_and_everything_after_it():
    a = P.MaskedConv2d(1, 1, 3, "A").mask
    b = P.MaskedConv2d(1, 1, 3, "B").mask
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="odd"):
        P.MaskedConv2d(1, 1, 4, "A")
    with pytest.raises(ValueError, match="mask"):
        P.MaskedConv2d(1, 1, 3, "C")


def test_logits_depend_only_on_earlier_codes():
    torch.manual_seed(0)
    model = P.PixelCNNPrior(5, hidden=16, n_layers=3, kernel=5).eval()
    g = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 5, (1, 4, 4), generator=g)
    base = model(codes)
    for p in range(16):  # change one code, see which positions' logits move
        changed = codes.clone()
        changed.view(-1)[p] = (changed.view(-1)[p] + 1) % 5
        moved = (model(changed) - base).abs().amax(1).view(-1) > 0
        assert not moved[: p + 1].any()  # the code itself and every earlier position: unmoved
        if p % 4 < 3:
            assert moved[p + 1]  # the next position in the row sees it


def test_code_length_and_loss_against_an_explicit_sum():
    torch.manual_seed(0)
    model = P.PixelCNNPrior(6, hidden=8, n_layers=1, kernel=3)
    codes = torch.randint(0, 6, (7, 3, 4))
    with torch.no_grad():
        logp = torch.log_softmax(model(codes), 1)
    ref = -sum(
        float(logp[n, codes[n, i, j], i, j]) for n in range(7) for i in range(3) for j in range(4)
    )
    assert P.code_length_bits(model, codes, batch_size=3) == pytest.approx(
        ref / 7 / math.log(2), rel=1e-5
    )
    assert P.prior_loss(model, codes).item() == pytest.approx(ref / (7 * 12), rel=1e-5)
    with pytest.raises(TypeError, match="PixelCNNPrior"):
        P.code_length_bits(torch.nn.Linear(2, 2), codes)
    with pytest.raises(ValueError, match="indices"):
        P.code_length_bits(model, codes + 6)


def test_sampling_follows_the_conditionals():
    model = P.PixelCNNPrior(3, hidden=4, n_layers=0, kernel=3)
    with torch.no_grad():  # logits independent of the input: p = (0.7, 0.2, 0.1) everywhere
        model.out.weight.zero_()
        model.out.bias.copy_(torch.tensor([0.7, 0.2, 0.1]).log())
    g = torch.Generator().manual_seed(0)
    grids = model.sample(2000, (2, 3), generator=g)
    assert grids.shape == (2000, 2, 3) and grids.dtype == torch.long
    freq = torch.bincount(grids.flatten(), minlength=3).double() / grids.numel()
    torch.testing.assert_close(
        freq, torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64), atol=0.02, rtol=0
    )
    again = model.sample(2000, (2, 3), generator=torch.Generator().manual_seed(0))
    assert torch.equal(grids, again)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, (2, 2), temperature=0)


def test_pixelcnn_learns_what_the_independent_prior_cannot():
    from kexue_lab.train import fit

    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 8, (512, 1, 1), generator=g).expand(512, 4, 4).contiguous()
    indep = V.code_length_bits(V.fit_independent_prior(codes, 8), codes)  # ≈ 16 · 3 bits
    torch.manual_seed(0)
    model = P.PixelCNNPrior(8, hidden=16, n_layers=1, kernel=3)
    fit(model, P.prior_loss, codes, epochs=30, batch_size=128, lr=1e-2, seed=0, show_progress=False)
    ar = P.code_length_bits(model, codes)
    assert indep > 45 and ar < 10  # a constant grid costs its first code (3 bits), then little
