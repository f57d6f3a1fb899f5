"""α off the Gaussian happy path: the natural calls are right or raise, repeats survive dropout
noise, one window per comparison, and the fit flags what it cannot describe."""

from __future__ import annotations

import numpy as np
import pytest

import polycode_lite as pc
from polycode_lite.experiments.alpha import Repeats, grid_windows, layer_alphas, resolve_window
from polycode_lite.science.eigen import cv_pca, eigenspectrum
from polycode_lite.science.powerlaw import alpha_window_scan, bootstrap_alpha, fit_power_law, powerlaw_gaussian
from polycode_lite.science.repeats import (
    cross_covariance,
    denoised_covariance,
    dropout_passes,
    repeats_spectrum,
)
from polycode_lite.science.spectrum import Spectrum


def _dropout_repeats(h: np.ndarray, p: float, k: int, seed: int) -> np.ndarray:
    return dropout_passes(h, p, k, np.random.default_rng(seed))


@pytest.mark.parametrize("alpha", [0.8, 1.3, 2.0])
@pytest.mark.parametrize("ratio", [0.25, 0.5])
def test_the_natural_call_is_right_when_n_is_below_m(alpha, ratio):
    m = 400
    n = int(ratio * m)
    x = powerlaw_gaussian(n, m, alpha, seed=1)
    lam = eigenspectrum(x)
    assert isinstance(lam, Spectrum) and (lam.n_samples, lam.n_features) == (n, m)
    natural = fit_power_law(lam, n_boot=0)
    explicit = fit_power_law(np.asarray(lam), n_samples=n, n_features=m, n_boot=0)
    assert natural.alpha == pytest.approx(explicit.alpha)
    assert natural.method == "simulation-matched"
    assert abs(natural.alpha - alpha) < 0.08  # the issue measured errors of -0.03 to -0.43 here


def test_a_bare_array_that_could_hide_n_below_m_raises():
    x = powerlaw_gaussian(200, 800, 0.8, seed=0)
    bare = np.asarray(eigenspectrum(x))
    with pytest.raises(ValueError, match="n_features"):
        fit_power_law(bare, n_samples=200)
    # a bare full spectrum of m < n features is unambiguous
    full = np.asarray(eigenspectrum(powerlaw_gaussian(800, 100, 1.0, seed=0)))
    assert fit_power_law(full, n_samples=800, n_boot=0).n_features == 100


def test_metadata_that_disagree_with_the_spectrum_raise():
    lam = eigenspectrum(powerlaw_gaussian(300, 100, 1.0, seed=0))
    with pytest.raises(ValueError, match="n_samples=500 disagrees"):
        fit_power_law(lam, n_samples=500)
    with pytest.raises(ValueError, match="n_features=50 disagrees"):
        fit_power_law(lam, n_features=50)


def test_bootstrap_alpha_and_the_window_scan_work_below_n_equals_m():
    x = powerlaw_gaussian(200, 800, 0.8, seed=0)
    f = bootstrap_alpha(x, correct_bias=True, n_boot=30)
    assert f.ci[0] < f.alpha < f.ci[1]
    assert abs(f.alpha - 0.8) < 0.06
    scan = alpha_window_scan(eigenspectrum(x))
    assert (scan["hi"] <= 100).all() and len(scan) > 3


def test_ascending_two_dimensional_and_degenerate_inputs_raise():
    lam = eigenspectrum(powerlaw_gaussian(500, 100, 1.0, seed=0))
    with pytest.raises(ValueError, match="ascending"):
        fit_power_law(np.asarray(lam)[::-1])
    with pytest.raises(ValueError, match="1-D"):
        fit_power_law(np.vstack([lam, lam]))
    with pytest.raises(ValueError, match="n_boot"):
        fit_power_law(lam, n_boot=-1)
    with pytest.raises(ValueError, match="n_sim"):
        fit_power_law(lam, n_sim=0)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_alpha(powerlaw_gaussian(100, 20, 1.0), n_boot=0)
    with pytest.raises(ValueError, match="correct_bias=True"):
        fit_power_law(cv_pca(*powerlaw_gaussian(400, 50, 1.0)[None].repeat(2, 0)), correct_bias=True)


