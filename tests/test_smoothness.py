"""Notebook 04's rule: a network's "larger α, smoother loop" must beat random power-law loops."""

from __future__ import annotations

import numpy as np
import pytest

from polycode_lite.experiments.smoothness import random_loop_null, smoothness_verdict, smoothness_vs_null

T, WINDOW = 64, (2, 16)


@pytest.fixture(scope="module")
def null():
    return random_loop_null(T, WINDOW, n_loops=24, n_dims=256, seed=0)


def test_random_loops_show_the_relation_on_their_own(null) -> None:
    # the no-network null: larger α, lower energy, in rank order almost perfectly
    assert null.rho < -0.9 and null.slope < 0
    assert np.all(np.isfinite(null.alpha)) and null.resid_sd < 0.2


def test_random_power_law_loops_without_a_network_do_not_pass(null) -> None:
    # fresh random loops judged as if they were layers: ρ ≈ −1 (the old rule's "holds") but no
    # relation beyond the null's, and no offset from it
    for seed in (7, 8, 9):
        other = random_loop_null(T, WINDOW, n_loops=12, n_dims=256, seed=seed)
        test = smoothness_vs_null(other.alpha, other.energy_norm, null, seed=1)
        assert test.rho < -0.9
        assert test.verdict == "does not hold at this scale", test.describe()
    (claim,) = test.claims()
    assert claim["verdict"] == "does not hold at this scale" and "random power-law loops" in claim["control"]


def test_shuffled_layers_do_not_pass(null) -> None:
    a = np.linspace(0.6, 2.6, 10)
    e = np.exp(null.predict(a) - 1.5 * (a - a.mean()))
    assert smoothness_vs_null(a, e, null).verdict == "holds"
    shuffled = np.random.default_rng(0).permutation(e)            # shuffled layer labels
    assert smoothness_vs_null(a, shuffled, null).verdict == "does not hold at this scale"


def test_a_network_beyond_the_null_holds_and_one_only_smoother_is_partly(null) -> None:
    a = np.linspace(0.6, 2.6, 10)
    beyond = smoothness_vs_null(a, np.exp(null.predict(a) - 1.5 * (a - a.mean())), null,
                                group=["trained"] * 5 + ["random init"] * 5)
    assert beyond.p_slope < 0.05 and beyond.verdict == "holds"
    ctrl = beyond.summary("random init")
    (claim,) = beyond.claims(control=ctrl)
    assert "random-init network" in claim["control"] and claim["control"].count("ρ") >= 2
    offset = smoothness_vs_null(a, np.exp(null.predict(a) - 1.0), null)     # smoother, same slope
    assert offset.verdict == "partly" and offset.level_z < -3


def test_verdict_rule_and_bad_input(null) -> None:
    assert smoothness_verdict(-0.9, 0.01, 0.0, resid_slope=-0.5) == "holds"
    assert smoothness_verdict(-0.9, 0.01, 0.0, resid_slope=-0.01) == "does not hold at this scale"   # tiny
    assert smoothness_verdict(-0.9, 0.5, -5.0, resid_slope=0.0, mean_resid=-0.5) == "partly"
    assert smoothness_verdict(-0.9, 0.5, -5.0, resid_slope=0.0, mean_resid=-0.05) == "does not hold at this scale"
    assert smoothness_verdict(-0.9, 0.5, 0.0) == "does not hold at this scale"
    assert smoothness_verdict(+0.2, 0.01, -5.0) == "does not hold at this scale"
    with pytest.raises(ValueError, match="n_loops"):
        random_loop_null(T, WINDOW, n_loops=3)
    with pytest.raises(ValueError, match=">= 3 layers"):
        smoothness_vs_null([1.0, 2.0], [1.0, 2.0], null)
    with pytest.raises(ValueError, match="group"):
        smoothness_vs_null([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], null, group=["a"] * 3).summary("b")


