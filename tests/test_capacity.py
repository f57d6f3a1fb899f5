"""Capacity formulas (docs/paper_guide.md §2) against hand-computed values and the §2 tables."""

import math

import numpy as np
import pytest

from polycode_lite.science import capacity as cap

INV_DENSITY = np.array([1, 2, 5, 10, 20, 100, 1000], dtype=float)
S_TABLE = 1 - 1 / INV_DENSITY


def test_binary_entropy_hand_values():
    assert cap.binary_entropy(0.5) == pytest.approx(1.0)
    assert cap.binary_entropy(0.0) == 0.0 and cap.binary_entropy(1.0) == 0.0
    assert cap.binary_entropy(0.5, base="nats") == pytest.approx(math.log(2))
    # H_b(0.11) = 0.4999 bits (the classic "half a bit" point)
    assert cap.binary_entropy(0.11) == pytest.approx(0.49992, abs=1e-4)
    # docs/paper_guide.md §2.1 table row H_b(S)
    np.testing.assert_allclose(cap.binary_entropy(S_TABLE),
                               [0, 1.0, 0.722, 0.469, 0.286, 0.081, 0.011], atol=6e-4)


def test_predicted_dims_per_feature_matches_paper_table():
    np.testing.assert_allclose(cap.predicted_dims_per_feature(S_TABLE, 8),
                               [1, 0.625, 0.290, 0.159, 0.086, 0.020, 0.0024], atol=6e-4)
    np.testing.assert_allclose(cap.predicted_dims_per_feature(S_TABLE, 23),
                               [1, 0.544, 0.231, 0.120, 0.063, 0.0135, 0.0015], atol=6e-4)


def test_predicted_dims_clipping():
    # floor at m/n once every feature fits (n=200, m=20 -> 0.1)
    d = cap.predicted_dims_per_feature(S_TABLE, 8, n_features=200, n_hidden=20)
    assert np.min(d) == pytest.approx(0.1)
    assert d[1] == pytest.approx(0.625)
    # tiny S with small h_elem would exceed 1 unclipped; clipped it stays 1
    raw = cap.predicted_dims_per_feature(1e-4, 4, clip=False)
    assert raw > 1
    assert cap.predicted_dims_per_feature(1e-4, 4) == 1.0
    with pytest.raises(ValueError, match="both"):
        cap.predicted_dims_per_feature(0.5, 8, n_features=10)
    with pytest.raises(ValueError, match="sparsity"):
        cap.predicted_dims_per_feature(1.5, 8)
    with pytest.raises(ValueError, match="h_elem"):
        cap.predicted_dims_per_feature(0.5, 0)


def test_sparse_entropy_and_capacity_balance():
    # n=100, S=0.9, 8 bits: 100*(0.469 + 0.8) = 126.9 bits
    assert cap.sparse_entropy(100, 0.9, 8) == pytest.approx(100 * (cap.binary_entropy(0.9) + 0.8))
    # capacity of m = D*_pred * n units equals the input entropy (the derivation of D*_pred)
    S, h, n = 0.8, 12.0, 1000
    m = cap.predicted_dims_per_feature(S, h, clip=False) * n
    assert cap.units_capacity(m, h) == pytest.approx(cap.sparse_entropy(n, S, h))


def test_dropout_capacity_bounds():
    lo, hi = cap.dropout_capacity_bounds(0.2, 8, m=10)
    assert hi == pytest.approx(64.0)
    # eps(8) = -log2(1 - 1/256)/8 = 0.000705
    assert cap.dropout_epsilon(8) == pytest.approx(-math.log2(255 / 256) / 8)
    assert lo == pytest.approx(64 * (1 - cap.dropout_epsilon(8)))
    assert lo == pytest.approx(0.8 * 10 * math.log2(255))  # uniform over the 255 non-zero symbols
    # eps -> 0 with precision; eps(1) = 1 (a binary unit with no mass at 0 carries nothing)
    assert cap.dropout_epsilon(1) == pytest.approx(1.0)
    assert cap.dropout_epsilon(32) < 1e-9
    with pytest.raises(ValueError, match="dropout rate"):
        cap.dropout_capacity_bounds(1.2, 8)


