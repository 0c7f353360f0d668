"""A tiny GPT with three block layouts, and bert4keras-style sampling (chapter 37).

Blocks (``LN`` = LayerNorm, ``FFN(z) = W₂ gelu(W₁z + b₁) + b₂``):

* ``style="bert"`` (post-LN): ``h = LN(x + Att(x))``, ``y = LN(h + FFN(h))``;
* ``style="gpt2"`` (pre-LN, OpenAI GPT-2): ``h = x + Att(LN(x))``, ``y = h + FFN(LN(h))``,
  and one more LN after the last block;
* ``style="gpt2_ml"`` (GPT2_ML, i.e. Grover's block): ``h = x + Att(x)``,
  ``y = LN₁(h + FFN(LN₀(h)))``, with an LN right after the token + position embeddings
  (as BERT has too).

The first two reuse :class:`~kexue_lab.sequences.transformer.TransformerBlock`; only the
GPT2_ML layout is new here. All three tie the output layer to the token embedding, with no output
bias: ``logits_t = y_t Eᵀ``. :func:`sample` is bert4keras's ``AutoRegressiveDecoder.random_sample``
(temperature, then top-k, then top-p, an end token that stops a row once ``min_len`` tokens are
out), for any causal LM whose call returns logits or an object with ``.logits``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import _validate
from ..maths.entropy import entropy
from .transformer import MultiHeadAttention, TransformerBlock

__all__ = [
    "STYLES",
    "GPT2MLBlock",
    "TinyGPT",
    "causal_mask",
    "param_count",
    "filter_probs",
    "sample",
]

STYLES = ("bert", "gpt2", "gpt2_ml")


def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``(n, n)`` boolean mask ``M_ij = [j ≤ i]``: position i sees positions 0..i only."""
    n = _validate.positive_int("n", n)
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


class GPT2MLBlock(nn.Module):
    """GPT2_ML's (Grover's) block: ``h = x + Att(x)``, ``y = LN₁(h + FFN(LN₀(h)))``.

    The attention sees the un-normalised residual stream; the FFN sees ``LN₀(h)``; the output
    is normalised (as in BERT) but the second skip connection carries ``h`` from *before* the
    normalisation (chapter 37, §1)."""

    def __init__(self, d: int, n_heads: int, ffn: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        ffn = 4 * d if ffn is None else _validate.positive_int("ffn", ffn)
        self.attn = MultiHeadAttention(d, n_heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d, ffn), nn.GELU(), nn.Linear(ffn, d))
        self.ln0, self.ln1 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = x + self.drop(self.attn(x, mask))
        return self.ln1(h + self.drop(self.ff(self.ln0(h))))


class TinyGPT(nn.Module):
    """A decoder-only language model: ids ``(B, T)`` → next-token logits ``(B, T, vocab)``.

    ``style`` picks the block (``"bert"``, ``"gpt2"``, ``"gpt2_ml"``, see the module docstring).
    Causal: the logits at t depend on ids[:, :t+1] only. Embeddings are initialised with
    N(0, 0.02²) (GPT's choice); the output layer is the transposed token embedding."""

    def __init__(
        self,
        vocab: int,
        d: int,
        n_layers: int,
        n_heads: int,
        ffn: int | None = None,
        max_len: int = 128,
        style: str = "gpt2_ml",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.vocab = _validate.positive_int("vocab", vocab)
        d = _validate.positive_int("d", d)
        n_layers = _validate.positive_int("n_layers", n_layers)
        self.max_len = _validate.positive_int("max_len", max_len)
        self.style = _validate.choice("style", style, STYLES)
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)
        self.ln = nn.LayerNorm(d)  # after the embeddings (bert, gpt2_ml) or the stack (gpt2)
        if style == "gpt2_ml":
            blocks = [GPT2MLBlock(d, n_heads, ffn, dropout) for _ in range(n_layers)]
        else:
            norm = "post" if style == "bert" else "pre"
            blocks = [
                TransformerBlock(d, n_heads, ffn, norm=norm, dropout=dropout)
                for _ in range(n_layers)
            ]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(ids) or ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"ids must be an integer tensor (B, T), got {type(ids).__name__}")
        if ids.ndim != 2 or not 1 <= ids.shape[1] <= self.max_len:
            raise ValueError(
                f"ids must have shape (B, T) with 1 <= T <= max_len={self.max_len}, "
                f"got {tuple(ids.shape)}"
            )
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab):
            raise ValueError(f"ids must lie in [0, vocab={self.vocab}), got a value outside")
        b, t = ids.shape
        x = self.tok(ids) + self.pos(torch.arange(t, device=ids.device))
        if self.style != "gpt2":
            x = self.ln(x)
        mask = causal_mask(t, ids.device).expand(b, t, t)
        for block in self.blocks:
            x = block(x, mask)
        if self.style == "gpt2":
            x = self.ln(x)
        return x @ self.tok.weight.T


