"""Why SimSiam does not collapse, a dynamical view (chapter 24, kexue.fm/archives/7980).

The scalar toy: an encoder output θ, a linear predictor h(z) = φz and the loss
l = ½(φθ − θ)², in which the second θ is the target branch. Gradient flow gives

* with stop-gradient (the target is a constant):   φ̇ = −(φθ − θ)θ,   θ̇ = −(φθ − θ)φ;
* without it (the target's gradient is added):     φ̇ = −(φθ − θ)θ,   θ̇ = −(φθ − θ)(φ − 1),

i.e. the full gradient adds +(φθ − θ) to θ̇. ``predictor_speed`` k multiplies φ̇ (a faster
predictor). With k = 1 the stop-gradient flow conserves θ² − φ² and the full flow conserves
θ² − (φ − 1)² (:func:`invariant`).

For the small SimSiam on 8×8 digits: a vectorised augmentation (:func:`augment`), the model
(:func:`build`), the symmetrised negative-cosine loss (:func:`simsiam_loss`), the
collapse monitor of the SimSiam paper (:func:`output_std`), a k-NN probe (:func:`knn_accuracy`),
the augmentation variance of eq. (6) (:func:`augmentation_variance`) and a training loop
(:func:`train`). Figures and the exploration live in :mod:`kexue_lab.views.ch24`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .. import _validate

Mode = Literal["stopgrad", "full"]
MODES: tuple[str, ...] = ("stopgrad", "full")


# ---- the scalar toy ------------------------------------------------------------------------------
def toy_rhs(
    phi: Any, theta: Any, mode: Mode = "stopgrad", predictor_speed: float = 1.0
) -> tuple[Any, Any]:
    """Right-hand side (φ̇, θ̇) of the toy gradient flow (chapter 24, article's toy model).

    φ̇ = −k(φθ − θ)θ; θ̇ = −(φθ − θ)φ with stop-gradient, −(φθ − θ)(φ − 1) without it.
    Works element-wise on floats and NumPy arrays.
    """
    _validate.choice("mode", mode, MODES)
    residual = phi * theta - theta  # ∂l/∂h with h = φθ and target θ
    dphi = -predictor_speed * residual * theta
    dtheta = -residual * phi if mode == "stopgrad" else -residual * (phi - 1.0)
    return dphi, dtheta


def toy_flow(
    phi0: Any,
    theta0: Any,
    mode: Mode = "stopgrad",
    t_max: float = 10.0,
    steps: int = 1000,
    predictor_speed: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate the toy flow from (φ0, θ0) on [0, t_max] with ``steps`` classical RK4 steps.

    ``phi0`` and ``theta0`` are numbers or arrays of one shape (many starts at once). Returns
    ``(t, phi, theta)``: ``t`` of shape ``(steps + 1,)``, ``phi`` and ``theta`` of shape
    ``(steps + 1, *shape)``. RK4's error is O((t_max/steps)⁴). Chapter 24, §2.
    """
    phi = _validate.real_array("phi0", phi0)
    theta = _validate.real_array("theta0", theta0)
    if phi.shape != theta.shape:
        raise ValueError(
            f"phi0 and theta0 must have the same shape, got {phi.shape} and {theta.shape}"
        )
    _validate.choice("mode", mode, MODES)
    t_max = _validate.positive("t_max", t_max)
    steps = _validate.positive_int("steps", steps)
    k = _validate.positive("predictor_speed", predictor_speed)
    h = t_max / steps
    phis, thetas = np.empty((steps + 1, *phi.shape)), np.empty((steps + 1, *phi.shape))
    phis[0], thetas[0] = phi, theta
    for i in range(steps):
        a1, b1 = toy_rhs(phi, theta, mode, k)
        a2, b2 = toy_rhs(phi + h / 2 * a1, theta + h / 2 * b1, mode, k)
        a3, b3 = toy_rhs(phi + h / 2 * a2, theta + h / 2 * b2, mode, k)
        a4, b4 = toy_rhs(phi + h * a3, theta + h * b3, mode, k)
        phi = phi + h / 6 * (a1 + 2 * a2 + 2 * a3 + a4)
        theta = theta + h / 6 * (b1 + 2 * b2 + 2 * b3 + b4)
        phis[i + 1], thetas[i + 1] = phi, theta
    return np.linspace(0.0, t_max, steps + 1), phis, thetas


def invariant(phi: Any, theta: Any, mode: Mode = "stopgrad") -> Any:
    """The conserved quantity of the toy flow with k = 1 (chapter 24, §2).

    θ² − φ² with stop-gradient, θ² − (φ − 1)² without it.
    """
    _validate.choice("mode", mode, MODES)
    shift = 0.0 if mode == "stopgrad" else 1.0
    return theta**2 - (phi - shift) ** 2


# ---- the small SimSiam ---------------------------------------------------------------------------
def augment(x: Any, *, noise: float = 0.1, max_shift: int = 1, generator: Any = None) -> Any:
    """Random integer shifts (zero padding, each image its own shift in [−max_shift, max_shift]²)
    plus Gaussian pixel noise of std ``noise``. ``x``: images ``(n, c, h, w)``. Vectorised."""
    import torch

    if not torch.is_tensor(x) or x.dim() != 4:
        raise ValueError(f"x must be a tensor of images (n, c, h, w), got {type(x).__name__}")
    noise = _validate.non_negative("noise", noise)
    s = _validate.non_negative_int("max_shift", max_shift)
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (s, s, s, s))
    dy = torch.randint(0, 2 * s + 1, (n, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * s + 1, (n, 1, 1), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy).expand(n, h, w)
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx).expand(n, h, w)
    idx = torch.arange(n, device=x.device)[:, None, None].expand(n, h, w)
    out = padded.permute(0, 2, 3, 1)[idx, rows, cols].permute(0, 3, 1, 2)
    if noise > 0:
        out = out + noise * torch.randn(out.shape, generator=generator).to(x.device)
    return out


