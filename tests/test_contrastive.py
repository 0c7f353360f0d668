"""Chapter 21: the contrastive loss and its exact chunked gradient, against plain autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kexue_lab import nn
from kexue_lab.optimization import contrastive as C


def reference_loss(h1: torch.Tensor, h2: torch.Tensor, tau: float) -> torch.Tensor:
    """A slow loop: row i's cross-entropy of cos(h1ᵢ, h2ⱼ)/τ over j with target i."""
    rows = []
    for i in range(h1.shape[0]):
        logits = F.cosine_similarity(h1[i : i + 1], h2, dim=1) / tau
        rows.append(F.cross_entropy(logits[None], torch.tensor([i])))
    return torch.stack(rows).mean()


def _batch(n: int = 24, d_in: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d_in, generator=gen, dtype=torch.float64)
    return x, x + 0.2 * torch.randn(n, d_in, generator=gen, dtype=torch.float64)


def _encoder(d_in: int = 10, dropout: float = 0.0) -> torch.nn.Module:
    torch.manual_seed(1)
    if dropout:
        layers = [torch.nn.Linear(d_in, 16), torch.nn.Tanh(), torch.nn.Dropout(dropout)]
        return torch.nn.Sequential(*layers, torch.nn.Linear(16, 6)).double()
    return nn.mlp([d_in, 16, 16, 6], activation="tanh").double()


def _big_batch_grad(enc: torch.nn.Module, x1, x2, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    enc.zero_grad()
    loss = C.contrastive_loss(enc(x1), enc(x2), tau)
    loss.backward()
    return C.grad_vector(enc).clone(), loss.detach()


@pytest.mark.parametrize("tau", [0.05, 0.5, 3.0])
def test_loss_matches_a_loop_of_cross_entropies(tau: float) -> None:
    gen = torch.Generator().manual_seed(2)
    h1, h2 = torch.randn(2, 9, 5, generator=gen, dtype=torch.float64)
    assert C.contrastive_loss(h1, h2, tau) == pytest.approx(float(reference_loss(h1, h2, tau)))
    assert C.contrastive_loss(3.0 * h1, 0.1 * h2, tau) == pytest.approx(
        float(reference_loss(h1, h2, tau)), rel=1e-12
    )  # cosine: the scale of the embeddings does not matter


def test_loss_extremes() -> None:
    eye = torch.eye(4, dtype=torch.float64)
    # orthogonal unit embeddings: s = I/τ, so L = log(e^{1/τ} + 3) − 1/τ
    want = torch.log(torch.exp(torch.tensor(2.0, dtype=torch.float64)) + 3) - 2
    assert float(C.contrastive_loss(eye, eye, 0.5)) == pytest.approx(float(want), rel=1e-14)
    same = torch.ones(5, 3, dtype=torch.float64)  # all pairs alike: uniform softmax, L = log N
    assert float(C.contrastive_loss(same, same, 0.2)) == pytest.approx(
        float(torch.log(torch.tensor(5.0)))
    )


def test_label_vectors_are_the_embedding_gradients() -> None:
    gen = torch.Generator().manual_seed(3)
    h1, h2 = torch.randn(2, 11, 4, generator=gen, dtype=torch.float64)
    h1.requires_grad_(True)
    h2.requires_grad_(True)
    a, b = torch.autograd.grad(reference_loss(h1, h2, 0.2), [h1, h2])
    g1, g2 = C.label_vectors(h1, h2, 0.2)
    assert not g1.requires_grad and not g2.requires_grad
    torch.testing.assert_close(g1, a, rtol=0, atol=1e-12)
    torch.testing.assert_close(g2, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 5, 8, 24, 100])
def test_cached_gradient_equals_the_big_batch_gradient(chunk: int) -> None:
    x1, x2 = _batch()
    enc = _encoder()
    want, want_loss = _big_batch_grad(enc, x1, x2, 0.1)
    enc.zero_grad()
    with C.ActivationMeter(enc) as meter:
        loss = C.cached_contrastive_backward(enc, x1, x2, 0.1, chunk)
    got = C.grad_vector(enc)
    assert float((got - want).abs().max()) <= 1e-12 * float(want.abs().max())
    assert float(loss) == pytest.approx(float(want_loss), rel=1e-13)
    assert meter.max_batch == min(chunk, 24)  # the encoder never saw more than one chunk
    assert meter.examples == 4 * 24  # each view twice: once without grad, once with
    assert meter.live_bytes == 0  # every graph freed after its backward


