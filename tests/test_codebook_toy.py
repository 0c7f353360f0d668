"""Tests of kexue_lab.generative.codebook_toy (chapter 06: the codebook term is K-means)."""

import math

import numpy as np
import pytest
import torch

from kexue_lab.generative import codebook_toy as T
from kexue_lab.generative.vq import VectorQuantizer


def test_ring_data_and_lloyd():
    data = T.ring_data(800, modes=8, radius=4.0, sigma=0.1, seed=1)
    assert data.shape == (800, 2)
    r = data.norm(dim=1)
    assert (r - 4).abs().max() < 0.6
    angles = 2 * math.pi * torch.arange(8) / 8
    truth = 4 * torch.stack([angles.cos(), angles.sin()], 1)
    centres = T.kmeans_lloyd(data, truth + 0.3, iters=20)
    assert (centres - truth).norm(dim=1).max() < 0.05


def test_toy_gradient_matches_autograd_of_the_quantizer():
    data = T.ring_data(64, seed=2).double()
    vq = VectorQuantizer(5, 2).double()
    with torch.no_grad():
        vq.codebook.copy_(data[:5] + 0.1)
    _, loss, codes = vq(data)  # z has no grad: the loss is the codebook term only (β irrelevant)
    (g,) = torch.autograd.grad(loss, vq.codebook)
    np_codes, np_grad = T.toy_codebook_gradient(data.numpy(), vq.codebook.detach().numpy())
    assert np.array_equal(np_codes, codes.numpy())
    np.testing.assert_allclose(np_grad, g.numpy(), rtol=1e-12, atol=1e-15)


def test_toy_run_dead_codes_and_reseeding():
    _, books, perp = T.toy_codebook_run(8, "corner", False)
    assert books.shape == (401, 8, 2) and perp.shape == (401,)
    assert not books.flags.writeable  # cached for the exploration: read-only
    assert perp[-1] < 2.5  # most codes dead
    _, _, perp_rs = T.toy_codebook_run(8, "corner", True)
    assert perp_rs[-1] > 6.5


def test_toy_codes_are_the_nearest_rows_and_check_shapes():
    data = np.array([[0.0, 0.0], [5.0, 5.0], [0.9, 1.2]])
    book = np.array([[1.0, 1.0], [5.0, 4.0]])
    assert T.toy_codes(data, book).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match=r"same d.*\(3, 2\) and \(2, 3\)"):
        T.toy_codes(data, np.zeros((2, 3)))