def test_threshold_slopes_rule_fails_on_unrelated_points_and_the_wrong_dimension() -> None:
    from polycode_lite.data.stimuli import power_law_circle_code
    from polycode_lite.experiments.smoothness import threshold_slopes_verdict
    from polycode_lite.science.projections import energy_scaling_slope

    alphas = [1.5, 2.0, 2.5, 3.5, 4.0]
    ts = (32, 64, 128, 256)
    slopes = [energy_scaling_slope(lambda T, a=a: power_law_circle_code(a, T, 2000, seed=0), ts).slope for a in alphas]
    assert threshold_slopes_verdict(alphas, slopes, tol_above=0.1) == "holds"
    # null: unrelated i.i.d. points (no code), slope ≈ +1 at every α
    rng = np.random.default_rng(0)
    white = energy_scaling_slope(lambda T: rng.standard_normal((T, 200)), ts).slope
    assert threshold_slopes_verdict(alphas, [white] * 5) == "does not hold at this scale"
    # the circle's slopes judged as a 2-D input (threshold 2): the fractal side is wrong
    assert threshold_slopes_verdict(alphas, slopes, d=2, below=(1.5, 1.5), tol_above=0.1) != "holds"
    with pytest.raises(ValueError, match="need slopes"):
        threshold_slopes_verdict([1.5], [0.5])


def test_projected_energy_rule_fails_without_k_over_m() -> None:
    from polycode_lite.data.stimuli import power_law_circle_code
    from polycode_lite.experiments.smoothness import projected_energy_verdict
    from polycode_lite.science.projections import projected_energy

    pe = projected_energy(power_law_circle_code(2.0, 64, 200, seed=0), k=3, n_projections=200, seed=0)
    verdict, z = projected_energy_verdict(pe.mean, pe.expected, pe.predicted_sd, 200)
    assert verdict == "holds" and abs(z) < 4
    # null: the supplement's expectation without the factor k/m
    assert projected_energy_verdict(pe.mean, pe.e_full, pe.predicted_sd, 200)[0] == "does not hold at this scale"
    with pytest.raises(ValueError, match="predicted_sd"):
        projected_energy_verdict(1.0, 1.0, 0.0, 10)


def test_every_smoothness_outcome_says_why(null) -> None:
    from polycode_lite.experiments.smoothness import smoothness_why

    a = np.linspace(0.6, 2.6, 10)
    cases = {"holds": np.exp(null.predict(a) - 1.5 * (a - a.mean())),
             "partly": np.exp(null.predict(a) - 1.0),
             "does not hold at this scale": np.exp(null.predict(a) + 1.5 * (a - a.mean()))}
    for verdict, e in cases.items():
        test = smoothness_vs_null(a, e, null)
        (claim,) = test.claims()
        assert claim["verdict"] == verdict and claim["why"] == test.why and test.why.strip()
        assert f"{test.resid_slope:+.2f}" in test.why and f"{test.rho:+.2f}" in test.why
    assert "adds nothing beyond" in smoothness_vs_null(a, cases["partly"], null).why
    assert "smoother than random loops" in smoothness_vs_null(a, cases["partly"], null).why
    # rank order against: the why says so first
    assert smoothness_why(+0.8, 0.99, -100.0, 2.8, -1.4).startswith("Energy does not fall with α")


def test_threshold_and_projection_whys() -> None:
    from polycode_lite.experiments.smoothness import (projected_energy_verdict, projected_energy_why,
                                                      threshold_slopes_verdict, threshold_slopes_why)

    alphas = np.array([1.5, 2.0, 2.5, 3.5, 4.0])
    good = np.array([0.5, 0.0, -0.5, -1.0, -1.0])
    flat = np.ones(5)
    assert threshold_slopes_verdict(alphas, good) == "holds" and "within" in threshold_slopes_why(alphas, good)
    why = threshold_slopes_why(alphas, flat)
    assert threshold_slopes_verdict(alphas, flat) == "does not hold at this scale"
    assert why.count("beyond the tolerance") == 2 and "α = 2.5: +1.00) is 1.50 from 2 − α" in why and "2.00 from −1" in why
    half = good.copy(); half[-1] = -0.5
    assert threshold_slopes_verdict(alphas, half) == "partly" and "0.50 from −1, beyond" in threshold_slopes_why(alphas, half)
    with pytest.raises(ValueError, match="equally long"):
        threshold_slopes_why(alphas, good[:-1])
    v, z = projected_energy_verdict(1.5, 1.0, 0.1, 100)
    assert v != "holds" and f"{z:+.2f}" in projected_energy_why(1.5, 1.0, 0.1, 100)
    assert "within" in projected_energy_why(1.0, 1.0, 0.1, 100)