def test_cached_gradient_accumulates() -> None:
    x1, x2 = _batch()
    enc = _encoder()
    want, _ = _big_batch_grad(enc, x1, x2, 0.3)
    enc.zero_grad()
    for _ in range(2):
        C.cached_contrastive_backward(enc, x1, x2, 0.3, 7)
    torch.testing.assert_close(C.grad_vector(enc), 2 * want, rtol=1e-12, atol=1e-14)


def test_naive_accumulation_is_not_the_big_batch_gradient() -> None:
    x1, x2 = _batch()
    enc = _encoder()
    want, want_loss = _big_batch_grad(enc, x1, x2, 0.1)
    enc.zero_grad()
    assert float(C.naive_accumulation_backward(enc, x1, x2, 0.1, 24)) == pytest.approx(
        float(want_loss)
    )
    torch.testing.assert_close(C.grad_vector(enc), want, rtol=1e-12, atol=1e-14)  # one chunk
    enc.zero_grad()
    C.naive_accumulation_backward(enc, x1, x2, 0.1, 6)
    got = C.grad_vector(enc)
    assert float((got - want).norm() / want.norm()) > 0.05
    enc.zero_grad()
    assert float(C.naive_accumulation_backward(enc, x1, x2, 0.1, 1)) == 0.0
    assert float(C.grad_vector(enc).abs().max()) == 0.0  # single pairs: no negatives


def test_dropout_breaks_it_and_replaying_the_rng_repairs_it() -> None:
    x1, x2 = _batch()
    enc = _encoder(dropout=0.2)
    torch.manual_seed(5)
    enc.zero_grad()
    C.cached_contrastive_backward(enc, x1, x2, 0.1, 6, replay_rng=True)
    replayed = C.grad_vector(enc).clone()
    # the reference: the same masks (same RNG stream, same chunking) in one autograd graph
    torch.manual_seed(5)
    enc.zero_grad()
    h = [torch.cat([enc(x[k : k + 6]) for k in range(0, 24, 6)]) for x in (x1, x2)]
    C.contrastive_loss(h[0], h[1], 0.1).backward()
    want = C.grad_vector(enc).clone()
    torch.testing.assert_close(replayed, want, rtol=1e-12, atol=1e-14)
    torch.manual_seed(5)
    enc.zero_grad()
    C.cached_contrastive_backward(enc, x1, x2, 0.1, 6)
    assert float((C.grad_vector(enc) - want).norm() / want.norm()) > 1e-3


def test_meter_counts_saved_activations() -> None:
    lin = torch.nn.Linear(4, 3).double()
    x = torch.randn(10, 4, dtype=torch.float64)
    with C.ActivationMeter(lin) as meter:
        y = torch.tanh(lin(x))  # saves the input (10×4) and tanh's output (10×3)
        assert meter.live_bytes == (40 + 30) * 8
        y.sum().backward()  # backward frees the saved tensors
    assert meter.peak_bytes == 70 * 8 and meter.live_bytes == 0 and meter.max_batch == 10


def test_bad_input() -> None:
    h = torch.randn(4, 3)
    with pytest.raises(ValueError, match="tau"):
        C.contrastive_loss(h, h, 0.0)
    with pytest.raises(ValueError, match="tau"):
        C.label_vectors(h, h, float("nan"))
    with pytest.raises(ValueError, match="same shape"):
        C.contrastive_loss(h, torch.randn(5, 3), 0.1)
    with pytest.raises(ValueError, match="N >= 2"):
        C.contrastive_loss(h[:1], h[:1], 0.1)
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        C.contrastive_loss(h[0], h[0], 0.1)
    with pytest.raises(TypeError, match="floating"):
        C.contrastive_loss(torch.ones(4, 3, dtype=torch.long), h, 0.1)
    with pytest.raises(TypeError, match="h2"):
        C.contrastive_loss(h, h.numpy(), 0.1)
    with pytest.raises(ValueError, match="NaN"):
        C.contrastive_loss(h, torch.full((4, 3), float("nan")), 0.1)
    with pytest.raises(ValueError, match="zero rows"):
        C.label_vectors(torch.zeros(4, 3), h, 0.1)
    enc = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="chunk"):
        C.cached_contrastive_backward(enc, h, h, 0.1, 0)
    with pytest.raises(TypeError, match="encoder"):
        C.cached_contrastive_backward(lambda x: x, h, h, 0.1, 2)
    with pytest.raises(ValueError, match="same number"):
        C.cached_contrastive_backward(enc, h, h[:3], 0.1, 2)
    with pytest.raises(TypeError, match="chunk"):
        C.naive_accumulation_backward(enc, h, h, 0.1, 2.5)
    with pytest.raises(TypeError, match="module"):
        C.grad_vector(h)