def param_count(vocab: int, d: int, n_layers: int, ffn: int, max_len: int) -> int:
    """Parameters of :class:`TinyGPT` (any style) and of the GPT2_ML checkpoint, in closed form:

    ``N = Vd + Pd + 2d + L[4(d² + d) + (d·f + f) + (f·d + d) + 4d]``

    (token and position embeddings, one extra LN; per block Q, K, V, O with biases, the two FFN
    layers, two LNs; the output layer is tied). Chapter 37, §2."""
    v, dd, layers, f, p = (
        _validate.positive_int(name, value)
        for name, value in [("vocab", vocab), ("d", d), ("n_layers", n_layers), ("ffn", ffn)]
        + [("max_len", max_len)]
    )
    block = 4 * (dd * dd + dd) + (dd * f + f) + (f * dd + dd) + 4 * dd
    return v * dd + p * dd + 2 * dd + layers * block


# ---- sampling ------------------------------------------------------------------------------


def filter_probs(
    logits: torch.Tensor,
    top_k: int | None = None,
    top_p: float | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """The distribution bert4keras samples from, along the last axis:

    ``p ∝ softmax(logits / T)``; top-k keeps the k largest and renormalises; top-p then sorts
    them in decreasing order and keeps tokens up to *and including* the first one where the
    cumulative probability reaches ``top_p``, and renormalises. Chapter 37, §4."""
    if not torch.is_tensor(logits) or not logits.is_floating_point() or logits.ndim == 0:
        raise TypeError(f"logits must be a floating-point tensor, got {type(logits).__name__}")
    temperature = _validate.positive("temperature", temperature)
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    if top_k is not None:
        k = min(_validate.positive_int("top_k", top_k), probs.shape[-1])
        kth = probs.topk(k, dim=-1).indices
        keep = torch.zeros_like(probs, dtype=torch.bool).scatter_(-1, kth, True)
        probs = torch.where(keep, probs, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    if top_p is not None:
        top_p = _validate.in_range("top_p", top_p, 0.0, 1.0)
        if top_p == 0.0:
            raise ValueError("top_p must lie in (0, 1], got 0.0")
        ordered, order = probs.sort(dim=-1, descending=True)
        reached = ordered.cumsum(-1) >= top_p
        drop = torch.zeros_like(reached)
        drop[..., 1:] = reached[..., :-1]  # drop everything after the first crossing
        ordered = torch.where(drop, 0.0, ordered)
        probs = torch.zeros_like(probs).scatter_(-1, order, ordered)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def _last_logits(model: Callable[..., Any], ids: torch.Tensor) -> torch.Tensor:
    out = model(ids)
    out = getattr(out, "logits", out)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not torch.is_tensor(out) or out.ndim != 3 or out.shape[:2] != ids.shape:
        raise TypeError(
            "model(ids) must return logits (B, T, vocab) or an object with .logits, got "
            f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}"
        )
    return out[:, -1].float()


def _device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


def sample(
    model: Callable[..., Any],
    prompt_ids: Sequence[int] | torch.Tensor,
    n: int,
    top_k: int | None = None,
    top_p: float | None = None,
    temperature: float = 1.0,
    end_id: int | None = None,
    min_len: int = 1,
    max_len: int = 64,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """``n`` random continuations of one prompt, all ``n`` in one batch (bert4keras
    ``random_sample``, chapter 37, §4).

    Each step re-runs the model on prompt + generated tokens (no cache), takes the last
    position's logits and samples from :func:`filter_probs`. A row stops when it emits
    ``end_id`` and has at least ``min_len`` tokens (an earlier ``end_id`` does not stop it), or
    at ``max_len`` tokens. Returns the generated ids of each row (the end token included),
    in row order. ``top_k=1`` is greedy decoding. ``model`` is any callable mapping ids
    ``(B, T)`` to logits ``(B, T, V)`` or to an object with ``.logits`` (a ``transformers``
    causal LM); ``generator`` is a CPU ``torch.Generator`` (sampling happens on the CPU)."""
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model).__name__}")
    n = _validate.positive_int("n", n)
    max_len = _validate.positive_int("max_len", max_len)
    min_len = _validate.positive_int("min_len", min_len)
    if min_len > max_len:
        raise ValueError(f"min_len must be <= max_len={max_len}, got {min_len}")
    if end_id is not None:
        end_id = _validate.non_negative_int("end_id", end_id)
    prompt = torch.as_tensor(prompt_ids).long().flatten()
    if prompt.numel() == 0:
        raise ValueError("prompt_ids must hold at least one token")
    filter_probs(torch.zeros(2), top_k, top_p, temperature)  # check the knobs before running
    device, was_training = _device(model), getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    out = torch.zeros(n, max_len, dtype=torch.long)
    lengths = torch.full((n,), max_len, dtype=torch.long)
    alive = torch.arange(n)
    with torch.no_grad():
        for step in range(max_len):
            ids = torch.cat([prompt.expand(len(alive), -1), out[alive, :step]], dim=1)
            logits = _last_logits(model, ids.to(device)).cpu()
            probs = filter_probs(logits, top_k, top_p, temperature)
            nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            out[alive, step] = nxt
            if end_id is not None and step + 1 >= min_len:
                done = nxt == end_id
                lengths[alive[done]] = step + 1
                alive = alive[~done]
                if len(alive) == 0:
                    break
    if was_training and hasattr(model, "train"):
        model.train()
    return [out[i, : lengths[i]].tolist() for i in range(n)]


