"""UniLM-style seq2seq with one Transformer stack, and beam search (chapters 33, 39, 40).

UniLM (Dong et al. 2019; Su Jianlin, "从语言模型到Seq2Seq：Transformer如戏，全靠Mask",
kexue.fm/archives/6933) turns one bidirectional Transformer into a seq2seq model by its
attention mask alone. The input is ``[source ; target]`` with segment ids 0 then 1, and

    position i may attend to j  ⇔  s_j = 0,  or  s_i = 1 and s_j = 1 and j ≤ i

(:func:`unilm_mask`): the source sees itself bidirectionally, the target sees the source and its
own past. Training is teacher forcing: position i predicts token i + 1 wherever token i + 1 is in
the target (:func:`pack_pairs`, :meth:`UniLMSeq2Seq.loss`).

Decoding ranks sequences by the sum of log-probabilities ``Σ_t log p(y_t | y_<t, x)`` with no
length normalisation, as bert4keras's ``AutoRegressiveDecoder.beam_search`` does
(:func:`beam_search`, :func:`beam_search_batch`). Because every term is ≤ 0, a finished
hypothesis that scores at least as well as every open one is final, so the search stops then;
with k = 1 it is greedy decoding, and with k at least the number of candidate sequences it
returns the exact most probable one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import _validate
from .transformer import TransformerBlock

__all__ = [
    "unilm_mask",
    "beam_search",
    "beam_search_batch",
    "pack_pairs",
    "random_replace",
    "UniLMSeq2Seq",
]


def unilm_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """Boolean ``(B, L, L)`` UniLM mask for ``segment_ids`` ``(B, L)`` of 0 (source) and 1
    (target): entry (i, j) is true iff ``s_j = 0``, or ``s_i = s_j = 1`` and ``j ≤ i``."""
    if not torch.is_tensor(segment_ids):
        raise TypeError(f"segment_ids must be a torch.Tensor, got {type(segment_ids).__name__}")
    if segment_ids.ndim != 2 or segment_ids.is_floating_point() or segment_ids.is_complex():
        raise ValueError(
            "segment_ids must be an integer or bool tensor of shape (B, L), got dtype "
            f"{segment_ids.dtype} and shape {tuple(segment_ids.shape)}"
        )
    s = segment_ids.long()
    if ((s != 0) & (s != 1)).any():
        bad = sorted(set(s.unique().tolist()) - {0, 1})
        raise ValueError(f"segment_ids must hold only 0 and 1, got also {bad}")
    length = s.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=s.device).tril()
    src_key = (s == 0)[:, None, :]
    tgt_both = (s == 1)[:, :, None] & (s == 1)[:, None, :]
    return src_key | (tgt_both & causal)


StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_step_output(logp: object, n: int) -> torch.Tensor:
    if not torch.is_tensor(logp) or logp.ndim != 2 or logp.shape[0] != n:
        shape = tuple(logp.shape) if torch.is_tensor(logp) else type(logp).__name__
        raise ValueError(f"step_logprobs must return a tensor (n={n}, vocab), got {shape}")
    return logp.float()


@torch.no_grad()
def beam_search_batch(
    step_logprobs: StepFn, n_examples: int, eos: int, k: int, max_len: int
) -> tuple[list[list[int]], torch.Tensor]:
    """Beam search for ``n_examples`` inputs at once, all beams in one batch.

    ``step_logprobs(rows, generated)`` gets the example index of each open hypothesis,
    ``rows`` ``(n,)``, and its tokens so far, ``generated`` ``(n, t)`` (t = 0 at the first
    step), and returns next-token log-probabilities ``(n, V)``. Each step keeps, per example,
    the k best one-token extensions of its open hypotheses; an extension ending in ``eos``
    is finished. An example stops when its best finished score is ≥ its best open score (later
    tokens can only lower a score) or after ``max_len`` tokens; then its best finished sequence
    is returned (with the ``eos``), or, if none finished, its best open one.

    Returns ``(sequences, scores)``: token lists and their summed log-probabilities.
    """
    n_examples = _validate.positive_int("n_examples", n_examples)
    k = _validate.positive_int("k", k)
    max_len = _validate.positive_int("max_len", max_len)
    eos = _validate.non_negative_int("eos", eos)
    rows = torch.arange(n_examples)
    gen = torch.zeros(n_examples, 0, dtype=torch.long)
    scores = torch.zeros(n_examples)
    best = torch.full((n_examples,), -torch.inf)
    best_seq = torch.zeros(n_examples, max_len, dtype=torch.long)
    best_len = torch.zeros(n_examples, dtype=torch.long)
    for t in range(max_len):
        logp = _check_step_output(step_logprobs(rows, gen), len(rows)).cpu()
        vocab = logp.shape[1]
        if not 0 <= eos < vocab:
            raise ValueError(f"eos must be a token id in [0, {vocab}), got {eos}")
        first = torch.searchsorted(rows, rows, right=False)
        slot = torch.arange(len(rows)) - first
        table = torch.full((n_examples, k, vocab), -torch.inf)
        table[rows, slot] = scores[:, None] + logp
        value, index = table.view(n_examples, -1).topk(min(k, k * vocab), dim=1)
        first_of = torch.zeros(n_examples, dtype=torch.long)
        first_of[rows.flip(0)] = first.flip(0)
        parent = first_of[:, None] + index // vocab
        token = index % vocab
        valid = value > -torch.inf
        ended = valid & (token == eos)
        # best finished candidate per example (values are sorted: the first eos in each row)
        has_end = ended.any(dim=1)
        pos = ended.float().argmax(dim=1)
        end_value = value.gather(1, pos[:, None])[:, 0]
        better = has_end & (end_value > best)
        if better.any():
            ex = better.nonzero()[:, 0]
            src = parent[ex, pos[ex]]
            best[ex] = end_value[ex]
            best_seq[ex, :t] = gen[src]
            best_seq[ex, t] = eos
            best_len[ex] = t + 1
        open_ = valid & ~ended
        top_open = torch.where(open_, value, -torch.inf).max(dim=1).values
        open_ &= (top_open > best)[:, None]
        if t == max_len - 1 or not open_.any():
            # examples with nothing finished fall back to their best open extension
            none = (best == -torch.inf) & open_.any(dim=1)
            if none.any():
                ex = none.nonzero()[:, 0]
                j = torch.where(open_[ex], value[ex], -torch.inf).argmax(dim=1)
                best[ex] = value[ex, j]
                best_seq[ex, :t] = gen[parent[ex, j]]
                best_seq[ex, t] = token[ex, j]
                best_len[ex] = t + 1
            break
        keep = open_.nonzero()
        src = parent[keep[:, 0], keep[:, 1]]
        rows = keep[:, 0]
        gen = torch.cat([gen[src], token[keep[:, 0], keep[:, 1]][:, None]], dim=1)
        scores = value[keep[:, 0], keep[:, 1]]
    seqs = [best_seq[i, : best_len[i]].tolist() for i in range(n_examples)]
    return seqs, best


def beam_search(
    step_logprobs: Callable[[torch.Tensor], torch.Tensor],
    bos: int | Sequence[int],
    eos: int,
    k: int,
    max_len: int,
    *,
    return_score: bool = False,
) -> list[int] | tuple[list[int], float]:
    """The most probable sequence under beam search of width ``k`` (sum of log-probabilities).

    ``step_logprobs(prefixes)`` maps a batch of prefixes ``(n, t)`` (each starting with ``bos``,
    an id or a prompt of ids) to next-token log-probabilities ``(n, V)``. Returns the generated
    tokens after ``bos``, ending with ``eos`` if a finished sequence was found within
    ``max_len`` tokens; with ``return_score=True`` also its log-probability. ``k = 1`` is greedy
    decoding. See :func:`beam_search_batch` for the stopping rule.
    """
    if not callable(step_logprobs):
        raise TypeError(f"step_logprobs must be callable, got {type(step_logprobs).__name__}")
    prompt = [bos] if isinstance(bos, int) else list(bos)
    if not prompt or not all(isinstance(b, int) and b >= 0 for b in prompt):
        raise ValueError(f"bos must be a token id or a non-empty list of ids, got {bos!r}")
    head = torch.tensor(prompt, dtype=torch.long)

    def step(rows: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
        return step_logprobs(torch.cat([head.expand(len(rows), -1), gen], dim=1))

    seqs, scores = beam_search_batch(step, 1, eos, k, max_len)
    return (seqs[0], float(scores[0])) if return_score else seqs[0]


def pack_pairs(
    sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded UniLM batch from token lists: ``(ids, segment_ids, labels)``, each ``(B, L)``.

    Row b is ``sources[b] + targets[b]`` (put the special tokens in yourself, e.g. source =
    ``[CLS] x [SEP]``, target = ``y [SEP]``); segment 0 on the source, 1 on the target and on
    padding. ``labels[b, i]`` is the token at i + 1 where that token belongs to the target, and
    −100 (ignored by ``cross_entropy``) elsewhere: position i predicts target token i + 1.
    """
    if len(sources) != len(targets) or not sources:
        raise ValueError(
            f"sources and targets must be non-empty and of equal length, got {len(sources)} "
            f"and {len(targets)}"
        )
    pad_id = _validate.non_negative_int("pad_id", pad_id)
    if any(len(s) == 0 for s in sources) or any(len(t) == 0 for t in targets):
        raise ValueError("every source and every target must hold at least one token")
    length = max(len(s) + len(t) for s, t in zip(sources, targets, strict=True))
    ids = torch.full((len(sources), length), pad_id, dtype=torch.long)
    seg = torch.ones(len(sources), length, dtype=torch.long)
    labels = torch.full((len(sources), length), -100, dtype=torch.long)
    for b, (s, t) in enumerate(zip(sources, targets, strict=True)):
        ids[b, : len(s) + len(t)] = torch.tensor(list(s) + list(t), dtype=torch.long)
        seg[b, : len(s)] = 0
        labels[b, len(s) - 1 : len(s) + len(t) - 1] = torch.tensor(list(t), dtype=torch.long)
    return ids, seg, labels


