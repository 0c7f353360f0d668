"""Checks for the exercises of chapter 6 (VQ-VAE, the quantised autoencoder)."""

from __future__ import annotations

import math
from typing import Any

import torch

from . import Wrong, checker, expect_function, expect_number


def _call(fn: Any, *args: Any, what: str) -> Any:
    if not callable(fn):
        raise Wrong(f"{what} should be a function, got {type(fn).__name__}.")
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # a student's bug: say where, not what the answer is
        raise Wrong(f"{what} raised {type(exc).__name__}: {exc}") from None


def _tensor(out: Any, like: torch.Tensor, what: str) -> torch.Tensor:
    if not torch.is_tensor(out):
        raise Wrong(f"{what} should return a torch tensor, got {type(out).__name__}.")
    if out.shape != like.shape:
        raise Wrong(
            f"{what} returns shape {tuple(out.shape)}; expected the shape of its input, "
            f"{tuple(like.shape)}."
        )
    return out


@checker("6.1")
def _straight_through(fn: Any) -> None:
    g = torch.Generator().manual_seed(61)
    for shape in [(5,), (3, 4), (2, 3, 4)]:
        z = torch.randn(*shape, generator=g, requires_grad=True)
        zq = torch.randn(*shape, generator=g, requires_grad=True)
        out = _tensor(_call(fn, z, zq, what="st(z, zq)"), z, "st(z, zq)")
        if not torch.allclose(out.detach(), zq.detach(), rtol=1e-6, atol=1e-6):
            raise Wrong("the value of st(z, zq) is not zq.")
        if not out.requires_grad:
            raise Wrong(
                "no gradient flows through st(z, zq): the result does not depend on z in autograd."
            )
        w = torch.randn(*shape, generator=g)
        gz, gq = torch.autograd.grad((w * out).sum(), [z, zq], allow_unused=True)
        if gz is None or not torch.allclose(gz, w, rtol=1e-6, atol=1e-6):
            raise Wrong(
                "the gradient with respect to z is not the identity (try a random cotangent "
                "w: grad should be w)."
            )
        if gq is not None and torch.count_nonzero(gq) > 0:
            raise Wrong(
                "some gradient reaches zq; the codebook must not learn from the reconstruction."
            )


@checker("6.2")
def _compression(answer: Any) -> None:
    expect_number(
        answer,
        128 * 128 * 3 * 8 / (32 * 32 * math.log2(512)),
        rtol=1e-3,
        what="your compression factor",
    )


@checker("6.3")
def _sign_st(fn: Any) -> None:
    g = torch.Generator().manual_seed(63)
    x = torch.cat(
        [torch.empty(2000).uniform_(-3, 3, generator=g), torch.tensor([0.5, -0.5, 2.0, -2.0])]
    )
    x = x[(x.abs() - 1).abs() > 1e-6].requires_grad_()  # the kink at |x| = 1 is left open
    out = _tensor(_call(fn, x, what="sign_st(x)"), x, "sign_st(x)")
    if not torch.equal(out.detach(), torch.sign(x.detach())):
        raise Wrong("the value of sign_st(x) is not sign(x).")
    (gx,) = torch.autograd.grad(out.sum(), x, allow_unused=True)
    if gx is None:
        raise Wrong("no gradient reaches x.")
    inside = x.detach().abs() < 1
    if not torch.allclose(gx[inside], torch.ones_like(gx[inside])):
        raise Wrong("the derivative is not 1 everywhere inside [−1, 1].")
    if torch.count_nonzero(gx[~inside]) > 0:
        raise Wrong("the derivative is not 0 outside [−1, 1].")


@checker("6.4")
def _quantize(fn: Any) -> None:
    from ..generative.vq import VectorQuantizer

    g = torch.Generator().manual_seed(64)
    for n, k, d, beta in [(50, 8, 3, 0.25), (200, 32, 6, 1.3)]:
        book = torch.randn(k, d, generator=g, dtype=torch.float64)
        z0 = torch.randn(n, d, generator=g, dtype=torch.float64)
        w = torch.randn(n, d, generator=g, dtype=torch.float64)
        ref = VectorQuantizer(k, d, beta).double()
        with torch.no_grad():
            ref.codebook.copy_(book)
        z_ref = z0.clone().requires_grad_()
        zq_ref, loss_ref, codes_ref = ref(z_ref)
        grads_ref = torch.autograd.grad((w * zq_ref).sum() + loss_ref, [z_ref, ref.codebook])

        z = z0.clone().requires_grad_()
        cb = book.clone().requires_grad_()
        out = _call(fn, z, cb, beta, what="quantize(z, codebook, beta)")
        if not isinstance(out, tuple) or len(out) != 3:
            raise Wrong("quantize should return a tuple (z_q, loss, codes).")
        zq, loss, codes = out
        if (
            not torch.is_tensor(codes)
            or codes.shape != codes_ref.shape
            or not torch.equal(codes.long(), codes_ref)
        ):
            raise Wrong("the codes are not the indices of the nearest codebook rows (shape (N,)).")
        if (
            not torch.is_tensor(zq)
            or zq.shape != z.shape
            or not torch.allclose(zq.detach(), zq_ref.detach(), atol=1e-9)
        ):
            raise Wrong("z_q is not the nearest codebook rows.")
        if (
            not torch.is_tensor(loss)
            or loss.numel() != 1
            or not torch.allclose(loss.detach(), loss_ref.detach(), rtol=1e-9)
        ):
            raise Wrong(
                "the loss value is wrong: check the weights and that both terms are means "
                "over all elements."
            )
        gz, gb = torch.autograd.grad((w * zq).sum() + loss, [z, cb], allow_unused=True)
        if gz is None or not torch.allclose(gz, grads_ref[0], rtol=1e-9, atol=1e-12):
            raise Wrong(
                "the gradient with respect to z is wrong (straight-through plus β times the "
                "commitment term)."
            )
        if gb is None or not torch.allclose(gb, grads_ref[1], rtol=1e-9, atol=1e-12):
            raise Wrong(
                "the gradient with respect to the codebook is wrong: it should come from "
                "the codebook term only."
            )


@checker("6.5")
def _perplexity(fn: Any) -> None:
    from ..maths.entropy import perplexity

    def reference(codes: torch.Tensor, k: int) -> float:
        return perplexity(torch.bincount(codes.flatten(), minlength=k))

    g = torch.Generator().manual_seed(65)
    cases = [
        (torch.tensor([0, 0, 1, 2]), 3),
        (torch.tensor([[5, 5], [5, 5]]), 8),
        (torch.randint(0, 16, (7, 7), generator=g), 64),
        (torch.randint(0, 4, (1000,), generator=g) * 3, 12),
    ]
    expect_function(fn, reference, cases, rtol=1e-9, what="perplexity_of")
