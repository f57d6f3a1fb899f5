"""The sources of benchmarks/bench_alpha_calibration.py: shapes, seeding and, on a large draw,
a sample covariance that matches the stated population covariance (the benchmark's truth)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_alpha_calibration as bench  # benchmarks/, next to tests/

M = 20          # k = m/10 = 2 active factors for the sparse family
N_LARGE = 200_000
# max |sample − population| / max |population| on one seeded draw of N_LARGE rows; heavier
# tails converge more slowly (t(3) has no fourth moment; sparse factors have kurtosis 3·m/k)
TOLERANCE = {"gaussian": 0.02, "relu": 0.02, "broken": 0.02, "sparse": 0.04, "student_t": 0.08}


@pytest.mark.parametrize("family", bench.FAMILIES)
def test_shapes_and_seeding(family: str) -> None:
    x, cov = bench.source(family, 37, M, 1.0, seed=3)
    assert x.shape == (37, M) and cov.shape == (M, M)
    assert np.all(np.isfinite(x)) and np.allclose(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() > 0
    x2, cov2 = bench.source(family, 37, M, 1.0, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(cov, cov2)
    x3, cov3 = bench.source(family, 37, M, 1.0, seed=4)
    assert not np.allclose(x, x3) and not np.allclose(cov, cov3)  # a fresh Q and fresh data


@pytest.mark.parametrize("family", bench.FAMILIES)
def test_sample_covariance_matches_population(family: str) -> None:
    x, cov = bench.source(family, N_LARGE, M, 1.0, seed=11)
    sample = np.cov(x, rowvar=False)
    err = np.abs(sample - cov).max() / np.abs(cov).max()
    assert err < TOLERANCE[family], f"{family}: relative error {err:.4f}"
    # and the spectrum the truth is read from
    pop = np.linalg.eigvalsh(cov)[::-1]
    emp = np.linalg.eigvalsh(sample)[::-1]
    assert np.abs(emp - pop).max() / pop[0] < TOLERANCE[family]


def test_relu_covariance_formula_is_exact_and_discriminating() -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 4))
    sigma = a @ a.T + 0.5 * np.eye(4)           # unequal variances, correlations of both signs
    x = rng.multivariate_normal(np.zeros(4), sigma, size=400_000)
    sample = np.cov(np.maximum(x, 0.0), rowvar=False)
    exact = bench.relu_covariance(sigma)
    scale = np.abs(exact).max()
    assert np.abs(sample - exact).max() / scale < 0.015
    np.testing.assert_allclose(np.diag(exact), np.diag(sigma) * (0.5 - 1 / (2 * np.pi)))
    no_mean = exact + np.outer(np.sqrt(np.diag(sigma)), np.sqrt(np.diag(sigma))) / (2 * np.pi)
    assert np.abs(sample - no_mean).max() / scale > 0.1   # forgetting the means is detected


def test_sparse_rows_have_exactly_k_active_factors() -> None:
    lam = bench.population_spectrum("sparse", M, 1.0)
    x, _ = bench.source("sparse", 500, M, 1.0, seed=2)
    q = bench.random_rotation(M, np.random.default_rng(2))   # the same Q (drawn first)
    factors = x @ q / np.sqrt(lam)
    active = np.abs(factors) > 1e-9
    assert np.all(active.sum(axis=1) == M // 10)
    assert 0.05 < active.mean(axis=0).min() and active.mean(axis=0).max() < 0.16


def test_broken_spectrum_is_continuous_with_its_two_slopes() -> None:
    lam = bench.population_spectrum("broken", 100, 1.0)
    i = np.arange(1, 101)
    np.testing.assert_allclose(lam[:20], i[:20] ** -0.5)
    np.testing.assert_allclose(lam[19] * (21 / 20) ** -1.8, lam[20])
    slopes = -np.diff(np.log(lam)) / np.diff(np.log(i))
    np.testing.assert_allclose(slopes[:19], 0.5)
    np.testing.assert_allclose(slopes[20:], 1.8)


def test_truth_is_the_plain_fit_of_the_population_spectrum() -> None:
    _, cov = bench.source("gaussian", 10, 100, 1.0, seed=0)
    assert bench.truth_alpha(cov, (11, 50)) == pytest.approx(1.0, abs=1e-9)
    _, cov = bench.source("broken", 10, 100, 1.0, seed=0)
    assert bench.truth_alpha(cov, (2, 15)) == pytest.approx(0.5, abs=1e-9)
    assert bench.truth_alpha(cov, (25, 50)) == pytest.approx(1.8, abs=1e-9)


def test_wilson_interval() -> None:
    lo, hi = bench.wilson(90, 100)
    assert lo == pytest.approx(0.8256, abs=1e-3) and hi == pytest.approx(0.9448, abs=1e-3)
    assert bench.wilson(100, 100)[1] == 1.0 and bench.wilson(0, 100)[0] == 0.0
