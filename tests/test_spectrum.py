"""Tests of polycode_lite.science.powerlaw against numpy/scipy oracles and known power laws."""

import numpy as np
import pytest
import torch

from polycode_lite.science.covariance import CovarianceAccumulator
from polycode_lite.science.eigen import (
    cv_pca,
    effective_rank,
    eigenspectrum,
    participation_ratio,
    topk_eigenvalues,
)
from polycode_lite.science.powerlaw import (
    alpha_window_scan,
    bootstrap_alpha,
    default_fit_window,
    fit_power_law,
    powerlaw_gaussian,
    sample_powerlaw_spectrum,
    smoothness_threshold,
)


def rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


# ---------------------------------------------------------------- accumulator
def test_accumulator_matches_np_cov_streaming_and_offset():
    rng = np.random.default_rng(0)
    # a large common offset is what breaks raw sums of squares
    x = rng.standard_normal((5000, 40)) * np.linspace(0.1, 3, 40) + 1e4
    acc = CovarianceAccumulator(40)
    for s in range(0, 5000, 333):
        acc.update(x[s : s + 333])
    assert acc.n == 5000
    assert rel_err(acc.covariance(), np.cov(x, rowvar=False)) < 1e-10
    np.testing.assert_allclose(acc.mean, x.mean(axis=0), rtol=1e-12)


def test_accumulator_float32_batches_are_cast_before_product():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((4000, 16)) + 300.0).astype(np.float32)
    acc = CovarianceAccumulator(16).update(torch.from_numpy(x))
    ref = np.cov(x.astype(np.float64), rowvar=False)
    assert rel_err(acc.covariance(), ref) < 1e-10


def test_accumulator_merge_equals_single_pass():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((900, 12)) + 5
    a, b, c = CovarianceAccumulator(12), CovarianceAccumulator(12), CovarianceAccumulator(12)
    a.update(x[:100])
    b.update(x[100:700])
    c.update(x[700:])
    a.merge(b).merge(c).merge(CovarianceAccumulator(12))
    assert a.n == 900
    assert rel_err(a.covariance(), np.cov(x, rowvar=False)) < 1e-10


def test_accumulator_state_dict_round_trip():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((80, 8))
    acc = CovarianceAccumulator(8).update(x[:50])
    acc2 = CovarianceAccumulator.from_state_dict(acc.state_dict())
    acc2.update(x[50:])
    assert acc2.n == 80
    assert rel_err(acc2.covariance(), np.cov(x, rowvar=False)) < 1e-10


