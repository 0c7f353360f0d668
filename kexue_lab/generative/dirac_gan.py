"""The Dirac-GAN of Mescheder, Geiger and Nowozin (ICML 2018), simulated in closed form.

Chapter 11 (kexue.fm/archives/6240, "GAN学习清单"). The data are a point mass at 0, the
generator a point mass at θ, and the discriminator linear, D_ψ(x) = ψx. The GAN objective is

    L(θ, ψ) = f(ψθ) + f(0),    f(t) = −log(1 + e^{−t})  (standard GAN, f'(0) = 1/2),
                                f(t) = t                  (WGAN, f' ≡ 1).

The generator descends L and the discriminator ascends L − R(ψ), where R is a penalty on
D's input gradient ∇ₓD = ψ: R1 = γ/2 ψ² (the data sit at 0, so R1 and R2 coincide here) or
WGAN-GP's λ(|ψ| − 1)². Gradient descent follows the vector field

    v(θ, ψ) = ( −ψ f'(ψθ),  θ f'(ψθ) − R'(ψ) ),

whose Jacobian at the equilibrium (0, 0) with R1 is [[0, −f'(0)], [f'(0), −γ]], with
eigenvalues −γ/2 ± √(γ²/4 − f'(0)²) (Mescheder et al., Sec. 4.1): ±i f'(0) without the
penalty (no local convergence), real parts −γ/2 < 0 with it.

A gradient step of size h is *simultaneous*, (θ, ψ) ← (θ, ψ) + h v(θ, ψ), or *alternating*:
first the discriminator, then the generator at the new ψ (the order of
:func:`kexue_lab.generative.gan_train.fit_gan`). Every function takes arrays of starting points
and advances them all at once.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .. import _validate

__all__ = ["LOSSES", "MODES", "f_prime", "simulate", "update_matrix", "vector_field"]

Loss = Literal["gan", "wgan"]
Mode = Literal["simultaneous", "alternating"]
#: the objectives f of the Dirac-GAN
LOSSES: tuple[str, ...] = ("gan", "wgan")
#: the two ways of taking a gradient step
MODES: tuple[str, ...] = ("simultaneous", "alternating")


def f_prime(t: np.ndarray | float, loss: Loss = "gan") -> np.ndarray:
    """f'(t): 1/(1 + eᵗ) for the standard GAN (f(t) = −log(1 + e^{−t})), 1 for WGAN."""
    _validate.choice("loss", loss, LOSSES)
    t = np.asarray(t, dtype=float)
    if loss == "wgan":
        return np.ones_like(t)
    return 0.5 * (1.0 - np.tanh(0.5 * t))  # = 1/(1 + eᵗ) without overflow


def _penalty_grad(psi: np.ndarray, gamma: float, gp: float) -> np.ndarray:
    """R'(ψ) for R1 = γ/2 ψ² plus WGAN-GP's λ(|ψ| − 1)²."""
    return gamma * psi + 2.0 * gp * (np.abs(psi) - 1.0) * np.sign(psi)


def _checked(gamma: float, gp: float, loss: str) -> tuple[float, float]:
    _validate.choice("loss", loss, LOSSES)
    return _validate.non_negative("gamma", gamma), _validate.non_negative("gp", gp)


def vector_field(
    theta: np.ndarray | float,
    psi: np.ndarray | float,
    *,
    gamma: float = 0.0,
    gp: float = 0.0,
    loss: Loss = "gan",
) -> tuple[np.ndarray, np.ndarray]:
    """The gradient vector field v(θ, ψ) = (−ψ f'(ψθ), θ f'(ψθ) − R'(ψ)) (module docstring).

    ``gamma`` ≥ 0 weighs R1 = γ/2 ψ², ``gp`` ≥ 0 weighs WGAN-GP's λ(|ψ| − 1)²; ``theta`` and
    ``psi`` broadcast against each other.
    """
    gamma, gp = _checked(gamma, gp, loss)
    theta, psi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(psi, float))
    fp = f_prime(psi * theta, loss)
    return -psi * fp, theta * fp - _penalty_grad(psi, gamma, gp)


def simulate(
    theta0: np.ndarray | float,
    psi0: np.ndarray | float,
    *,
    h: float,
    steps: int,
    gamma: float = 0.0,
    gp: float = 0.0,
    loss: Loss = "gan",
    mode: Mode = "simultaneous",
) -> np.ndarray:
    """Gradient steps of size ``h`` from every starting point: an array (steps + 1, 2, N).

    ``[:, 0]`` is θ and ``[:, 1]`` is ψ along each trajectory (N starting points, broadcast
    from ``theta0`` and ``psi0``). ``mode="simultaneous"`` moves both players with the field
    at the current point; ``"alternating"`` moves ψ first, then θ using the new ψ.
    """
    gamma, gp = _checked(gamma, gp, loss)
    _validate.choice("mode", mode, MODES)
    h = _validate.positive("h", h)
    steps = _validate.non_negative_int("steps", steps)
    theta, psi = (a.astype(float).ravel() for a in np.broadcast_arrays(theta0, psi0))
    out = np.empty((steps + 1, 2, theta.size))
    out[0] = theta, psi
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            if mode == "simultaneous":
                fp = f_prime(psi * theta, loss)
                theta, psi = (
                    theta - h * psi * fp,
                    psi + h * (theta * fp - _penalty_grad(psi, gamma, gp)),
                )
            else:
                psi = psi + h * (theta * f_prime(psi * theta, loss) - _penalty_grad(psi, gamma, gp))
                theta = theta - h * psi * f_prime(psi * theta, loss)
            out[k + 1] = theta, psi
    return out


def update_matrix(
    h: float, *, gamma: float = 0.0, loss: Loss = "gan", mode: Mode = "simultaneous"
) -> np.ndarray:
    """The 2×2 Jacobian of one gradient step at the equilibrium (0, 0), with R1 weight γ.

    With a = f'(0): simultaneous, I + hJ = [[1, −ha], [ha, 1 − hγ]]; alternating (ψ first),
    [[1 − h²a², −ha(1 − hγ)], [ha, 1 − hγ]], of determinant 1 − hγ. The iterates converge
    locally iff both eigenvalues lie inside the unit circle (Mescheder et al., Sec. 2).
    """
    gamma, _ = _checked(gamma, 0.0, loss)
    _validate.choice("mode", mode, MODES)
    h = _validate.positive("h", h)
    a = float(f_prime(0.0, loss))
    if mode == "simultaneous":
        return np.array([[1.0, -h * a], [h * a, 1.0 - h * gamma]])
    return np.array([[1.0 - (h * a) ** 2, -h * a * (1.0 - h * gamma)], [h * a, 1.0 - h * gamma]])