# ---- a source with a known entropy rate ------------------------------------------------------


def markov_chain(n_symbols: int, order: int, alpha: float, seed: int) -> np.ndarray:
    """A random order-k Markov chain over ``n_symbols``: ``P[s, c] = P(c | context s)``, one
    Dirichlet(α) row per context ``s = Σ_j x_{t−k+j} n^{k−1−j}`` (oldest symbol first)."""
    n = _validate.int_at_least("n_symbols", n_symbols, 2)
    k = _validate.positive_int("order", order)
    alpha = _validate.positive("alpha", alpha)
    rng = np.random.default_rng(_validate.non_negative_int("seed", seed))
    return rng.dirichlet(np.full(n, alpha), size=n**k)


def _check_chain(P: Any) -> tuple[np.ndarray, int, int]:
    P = _validate.real_array("P", P)
    if P.ndim != 2 or P.shape[1] < 2 or np.any(P < 0) or not np.allclose(P.sum(1), 1.0):
        raise ValueError(f"P must be a (n^order, n) row-stochastic matrix, got shape {P.shape}")
    n, contexts = P.shape[1], P.shape[0]
    order = round(np.log(contexts) / np.log(n))
    if n**order != contexts:
        raise ValueError(f"P must have n^order rows for n={n} symbols, got {contexts}")
    return P, n, order


