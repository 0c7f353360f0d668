"""Contrastive learning with gradient accumulation (chapter 21, kexue.fm/archives/8471).

The two-view InfoNCE loss of a batch of N pairs (x1ᵢ, x2ᵢ) with embeddings h1 = f(x1), h2 = f(x2):

    s_ij = cos(h1ᵢ, h2ⱼ)/τ,    P_ij = softmax_j(s_ij),    L = (1/N) Σᵢ [log Σⱼ e^{s_ij} − s_ii].

Each term depends on the whole batch through the softmax denominator, so the sum of the losses of
two half batches is not the loss of the whole batch, and ordinary gradient accumulation
(:func:`naive_accumulation_backward`) does not emulate a large batch. The article's remedy: once
the embeddings are known, ∇_θ L = ∇_θ Σᵢ (⟨h1ᵢ, g1ᵢ⟩ + ⟨h2ᵢ, g2ᵢ⟩) with the *label vectors*
gᵢ = ∂L/∂hᵢ held fixed (:func:`label_vectors`). That surrogate is a sum over examples, so it can be
back-propagated chunk by chunk (:func:`cached_contrastive_backward`), at the price of one extra
no-grad forward pass. :class:`ActivationMeter` measures what the encoder keeps for backward.
The chapter's exploration lives in :mod:`kexue_lab.views.ch21`.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from .. import _validate


# ---- checks --------------------------------------------------------------------------------------
def _pair(h1: Any, h2: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two embedding matrices: floating tensors of the same shape (N, d), N >= 2, finite."""
    for name, h in (("h1", h1), ("h2", h2)):
        if not torch.is_tensor(h):
            raise TypeError(
                f"{name} must be a torch tensor of shape (N, d), got {type(h).__name__}"
            )
        if not h.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {h.dtype}")
        if h.dim() != 2:
            raise ValueError(f"{name} must have shape (N, d), got shape {tuple(h.shape)}")
        if h.shape[0] < 2:
            raise ValueError(
                f"{name} has {h.shape[0]} row(s); a contrastive batch needs N >= 2 "
                "(with N = 1 there are no negatives and the loss is 0)"
            )
        if not bool(torch.isfinite(h).all()):
            raise ValueError(f"{name} contains NaN or infinite entries; allowed: finite values")
    if h1.shape != h2.shape:
        raise ValueError(
            f"h1 and h2 must have the same shape, got {tuple(h1.shape)} and {tuple(h2.shape)}"
        )
    return h1, h2


def _inputs(x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor]:
    for name, x in (("x1", x1), ("x2", x2)):
        if not torch.is_tensor(x):
            raise TypeError(f"{name} must be a torch tensor (a batch), got {type(x).__name__}")
        if x.dim() < 1 or x.shape[0] < 2:
            raise ValueError(f"{name} must hold a batch of N >= 2 examples, got {tuple(x.shape)}")
    if x1.shape[0] != x2.shape[0]:
        raise ValueError(
            f"x1 and x2 must hold the same number of examples, got {x1.shape[0]} and {x2.shape[0]}"
        )
    return x1, x2


def _encoder(encoder: Any, name: str = "encoder") -> torch.nn.Module:
    if not isinstance(encoder, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(encoder).__name__}")
    return encoder


# ---- the loss and its embedding gradients --------------------------------------------------------
def contrastive_loss(h1: torch.Tensor, h2: torch.Tensor, tau: float) -> torch.Tensor:
    """InfoNCE of two views (chapter 21): L = (1/N) Σᵢ [log Σⱼ e^{s_ij} − s_ii].

    s_ij = cos(h1ᵢ, h2ⱼ)/τ; the positive of row i is column i and the other N − 1 columns of the
    batch are its negatives, so this is the mean over i of the cross-entropy of
    softmax_j(s_ij) with target j = i. ``h1``, ``h2``: floating tensors of shape (N, d), N >= 2;
    ``tau`` > 0. Differentiable; returns a 0-dim tensor.
    """
    h1, h2 = _pair(h1, h2)
    tau = _validate.positive("tau", tau)
    z1 = torch.nn.functional.normalize(h1, dim=1)
    z2 = torch.nn.functional.normalize(h2, dim=1)
    s = z1 @ z2.T / tau
    return (torch.logsumexp(s, dim=1) - s.diagonal()).mean()


