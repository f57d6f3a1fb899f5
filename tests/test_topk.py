"""Tests of polycode_lite.science.eigen.topk_eigenvalues: every returned rank within 1% of the
exact eigenvalue, seed determinism, argument checks."""

import numpy as np
import pytest

from polycode_lite.science.eigen import eigenspectrum, topk_eigenvalues

M, K = 1200, 300  # the auto path of eigenspectrum takes topk_eigenvalues for m > 1000, k < m/3


@pytest.fixture(scope="module")
def rotation():
    q, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((M, M)))
    return q


def max_rel_err(top, exact):
    return float(np.max(np.abs(top - exact[: len(top)]) / exact[: len(top)]))


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_every_rank_within_one_percent_on_power_laws(rotation, alpha):
    lam = np.arange(1, M + 1, dtype=np.float64) ** -alpha  # exact eigenvalues by construction
    cov = (rotation * lam) @ rotation.T
    spec = eigenspectrum(cov, k=K)
    assert spec.estimator == "topk"
    assert spec.shape == (K,) and spec.dtype == np.float64
    assert np.all(np.diff(spec) <= 0)
    assert max_rel_err(np.asarray(spec), lam) <= 0.01


def test_every_rank_within_one_percent_on_sample_covariance(rotation):
    lam = np.arange(1, M + 1, dtype=np.float64) ** -1.0
    x = (np.random.default_rng(3).standard_normal((2 * M, M)) * np.sqrt(lam)) @ rotation.T
    cov = (x.T @ x) / (2 * M - 1)
    exact = np.linalg.eigvalsh(cov)[::-1]
    assert max_rel_err(topk_eigenvalues(cov, K), exact) <= 0.01


def test_seed_determinism():
    rng = np.random.default_rng(11)
    m, k = 400, 60
    q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    lam = np.arange(1, m + 1, dtype=np.float64) ** -0.5
    cov = (q * lam) @ q.T
    a = topk_eigenvalues(cov, k, seed=5)
    np.testing.assert_array_equal(a, topk_eigenvalues(cov, k, seed=5))
    b = topk_eigenvalues(cov, k, seed=6)
    assert not np.array_equal(a, b)
    assert max_rel_err(a, lam) <= 0.01 and max_rel_err(b, lam) <= 0.01


def test_whole_space_is_exact_and_rank_deficient_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((20, 60))
    cov = x.T @ x / 19  # rank 20
    exact = np.linalg.eigvalsh(cov)[::-1]
    np.testing.assert_allclose(topk_eigenvalues(cov, 40), exact[:40], rtol=0, atol=1e-12)  # l = m
    top = topk_eigenvalues(cov, 25, n_oversamples=5)
    np.testing.assert_allclose(top[:20], exact[:20], rtol=1e-6)
    assert np.all(np.abs(top[20:]) <= 1e-10 * exact[0])
    np.testing.assert_array_equal(topk_eigenvalues(np.zeros((30, 30)), 3), np.zeros(3))


def test_check_warns_when_rounds_run_out():
    rng = np.random.default_rng(4)
    m = 300
    q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    cov = (q * np.arange(1, m + 1, dtype=np.float64) ** -0.25) @ q.T
    with pytest.warns(RuntimeWarning, match="estimated relative error"):
        topk_eigenvalues(cov, 50, n_oversamples=5, n_power_iter=1, max_rounds=1, rtol=1e-6)


@pytest.mark.parametrize("k", [0, -1, 6, 2.5, True])
def test_bad_k_raises(k):
    with pytest.raises(ValueError, match="k must be between"):
        topk_eigenvalues(np.eye(5), k)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="square"):
        topk_eigenvalues(np.ones((4, 5)), 2)
    with pytest.raises(ValueError, match="n_oversamples"):
        topk_eigenvalues(np.eye(5), 2, n_oversamples=-1)
    with pytest.raises(ValueError, match="n_power_iter"):
        topk_eigenvalues(np.eye(5), 2, n_power_iter=0)
    with pytest.raises(ValueError, match="rtol"):
        topk_eigenvalues(np.eye(5), 2, rtol=0)
    with pytest.raises(ValueError, match="max_rounds"):
        topk_eigenvalues(np.eye(5), 2, max_rounds=0)