def test_accumulator_state_stays_small_and_chunking_does_not_matter():
    """One row at a time, uneven chunks and reversed order all give np.cov (single rows carry
    no within-batch term: only a correct between-batch update gets them right), and the saved
    state after 301 rows is as big as after one row (O(dim²) memory)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((301, 10)) * np.linspace(0.5, 2.0, 10) + 50.0
    ref = np.cov(x, rowvar=False)

    def state_size(acc):
        return sum(t.numel() for t in acc.state_dict().values())

    rows = CovarianceAccumulator(10).update(x[:1])
    size_after_one = state_size(rows)
    for r in x[1:]:
        rows.update(r[None, :])
    assert rows.n == 301
    assert size_after_one == state_size(rows) == 1 + 10 + 10 * 10
    assert rel_err(rows.covariance(), ref) < 1e-10
    np.testing.assert_allclose(rows.mean, x.mean(axis=0), rtol=1e-12)
    uneven = CovarianceAccumulator(10)
    for lo, hi in ((0, 1), (1, 3), (3, 200), (200, 201), (201, 301)):
        uneven.update(x[lo:hi])
    assert rel_err(uneven.covariance(), ref) < 1e-10
    backwards = CovarianceAccumulator(10)
    for s in range(301, 0, -7):
        backwards.update(x[max(0, s - 7):s])
    assert rel_err(backwards.covariance(), ref) < 1e-10


@pytest.mark.parametrize(
    "batch, match",
    [
        (np.ones((5, 3)), "dimension mismatch"),
        (np.ones(4), "2-D"),
        (np.ones((0, 4)), "empty"),
    ],
)
def test_accumulator_bad_batches(batch, match):
    acc = CovarianceAccumulator(4)
    with pytest.raises(ValueError, match=match):
        acc.update(batch)


def test_accumulator_nan_names_location_and_leaves_state_unchanged():
    rng = np.random.default_rng(4)
    acc = CovarianceAccumulator(3).update(rng.standard_normal((10, 3)))
    before = acc.covariance().copy(), acc.n
    bad = rng.standard_normal((6, 3))
    bad[2, 1] = np.nan
    bad[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 NaN/inf value\(s\) at \(row 2, col 1\)"):
        acc.update(bad)
    assert acc.n == before[1]
    np.testing.assert_array_equal(acc.covariance(), before[0])


def test_accumulator_too_few_samples():
    acc = CovarianceAccumulator(3).update(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        acc.covariance()


def test_merge_dimension_mismatch():
    with pytest.raises(ValueError, match="dimension mismatch"):
        CovarianceAccumulator(3).merge(CovarianceAccumulator(4))


# ---------------------------------------------------------------- eigenspectrum
def test_eigenspectrum_three_inputs_agree():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((400, 30)) @ rng.standard_normal((30, 30))
    ref = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]
    acc = CovarianceAccumulator(30).update(x)
    for src in (x, np.cov(x, rowvar=False), acc):
        np.testing.assert_allclose(eigenspectrum(src), ref, rtol=1e-9, atol=1e-12)
    assert np.all(np.diff(eigenspectrum(x)) <= 0)
    np.testing.assert_allclose(eigenspectrum(x, k=5), ref[:5], rtol=1e-9)


def test_eigenspectrum_gram_trick_when_n_less_than_m():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((20, 300))
    vals = eigenspectrum(x)
    ref = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1][:20]
    assert vals.shape == (20,)
    np.testing.assert_allclose(vals[:19], ref[:19], rtol=1e-8)


def test_topk_randomized_accuracy_on_power_law():
    rng = np.random.default_rng(7)
    m = 1200
    lam = np.arange(1, m + 1) ** -1.0
    q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    cov = (q * lam) @ q.T
    top = eigenspectrum(cov, k=200, method="randomized")
    full = np.linalg.eigvalsh(cov)[::-1]
    assert np.max(np.abs(top[:100] - full[:100]) / full[:100]) < 0.01


def test_eigenspectrum_bad_inputs():
    with pytest.raises(ValueError, match="k=11 is out of range"):
        eigenspectrum(np.random.default_rng(0).standard_normal((50, 10)), k=11)
    with pytest.raises(ValueError, match="at least 2 samples"):
        eigenspectrum(np.ones((1, 10)), kind="activations")
    x = np.ones((10, 3))
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN/inf"):
        eigenspectrum(x)
    with pytest.raises(ValueError, match="k must be between"):
        topk_eigenvalues(np.eye(5), 6)


# ---------------------------------------------------------------- power-law fit
def test_fit_exact_power_law_and_window():
    lam = np.arange(1, 1001) ** -1.3
    fit = fit_power_law(lam)
    assert fit.ranks == (11, 500)
    assert fit.alpha == pytest.approx(1.3, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.intercept == pytest.approx(0.0, abs=1e-9)
    assert fit.method == "plain"
    fit2 = fit_power_law(lam, ranks=(5, 50))
    assert fit2.ranks == (5, 50)


def test_fit_recovers_alpha_from_large_sample():
    x = powerlaw_gaussian(8000, 200, 1.0, seed=0)
    fit = fit_power_law(eigenspectrum(x))
    assert abs(fit.alpha - 1.0) < 0.05
    assert fit.ci[0] <= fit.alpha <= fit.ci[1]


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("ratio", [0.5, 1.0])
def test_bias_correction_hits_target(alpha, ratio):
    """Issue target: |α̂ − α| ≤ 0.03 at n/m ≥ 0.5 (mean over 3 data sets, m = 300)."""
    m = 300
    n = int(ratio * m)
    plain, corrected = [], []
    for s in range(3):
        lam = sample_powerlaw_spectrum(m, n, alpha, np.random.default_rng(1000 + s))
        f = fit_power_law(lam, n_samples=n, n_features=m, seed=s, n_boot=20)
        plain.append(f.alpha_plain)
        corrected.append(f.alpha)
        assert f.method == "simulation-matched"
    assert abs(np.mean(corrected) - alpha) <= 0.03
    assert abs(np.mean(corrected) - alpha) <= abs(np.mean(plain) - alpha) + 0.01


def test_plain_fit_overestimates_at_n_equal_m():
    m = 400
    x = powerlaw_gaussian(m, m, 1.0, seed=3, rotate=False)
    f = fit_power_law(eigenspectrum(x), n_samples=m)
    assert f.alpha_plain - 1.0 > 0.03
    assert abs(f.alpha - 1.0) < abs(f.alpha_plain - 1.0)


def test_sample_spectrum_simulator_matches_direct_data():
    """The Bartlett shortcut gives the same distribution as forming the data."""
    m, n, alpha = 60, 200, 1.2
    direct = np.mean([eigenspectrum(powerlaw_gaussian(n, m, alpha, seed=s, rotate=False))[:30]
                      for s in range(40)], axis=0)
    rng = np.random.default_rng(0)
    fast = np.mean([sample_powerlaw_spectrum(m, n, alpha, rng)[:30] for _ in range(40)], axis=0)
    np.testing.assert_allclose(fast, direct, rtol=0.08)


def test_fit_bad_inputs():
    lam = np.arange(1, 101) ** -1.0
    with pytest.raises(ValueError, match="outside the spectrum"):
        fit_power_law(lam, ranks=(10, 200))
    bad = lam.copy()
    bad[30] = 0.0
    with pytest.raises(ValueError, match="non-positive eigenvalue"):
        fit_power_law(bad, ranks=(10, 50))
    with pytest.raises(ValueError, match="NaN/inf"):
        fit_power_law(np.array([1.0, np.nan, 0.5, 0.2]))
    with pytest.raises(ValueError, match="too few eigenvalues"):
        fit_power_law(np.arange(1, 8) ** -1.0)
    with pytest.raises(ValueError, match="1 <= lo < hi"):
        fit_power_law(lam, ranks=(20, 10))


def test_default_window_caps():
    assert default_fit_window(5000) == (11, 500)
    assert default_fit_window(5000, n_samples=300) == (11, 150)
    assert default_fit_window(64) == (2, 32)


def test_window_scan_table():
    lam = np.arange(1, 2001) ** -1.1
    df = alpha_window_scan(lam)
    assert {"lo", "hi", "alpha", "r2"} <= set(df.columns)
    np.testing.assert_allclose(df["alpha"], 1.1, atol=1e-9)


def test_fit_plot_has_labels():
    import matplotlib

    matplotlib.use("Agg")
    ax = fit_power_law(np.arange(1, 300) ** -1.0).plot()
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_bootstrap_alpha_by_groups():
    x = powerlaw_gaussian(3000, 100, 1.5, seed=1)
    groups = np.repeat(np.arange(30), 100)
    f = bootstrap_alpha(x, groups=groups, n_boot=30)
    assert f.ci[0] < f.alpha < f.ci[1]
    assert "30 groups" in f.ci_method
    assert abs(f.alpha - 1.5) < 0.1


# ---------------------------------------------------------------- cvPCA
def test_cv_pca_removes_independent_noise():
    """docs/paper_guide.md E2: PCA alpha is flattened by noise, cvPCA recovers it."""
    n, m, alpha = 2000, 400, 1.0
    signal = powerlaw_gaussian(n, m, alpha, seed=0)
    rng = np.random.default_rng(1)
    noise_sd = 0.1
    r1 = signal + noise_sd * rng.standard_normal((n, m))
    r2 = signal + noise_sd * rng.standard_normal((n, m))
    window = (11, 150)
    pca_alpha = fit_power_law(eigenspectrum(r1), ranks=window).alpha
    cv = cv_pca(r1, r2, n_shuffles=3, seed=0)
    cv_alpha = fit_power_law(cv, ranks=window).alpha
    assert pca_alpha < 0.8
    assert abs(cv_alpha - alpha) < 0.1


def test_cv_pca_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        cv_pca(np.ones((10, 3)), np.ones((11, 3)))


# ---------------------------------------------------------------- small helpers
def test_threshold_pr_effective_rank():
    assert smoothness_threshold(1) == 3.0
    assert smoothness_threshold(2) == 2.0
    with pytest.raises(ValueError):
        smoothness_threshold(0)
    assert participation_ratio(np.ones(10)) == pytest.approx(10)
    assert participation_ratio([1, 0, 0]) == pytest.approx(1)
    assert effective_rank(np.ones(7)) == pytest.approx(7)
    assert effective_rank([2.0, 0.0]) == pytest.approx(1)
    with pytest.raises(ValueError):
        participation_ratio([0, 0])