def build(
    d_in: int, width: int = 128, d_out: int = 64, pred_hidden: int = 32, predictor: bool = True
) -> Any:
    """SimSiam in miniature: encoder MLP d_in → width → width → d_out with BatchNorm after the
    hidden layers and a bottleneck predictor
    d_out → pred_hidden → d_out (identity if ``predictor`` is False). Returns a ModuleDict."""
    import torch

    from ..nn import mlp

    enc = mlp([d_in, width, width, d_out], norm="post", flatten=True)
    pred = mlp([d_out, pred_hidden, d_out], norm="post") if predictor else torch.nn.Identity()
    return torch.nn.ModuleDict({"encoder": enc, "predictor": pred})


def negative_cosine(p: Any, z: Any) -> Any:
    """D(p, z) = −mean over the batch of cos(p, z) (SimSiam paper, eq. (1))."""
    import torch

    return -torch.nn.functional.cosine_similarity(p, z, dim=-1).mean()


def simsiam_loss(p1: Any, p2: Any, z1: Any, z2: Any, stop_grad: bool = True) -> Any:
    """½D(p1, sg(z2)) + ½D(p2, sg(z1)) (SimSiam paper, eqs. (2)–(3)); ``stop_grad=False``
    lets the gradient flow through the targets as well."""
    if stop_grad:
        z1, z2 = z1.detach(), z2.detach()
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


def output_std(z: Any) -> float:
    """Collapse monitor (SimSiam paper, §4.1): the std over the batch of z/‖z‖, averaged over
    the d dimensions. ≈ 1/√d for outputs spread over the sphere, 0 for collapsed ones."""
    import torch

    if not torch.is_tensor(z) or z.dim() != 2 or len(z) < 2:
        raise ValueError("z must be a tensor (n, d) with n >= 2")
    zn = torch.nn.functional.normalize(z.detach().double(), dim=1)
    return float(zn.std(dim=0).mean())


def knn_accuracy(f_train: Any, y_train: Any, f_test: Any, y_test: Any, k: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour vote (cosine similarity) on frozen features."""
    import torch

    k = _validate.positive_int("k", k)
    if k > len(f_train):
        raise ValueError(f"k={k} exceeds the {len(f_train)} training features")
    a = torch.nn.functional.normalize(f_train.detach().double(), dim=1)
    b = torch.nn.functional.normalize(f_test.detach().double(), dim=1)
    nearest = (b @ a.T).topk(k, dim=1).indices
    votes = torch.nn.functional.one_hot(y_train[nearest], int(y_train.max()) + 1).sum(1)
    return float((votes.argmax(1) == y_test).double().mean())


def augmentation_variance(feats: Any) -> float:
    """Eq. (6): mean over images and views of ‖F(T(x)) − E_T F(T(x))‖², from features of shape
    (n_images, n_views, d), the mean over views standing in for E_T."""
    arr = np.asarray(feats, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1] < 2:
        raise ValueError(f"feats must have shape (n_images, n_views >= 2, d), got {arr.shape}")
    centred = arr - arr.mean(axis=1, keepdims=True)
    return float((centred**2).sum(-1).mean())


def train(
    x: Any,
    *,
    steps: int,
    stop_grad: bool = True,
    predictor: bool = True,
    batch: int = 256,
    lr: float = 0.05,
    seed: int = 0,
    noise: float = 0.1,
    max_shift: int = 1,
    width: int = 128,
    record_every: int = 10,
    progress: bool = False,
) -> tuple[Any, dict[str, list[float]]]:
    """Train a :func:`build` model with SGD (momentum 0.9) on the loss :func:`simsiam_loss`.

    ``width`` is the encoder's hidden width. Records every ``record_every`` steps the loss
    and the :func:`output_std` of the encoder on the batch.
    Returns ``(model, history)``; the model is left in eval mode.
    """
    import torch

    from ..train import progress as bar

    steps = _validate.positive_int("steps", steps)
    batch = _validate.positive_int("batch", batch)
    lr = _validate.positive("lr", lr)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build(x[0].numel(), width=width, predictor=predictor).to(x.device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    hist: dict[str, list[float]] = {"step": [], "loss": [], "std": []}
    enc, pred = model["encoder"], model["predictor"]
    for step in bar(range(steps), disable=not progress):
        idx = torch.randint(0, len(x), (batch,), generator=gen).to(x.device)
        v1 = augment(x[idx], noise=noise, max_shift=max_shift, generator=gen)
        v2 = augment(x[idx], noise=noise, max_shift=max_shift, generator=gen)
        z1, z2 = enc(v1), enc(v2)
        loss = simsiam_loss(pred(z1), pred(z2), z1, z2, stop_grad=stop_grad)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % record_every == 0 or step == steps - 1:
            hist["step"].append(step)
            hist["loss"].append(float(loss.detach()))
            hist["std"].append(output_std(z1))
    model.eval()
    return model, hist
