"""Code book, decoder bound, plug-in MI, divergence rule and calibration rule (issue 13)."""

import math

import numpy as np
import pytest

from polycode_lite.science import mi_estimators as mie


def test_codebook_has_the_stated_entropy_and_distinct_words():
    cb = mie.CodeBook()
    w = cb.words()
    assert w.shape == (8, 3) and len({tuple(r) for r in w}) == 8
    assert cb.entropy_nats == pytest.approx(3 * math.log(2))
    emb = mie.CodeBook(bits=3, dim=10, seed=1).words()
    d0 = np.linalg.norm(w[:, None] - w[None], axis=-1)
    d1 = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    assert emb.shape == (8, 10) and np.allclose(d0, d1, atol=1e-5)  # orthonormal embedding
    labels, x = cb.sample(2000, seed=3)
    assert np.array_equal(x, w[labels]) and np.bincount(labels).min() > 200
    for bad in (dict(bits=0), dict(bits=3, dim=2), dict(amplitude=0.0)):
        with pytest.raises(ValueError):
            mie.CodeBook(**bad)


def _erasure(n=8000, p=0.2, seed=0):
    cb = mie.CodeBook()
    labels, x = cb.sample(n, seed=seed)
    z = x * (np.random.default_rng(seed + 1).random(x.shape) >= p)
    return labels, x, z


def test_plugin_is_exact_on_an_erasure_of_the_code_book():
    labels, _, z = _erasure()
    true = 3 * 0.8 * math.log(2)  # three ±1 symbols, each kept with probability 0.8
    assert mie.plugin_mutual_information(labels, z) == pytest.approx(true, abs=0.02)
    indep = np.random.default_rng(5).integers(0, 8, len(labels))
    assert mie.plugin_mutual_information(labels, indep) < 0.01  # null: independent labels


def test_decoder_bound_on_known_channels_and_a_null():
    labels, x, z = _erasure()
    assert mie.decoder_lower_bound(labels, x).mi == pytest.approx(3 * math.log(2), abs=0.03)
    assert mie.decoder_lower_bound(labels, z).mi == pytest.approx(3 * 0.8 * math.log(2), abs=0.06)
    noise = np.random.default_rng(9).standard_normal((len(labels), 5))
    null = mie.decoder_lower_bound(labels, noise)
    assert abs(null.mi) < 0.05 and null.accuracy < 0.2  # independent z: no information found
    with pytest.raises(ValueError, match="labels"):
        mie.decoder_lower_bound(labels[:-1], z)


def test_divergence_reason_rule():
    healthy = [0.1, 0.4, 0.5, 0.52, 0.5, 0.51]
    assert mie.divergence_reason(healthy, 0.505) == ""
    assert mie.divergence_reason([0.0, 0.01, -0.02, 0.0], -0.01) == ""  # null: independent pairs are fine
    assert "sanity floor" in mie.divergence_reason([1.7, 3.2, -287.0, -2938.0], -1612.0)
    assert "fell from its best" in mie.divergence_reason([1.7, 3.2, 3.3, 1.4], 1.4)
    assert "non-finite" in mie.divergence_reason([1.0, float("nan")], float("nan"))


def test_calibration_rule_fails_an_estimator_that_finds_information_in_a_null():
    truths = {"a": 0.5, "b": 2.5}
    assert mie.calibration_verdict({"a": 0.49, "b": 2.45}, truths, null_estimate=0.01)["verdict"] == "holds"
    assert mie.calibration_verdict({"a": 0.49, "b": 2.45}, truths, null_estimate=0.3)["verdict"] == (
        "does not hold at this scale")
    assert mie.calibration_verdict({"a": 0.49, "b": 1.0}, truths, null_estimate=0.0)["verdict"] == "partly"
    assert mie.calibration_verdict({"a": 0.49, "b": 2.45}, truths, null_estimate=-0.06)["verdict"] == "holds"
    with pytest.raises(ValueError, match="missing"):
        mie.calibration_verdict({"a": 0.5}, truths, 0.0)


def test_calibration_verdict_says_why_for_every_outcome():
    truths = {"a": 0.5, "b": 2.5}
    held = mie.calibration_verdict({"a": 0.49, "b": 2.45}, truths, null_estimate=0.01)
    part = mie.calibration_verdict({"a": 0.49, "b": 1.0}, truths, null_estimate=0.0)
    bad = mie.calibration_verdict({"a": 0.49, "b": 2.45}, truths, null_estimate=0.3)
    assert part["verdict"] == "partly" and "b -60.0%" in part["why"]
    assert bad["verdict"] == "does not hold at this scale" and "+0.300 nats on independent pairs" in bad["why"]
    assert "within 10%" in held["why"]
