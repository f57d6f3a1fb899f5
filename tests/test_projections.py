"""Random projections, path energy and the smoothness/α relation (docs/paper_guide.md §2.4, §4)."""

import numpy as np
import pytest

from polycode_lite.data.stimuli import (
    circle_angles,
    power_law_circle_code,
    power_law_torus_code,
    torus_loop_angles,
)
from polycode_lite.science.projections import (
    energy_scaling_slope,
    expected_projected_action,
    expected_projected_energy,
    normalised_path_energy,
    path_energy,
    powerlaw_trace,
    project,
    projected_energy,
    random_projection,
    theoretical_energy_slope,
)
from polycode_lite.science.trajectory_similarity import (
    input_projection_correlation,
    projection_correlations,
    trajectory_table,
)

TS = (64, 128, 256, 512, 1024)


def _slope(alpha, n_dims=4000, Ts=TS):
    return energy_scaling_slope(lambda T: power_law_circle_code(alpha, T, n_dims, seed=0), Ts).slope


# -- the known cases ---------------------------------------------------------------
@pytest.mark.parametrize("alpha", [3.5, 4.0, 5.0])
def test_smooth_code_energy_slope_is_minus_one(alpha):
    assert _slope(alpha) == pytest.approx(-1.0, abs=0.06)


@pytest.mark.parametrize("alpha", [1.5, 1.75, 2.0, 2.25, 2.5])
def test_fractal_code_energy_slope_is_two_minus_alpha(alpha):
    assert _slope(alpha) == pytest.approx(2.0 - alpha, abs=0.1)
    assert theoretical_energy_slope(alpha) == pytest.approx(2.0 - alpha)


def test_energy_slopes_reproduce_paper_reference_values():
    """docs/paper_guide.md §2.4 [O]: m = 4000, T = 64..1024."""
    ref = {1.5: 0.43, 2.0: -0.01, 2.5: -0.46, 3.0: -0.80, 3.5: -0.95, 4.0: -0.99}
    e_ref = {1.5: 121, 2.0: 11.4, 2.5: 1.17, 3.0: 0.21, 3.5: 0.086, 4.0: 0.058}
    for alpha, s in ref.items():
        res = energy_scaling_slope(lambda T, a=alpha: power_law_circle_code(a, T, 4000), TS)
        assert res.slope == pytest.approx(s, abs=0.015), alpha
        assert res.energies[-1] == pytest.approx(e_ref[alpha], rel=0.03), alpha


def test_torus_code_threshold_moves_to_one_plus_two_over_d():
    """d = 2: slope ≈ 1 − 2(α − 1) well below α = 2, ≈ −1 well above it."""
    def slope(alpha):
        return energy_scaling_slope(
            lambda T: power_law_torus_code(alpha, torus_loop_angles(T, (1, 0)), 8000), (8, 16, 32, 64)
        ).slope

    assert slope(1.5) == pytest.approx(theoretical_energy_slope(1.5, d=2), abs=0.1)
    assert slope(3.0) == pytest.approx(-1.0, abs=0.1)
    # α = 2.5 is smooth in 2-D but a 1-D circle code with α = 2.5 is not
    assert slope(2.5) < -0.8 and _slope(2.5) > -0.6


def test_expected_projected_energy_matches_k_over_m_full_energy():
    acts = power_law_circle_code(2.0, 128, 600, seed=1)
    for k in (1, 3):
        res = projected_energy(acts, k=k, n_projections=1500, seed=2)
        e_full = path_energy(acts)
        assert res.e_full == pytest.approx(e_full)
        assert res.expected == pytest.approx(k / 600 * e_full)
        assert expected_projected_energy(acts, k=k) == pytest.approx(res.expected)
        # within sampling error: 4 standard errors of the mean of n_projections draws
        assert abs(res.mean - res.expected) < 4 * res.predicted_sd / np.sqrt(1500)
        # the exact s.d. formula predicts the spread of the draws
        assert res.sd == pytest.approx(res.predicted_sd, rel=0.1)


def test_projection_noise_is_chi2_k_for_a_one_dimensional_motion():
    """When every step points the same way, a projection's energy is (E/m)·χ²_k."""
    t = np.linspace(0, 1, 50)[:, None]
    acts = t * np.random.default_rng(0).standard_normal(200)[None]
    res = projected_energy(acts, k=3, n_projections=20, closed=False)
    assert res.predicted_sd / res.expected == pytest.approx(np.sqrt(2 / 3), rel=1e-6)


def test_first_projection_equals_random_projection_and_scaling():
    acts = np.random.default_rng(0).standard_normal((20, 30))
    R = random_projection(30, 3, seed=5)
    assert R.shape == (30, 3)
    res = projected_energy(acts, k=3, n_projections=4, seed=5)
    assert res.values[0] == pytest.approx(path_energy(project(acts, R)))
    big = random_projection(4000, 3, seed=0)
    assert big.std() == pytest.approx(1 / np.sqrt(4000), rel=0.03)


