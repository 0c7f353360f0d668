"""Matrix capsules and EM routing (chapter 02, kexue.fm/archives/5155).

The article's reading: a capsule layer is a clustering step. Lower capsule i votes for upper
capsule j with V_ij = P_i W_ij (its pose matrix times a learned transform, flattened to d
numbers), and upper capsule j is an axis-aligned Gaussian fitted to the votes it receives,
weighted by the lower capsules' activations a_i. EM routing (Hinton, Sabour & Frosst,
ICLR 2018, Procedure 1; the article's final routing, 新动态路由(完整)) starts from R_ij = 1/n_out
and alternates

* M-step: w_ij = a_i R_ij, r_ij = w_ij / Σ_i w_ij, μ_j = Σ_i r_ij V_ij,
  σ²_j = Σ_i r_ij (V_ij − μ_j)² + ε (element-wise), cost_j = (β_u + Σ_l ln σ_j^l) Σ_i w_ij,
  a_j = sigmoid(λ(β_a − cost_j));
* E-step: R_ij = a_j N(V_ij; μ_j, σ²_j) / Σ_k a_k N(V_ik; μ_k, σ²_k) (in log space).

:func:`em_routing` is that loop (one iteration = one M-step; every further one = E-step then
M-step), :func:`assignments` its E-step on its own; :class:`MatrixCapsules` is a layer of it
with learned W, β_u, β_a. The part–whole toy task of the chapter (:func:`part_whole_task`,
:func:`sample_parts`, :func:`fit_part_whole`, :func:`part_whole_accuracy`) and the two formulas
the chapter checks, :func:`weighted_gaussian_entropy` and :func:`spread_loss`, live here too.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .. import _validate

__all__ = [
    "EPS",
    "MatrixCapsules",
    "PartWholeTask",
    "assignments",
    "em_routing",
    "fit_part_whole",
    "part_whole_accuracy",
    "part_whole_task",
    "sample_parts",
    "spread_loss",
    "weighted_gaussian_entropy",
]

#: Added to every variance σ² of the M-step (a standard-deviation floor of 0.01 for votes of
#: unit scale): a parent with one child would otherwise reach σ² = 0 and ln σ = −∞, and look
#: like the tightest cluster of all (Gritzman 2019, pitfall 1).
EPS = 1e-4
_TINY = 1e-12  # the smallest data mass Σ_i a_i R_ij divided by
_LOG_2PI = math.log(2 * math.pi)


# ---- input checks -------------------------------------------------------------------------------
def _float_tensor(name: str, value: Any, shape: tuple[int | None, ...]) -> torch.Tensor:
    """``value`` as a finite floating tensor of the given shape (``None``: any size >= 1)."""
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    want = "(" + ", ".join("·" if s is None else str(s) for s in shape) + ")"
    if value.ndim != len(shape) or any(
        got < 1 or (s is not None and got != s) for got, s in zip(value.shape, shape)
    ):
        raise ValueError(f"{name} must have shape {want}, got {tuple(value.shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must hold finite numbers only (found NaN or ±inf)")
    return value


def _probabilities(name: str, value: torch.Tensor, *, positive: bool = False) -> None:
    low = bool((value <= 0).any()) if positive else bool((value < 0).any())
    if low or bool((value > 1).any()):
        span = "(0, 1]" if positive else "[0, 1]"
        raise ValueError(
            f"{name} must be activations in {span}, got values in "
            f"[{float(value.min()):.4g}, {float(value.max()):.4g}]"
        )


def _beta(name: str, value: Any, like: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """β as a tensor broadcastable to (B, n_out): a number, or a tensor of such a shape."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return torch.tensor(_validate.real(name, value), dtype=like.dtype, device=like.device)
    if not torch.is_tensor(value) or not value.is_floating_point():
        raise TypeError(
            f"{name} must be a real number or a floating tensor broadcastable to (B, n_out) = "
            f"{shape}, got {value!r}"
        )
    try:
        ok = torch.broadcast_shapes(value.shape, shape) == torch.Size(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must broadcast to (B, n_out) = {shape}, got {tuple(value.shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must hold finite numbers only (found NaN or ±inf)")
    return value.to(like.dtype)


# ---- the two steps ------------------------------------------------------------------------------
def _m_step(votes: torch.Tensor, w: torch.Tensor, beta_u: Any, beta_a: Any, lam: Any) -> tuple:
    """Weighted Gaussian fit per upper capsule and its activation logit λ(β_a − cost_j); also
    returns (V_ij − μ_j)² and Σ_l ln σ²_j, which the next E-step reuses."""
    mass = w.sum(1)  # Σ_i a_i R_ij, (B, n_out)
    r = w / mass.clamp_min(_TINY).unsqueeze(1)
    r = r.unsqueeze(3)
    mu = (r * votes).sum(1)
    sq = (votes - mu.unsqueeze(1)).square()
    sigma2 = (r * sq).sum(1) + EPS
    log_s2 = sigma2.log().sum(-1)
    logit = lam * (beta_a - (beta_u + 0.5 * log_s2) * mass)  # cost = (β_u + Σ_l ln σ_l)·mass
    return mu, sigma2, logit, sq, log_s2


def _e_step(sq: torch.Tensor, sigma2: torch.Tensor, log_s2: torch.Tensor, logit: torch.Tensor):
    """R_ij = a_j p_ij / Σ_k a_k p_ik: a softmax over j of ln a_j + ln N(V_ij; μ_j, σ²_j)."""
    maha = (sq / sigma2.unsqueeze(1)).sum(3)
    log_a = logit.clamp_max(0) - torch.log1p(torch.exp(-logit.abs()))  # ln σ(logit), stably
    z = log_a.unsqueeze(1) - 0.5 * (maha + log_s2.unsqueeze(1))  # + a constant in j
    e = (z - z.amax(2, keepdim=True)).exp()
    return e / e.sum(2, keepdim=True)


def _routing(votes: torch.Tensor, a_in: torch.Tensor, beta_u: Any, beta_a: Any, iters: int, lam):
    """The loop of :func:`em_routing`, on checked inputs."""
    b, n_in, n_out, _ = votes.shape
    resp = votes.new_full((b, n_in, n_out), 1.0 / n_out)
    mu, sigma2, logit, sq, log_s2 = _m_step(votes, a_in.unsqueeze(2) * resp, beta_u, beta_a, lam)
    for _ in range(iters - 1):
        resp = _e_step(sq, sigma2, log_s2, logit)
        mu, sigma2, logit, sq, log_s2 = _m_step(
            votes, a_in.unsqueeze(2) * resp, beta_u, beta_a, lam
        )
    return mu, sigma2, torch.sigmoid(logit)


def em_routing(
    votes: torch.Tensor,
    a_in: torch.Tensor,
    beta_u: Any,
    beta_a: Any,
    iters: int = 3,
    lam: Any = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM routing (paper Procedure 1; article eq. 新动态路由(完整)): returns (μ, σ², a_out).

    ``votes`` (B, n_in, n_out, d): V_ij flattened; ``a_in`` (B, n_in): activations in [0, 1];
    ``beta_u``, ``beta_a``: numbers or tensors broadcastable to (B, n_out); ``lam`` = λ > 0, a
    number or such a tensor. One iteration is one M-step from uniform R_ij = 1/n_out; each
    further iteration is an E-step then an M-step (module docstring). The cost is the article's
    cost_j = (β_u + Σ_l ln σ_j^l) Σ_i a_i R_ij with the paper's unnormalised mass; the paper's
    Procedure 1 puts β_u inside the sum over the d dimensions (β_u here = d·β_u there).
    Returns μ (B, n_out, d), σ² (B, n_out, d) (with :data:`EPS` added) and a_out (B, n_out),
    in the dtype of ``votes`` and differentiable in every tensor argument.
    """
    votes = _float_tensor("votes", votes, (None, None, None, None))
    b, n_in, n_out, _ = votes.shape
    a_in = _float_tensor("a_in", a_in, (b, n_in)).to(votes.dtype)
    _probabilities("a_in", a_in)
    beta_u = _beta("beta_u", beta_u, votes, (b, n_out))
    beta_a = _beta("beta_a", beta_a, votes, (b, n_out))
    iters = _validate.positive_int("iters", iters)
    lam = _beta("lam", lam, votes, (b, n_out))
    if bool((lam <= 0).any()):
        raise ValueError(f"lam must be positive (an inverse temperature), got {lam}")
    return _routing(votes, a_in, beta_u, beta_a, iters, lam)


def assignments(
    votes: torch.Tensor, mu: torch.Tensor, sigma2: torch.Tensor, a_out: torch.Tensor
) -> torch.Tensor:
    """The E-step of EM routing: R_ij = a_j N(V_ij; μ_j, σ²_j) / Σ_k a_k N(V_ik; μ_k, σ²_k).

    Shapes as in :func:`em_routing` (σ² > 0, a_out in (0, 1]); returns R (B, n_in, n_out),
    whose rows sum to 1 over the upper capsules j.
    """
    votes = _float_tensor("votes", votes, (None, None, None, None))
    b, _, n_out, d = votes.shape
    mu = _float_tensor("mu", mu, (b, n_out, d))
    sigma2 = _float_tensor("sigma2", sigma2, (b, n_out, d))
    if bool((sigma2 <= 0).any()):
        raise ValueError("sigma2 must be positive variances")
    a_out = _float_tensor("a_out", a_out, (b, n_out))
    _probabilities("a_out", a_out, positive=True)
    mu, sigma2 = mu.to(votes.dtype), sigma2.to(votes.dtype)
    sq = (votes - mu.unsqueeze(1)).square()
    logit = torch.logit(a_out.to(votes.dtype))  # ln σ(logit) = ln a_out
    return _e_step(sq, sigma2, sigma2.log().sum(-1), logit)


def weighted_gaussian_entropy(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """The sample estimate of a cluster's entropy, −Σ_i r_i ln N(x_i; μ, diag σ²) (article eq. 13).

    ``x`` (..., n, d) points, ``r`` (..., n) non-negative weights (not all zero); μ and σ² are
    the r-weighted mean and variance. Equals (Σ_l ln σ_l + d(1 + ln 2π)/2)·Σ_i r_i (the paper's
    eq. (1), summed over the d dimensions), which for Σ_i r_i = 1 is the article's eq. (14) and
    the analytic entropy Σ_l ½ ln(2πe σ_l²). Returns shape (...).
    """
    if torch.is_tensor(x) and x.ndim < 2:
        raise ValueError(f"x must have shape (..., n, d), got {tuple(x.shape)}")
    x = _float_tensor("x", x, (None,) * (x.ndim if torch.is_tensor(x) else 2))
    r = _float_tensor("r", r, tuple(x.shape[:-1])).to(x.dtype)
    if bool((r < 0).any()) or bool((r.sum(-1) <= 0).any()):
        raise ValueError("r must be non-negative weights with a positive sum over the points")
    w = r / r.sum(-1, keepdim=True)
    mu = (w[..., None] * x).sum(-2, keepdim=True)
    var = (w[..., None] * (x - mu) ** 2).sum(-2, keepdim=True)
    if bool((var <= 0).any()):
        raise ValueError("x has zero weighted variance in some dimension: the entropy is −∞")
    log_n = -0.5 * ((x - mu) ** 2 / var + var.log() + _LOG_2PI).sum(-1)
    return -(r * log_n).sum(-1)


def spread_loss(a: torch.Tensor, target: torch.Tensor, margin: float) -> torch.Tensor:
    """The paper's spread loss (its eq. (3)), mean over the batch: Σ_{i≠t} max(0, m − (a_t − a_i))².

    ``a`` (B, K) class activations, ``target`` (B,) integer labels in [0, K), ``margin`` m >= 0.
    """
    a = _float_tensor("a", a, (None, None))
    if not torch.is_tensor(target) or target.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"target must be an integer tensor of labels, got {target!r}")
    if target.shape != a.shape[:1] or bool((target < 0).any() | (target >= a.shape[1]).any()):
        raise ValueError(f"target must be {a.shape[0]} labels in [0, {a.shape[1]}), got {target}")
    margin = _validate.non_negative("margin", margin)
    a_t = a.gather(1, target[:, None].long())
    gap = F.relu(margin - (a_t - a)) ** 2
    return gap.scatter(1, target[:, None].long(), 0.0).sum(1).mean()


# ---- a layer of matrix capsules -----------------------------------------------------------------
class MatrixCapsules(torch.nn.Module):
    """Fully connected matrix capsules: V_ij = P_i W_ij, then :func:`em_routing` (chapter 02).

    Poses P_i are (p, q) matrices and W_ij (q, q), so each vote has d = p·q numbers. For the
    chapter's 2-D task p, q = 2, 3: P_i = [A | t] is an affine map and W_ij acts as a 3×3
    homogeneous transform, V_ij = (P̂_i W_ij)[:2] with P̂_i the 3×3 form of P_i. ``members``
    stacks independent copies of the layer (one per seed): inputs then have a leading axis of
    that length, each copy sees its own batch, and Adam, being element-wise, trains each copy
    exactly as if alone. Parameters: ``weight`` (members, n_in, n_out, q, q), ``beta_u`` and
    ``beta_a`` (members, n_out).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        pose: tuple[int, int] = (4, 4),
        *,
        iters: int = 3,
        lam: float | tuple[float, ...] = 1.0,
        members: int = 1,
    ) -> None:
        super().__init__()
        n_in, n_out = _validate.positive_int("n_in", n_in), _validate.positive_int("n_out", n_out)
        if not isinstance(pose, tuple) or len(pose) != 2:
            raise ValueError(f"pose must be a (rows, columns) tuple, got {pose!r}")
        p, q = (_validate.positive_int("pose", s) for s in pose)
        self.iters = _validate.positive_int("iters", iters)
        m = _validate.positive_int("members", members)
        lams = [lam] * m if isinstance(lam, numbers.Real) else list(lam)
        if len(lams) != m:
            raise ValueError(f"lam must be a number or {m} numbers (one per member), got {lam!r}")
        self.register_buffer("lam", torch.tensor([_validate.positive("lam", v) for v in lams]))
        eye = torch.eye(q).expand(m, n_in, n_out, q, q)
        self.weight = torch.nn.Parameter(eye + torch.randn(m, n_in, n_out, q, q) / q)
        self.beta_u = torch.nn.Parameter(torch.zeros(m, n_out))
        self.beta_a = torch.nn.Parameter(torch.zeros(m, n_out))
        self.pose = (p, q)

    def forward(self, poses: torch.Tensor, a_in: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``poses`` (members, B, n_in, p, q) and ``a_in`` (members, B, n_in) → (μ, σ², a_out)
        of shapes (members, B, n_out, p·q), (members, B, n_out, p·q), (members, B, n_out)."""
        m, n_in, n_out = self.weight.shape[:3]
        poses = _float_tensor("poses", poses, (m, None, n_in, *self.pose))
        b = poses.shape[1]
        a_in = _float_tensor("a_in", a_in, (m, b, n_in))
        poses, a_in = poses.to(self.weight.dtype), a_in.to(self.weight.dtype)
        votes = torch.einsum("mbipq,mijqr->mbijpr", poses, self.weight).reshape(
            m * b, n_in, n_out, -1
        )
        beta_u, beta_a = (
            x[:, None].expand(m, b, n_out).reshape(m * b, n_out) for x in (self.beta_u, self.beta_a)
        )
        lam = self.lam.to(votes.dtype)[:, None, None].expand(m, b, 1).reshape(m * b, 1)
        mu, sigma2, a = _routing(votes, a_in.reshape(m * b, n_in), beta_u, beta_a, self.iters, lam)
        return mu.reshape(m, b, n_out, -1), sigma2.reshape(m, b, n_out, -1), a.reshape(m, b, n_out)


# ---- the part–whole task ------------------------------------------------------------------------
@dataclass(frozen=True)
class PartWholeTask:
    """Objects made of parts: object k consists of the part types ``members[k]`` (``parts`` of
    the ``part_types``), placed at the 3×3 homogeneous similarity transforms ``transforms[k]``
    relative to the object's own frame. ``noise`` is the standard deviation added to every
    entry of an observed part pose; in every scene ``clutter`` of the object's parts, chosen at
    random, are replaced by clutter (a pose unrelated to the object)."""

    members: torch.Tensor  # (classes, parts) long
    transforms: torch.Tensor  # (classes, parts, 3, 3)
    part_types: int
    noise: float
    clutter: int

    @property
    def classes(self) -> int:
        """The number of objects (classes)."""
        return int(self.members.shape[0])


def _similarities(n: int, g: torch.Generator, angle: float, scale: float, shift: float) -> Any:
    """n random 3×3 similarity transforms: rotation U(−angle, angle), log-scale U(±ln scale),
    translation U(−shift, shift)²."""
    u = torch.rand(n, 4, generator=g, dtype=torch.float64) * 2 - 1
    theta, s = u[:, 0] * angle, torch.exp(u[:, 1] * math.log(scale))
    out = torch.zeros(n, 3, 3, dtype=torch.float64)
    out[:, 0, 0], out[:, 0, 1] = s * theta.cos(), -s * theta.sin()
    out[:, 1, 0], out[:, 1, 1] = s * theta.sin(), s * theta.cos()
    out[:, :2, 2], out[:, 2, 2] = u[:, 2:] * shift, 1.0
    return out


def part_whole_task(
    classes: int = 5,
    part_types: int = 5,
    parts: int = 5,
    *,
    noise: float = 0.03,
    clutter: int = 2,
    seed: int = 0,
) -> PartWholeTask:
    """Draw ``classes`` objects, each of ``parts`` distinct part types out of ``part_types``,
    with part-in-object transforms of any rotation, scale in [0.8, 1.25] and offsets in [−1, 1]².
    ``noise`` and ``clutter`` (how many of an object's parts each scene replaces) are kept for
    :func:`sample_parts`; chapter 02 uses the defaults: 5 objects of 5 parts, 2 replaced."""
    classes = _validate.positive_int("classes", classes)
    part_types = _validate.positive_int("part_types", part_types)
    parts = _validate.int_at_least("parts", parts, 2, "agreement needs two parts")
    if parts > part_types:
        raise ValueError(f"parts={parts} must be <= part_types={part_types}")
    noise = _validate.non_negative("noise", noise)
    clutter = _validate.non_negative_int("clutter", clutter)
    if clutter > parts - 2:
        raise ValueError(f"clutter={clutter} must leave at least 2 of the parts={parts} intact")
    g = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    members = torch.stack([torch.randperm(part_types, generator=g)[:parts] for _ in range(classes)])
    transforms = _similarities(classes * parts, g, math.pi, 1.25, 1.0)
    transforms = transforms.reshape(classes, parts, 3, 3)
    return PartWholeTask(members, transforms, part_types, noise, clutter)


def sample_parts(
    task: PartWholeTask, n: int, *, generator: torch.Generator, max_angle: float = math.pi
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n scenes of one object each, as poses of all the task's part types.

    The object (a uniform label) gets a global pose G (rotation in ±``max_angle``, scale in
    [0.8, 1.25], offset in [−1, 1]²); its parts are seen at G·T_kp, except ``task.clutter`` of
    them, chosen at random, and every part type the object lacks: those show clutter, a part of
    a random object at a random pose, so that a pose alone does not give it away. Every part
    type is present (a_in = 1). Returns float32 poses (n, part_types, 2, 3) (the top two rows
    of the 3×3 form, plus noise), a_in (n, part_types) and labels (n,).
    """
    n = _validate.positive_int("n", n)
    max_angle = _validate.in_range("max_angle", max_angle, 0.0, math.pi)
    k, t = task.classes, task.part_types
    labels = torch.randint(k, (n,), generator=generator)
    whole = _similarities(n, generator, max_angle, 1.25, 1.0)
    seen = whole[:, None] @ task.transforms[labels]  # (n, parts, 3, 3)
    pick = torch.randint(k * task.members.shape[1], (n * t,), generator=generator)
    fake = _similarities(n * t, generator, math.pi, 1.25, 1.0) @ task.transforms.flatten(0, 1)[pick]
    poses = fake.reshape(n, t, 3, 3)
    keep = torch.rand(n, seen.shape[1], generator=generator).argsort(1)[:, task.clutter :]
    rows = torch.arange(n)[:, None]
    poses[rows, task.members[labels].gather(1, keep)] = seen[rows, keep]
    noisy = poses[..., :2, :] + task.noise * torch.randn(
        n, t, 2, 3, generator=generator, dtype=torch.float64
    )
    return noisy.float(), torch.ones(n, t), labels


def part_whole_accuracy(model: MatrixCapsules, poses: Any, a_in: Any, labels: Any) -> torch.Tensor:
    """Test accuracy of every member of ``model``: arg-max activation = label. Shared test data
    (n, …) are given to every member; returns a float tensor (members,)."""
    m = model.weight.shape[0]
    dev = model.weight.device
    with torch.no_grad():
        _, _, a = model(poses.to(dev).expand(m, *poses.shape), a_in.to(dev).expand(m, *a_in.shape))
    return (a.argmax(-1) == labels.to(dev)).float().mean(1).cpu()


def fit_part_whole(
    model: MatrixCapsules,
    task: PartWholeTask,
    *,
    steps: int,
    batch_size: int,
    lr: float = 0.02,
    seed: int = 0,
    margins: tuple[float, float] = (0.2, 0.9),
    max_angle: float = math.pi,
    desc: str = "training",
) -> list[float]:
    """Train every member of ``model`` on fresh scenes (a new batch per member and step) with
    Adam and the spread loss, its margin rising linearly from ``margins[0]`` to ``margins[1]``
    (the paper's schedule). Returns the mean loss over the members after every step."""
    from ..train import progress

    steps = _validate.positive_int("steps", steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    margins = tuple(_validate.non_negative("margins", v) for v in margins)
    m, dev = model.weight.shape[0], model.weight.device
    g = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    opt = torch.optim.Adam(model.parameters(), lr=_validate.positive("lr", lr))
    losses = []
    for step in progress(range(steps), desc=desc, unit="step"):
        poses, a_in, labels = sample_parts(task, m * batch_size, generator=g, max_angle=max_angle)
        _, _, a = model(
            poses.to(dev).reshape(m, batch_size, *poses.shape[1:]),
            a_in.to(dev).reshape(m, batch_size, -1),
        )
        margin = margins[0] + (margins[1] - margins[0]) * step / max(steps - 1, 1)
        loss = spread_loss(a.reshape(m * batch_size, -1), labels.to(dev), margin) * m
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()) / m)
    return losses
