"""Chapter 35: the article's dilated residual Conv1D, its two-stage training and saliency maps.

Article (基于Conv1D的光谱分类模型, kexue.fm/archives/5505), section "Code":

* ``BLOCK(seq, f)``: three Conv1D(2f, kernel 3, ReLU) at dilation rates 1, 2, 4, each followed by
  the sum of its two channel halves (``x[:, :, :f] + x[:, :, f:]``); a 1×1 convolution on the
  skip path when the channel count changes; output ``seq + cnn`` (:class:`DilatedBlock`);
* the network: blocks of widths 16, 16, 32, 32, 64, 64, 128, 128 with MaxPooling1D(2) between
  them, dropout 0.5 that drops whole positions, global max pooling, Dense(128, ReLU), Dense(4)
  (:class:`SpectraCNN`);
* section "Training": Adam(1e-3) with cross-entropy, then Adam(1e-4) with ``score_loss`` =
  −log(soft macro F1 + ε) (:func:`score_loss`, :func:`train_two_stage`), batches drawn with fixed
  class fractions (0.8, 0.1, 0.05, 0.05) of 160 (:func:`stratified_batches`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _validate
from ..losses.reweighting import soft_macro_f1
from .dgcnn import receptive_field as stride1_receptive_field

#: The article's block widths (section "Code").
ARTICLE_WIDTHS = (16, 16, 32, 32, 64, 64, 128, 128)


class DilatedBlock(nn.Module):
    """The article's BLOCK: 3 × [Conv1D(2f, k=3, dilation r) → ReLU → sum of halves], r = 1, 2, 4,
    plus the input (through a 1×1 convolution when its channel count is not f)."""

    def __init__(self, c_in: int, filters: int, dilations: tuple[int, ...] = (1, 2, 4)) -> None:
        super().__init__()
        c_in = _validate.positive_int("c_in", c_in)
        self.filters = _validate.positive_int("filters", filters)
        chans = [c_in] + [self.filters] * len(dilations)
        self.convs = nn.ModuleList(
            nn.Conv1d(a, 2 * self.filters, 3, padding=r, dilation=r)
            for a, r in zip(chans[:-1], [_validate.positive_int("dilation", d) for d in dilations])
        )
        self.skip = nn.Conv1d(c_in, self.filters, 1) if c_in != self.filters else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for conv in self.convs:
            h = torch.relu(conv(h))
            h = h[:, : self.filters] + h[:, self.filters :]
        return self.skip(x) + h


class SpectraCNN(nn.Module):
    """The article's spectrum classifier on (N, L) or (N, 1, L) input; returns (N, C) logits.

    ``pool="avg"`` replaces max pooling by average pooling everywhere (for receptive-field
    counting: max pooling routes the gradient to one input per window).
    """

    def __init__(
        self,
        widths: tuple[int, ...] = ARTICLE_WIDTHS,
        n_classes: int = 4,
        hidden: int = 128,
        dropout: float = 0.5,
        pool: str = "max",
    ) -> None:
        super().__init__()
        if len(widths) == 0:
            raise ValueError("widths must name at least one block width, got ()")
        self.pool = _validate.choice("pool", pool, ("max", "avg"))
        self.dropout = _validate.in_range("dropout", dropout, 0.0, 0.99)
        n_classes = _validate.int_at_least("n_classes", n_classes, 2)
        hidden = _validate.positive_int("hidden", hidden)
        c_in = [1] + list(widths[:-1])
        self.blocks = nn.ModuleList(DilatedBlock(a, f) for a, f in zip(c_in, widths))
        self.head = nn.Sequential(
            nn.Linear(widths[-1], hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's output (N, widths[-1], L / 2^(B−1)), before dropout and pooling."""
        h = x.unsqueeze(1) if x.ndim == 2 else x
        down = nn.functional.max_pool1d if self.pool == "max" else nn.functional.avg_pool1d
        for i, block in enumerate(self.blocks):
            h = block(down(h, 2) if i > 0 else h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        if self.training and self.dropout > 0:  # Keras noise_shape (batch, L, 1): drop positions
            keep = torch.rand(h.shape[0], 1, h.shape[2], device=h.device) >= self.dropout
            h = h * keep / (1 - self.dropout)
        h = h.amax(dim=2) if self.pool == "max" else h.mean(dim=2)
        return self.head(h)


def receptive_field(n_blocks: int, dilations: tuple[int, ...] = (1, 2, 4), kernel: int = 3) -> int:
    """Input samples seen by one position of block ``n_blocks``'s output (pool 2 between blocks).

    RF = 1 + Σ_ℓ (k_ℓ − 1) d_ℓ J_ℓ, J_ℓ the product of the strides before layer ℓ: each
    block adds chapter 34's stride-1 field (:func:`kexue_lab.sequences.dgcnn.receptive_field`)
    minus one, times J; with
    dilations 1, 2, 4 and k = 3 this is 1 + 14(2^B − 1) + (2^(B−1) − 1).
    """
    n_blocks = _validate.positive_int("n_blocks", n_blocks)
    kernel = _validate.positive_int("kernel", kernel)
    rf, jump = 1, 1
    for b in range(n_blocks):
        if b > 0:
            rf, jump = rf + jump, jump * 2  # MaxPool(2, stride 2)
        rf += (stride1_receptive_field(kernel, dilations) - 1) * jump  # one block, scaled
    return rf


def score_loss(logits: torch.Tensor, onehot: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """The article's ``score_loss``: −log(soft macro F1 + ε) on the batch's probabilities."""
    probs = torch.softmax(logits, dim=1)
    return -torch.log(soft_macro_f1(probs, onehot.to(probs.dtype), eps=eps) + eps)


def stratified_batches(
    labels: np.ndarray, fracs: tuple[float, ...], batch_size: int, n_batches: int, seed: int
) -> np.ndarray:
    """(n_batches, batch_size) training indices with fixed class counts per batch.

    The article's ``for_train``: counts int(frac·B), the first class takes the rest; drawn
    with replacement."""
    labels = np.asarray(labels)
    batch_size = _validate.positive_int("batch_size", batch_size)
    n_batches = _validate.positive_int("n_batches", n_batches)
    counts = [int(f * batch_size) for f in fracs]
    counts[0] = batch_size - sum(counts[1:])
    if len(fracs) < int(labels.max()) + 1 or counts[0] < 0:
        raise ValueError(f"fracs must give one fraction per class summing to ≤ 1, got {fracs}")
    rng = np.random.default_rng(seed)
    parts = []
    for c, k in enumerate(counts):
        pool = np.flatnonzero(labels == c)
        if k and len(pool) == 0:
            raise ValueError(f"class {c} has no training sample but fracs asks for {k} per batch")
        parts.append(rng.choice(pool, size=(n_batches, k)) if k else np.zeros((n_batches, 0), int))
    return np.concatenate(parts, axis=1)


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """Arg-max class of every row of ``x`` (eval mode, no gradient)."""
    model.eval()
    with torch.no_grad():
        out = [model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]
    return torch.cat(out).cpu().numpy()


def macro_f1(y_true: Any, y_pred: Any, n_classes: int) -> float:
    """Hard macro F1 over ``n_classes`` (a class absent from both counts as 0, as in sklearn)."""
    from sklearn.metrics import f1_score

    labels = list(range(_validate.int_at_least("n_classes", n_classes, 2)))
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def train_two_stage(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    stages: tuple[tuple[str, int, float], ...] = (("ce", 200, 1e-3), ("f1", 200, 1e-4)),
    fracs: tuple[float, ...] | None = None,
    batch_size: int = 160,
    seed: int = 0,
    x_eval: torch.Tensor | None = None,
    y_eval: np.ndarray | None = None,
    eval_every: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Train ``model`` stage by stage; each stage is (loss, steps, Adam lr), loss "ce" or "f1".

    ``fracs`` gives the class fractions of every batch (:func:`stratified_batches`; ``None``:
    uniform sampling). Returns the per-step ``loss`` list, the ``stage`` of each step and, when
    evaluation data are given, ``eval`` = [(step, macro F1), …] every ``eval_every`` steps and at
    the end of each stage.
    """
    n_classes = int(y.max()) + 1
    total = sum(_validate.positive_int("steps", s) for _, s, _ in stages)
    labels = y.cpu().numpy()
    if fracs is None:
        rng = np.random.default_rng(seed)
        order = rng.integers(0, len(y), size=(total, batch_size))
    else:
        order = stratified_batches(labels, fracs, batch_size, total, seed)
    history: dict[str, Any] = {"loss": [], "stage": [], "eval": []}
    step = 0
    ticks = iter(range(total))
    if progress:
        from ..train import progress as _progress

        ticks = iter(_progress(range(total), desc="training", leave=False))
    for stage, (kind, steps, lr) in enumerate(stages):
        kind = _validate.choice("loss", kind, ("ce", "f1"))
        opt = torch.optim.Adam(model.parameters(), lr=_validate.positive("lr", lr))
        for _ in range(steps):
            next(ticks, None)
            model.train()
            idx = torch.as_tensor(order[step], device=x.device)
            logits = model(x[idx])
            if kind == "ce":
                loss = nn.functional.cross_entropy(logits, y[idx])
            else:
                loss = score_loss(logits, nn.functional.one_hot(y[idx], n_classes))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            history["loss"].append(loss.item())
            history["stage"].append(stage)
            done = step == sum(s for _, s, _ in stages[: stage + 1])
            if x_eval is not None and ((eval_every and step % eval_every == 0) or done):
                f1 = macro_f1(y_eval, predict(model, x_eval), n_classes)
                history["eval"].append((step, f1))
    return history


def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """|∂ logit_target / ∂ x| per input position (N, L), model in eval mode."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    score = logits.gather(1, target.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(score, x)
    return grad.abs()