# -- energies -------------------------------------------------------------------------------
def test_path_energy_against_direct_loop_and_circle_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 4))
    direct = sum(np.sum((x[(t + 1) % 7] - x[t]) ** 2) for t in range(7))
    assert path_energy(x) == pytest.approx(direct)
    assert path_energy(x, closed=False) == pytest.approx(direct - np.sum((x[0] - x[-1]) ** 2))
    T = 100
    th = circle_angles(T)
    circle = 3.0 * np.stack([np.cos(th), np.sin(th)], 1)
    assert normalised_path_energy(circle) == pytest.approx(4 * T * np.sin(np.pi / T) ** 2)
    # scale-free: multiplying activations by 10 changes E by 100 but not the normalised energy
    assert normalised_path_energy(10 * x) == pytest.approx(normalised_path_energy(x))
    noise = rng.standard_normal((2000, 50))
    assert normalised_path_energy(noise) == pytest.approx(2 * 2000, rel=0.05)


def test_path_energy_accepts_torch_and_conv_shapes():
    torch = pytest.importorskip("torch")
    x = torch.randn(5, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    assert path_energy(x) == pytest.approx(path_energy(x.numpy().reshape(5, -1)), rel=1e-6)


def test_action_uses_k_over_m_and_finite_sum():
    lam = np.arange(1, 101, dtype=float) ** -2.0
    assert expected_projected_action(lam, k=3) == pytest.approx(3 / 200 * lam.sum())
    assert expected_projected_action(k=3, alpha=2.0, m=100) == pytest.approx(3 / 200 * lam.sum())
    assert powerlaw_trace(2.0) == pytest.approx(np.pi**2 / 6)
    assert powerlaw_trace(1.05, 1000) == pytest.approx(6.4, abs=0.1)
    assert powerlaw_trace(1.05) == pytest.approx(20.6, abs=0.1)
    # Monte Carlo check of the action formula on centred Gaussian activations
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1000, 100)) * np.sqrt(lam)
    mc = np.mean([0.5 * np.mean(np.sum(project(a, random_projection(100, 3, rng)) ** 2, 1)) for _ in range(400)])
    assert mc == pytest.approx(expected_projected_action(lam, k=3), rel=0.1)
    with pytest.raises(ValueError, match="diverges"):
        powerlaw_trace(1.0)


# -- RSA ------------------------------------------------------------------------------------
def test_input_projection_correlation_orders_codes_by_smoothness():
    th = circle_angles(128)
    circle = np.stack([np.cos(th), np.sin(th)], 1)
    assert input_projection_correlation(th, circle) == pytest.approx(1.0, abs=1e-3)
    assert input_projection_correlation(th, circle, method="pearson") == pytest.approx(1.0, abs=1e-6)
    shuffled = circle[np.random.default_rng(0).permutation(128)]
    assert abs(input_projection_correlation(th, shuffled)) < 0.1
    smooth = projection_correlations(th, power_law_circle_code(4.0, 128, 400), n_projections=20).mean()
    rough = projection_correlations(th, power_law_circle_code(1.5, 128, 400), n_projections=20).mean()
    assert smooth > rough + 0.2
    # pixel-space inputs work too
    assert input_projection_correlation(circle * 5, circle) == pytest.approx(1.0, abs=1e-3)


def test_trajectory_table_rows():
    th = circle_angles(64)
    df = trajectory_table(
        {"smooth": power_law_circle_code(4.0, 64, 100), "rough": power_law_circle_code(1.5, 64, 100)},
        th, n_projections=10, progress=False,
    )
    assert list(df.layer) == ["smooth", "rough"]
    assert df.energy_norm[0] < df.energy_norm[1]
    assert df.rsa_mean[0] > df.rsa_mean[1]
    assert np.all(np.abs(df.proj_energy_ratio - 1) < 0.5)


# -- bad inputs -----------------------------------------------------------------------------
def test_trajectory_with_fewer_than_two_points_raises():
    for fn in (path_energy, normalised_path_energy, projected_energy):
        with pytest.raises(ValueError, match="at least 2 points"):
            fn(np.ones((1, 5)))
    with pytest.raises(ValueError, match="at least 2 points"):
        path_energy(np.ones(1))


def test_projection_dimension_mismatch_raises():
    with pytest.raises(ValueError, match="dimension mismatch.*m=10.*12 rows"):
        project(np.ones((4, 10)), random_projection(12, 3))
    with pytest.raises(ValueError, match="2-D"):
        project(np.ones((4, 10)), np.ones(10))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: normalised_path_energy(np.ones((5, 3))), "constant"),
        (lambda: path_energy(np.array([[0.0], [np.nan]])), "NaN"),
        (lambda: random_projection(0, 3), "positive"),
        (lambda: input_projection_correlation(np.arange(4.0), np.ones((5, 2))), "must match"),
        (lambda: input_projection_correlation(np.arange(4.0), np.ones((4, 2)), "kendall"), "method"),
        (lambda: energy_scaling_slope(lambda T: np.ones((T, 2)), (8,)), "at least 2 distinct"),
        (lambda: theoretical_energy_slope(0.5), "alpha > 1"),
    ],
)
def test_other_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