def test_repeats_covariances_are_unbiased_for_the_signal_covariance():
    rng = np.random.default_rng(0)
    h = np.abs(rng.standard_normal((4000, 6))) @ rng.standard_normal((6, 6))
    truth = np.cov(h, rowvar=False)
    reps = _dropout_repeats(np.maximum(h, 0) + 1.0, 0.5, 4, seed=1)
    truth = np.cov(np.maximum(h, 0) + 1.0, rowvar=False)
    scale = np.abs(truth).max()
    assert np.abs(cross_covariance(reps) - truth).max() < 0.1 * scale
    assert np.abs(denoised_covariance(reps) - truth).max() < 0.1 * scale
    # a single noisy repeat overstates every variance by the dropout noise p/(1-p)·E[h²]
    assert np.all(np.diag(np.cov(reps[0], rowvar=False)) > 1.3 * np.diag(truth))


def test_plain_cvpca_fails_under_dropout_noise_and_the_cross_covariance_holds():
    h = np.maximum(powerlaw_gaussian(800, 200, 1.0, seed=1), 0)
    clean = fit_power_law(eigenspectrum(h), correct_bias=False, n_boot=0)
    reps = _dropout_repeats(h, 0.8, 8, seed=2)
    fit = pc.estimate_alpha(reps, ci="none")
    ref = fit_power_law(eigenspectrum(h), ranks=fit.ranks, correct_bias=False, n_boot=0).alpha
    assert abs(fit.alpha - ref) < 0.05
    stringer = fit_power_law(repeats_spectrum(reps[:2], "cvpca"), ranks=clean.ranks, n_boot=0).alpha
    assert clean.alpha - stringer > 0.12  # the failure notebook 03 teaches


def test_pure_noise_repeats_have_no_signal_ranks():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="leaves only ranks|supported up to"):
        pc.estimate_alpha(rng.standard_normal((2, 400, 50)), ci="none")


def test_repeats_need_two_matching_inputs():
    with pytest.raises(ValueError, match="K >= 2"):
        repeats_spectrum(np.zeros((1, 10, 4)))
    with pytest.raises(ValueError, match="one shape"):
        repeats_spectrum([np.zeros((10, 4)), np.zeros((9, 4))])
    with pytest.raises(ValueError, match="method"):
        repeats_spectrum(np.ones((2, 10, 4)), method="magic")


def test_a_broken_power_law_is_flagged_and_a_clean_one_is_not():
    m = 200
    lam = np.r_[np.arange(1, 31.0) ** -0.5, 30**-0.5 * (np.arange(31, m + 1.0) / 30) ** -2.0]
    rng = np.random.default_rng(3)
    q = np.linalg.qr(rng.standard_normal((m, m)))[0]
    broken = (rng.standard_normal((1600, m)) * np.sqrt(lam)) @ q.T
    f = pc.estimate_alpha(broken, n_boot=40)
    assert "curved" in f.flags and "slopes" in f.note and not f.ok
    for seed in range(3):
        g = pc.estimate_alpha(powerlaw_gaussian(1600, m, 1.0, seed=seed), n_boot=40, seed=seed)
        assert g.flags == () and g.ok


def test_estimate_alpha_checks_its_arguments():
    x = powerlaw_gaussian(300, 50, 1.0, seed=0)
    with pytest.raises(ValueError, match="ci must be"):
        pc.estimate_alpha(x, ci="wald")
    with pytest.raises(ValueError, match="n_boot >= 10"):
        pc.estimate_alpha(x, n_boot=3)
    with pytest.raises(ValueError, match="shape"):
        pc.estimate_alpha(np.zeros(10))
    with pytest.raises(ValueError, match="groups"):
        pc.estimate_alpha(np.stack([x, x]), groups=np.arange(300))


def test_one_window_serves_every_site_of_a_comparison():
    wide = powerlaw_gaussian(2000, 300, 1.0, seed=0)
    narrow = powerlaw_gaussian(2000, 40, 1.0, seed=1)
    tab = layer_alphas({"wide": wide, "narrow": narrow}, n_boot=0)
    assert tab["wide"].window == tab["narrow"].window == (2, 20)
    own = layer_alphas({"wide": wide, "narrow": narrow}, n_boot=0, common_window=False)
    assert own["wide"].window == (11, 150) and own["narrow"].window == (2, 20)
    grid = tab.window_grid()
    assert set(grid["site"]) == {"wide", "narrow"}
    assert set(zip(grid.window_lo, grid.window_hi)) == set(grid_windows(2, 20))


