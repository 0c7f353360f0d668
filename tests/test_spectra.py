"""Chapter 35's spectrum generator and loaders."""

from __future__ import annotations

import numpy as np
import pytest

from kexue_lab.sequences import spectra


def test_generator_shapes_classes_and_priors() -> None:
    d = spectra.make_spectra(4000, 128, seed=3)
    assert d["flux"].shape == d["lines"].shape == (4000, 128)
    assert d["flux"].dtype == np.float32 and d["labels"].dtype == np.int64
    np.testing.assert_allclose(d["flux"].mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(d["flux"].std(1), 1, atol=1e-4)
    share = np.bincount(d["labels"], minlength=4) / 4000
    se = np.sqrt(np.array(spectra.PRIORS) * (1 - np.array(spectra.PRIORS)) / 4000)
    assert np.all(np.abs(share - spectra.PRIORS) < 5 * se)
    assert d["wave"][0] == spectra.WINDOW[0] and d["wave"][-1] == spectra.WINDOW[1]
    again = spectra.make_spectra(4000, 128, seed=3)
    np.testing.assert_array_equal(d["flux"], again["flux"])


def test_lines_sit_where_they_were_put() -> None:
    # a star at z ≈ 0: its strongest line pixels lie within 30 Å of a rest absorption line
    d = spectra.make_spectra(300, 520, priors=(1, 0, 0, 0), seed=1)
    assert np.all(np.abs(d["z"]) < 0.003)
    peak = d["wave"][d["lines"].argmax(1)]
    gap = np.abs(peak[:, None] - np.array(spectra.STAR_ABSORPTION)[None, :]).min(1)
    assert np.all(gap < 30)
    # galaxies and QSOs are redshifted within their ranges
    g = spectra.make_spectra(200, 64, priors=(0, 0, 1, 0), seed=2)["z"]
    q = spectra.make_spectra(200, 64, priors=(0, 0, 0, 1), seed=2)["z"]
    assert 0.02 <= g.min() and g.max() <= 0.3 and 0.1 <= q.min() and q.max() <= 2.5


def test_unknown_spectra_are_noisier() -> None:
    d = spectra.make_spectra(3000, 256, priors=(0.5, 0.5, 0, 0), seed=0)
    rough = np.abs(np.diff(d["flux"], axis=1)).mean(1)  # pixel-to-pixel jumps: noise
    assert rough[d["labels"] == 1].mean() > 1.5 * rough[d["labels"] == 0].mean()


def test_line_mask_and_standardize() -> None:
    lines = np.array([[0.0, 0.2, 0.05]])
    np.testing.assert_array_equal(spectra.line_mask(lines, 0.1), [[False, True, False]])
    x = np.random.default_rng(0).normal(3, 2, (5, 40))
    z = spectra.standardize(x)
    np.testing.assert_allclose(z, (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True), 1e-5)


def test_split_is_stratified() -> None:
    labels = np.array([0] * 80 + [1] * 20)
    tr, te = spectra.split(labels, 0.25, seed=0)
    assert len(te) == 25 and set(tr).isdisjoint(te)
    assert np.sum(labels[te] == 1) == 5


def test_tecator_loads_offline() -> None:
    t = spectra.load_tecator()
    assert t["flux"].shape == (215, 100)
    assert int(t["labels"].sum()) == int(np.sum(t["fat"] >= 20.0))


@pytest.mark.parametrize(
    ("kwargs", "err", "name"),
    [
        ({"n": 0}, ValueError, "n"),
        ({"n": 10, "length": 4}, ValueError, "length"),
        ({"n": 10, "priors": (1, 0, 0)}, ValueError, "priors"),
        ({"n": 10, "priors": (1, -1, 1, 1)}, ValueError, "priors"),
        ({"n": 10, "seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_input(kwargs: dict, err: type, name: str) -> None:
    with pytest.raises(err, match=name):
        spectra.make_spectra(**kwargs)
    with pytest.raises(ValueError, match="threshold"):
        spectra.line_mask(np.zeros(3), -1.0)
    with pytest.raises(ValueError, match="x must be"):
        spectra.standardize(np.zeros(5))