def stationary(P: Any) -> np.ndarray:
    """Stationary distribution π over the n^k contexts of the chain ``P``: the solution of
    ``π T = π``, ``Σπ = 1`` with ``T[s, (s·n mod n^k) + c] = P[s, c]`` (assumes it is unique)."""
    P, n, _ = _check_chain(P)
    s = P.shape[0]
    T = np.zeros((s, s))
    nxt = (np.arange(s)[:, None] * n) % s + np.arange(n)[None, :]
    np.add.at(T, (np.repeat(np.arange(s), n), nxt.ravel()), P.ravel())
    A = np.vstack([T.T - np.eye(s), np.ones((1, s))])
    b = np.zeros(s + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()


def entropy_rate(P: Any, pi: Any | None = None) -> float:
    """Entropy rate of a stationary order-k chain, ``H = −Σ_s π_s Σ_c P_sc log P_sc`` (nats):
    the lowest expected per-token cross-entropy any model can reach on its output."""
    P, _, _ = _check_chain(P)
    pi = stationary(P) if pi is None else _validate.real_array("pi", pi)
    if pi.shape != (P.shape[0],):
        raise ValueError(f"pi must have shape ({P.shape[0]},), got {pi.shape}")
    return float(pi @ entropy(P))


def markov_sample(P: Any, n_seq: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``(n_seq, length)`` token ids from the chain ``P`` started in its stationary
    distribution (the first k tokens are a context drawn from π); all rows in one batch."""
    P, n, k = _check_chain(P)
    n_seq = _validate.positive_int("n_seq", n_seq)
    length = _validate.int_at_least("length", length, k + 1, "at least order + 1")
    probs, s = torch.as_tensor(P), P.shape[0]
    state = torch.multinomial(torch.as_tensor(stationary(P)), n_seq, True, generator=generator)
    ids = torch.empty(n_seq, length, dtype=torch.long)
    for j in range(k):
        ids[:, j] = (state // n ** (k - 1 - j)) % n
    for t in range(k, length):
        ids[:, t] = torch.multinomial(probs[state], 1, generator=generator)[:, 0]
        state = (state * n) % s + ids[:, t]
    return ids


def markov_logits(P: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """The chain itself as a language model: ids ``(B, T)`` → ``log P(· | last k ids)``
    ``(B, T, n)`` (uniform where fewer than k ids are known). A model whose next-token
    distributions are known exactly, for testing :func:`sample`."""
    P, n, k = _check_chain(P)
    logp = torch.as_tensor(np.log(np.clip(P, 1e-300, None)))

    def model(ids: torch.Tensor) -> torch.Tensor:
        b, t = ids.shape
        out = torch.full((b, t, n), -float(np.log(n)), dtype=torch.float64)
        state = torch.zeros(b, t - k + 1, dtype=torch.long) if t >= k else None
        if state is not None:
            for j in range(k):
                state = state * n + ids[:, j : t - k + 1 + j]
            out[:, k - 1 :] = logp[state]
        return out

    return model


def markov_nll(P: Any, ids: torch.Tensor) -> float:
    """Mean ``−log P(x_t | x_{t−k..t−1})`` over positions t ≥ k: the true chain's own loss on
    these tokens (its expectation is the entropy rate)."""
    _, _, k = _check_chain(P)
    logp = markov_logits(P)(ids)[:, k - 1 : -1]
    return float(-logp.gather(-1, ids[:, k:, None]).mean())


def lm_loss(logits: torch.Tensor, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
    """Next-token cross-entropy ``−mean log p(x_{t+1} | x_{≤t})`` over targets t+1 > start."""
    return F.cross_entropy(
        logits[:, start:-1].reshape(-1, logits.shape[-1]), ids[:, start + 1 :].reshape(-1)
    )