def test_powerlaw_entropy_bound_sign_fixed():
    # alpha = 0: full m*n bits; alpha = 1, m = 4, n = 8: 32 - log2(4!) = 27.415
    assert cap.powerlaw_entropy_bound(4, 8, 0.0) == pytest.approx(32.0)
    assert cap.powerlaw_entropy_bound(4, 8, 1.0) == pytest.approx(32 - math.log2(24))
    # larger alpha costs entropy (with the PDF's i^+alpha typo it would not)
    vals = cap.powerlaw_entropy_bound(256, 16, np.array([0.5, 1.0, 2.0]))
    assert np.all(np.diff(vals) < 0)
    # clipping: per-unit terms never negative; steep spectrum, few bits
    assert cap.powerlaw_entropy_bound(1000, 2, 5.0) == pytest.approx(2 + max(0, 2 - 5))
    assert cap.powerlaw_entropy_bound(1000, 2, 5.0, clip=False) < 0
    # Stirling approximation agrees to within a few percent for large m
    exact = cap.powerlaw_entropy_bound(1024, 32, 1.0, clip=False)
    assert cap.powerlaw_entropy_stirling(1024, 32, 1.0) == pytest.approx(exact, rel=0.01)
    # the theorem's σ exponent: log2(m/e); the fitted (eigenvalue) α = 2·α_σ: half of it
    np.testing.assert_allclose([cap.bits_lost_per_unit_sigma_exponent(m) for m in (256, 1024, 1600, 6400)],
                               [6.6, 8.6, 9.2, 11.2], atol=0.06)
    np.testing.assert_allclose([cap.bits_lost_per_unit_alpha(m) for m in (256, 1024, 1600, 6400)],
                               [3.28, 4.28, 4.60, 5.60], atol=0.006)
    assert cap.bits_lost_per_unit_alpha(1024, exponent="sigma") == pytest.approx(math.log2(1024 / math.e))
    # the bound in eigenvalue units: α = 2 on eigenvalues is α_σ = 1
    assert cap.powerlaw_entropy_bound(64, 16, 2.0, exponent="eigenvalue") == pytest.approx(
        cap.powerlaw_entropy_bound(64, 16, 1.0))
    with pytest.raises(ValueError, match="exponent"):
        cap.bits_lost_per_unit_alpha(1024, exponent="variance")


def test_theorem4_per_unit_alpha_matches_quantised_gaussians():
    # a simulation (plug-in entropies of quantised Gaussian units), not the formula again
    sim = cap.simulate_quantised_gaussian_loss(1024, alpha=1.0, n_samples=6000, seed=1)
    assert sim == pytest.approx(4.28, rel=0.02)
    assert sim == pytest.approx(cap.bits_lost_per_unit_alpha(1024), rel=0.02)
    # the doubled figure log2(m/e) = 8.56 (σ-exponent units applied to a fitted α) is far off
    assert abs(sim - cap.bits_lost_per_unit_sigma_exponent(1024)) > 4.0
    # in σ-exponent units the same simulation gives log2(m/e)
    sim_sigma = cap.simulate_quantised_gaussian_loss(256, alpha=0.5, n_samples=6000, exponent="sigma", seed=2)
    assert sim_sigma == pytest.approx(cap.bits_lost_per_unit_sigma_exponent(256), rel=0.03)
    with pytest.raises(ValueError, match="step"):
        cap.simulate_quantised_gaussian_loss(256, alpha=1.0, step=0.1)


def test_reference_channel_mis_paper_values():
    assert cap.erasure_channel_mi(0.5) == pytest.approx(0.347, abs=5e-4)
    assert cap.bsc_mi(0.2) == pytest.approx(0.193, abs=5e-4)
    assert cap.uniform_wraparound_gaussian_mi(20.0, 0.01) == pytest.approx(6.18, abs=5e-3)
    assert cap.quantiser_mi(10) == pytest.approx(6.93, abs=5e-3)
    assert cap.bsc_mi(0.5) == pytest.approx(0.0, abs=1e-12)
    assert cap.erasure_channel_mi(0.0, 1.0, base="bits") == pytest.approx(1 / math.log(2))
    assert cap.gaussian_channel_mi(1.0, base="bits") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="sigma"):
        cap.uniform_wraparound_gaussian_mi(1.0, 0.5)
    with pytest.raises(ValueError, match="base"):
        cap.bsc_mi(0.1, base="dits")


def test_plugin_mi_matches_erasure_channel_simulation():
    rng = np.random.default_rng(0)
    x = rng.choice([-1, 1], size=200_000)
    y = np.where(rng.random(x.size) < 0.5, 0, x)
    assert cap.plugin_mutual_information(x, y, base="nats") == pytest.approx(0.347, abs=0.005)
    flips = rng.random(x.size) < 0.2
    assert cap.plugin_mutual_information(x, np.where(flips, -x, x), base="nats") == pytest.approx(0.193, abs=0.005)
    with pytest.raises(ValueError, match="equally long"):
        cap.plugin_mutual_information([1, 2], [1])
