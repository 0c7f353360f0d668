"""Spectra for chapter 35: a star / unknown / galaxy / QSO generator with known lines, and loaders.

The article (基于Conv1D的光谱分类模型, kexue.fm/archives/5505) classifies LAMOST spectra (2,600
flux values each) into the competition's four classes ``star, unknown, galaxy, qso`` (its
``label2id``), scored by macro F1. The LAMOST data need a Tianchi account, so the chapter
generates spectra of the same kind whose lines are known:

* star: a blackbody-like continuum with absorption lines at rest (Ca II K/H, Balmer, Mg b, Na D);
* galaxy: a cooler continuum, weak absorption and narrow emission lines, redshift z ~ U(0.02, 0.3);
* qso: a power-law continuum with broad emission lines, z ~ U(0.1, 2.5), so that different rest
  lines (Lyα … Hα) fall inside the window;
* unknown: any of the three at a very low signal-to-noise ratio, with dead (zeroed) stretches,
  the "low-quality spectrum" the competition's class stands for.

Every spectrum comes with its noise-free line signal, so a saliency map can be checked against
the lines that were put in. :func:`load_tecator` reads real NIR spectra bundled with ``sktime``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validate

#: The competition's classes in the article's order (its ``label2id``).
CLASSES = ("star", "unknown", "galaxy", "qso")
#: Our class priors: stars dominate, QSOs are rarest (the competition's counts were not published).
PRIORS = (0.82, 0.08, 0.06, 0.04)
#: The article's per-batch class fractions (``self.fracs`` of its Data_Reader).
ARTICLE_BATCH_FRACS = (0.8, 0.1, 0.05, 0.05)
#: Observed window (Å) of LAMOST low-resolution spectra, roughly.
WINDOW = (3800.0, 9000.0)

#: Rest wavelengths (Å) of the lines the generator draws.
STAR_ABSORPTION = (3934.0, 3969.0, 4102.0, 4340.0, 4861.0, 5175.0, 5893.0, 6563.0)
GALAXY_ABSORPTION = (3934.0, 3969.0, 5175.0, 5893.0)
GALAXY_EMISSION = (3727.0, 4861.0, 4959.0, 5007.0, 6563.0, 6583.0, 6716.0)
QSO_EMISSION = (1216.0, 1549.0, 1909.0, 2798.0, 4861.0, 6563.0)


def _planck_shape(wave: np.ndarray, temp: np.ndarray) -> np.ndarray:
    """B_λ(T) up to a constant, one row per temperature, normalised to mean 1."""
    x = 1.4388e8 / (wave[None, :] * temp[:, None])  # hc/(λkT) with λ in Å
    b = wave[None, :] ** -5.0 / np.expm1(x)
    return b / b.mean(axis=1, keepdims=True)


def _add_lines(
    lines: np.ndarray,
    wave: np.ndarray,
    rest: tuple[float, ...],
    z: np.ndarray,
    amp: np.ndarray,
    sigma: np.ndarray,
) -> None:
    """Add Σ_k amp[:, k] exp(−(λ − λ_k(1+z))²/(2σ²)) to ``lines`` in place (σ per sample)."""
    for s in range(0, len(z), 1024):  # chunks keep the (n, K, L) temporary small
        c = slice(s, s + 1024)
        centre = np.asarray(rest)[None, :] * (1.0 + z[c, None])  # (n, K)
        dist = wave[None, None, :] - centre[:, :, None]  # (n, K, L)
        width = sigma[c, None, None] * (1.0 + z[c, None, None])
        lines[c] += (amp[c, :, None] * np.exp(-0.5 * (dist / width) ** 2)).sum(axis=1)


def make_spectra(
    n: int,
    length: int = 256,
    priors: tuple[float, ...] = PRIORS,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Generate ``n`` spectra of the four classes with known lines (chapter 35).

    Each flux is continuum × (1 + lines) + noise, the noise Gaussian with standard deviation
    1/SNR (SNR ~ U(2.5, 20); ``unknown``: U(0.8, 2.5), up to two zeroed stretches). Returns
    a dict with ``flux`` (n, length) float32 standardised per spectrum, ``labels`` (n,) int64 in
    :data:`CLASSES` order, ``wave`` (length,) in Å, ``lines`` (n, length) the noise-free
    |line signal| in the same units as the standardised flux, and ``z`` (n,) the redshifts.
    """
    n = _validate.positive_int("n", n)
    length = _validate.int_at_least("length", length, 16)
    p = _validate.real_array("priors", priors)
    if p.shape != (4,) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"priors must be 4 non-negative numbers with a positive sum, got {priors}")
    seed = _validate.non_negative_int("seed", seed)
    rng = np.random.default_rng(seed)
    wave = np.linspace(*WINDOW, length)
    labels = rng.choice(4, size=n, p=p / p.sum())
    # an "unknown" spectrum is a bad observation of any of the three astrophysical classes
    kind = np.where(labels == 1, rng.choice([0, 2, 3], size=n, p=[0.8, 0.12, 0.08]), labels)
    z = np.where(kind == 0, rng.normal(0.0, 5e-4, n), 0.0)
    z = np.where(kind == 2, rng.uniform(0.02, 0.3, n), z)
    z = np.where(kind == 3, rng.uniform(0.1, 2.5, n), z)
    temp = np.where(kind == 0, rng.uniform(3500, 12000, n), rng.uniform(4000, 6500, n))
    cont = _planck_shape(wave, temp)
    alpha = rng.uniform(-1.5, -0.5, n)
    power = (wave[None, :] / 6000.0) ** alpha[:, None]
    cont = np.where((kind == 3)[:, None], power / power.mean(axis=1, keepdims=True), cont)
    lines = np.zeros((n, length))
    for k, rest, amp, sig in [
        (0, STAR_ABSORPTION, -rng.uniform(0.1, 0.4, (n, 8)), rng.uniform(8, 14, n)),
        (2, GALAXY_ABSORPTION, -rng.uniform(0.05, 0.15, (n, 4)), rng.uniform(6, 10, n)),
        (2, GALAXY_EMISSION, rng.uniform(0.1, 1.0, (n, 7)), rng.uniform(6, 10, n)),
        (3, QSO_EMISSION, rng.uniform(0.3, 1.5, (n, 6)), rng.uniform(25, 50, n)),
    ]:
        sel = np.flatnonzero(kind == k)
        part = np.zeros((len(sel), length))
        _add_lines(part, wave, rest, z[sel], amp[sel], sig[sel])
        lines[sel] += part
    clean = cont * (1.0 + lines)
    snr = np.where(labels == 1, rng.uniform(0.8, 2.5, n), rng.uniform(2.5, 20.0, n))
    flux = clean + rng.normal(size=(n, length)) / snr[:, None]
    for _ in range(2):  # dead stretches of bad spectra
        start = rng.integers(0, length, n)
        span = rng.integers(length // 20, length // 5, n)
        idx = np.arange(length)[None, :]
        dead = (labels == 1)[:, None] & (idx >= start[:, None]) & (idx < (start + span)[:, None])
        dead &= rng.random(n)[:, None] < 0.5
        flux[dead] = 0.0
    mean, std = flux.mean(axis=1, keepdims=True), flux.std(axis=1, keepdims=True) + 1e-8
    return {
        "flux": ((flux - mean) / std).astype(np.float32),
        "labels": labels.astype(np.int64),
        "wave": wave,
        "lines": (np.abs(cont * lines) / std).astype(np.float32),
        "z": z,
    }


def line_mask(lines: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Pixels where the noise-free |line signal| exceeds ``threshold`` (per-spectrum units)."""
    lines = _validate.real_array("lines", lines)
    threshold = _validate.non_negative("threshold", threshold)
    return lines > threshold


def standardize(x: Any) -> np.ndarray:
    """Standardise each row (spectrum) to mean 0 and standard deviation 1."""
    x = _validate.real_array("x", x)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"x must be a (n, length ≥ 2) array, got shape {x.shape}")
    return ((x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-8)).astype(np.float32)


def load_tecator(fat_threshold: float = 20.0) -> dict[str, np.ndarray]:
    """Tecator NIR absorbance spectra (215 × 100, 850–1050 nm), bundled with ``sktime``.

    The target is the meat's fat content (%); label 1 when fat ≥ ``fat_threshold`` (at 20 %:
    77 of 215 positive). Spectra are standardised per row, so the classes differ in shape only.
    Returns ``flux`` (215, 100) float32, ``labels`` int64, ``fat`` and ``wave`` (nm).
    """
    fat_threshold = _validate.real("fat_threshold", fat_threshold)
    from sktime.datasets import load_tecator as _load

    x, fat = _load(return_X_y=True, return_type="numpy3D")
    fat = np.asarray(fat, dtype=float)
    return {
        "flux": standardize(x[:, 0, :]),
        "labels": (fat >= fat_threshold).astype(np.int64),
        "fat": fat,
        "wave": np.linspace(850.0, 1050.0, x.shape[2]),
    }


def split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test index split (scikit-learn's), reproducible by ``seed``."""
    from sklearn.model_selection import train_test_split

    test_fraction = _validate.in_range("test_fraction", test_fraction, 0.0, 1.0)
    idx = np.arange(len(labels))
    tr, te = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
    return np.sort(tr), np.sort(te)
