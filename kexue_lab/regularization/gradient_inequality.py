"""Input gradients bounded by parameter gradients (chapter 27).

输入梯度惩罚与参数梯度惩罚的一个不等式 (kexue.fm/archives/8796).

For an l-layer MLP h⁽ᵗ⁺¹⁾ = g⁽ᵗ⁾(W⁽ᵗ⁾h⁽ᵗ⁾ + b⁽ᵗ⁾), h⁽¹⁾ = x, and any scalar f of the output,

    ‖∇ₓf‖² Σₜ (1 + ‖h⁽ᵗ⁾‖²) / (‖W⁽ᵗ⁾‖² ‖∇ₓh⁽ᵗ⁾‖²)  ≤  ‖∇_θ f‖²            (article eq. (2))

with spectral norms for W⁽ᵗ⁾ and the Jacobian ∇ₓh⁽ᵗ⁾ (∇ₓh⁽¹⁾ = I). Each layer contributes
its own inequality ‖∇ₓf‖²(1 + ‖h⁽ᵗ⁾‖²)/(‖W⁽ᵗ⁾‖²‖∇ₓh⁽ᵗ⁾‖²) ≤ ‖∇_{W⁽ᵗ⁾}f‖² + ‖∇_{b⁽ᵗ⁾}f‖².

* :func:`layer_jacobians`: h⁽ᵗ⁾ and ∇ₓh⁽ᵗ⁾ of every member of a :class:`~kexue_lab.nn.StackedMLP`
  at one input each, by forward-mode propagation J⁽ᵗ⁺¹⁾ = diag g′(z⁽ᵗ⁺¹⁾) W⁽ᵗ⁾ J⁽ᵗ⁾;
* :func:`inequality_terms`: both sides of the per-layer inequalities for S networks at once
  (:class:`InequalityTerms`), the parameter and input gradients from autograd;
* :func:`random_networks`: S random MLPs as one ``StackedMLP`` (Gaussian weights, scale/√fan_in);
* :func:`jacobian_sq_norm`: ‖∂f/∂x‖_F² per sample; its mean is the Dirichlet energy
  ("geometric complexity" of Dherin et al. 2021);
* :func:`train_penalised`: S classifiers trained together, member s with its own penalty
  λₛ‖∇_θ L‖² (double backpropagation through :func:`kexue_lab.nn.parameter_gradient_norm`);
* :func:`member_metrics`: their test accuracy, FGSM accuracy, ‖∇ₓL‖ and Dirichlet energy;
* :func:`replicate`: copies of one member, to evaluate one network at many inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .. import _validate
from ..nn import StackedMLP, parameter_gradient_norm

__all__ = [
    "InequalityTerms",
    "half_square",
    "inequality_terms",
    "jacobian_sq_norm",
    "layer_jacobians",
    "member_metrics",
    "random_networks",
    "replicate",
    "train_penalised",
]

ScalarOf = Callable[[torch.Tensor], torch.Tensor]


def half_square(out: torch.Tensor) -> torch.Tensor:
    """f = ½‖h⁽ˡ⁺¹⁾‖² for each row of ``out`` (…, k) → (…)."""
    return 0.5 * (out**2).sum(dim=-1)


def _act_grad(name: str, z: torch.Tensor, slope: float) -> torch.Tensor:
    """g′(z) for the activations of StackedMLP (relu′(0) = 0, as autograd has it)."""
    if name == "relu":
        return (z > 0).to(z.dtype)
    if name == "leaky_relu":
        return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, slope))
    if name == "tanh":
        return 1 - torch.tanh(z) ** 2
    if name == "sigmoid":
        s = torch.sigmoid(z)
        return s * (1 - s)
    return torch.ones_like(z)


def _check_model(model: StackedMLP) -> None:
    if not isinstance(model, StackedMLP):
        raise TypeError(f"model must be a kexue_lab.nn.StackedMLP, got {type(model).__name__}")
    if bool(model.spectral.any()):
        raise ValueError("model must have no spectrally normalised members (spectral all False)")


def _check_x(model: StackedMLP, x: torch.Tensor) -> torch.Tensor:
    d = model.sizes[0]
    if not torch.is_tensor(x) or not x.is_floating_point() or tuple(x.shape) != (model.members, d):
        raise ValueError(
            f"x must be a float tensor of shape (S, d) = ({model.members}, {d}), one input per "
            f"network, got {tuple(getattr(x, 'shape', ()))}"
        )
    return x.to(model.weights[0].dtype)


def layer_jacobians(
    model: StackedMLP, x: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """h⁽ᵗ⁾ (S, nₜ) and ∇ₓh⁽ᵗ⁾ (S, nₜ, d) for t = 1 … l + 1, member s at input x[s].

    Forward mode: ∇ₓh⁽¹⁾ = I and ∇ₓh⁽ᵗ⁺¹⁾ = diag g′(z⁽ᵗ⁺¹⁾) W⁽ᵗ⁾ ∇ₓh⁽ᵗ⁾ (StackedMLP stores
    the transpose of W⁽ᵗ⁾, as x ↦ xW). Chapter 27.
    """
    _check_model(model)
    x = _check_x(model, x)
    with torch.no_grad():
        h, jac = x, torch.eye(x.shape[1], dtype=x.dtype, device=x.device).expand(len(x), -1, -1)
        hs, jacs = [h], [jac]
        last = len(model.weights) - 1
        for i, (w, b) in enumerate(zip(model.weights, model.biases)):
            z = torch.einsum("sa,sab->sb", h, w) + b[:, 0]
            name = model.output if i == last else model.activation
            act = getattr(model, "_out" if i == last else "_act")
            jac = _act_grad(name, z, model.negative_slope)[..., None] * torch.einsum(
                "sab,sad->sbd", w, jac
            )
            h = act(z)
            hs.append(h)
            jacs.append(jac)
    return hs, jacs


@dataclass(frozen=True)
class InequalityTerms:
    """Both sides of the per-layer inequalities of chapter 27 for S networks (float tensors).

    Rows are layers t = 1 … l, columns networks: ``h_sq`` ‖h⁽ᵗ⁾‖², ``w_norm`` ‖W⁽ᵗ⁾‖,
    ``jac_norm`` ‖∇ₓh⁽ᵗ⁾‖ (spectral, or Frobenius with ``norm="fro"``), ``grad_w_sq``
    ‖∇_{W⁽ᵗ⁾}f‖_F², ``grad_b_sq`` ‖∇_{b⁽ᵗ⁾}f‖², ``delta_sq`` ‖∂f/∂z⁽ᵗ⁺¹⁾‖²; ``grad_x_sq``
    ‖∇ₓf‖² (S,). ``left`` and ``right`` are the two sides layer by layer, ``lhs``/``rhs``/``ratio``
    the sums over layers (eq. (2)) and their ratio, which the inequality bounds by 1. Where
    ∇ₓh⁽ᵗ⁾ = 0 (every unit of a ReLU layer off), ∇ₓf = 0 as well and the left term is 0.
    """

    grad_x_sq: torch.Tensor
    h_sq: torch.Tensor
    w_norm: torch.Tensor
    jac_norm: torch.Tensor
    grad_w_sq: torch.Tensor
    grad_b_sq: torch.Tensor
    delta_sq: torch.Tensor

    @property
    def left(self) -> torch.Tensor:
        # ∇ₓf = δᵀW∇ₓh⁽ᵗ⁾ vanishes with ∇ₓh⁽ᵗ⁾ (a dead ReLU layer): the term is 0, not 0/0
        den = (self.w_norm * self.jac_norm) ** 2
        safe = torch.where(den > 0, den, torch.ones_like(den))
        return torch.where(den > 0, self.grad_x_sq * (1 + self.h_sq) / safe, torch.zeros_like(den))

    @property
    def right(self) -> torch.Tensor:
        return self.grad_w_sq + self.grad_b_sq

    @property
    def lhs(self) -> torch.Tensor:
        return self.left.sum(dim=0)

    @property
    def rhs(self) -> torch.Tensor:
        return self.right.sum(dim=0)

    @property
    def ratio(self) -> torch.Tensor:
        return self.lhs / self.rhs


def inequality_terms(
    model: StackedMLP, x: torch.Tensor, f: ScalarOf = half_square, *, norm: str = "spectral"
) -> InequalityTerms:
    """The terms of article eq. (2) for every member s of ``model`` at its input x[s] (chapter 27).

    ``f`` maps the outputs (S, k) to one scalar per network (S,), default ½‖h⁽ˡ⁺¹⁾‖².
    ∇ₓf, ∇_W f, ∇_b f and ∂f/∂z⁽ᵗ⁺¹⁾ come from autograd (members do not interact, so the
    gradient of Σₛ fₛ splits into the members' own); hidden states and Jacobians from
    :func:`layer_jacobians`. ``norm="fro"`` uses Frobenius norms for W and ∇ₓh (a weaker bound).
    """
    _check_model(model)
    x = _check_x(model, x)
    if not callable(f):
        raise TypeError(f"f must map the outputs (S, k) to (S,), got {f!r}")
    order = {"spectral": 2, "fro": "fro"}[_validate.choice("norm", norm, ("spectral", "fro"))]
    hs, jacs = layer_jacobians(model, x)
    xg = x.detach().clone().requires_grad_(True)
    zs, h = [], xg
    last = len(model.weights) - 1
    for i, (w, b) in enumerate(zip(model.weights, model.biases)):
        z = torch.einsum("sa,sab->sb", h, w) + b[:, 0]
        z.retain_grad()
        zs.append(z)
        h = model._out(z) if i == last else model._act(z)
    out = f(h)
    if not torch.is_tensor(out) or tuple(out.shape) != (model.members,):
        raise ValueError(f"f must return one scalar per network, shape ({model.members},)")
    params = [*model.weights, *model.biases]
    grads = torch.autograd.grad(out.sum(), [xg, *params, *zs])
    gx, gw, gb, gz = (
        grads[0],
        grads[1 : 1 + len(model.weights)],
        grads[1 + len(model.weights) : 1 + 2 * len(model.weights)],
        grads[1 + 2 * len(model.weights) :],
    )
    mat = torch.linalg.matrix_norm
    d = x.shape[1]  # ∇ₓh⁽¹⁾ = I: spectral norm 1, Frobenius norm √d (no SVD of a d×d identity)
    first = torch.full((model.members,), 1.0 if norm == "spectral" else d**0.5, dtype=x.dtype)
    first = first.to(x.device)
    return InequalityTerms(
        grad_x_sq=(gx**2).sum(dim=1),
        h_sq=torch.stack([(hh**2).sum(dim=1) for hh in hs[:-1]]),
        w_norm=torch.stack([mat(w.detach(), ord=order) for w in model.weights]),
        jac_norm=torch.stack([first, *[mat(j, ord=order) for j in jacs[1:-1]]]),
        grad_w_sq=torch.stack([(g**2).sum(dim=(1, 2)) for g in gw]),
        grad_b_sq=torch.stack([(g**2).sum(dim=(1, 2)) for g in gb]),
        delta_sq=torch.stack([(g**2).sum(dim=1) for g in gz]),
    )


def random_networks(
    widths: Sequence[int],
    n_nets: int,
    *,
    activation: str = "tanh",
    scale: float = 1.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> StackedMLP:
    """``n_nets`` MLPs ``widths[0]`` → … → ``widths[-1]`` as one StackedMLP (chapter 27).

    Weights N(0, scale²/fan_in), biases N(0, scale²/fan_in) too (so that b⁽ᵗ⁾ matters), linear
    output; drawn from one generator seeded with ``seed``.
    """
    n_nets = _validate.positive_int("n_nets", n_nets)
    scale = _validate.positive("scale", scale)
    with torch.random.fork_rng(devices=[]):  # leave the global stream alone
        model = StackedMLP(list(widths), n_nets, activation=activation).to(dtype)
    gen = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    with torch.no_grad():
        for w, b in zip(model.weights, model.biases):
            std = scale / w.shape[1] ** 0.5
            w.copy_(torch.randn(w.shape, generator=gen, dtype=dtype) * std)
            b.copy_(torch.randn(b.shape, generator=gen, dtype=dtype) * std)
    return model


def jacobian_sq_norm(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """‖∂f(xᵢ)/∂xᵢ‖_F² for every sample of the batch ``x`` (N, …) → (N,) (chapter 27).

    ``f`` maps (N, …) to (N, k) without mixing samples; one backward pass per output k.
    Its mean over data is the Dirichlet energy E‖∇ₓf‖_F², the "geometric complexity".
    """
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 2 or len(x) == 0:
        raise TypeError("x must be a non-empty float tensor (N, …) with a batch dimension")
    xg = x.detach().requires_grad_(True)
    out = f(xg)
    if not torch.is_tensor(out) or out.ndim != 2 or len(out) != len(x):
        raise ValueError(f"f must return (N, k) = ({len(x)}, k), got {tuple(out.shape)}")
    total = x.new_zeros(len(x))
    for k in range(out.shape[1]):
        (g,) = torch.autograd.grad(out[:, k].sum(), xg, retain_graph=k < out.shape[1] - 1)
        total = total + (g.reshape(len(x), -1) ** 2).sum(dim=1)
    return total.detach()


def train_penalised(
    model: StackedMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    lambdas: Sequence[float],
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    progress: Callable | None = None,
) -> list[float]:
    """Train member s of ``model`` on cross-entropy + λₛ‖∇_{θₛ}Lₛ‖² with Adam (chapter 27).

    All members see the same minibatches. Members do not share parameters, so
    Σₛ λₛ‖∇_{θₛ}Lₛ‖² = ‖∇_θ Σₛ √λₛ Lₛ‖²: one call of
    :func:`kexue_lab.nn.parameter_gradient_norm` (double backpropagation) gives every member
    its own penalty. Returns the mean training loss (without penalty) per step.
    """
    m = model.members
    if len(lambdas) != m:
        raise ValueError(f"lambdas must hold one λ per member ({m}), got {len(lambdas)}")
    lam = torch.tensor([_validate.non_negative("lambdas", v) for v in lambdas], dtype=x.dtype)
    lam = lam.to(x.device)
    steps = _validate.positive_int("steps", steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=_validate.positive("lr", lr))
    gen = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    params = list(model.parameters())
    history = []
    rounds = range(steps) if progress is None else progress(range(steps))
    for _ in rounds:
        idx = torch.randint(len(x), (batch_size,), generator=gen).to(x.device)
        xb = x[idx].reshape(batch_size, -1)
        logits = model(xb.expand(m, -1, -1))  # (S, B, classes)
        per = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), y[idx].expand(m, -1), reduction="none"
        ).mean(dim=1)
        loss = per.sum()
        if bool((lam > 0).any()):
            loss = loss + parameter_gradient_norm((lam.sqrt() * per).sum(), params, squared=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(per.detach().mean()))
    return history


def member_metrics(
    model: StackedMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    clamp: tuple[float, float] | None = (0.0, 1.0),
) -> dict[str, torch.Tensor]:
    """Per-member test metrics of a stacked classifier (chapter 27), each a tensor (S,).

    ``accuracy``; ``fgsm_accuracy`` under :func:`~kexue_lab.regularization.adversarial.fgsm_attack`
    with budget ``eps``; ``input_grad`` the mean over samples of ‖∇ₓL(xᵢ, yᵢ)‖ (cross-entropy,
    :func:`kexue_lab.nn.input_gradient_norm`); ``dirichlet`` the mean of ‖∂logits/∂x‖_F².
    """
    from ..nn import input_gradient_norm
    from .adversarial import fgsm_attack

    _check_model(model)
    m, n = model.members, len(x)
    flat_x = x.reshape(n, -1).repeat(m, 1)  # rows s·N … (s+1)·N − 1 belong to member s
    flat_y = y.repeat(m)

    def per_sample_loss(z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(model(z), flat_y, reduction="none")

    def per_member(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(m, n).mean(dim=1)

    with torch.no_grad():
        logits = model(flat_x)
        correct = (logits.argmax(dim=1) == flat_y).to(x.dtype)
        onehot = torch.nn.functional.one_hot(flat_y, logits.shape[1]).to(x.dtype)
        residual = (logits.softmax(dim=1) - onehot).norm(dim=1)
    adv = fgsm_attack(model, flat_x, flat_y, eps, clamp=clamp)
    with torch.no_grad():
        robust = (model(adv).argmax(dim=1) == flat_y).to(x.dtype)
    return {
        "accuracy": per_member(correct),
        "fgsm_accuracy": per_member(robust),
        "input_grad": per_member(input_gradient_norm(per_sample_loss, flat_x).detach()),
        "dirichlet": per_member(jacobian_sq_norm(model, flat_x)),
        "residual": per_member(residual),
    }


def replicate(model: StackedMLP, member: int, copies: int) -> StackedMLP:
    """A StackedMLP of ``copies`` identical copies of member ``member`` (chapter 27).

    :func:`inequality_terms` evaluates network s at input x[s]; with the copies it evaluates
    one trained network at ``copies`` different inputs in one call.
    """
    _check_model(model)
    member = _validate.non_negative_int("member", member)
    if member >= model.members:
        raise ValueError(f"member must be < members = {model.members}, got {member}")
    copies = _validate.positive_int("copies", copies)
    out = StackedMLP(
        model.sizes,
        copies,
        activation=model.activation,
        negative_slope=model.negative_slope,
        output=model.output,
    ).to(model.weights[0])
    with torch.no_grad():
        for mine, theirs in zip([*out.weights, *out.biases], [*model.weights, *model.biases]):
            mine.copy_(theirs[member].expand_as(mine))
    return out