def random_replace(
    ids: torch.Tensor,
    mask: torch.Tensor,
    *,
    p_sample: float = 0.5,
    p_token: float = 0.3,
    pool: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Corrupt decoder inputs by random replacement (chapters 33 and 40).

    Each row is chosen with probability ``p_sample`` (one draw per row); in a chosen row each
    position where ``mask`` is true is replaced with probability ``p_token`` by a token drawn
    uniformly from the positions of the same row where ``pool`` is true (default: ``mask``).
    A position is therefore replaced with probability ``p_sample·p_token`` (0.15 for the
    article's 0.5 and 0.3), and a draw may return the original token. Returns a new tensor;
    the labels are not touched (train on the original next tokens).
    """
    if not torch.is_tensor(ids) or ids.ndim != 2 or ids.is_floating_point():
        raise ValueError(f"ids must be an integer tensor (B, L), got {ids!r:.60}")
    pool = mask if pool is None else pool
    for name, m in (("mask", mask), ("pool", pool)):
        if not torch.is_tensor(m) or m.dtype != torch.bool or m.shape != ids.shape:
            raise ValueError(f"{name} must be a bool tensor of shape {tuple(ids.shape)}")
    p_sample = _validate.in_range("p_sample", p_sample, 0.0, 1.0)
    p_token = _validate.in_range("p_token", p_token, 0.0, 1.0)
    b, length = ids.shape
    rows = torch.rand(b, 1, generator=generator, device=ids.device) < p_sample
    hit = rows & mask & (torch.rand(b, length, generator=generator, device=ids.device) < p_token)
    hit &= pool.any(dim=1, keepdim=True)
    weights = pool.float() + (~pool.any(dim=1, keepdim=True)).float()  # empty pools: unused
    src = torch.multinomial(weights, length, replacement=True, generator=generator)
    return torch.where(hit, ids.gather(1, src), ids)


class UniLMSeq2Seq(nn.Module):
    """One Transformer stack used as seq2seq through :func:`unilm_mask` (chapters 33, 39, 40).

    Token + learned position + segment embeddings, ``n_layers`` :class:`TransformerBlock`
    (``norm="pre"`` by default: trains from scratch without warm-up; ``"post"`` is BERT's),
    a final LayerNorm (pre-norm only) and an output layer tied to the token embedding.
    ``forward(ids, segment_ids)`` returns logits ``(B, L, V)``; positions holding ``pad_id``
    are never attended to, and positions count non-pad tokens, so left- and right-padded
    batches give the same logits.
    """

    def __init__(
        self,
        vocab_size: int,
        d: int = 128,
        n_layers: int = 3,
        n_heads: int = 4,
        ffn: int | None = None,
        max_len: int = 256,
        *,
        norm: str = "pre",
        dropout: float = 0.0,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size = _validate.int_at_least("vocab_size", vocab_size, 2)
        self.max_len = _validate.positive_int("max_len", max_len)
        self.pad_id = _validate.non_negative_int("pad_id", pad_id)
        self.tok = nn.Embedding(vocab_size, d)
        self.pos = nn.Embedding(max_len, d)
        self.seg = nn.Embedding(2, d)
        self.blocks = nn.ModuleList(
            TransformerBlock(d, n_heads, ffn, norm=norm, dropout=dropout) for _ in range(n_layers)
        )
        self.ln = nn.LayerNorm(d) if norm == "pre" else nn.Identity()
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        for emb in (self.tok, self.pos, self.seg):  # one scale: no part drowns the others
            nn.init.normal_(emb.weight, std=0.02)

    def forward(self, ids: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(ids, segment_ids))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Token logits from :meth:`features`: the tied output layer plus a bias."""
        return features @ self.tok.weight.T + self.bias

    def features(self, ids: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
        """Final hidden states ``(B, L, d)`` (after the last LayerNorm), for extra heads."""
        if ids.shape != segment_ids.shape or ids.ndim != 2:
            raise ValueError(
                f"ids and segment_ids must both be (B, L), got {tuple(ids.shape)} and "
                f"{tuple(segment_ids.shape)}"
            )
        real = ids != self.pad_id
        pos = (real.long().cumsum(1) - 1).clamp(min=0)
        if int(pos.max()) >= self.max_len:
            raise ValueError(f"sequences longer than max_len={self.max_len} tokens")
        mask = unilm_mask(segment_ids) & real[:, None, :]
        eye = torch.eye(ids.shape[1], dtype=torch.bool, device=ids.device)
        mask = mask | (~real[:, :, None] & eye)  # a pad query attends to itself only
        h = self.tok(ids) + self.pos(pos) + self.seg(segment_ids.long())
        for block in self.blocks:
            h = block(h, mask)
        return self.ln(h)

    def loss(
        self, ids: torch.Tensor, segment_ids: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced cross-entropy over the target tokens of a :func:`pack_pairs` batch."""
        logits = self(ids, segment_ids)
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        eos: int,
        *,
        k: int = 1,
        max_len: int = 32,
        batch_size: int = 512,
    ) -> list[list[int]]:
        """Decode every prompt (the source with its special tokens) by beam search of width
        ``k`` (k = 1: greedy), all examples of a chunk and their beams in one batch. Returns
        the generated tokens, ending with ``eos`` when finished."""
        self.eval()
        device = self.tok.weight.device
        out: list[list[int]] = []
        for lo in range(0, len(prompts), batch_size):
            chunk = prompts[lo : lo + batch_size]
            width = max(len(p) for p in chunk)
            left = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            for b, p in enumerate(chunk):
                left[b, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
            left = left.to(device)

            def step(rows: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
                ids = torch.cat([left[rows.to(device)], gen.to(device)], dim=1)
                seg = torch.zeros_like(ids)
                seg[:, width:] = 1
                return torch.log_softmax(self(ids, seg)[:, -1].float(), dim=-1)

            seqs, _ = beam_search_batch(step, len(chunk), eos, k, max_len)
            out.extend(seqs)
        return out