def label_vectors(
    h1: torch.Tensor, h2: torch.Tensor, tau: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The label vectors g1 = ∂L/∂h1, g2 = ∂L/∂h2 of :func:`contrastive_loss` (chapter 21).

    In closed form, with zᵢ = hᵢ/‖hᵢ‖ and E = P − I (P = softmax of s along rows):

        ∂L/∂z1 = E z2/(Nτ),    ∂L/∂z2 = Eᵀ z1/(Nτ),    ∂L/∂h = (I − z zᵀ)(∂L/∂z)/‖h‖.

    They are the article's h̃ (its eq. for h̃ᵢ, two-view form): computed without a graph, they
    turn the loss into a sum of per-example terms ⟨hᵢ, gᵢ⟩ with the same gradient.
    Returns detached tensors of the shape of ``h1``.
    """
    h1, h2 = _pair(h1, h2)
    tau = _validate.positive("tau", tau)
    with torch.no_grad():
        n = h1.shape[0]
        r1, r2 = h1.norm(dim=1, keepdim=True), h2.norm(dim=1, keepdim=True)
        if bool((r1 == 0).any()) or bool((r2 == 0).any()):
            raise ValueError("h1 and h2 must have no zero rows: the cosine is undefined there")
        z1, z2 = h1 / r1, h2 / r2
        e = torch.softmax(z1 @ z2.T / tau, dim=1)
        e.diagonal().sub_(1.0)
        d1, d2 = e @ z2 / (n * tau), e.T @ z1 / (n * tau)
        g1 = (d1 - z1 * (z1 * d1).sum(1, keepdim=True)) / r1
        g2 = (d2 - z2 * (z2 * d2).sum(1, keepdim=True)) / r2
    return g1, g2


# ---- accumulation --------------------------------------------------------------------------------
def _chunks(n: int, chunk: int) -> list[slice]:
    return [slice(k, min(k + chunk, n)) for k in range(0, n, chunk)]


def _rng_state() -> tuple[torch.Tensor, list[torch.Tensor]]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[torch.Tensor, list[torch.Tensor]]) -> None:
    torch.set_rng_state(state[0])
    if state[1]:
        torch.cuda.set_rng_state_all(state[1])


def cached_contrastive_backward(
    encoder: torch.nn.Module,
    x1: torch.Tensor,
    x2: torch.Tensor,
    tau: float,
    chunk: int,
    *,
    replay_rng: bool = False,
) -> torch.Tensor:
    """Accumulate into ``encoder``'s ``.grad`` the exact gradient of the big-batch loss (ch. 21).

    The gradient added is that of ``contrastive_loss(encoder(x1), encoder(x2), tau)`` over all
    N examples, while the encoder never runs on more than ``chunk`` examples at once:

    1. no-grad forward of x1 and x2, ``chunk`` examples at a time → h1, h2 (no graph kept);
    2. label vectors g1, g2 = ∂L/∂h1, ∂L/∂h2 (:func:`label_vectors`);
    3. per chunk: forward with grad and backward of Σᵢ ⟨f(xᵢ), gᵢ⟩ (the article's surrogate).

    The cost is one extra forward pass; the activations kept for backward are those of one chunk.
    Like ordinary accumulation, gradients are *added* to ``.grad`` (zero them before).
    Returns the big-batch loss value (detached): unlike the surrogate's value, it can be logged.

    The encoder must act on each example separately (no BatchNorm in training mode: batch
    statistics couple the examples) and be deterministic. **Dropout** draws a new mask in step 3,
    different from the one behind h1, h2 of step 1; the result is then *not* the gradient of any
    one forward pass (the article's caveat). ``replay_rng=True`` saves the random-number state
    before each chunk's forward in step 1 and restores it in step 3 (GradCache's fix), so both
    passes draw the same masks and the gradient is that of the big batch with the step-1 masks.
    """
    encoder = _encoder(encoder)
    x1, x2 = _inputs(x1, x2)
    tau = _validate.positive("tau", tau)
    chunk = _validate.positive_int("chunk", chunk)
    slices = _chunks(x1.shape[0], chunk)
    states: list[tuple[torch.Tensor, list[torch.Tensor]]] = []
    h: list[list[torch.Tensor]] = [[], []]
    with torch.no_grad():
        for side, x in enumerate((x1, x2)):
            for sl in slices:
                states.append(_rng_state())
                h[side].append(encoder(x[sl]))
    h1, h2 = torch.cat(h[0]), torch.cat(h[1])
    loss = contrastive_loss(h1, h2, tau)
    g1, g2 = label_vectors(h1, h2, tau)
    after = _rng_state()
    k = 0
    for x, g in ((x1, g1), (x2, g2)):
        for sl in slices:
            if replay_rng:
                _set_rng_state(states[k])
            k += 1
            (encoder(x[sl]) * g[sl]).sum().backward()  # ∇ Σᵢ ⟨hᵢ, gᵢ⟩ over the chunk
    if replay_rng:
        _set_rng_state(after)
    return loss.detach()


def naive_accumulation_backward(
    encoder: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor, tau: float, chunk: int
) -> torch.Tensor:
    """Ordinary gradient accumulation of the contrastive loss (chapter 21): the wrong way.

    Adds to ``.grad`` Σ_k (n_k/N)·∇L_k, where L_k is :func:`contrastive_loss` of chunk k alone
    (n_k pairs, negatives only from the same chunk). With ``chunk >= N`` this is the big-batch
    gradient; otherwise it is not, because each chunk's softmax sees only its own negatives.
    Returns Σ_k (n_k/N)·L_k (detached). Chunks of a single pair have zero loss and gradient.
    """
    encoder = _encoder(encoder)
    x1, x2 = _inputs(x1, x2)
    tau = _validate.positive("tau", tau)
    chunk = _validate.positive_int("chunk", chunk)
    n, parts = x1.shape[0], []
    for sl in _chunks(n, chunk):
        if sl.stop - sl.start < 2:
            continue  # one pair: softmax over a single column, loss 0, gradient 0
        part = contrastive_loss(encoder(x1[sl]), encoder(x2[sl]), tau) * (sl.stop - sl.start) / n
        part.backward()
        parts.append(part.detach())
    return torch.stack(parts).sum() if parts else torch.zeros(())


def grad_vector(module: torch.nn.Module) -> torch.Tensor:
    """All parameter gradients of ``module`` as one flat vector (zeros where ``.grad`` is None)."""
    module = _encoder(module, "module")
    parts = [
        (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
        for p in module.parameters()
    ]
    if not parts:
        raise ValueError("module has no parameters")
    return torch.cat(parts)


# ---- measuring memory ----------------------------------------------------------------------------
class _Held:
    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


class ActivationMeter:
    """Count what autograd keeps alive for backward, and the largest batch an encoder sees (ch. 21).

    Inside ``with ActivationMeter(encoder) as meter:`` every tensor that autograd saves for
    backward passes through a hook (``torch.autograd.graph.saved_tensors_hooks``). The meter adds
    its bytes (numel × element size) while the graph holding it is alive (each tensor counted
    once, by its data pointer; the encoder's own parameters excluded; a slice of the input counts
    as its own size, though it keeps the whole input alive) and records the peak,
    ``meter.peak_bytes``. A forward pre-hook records ``meter.max_batch``, the largest leading
    dimension of the encoder's input, and ``meter.examples``, the number of examples it forwarded
    in all (with or without grad). This measures the activation memory of autograd (the
    encoder's and the loss's, everything saved inside the ``with`` block), not the allocator's
    total: no weights, gradients, optimizer state or temporaries freed during the forward pass.
    """

    def __init__(self, encoder: torch.nn.Module) -> None:
        self.encoder = _encoder(encoder)
        self.peak_bytes = 0
        self.live_bytes = 0
        self.max_batch = 0
        self.examples = 0
        self._refs: dict[int, int] = {}
        self._params = {p.untyped_storage().data_ptr() for p in encoder.parameters()}

    def _release(self, key: int, nbytes: int) -> None:
        self._refs[key] -= 1
        if self._refs[key] == 0:
            del self._refs[key]
            self.live_bytes -= nbytes

    def _pack(self, t: torch.Tensor) -> Any:
        if t.untyped_storage().data_ptr() in self._params:
            return t
        held, key, nbytes = _Held(t), t.data_ptr(), t.numel() * t.element_size()
        if key not in self._refs:
            self._refs[key] = 0
            self.live_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        self._refs[key] += 1
        weakref.finalize(held, self._release, key, nbytes)
        return held

    @staticmethod
    def _unpack(obj: Any) -> torch.Tensor:
        return obj.tensor if isinstance(obj, _Held) else obj

    def _see(self, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        if args and torch.is_tensor(args[0]) and args[0].dim() > 0:
            self.max_batch = max(self.max_batch, int(args[0].shape[0]))
            self.examples += int(args[0].shape[0])

    def __enter__(self) -> ActivationMeter:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        self._handle = self.encoder.register_forward_pre_hook(self._see)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.remove()
        self._hooks.__exit__(*exc)