def test_a_dead_site_does_not_shrink_the_common_window():
    live = powerlaw_gaussian(2000, 200, 1.0, seed=0)
    dead = np.zeros((2000, 200))
    dead[:, 0] = np.random.default_rng(0).standard_normal(2000)
    tab = layer_alphas({"live": live, "dead": dead}, n_boot=0)
    assert tab["live"].window == (11, 100) and np.isnan(tab["dead"].alpha)


def test_window_rules():
    assert resolve_window(1000, None) == (11, 500)
    assert resolve_window(49, None) == (11, 49) and resolve_window(39, None) == (2, 39)
    assert resolve_window(64, (3, 500)) == (3, 64)
    with pytest.raises(ValueError, match="leaves only"):
        resolve_window(8, (6, 50))
    assert grid_windows(11, 100) == [(5, 50), (5, 75), (5, 100), (11, 50), (11, 75), (11, 100),
                                     (22, 50), (22, 75), (22, 100)]


def test_repeats_in_layer_alphas_name_their_method():
    h = np.maximum(powerlaw_gaussian(600, 60, 1.0, seed=1), 0)
    reps = _dropout_repeats(h, 0.5, 4, seed=0)
    tab = layer_alphas({"x": Repeats(tuple(reps), method="denoised")}, n_boot=10)
    assert tab["x"].estimator == "plain denoised"
    with pytest.raises(ValueError, match="method must be"):
        layer_alphas({"x": Repeats(tuple(reps), method="nope")})


def test_the_dropout_noise_rule_and_its_null():
    from polycode_lite.experiments.repeats_estimation import DropoutNoiseConfig, DropoutNoiseResult, run

    res = run(DropoutNoiseConfig(dropouts=(0.05, 0.8)))
    assert res.claims()[0]["verdict"] == "holds"
    assert abs(res.errors[1, 1]) > 0.1 > abs(res.errors[1, 3])  # cvPCA broken, 8 masks repaired
    null = DropoutNoiseResult(res.dropouts[:1], res.alphas[:1], res.signal_alpha[:1], 8, False)
    assert null.claims()[0]["verdict"] != "holds" and abs(null.errors[0, 1]) < 0.05
    fake = DropoutNoiseResult(np.array([0.8]), np.array([[0.5, 1.0, 1.0, 1.02]]), np.ones((1, 4)), 8, False)
    assert fake.claims()[0]["verdict"] == "does not hold at this scale"
    with pytest.raises(ValueError, match="dropouts"):
        run(DropoutNoiseConfig(dropouts=(1.0,)))


def test_a_strict_window_leaves_out_sites_that_cannot_support_it():
    live = powerlaw_gaussian(2000, 200, 1.0, seed=0)
    collapsed = powerlaw_gaussian(2000, 200, 1.0, seed=1)
    collapsed[:, 40:] = 0.0  # 40 live units: the spectrum supports ranks up to 20
    loose = layer_alphas({"live": live, "collapsed": collapsed}, n_boot=0, window=(11, 100))
    assert loose["collapsed"].window == (11, 20)
    strict = layer_alphas({"live": live, "collapsed": collapsed}, n_boot=0, window=(11, 100),
                          strict_window=True)
    assert strict["live"].window == (11, 100)
    assert np.isnan(strict["collapsed"].alpha) and "short of the window" in strict["collapsed"].note


def test_heavy_tailed_rows_are_flagged_and_gaussian_rows_are_not():
    m = 100
    rng = np.random.default_rng(0)
    lam = np.arange(1, m + 1.0) ** -1.0
    q = np.linalg.qr(rng.standard_normal((m, m)))[0]
    t3 = (rng.standard_t(3, size=(800, m)) / np.sqrt(3) * np.sqrt(lam)) @ q.T
    f = pc.estimate_alpha(t3, n_boot=20)
    assert "heavy tails" in f.flags and "under-cover" in f.note
    g = pc.estimate_alpha(powerlaw_gaussian(800, m, 1.0, seed=0), n_boot=20)
    assert "heavy tails" not in g.flags


def test_comparison_window_ignores_collapsed_sites():
    from polycode_lite.experiments.alpha import comparison_window

    live = powerlaw_gaussian(2000, 200, 1.0, seed=0)
    narrower = powerlaw_gaussian(2000, 120, 1.0, seed=1)
    collapsed = live.copy()
    collapsed[:, 30:] = 0.0
    assert comparison_window([live, narrower]) == (11, 60)
    assert comparison_window([live, narrower, collapsed]) == (11, 60)  # 15 ranks < a quarter of 100
    assert comparison_window([live, collapsed], collapsed_fraction=0.0) == (2, 15)
