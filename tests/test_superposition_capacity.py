"""Verdict rules of notebook 02's checks (prediction vs toy D*, Theorem 3, Theorem 4): the claims
pass on data where they are true and fail on nulls."""

from __future__ import annotations

import math

import numpy as np
import pytest

from polycode_lite.experiments.superposition_capacity import (
    ChannelConfig,
    ChannelResult,
    NULL_CURVES,
    beats_nulls_verdict,
    compare_prediction,
    entropy_cost_claim,
    entropy_cost_verdict,
    mean_abs_log_ratio,
    run,
)
from polycode_lite.science import capacity as cap

X = np.geomspace(1, 20, 12)          # 1/(1−S) of a dimensionality sweep
N, M = 80, 8


def _pred() -> np.ndarray:
    return np.asarray(cap.predicted_dims_per_feature(1 - 1 / X, 8.0, n_features=N, n_hidden=M))


def _toy_like() -> np.ndarray:
    """A measured curve that follows the entropy prediction within a few percent (a world where it holds)."""
    return _pred() * np.exp(np.random.default_rng(0).normal(0, 0.03, X.size))


def test_a_curve_near_the_prediction_holds_and_beats_the_nulls() -> None:
    comp = compare_prediction(X, _toy_like(), N, M)
    (claim,) = comp.claims()
    assert claim["verdict"] == "holds"
    assert set(comp.table().h_elem) == {4.0, 8.0, 16.0, 23.0, 32.0}
    assert 1 <= comp.h_best <= 64 and "8.0" in claim["values"]["summary"]
    assert set(comp.null_log_error) == set(NULL_CURVES) and "1/√x" in claim["control"]


@pytest.mark.parametrize("null", list(NULL_CURVES))
def test_null_worlds_do_not_pass(null: str) -> None:
    # D* that *is* a null curve with no entropy term (1−S, or an arbitrary 1/√x): both fall with
    # sparsity (Spearman ρ ≈ 1 with the prediction, which the old rank-order rule passed), but the
    # null itself is closer than the prediction, so the claim fails
    d = np.clip(NULL_CURVES[null](X), M / N, 1.0)
    comp = compare_prediction(X, d, N, M)
    assert comp.spearman[1] > 0.9                                    # the trend alone agrees
    assert comp.claims()[0]["verdict"] == "does not hold at this scale"


def test_a_null_judged_as_the_prediction_never_holds() -> None:
    # the old failure mode: the null curve 1−S scored as if it were the prediction
    d = _toy_like()
    errs = {k: mean_abs_log_ratio(d, np.clip(f(X), M / N, 1.0)) for k, f in NULL_CURVES.items()}
    for k, e in errs.items():
        assert beats_nulls_verdict(e, errs, spearman=0.99) == "does not hold at this scale", k
    assert beats_nulls_verdict(0.9 * min(errs.values()), errs, spearman=0.99) == "partly"
    assert beats_nulls_verdict(0.5 * min(errs.values()), errs, spearman=0.99) == "holds"
    assert beats_nulls_verdict(0.5 * min(errs.values()), errs, spearman=0.3) == "does not hold at this scale"
    with pytest.raises(ValueError, match="null_errors"):
        beats_nulls_verdict(0.1, {}, 0.99)
    with pytest.raises(ValueError, match="> 0"):
        mean_abs_log_ratio([1.0, 0.0], [1.0, 1.0])


def test_null_curves_uncorrelated_with_the_prediction_fail() -> None:
    d = _toy_like()
    # D* that rises with sparsity, one shuffled across sparsities, and a flat one (no trend at all)
    for null in (d[::-1], np.random.default_rng(3).permutation(d), np.full_like(d, 0.5)):
        comp = compare_prediction(X, null, N, M)
        assert comp.claims()[0]["verdict"] == "does not hold at this scale", null


def _channel(simulated: np.ndarray, c_bits: int = 4) -> ChannelResult:
    D = np.array([0.0, 0.2, 0.4, 0.6, 0.8])
    lo, hi = cap.dropout_capacity_bounds(D, c_bits)
    return ChannelResult(dropout=D, simulated_nonzero=np.asarray(simulated, float),
                         simulated_with_zero=np.asarray(simulated, float), lower=np.asarray(lo),
                         upper=np.asarray(hi), c_bits=c_bits, n_samples=1)


def test_simulated_dropout_channel_holds_and_its_table() -> None:
    res = run(ChannelConfig(n_samples=30_000))
    assert res.claims()[0]["verdict"] == "holds"
    t = res.table()
    assert len(t) == 5 and np.all(t.simulated_with_zero[1:] < t.lower[1:])   # D > 0: 0 is ambiguous
    # null: judge the code that also uses the symbol 0 (dropout is then not an erasure channel)
    assert _channel(res.simulated_with_zero).claims()[0]["verdict"] != "holds"


def test_channels_far_from_one_minus_d_fail() -> None:
    D = np.array([0.0, 0.2, 0.4, 0.6, 0.8])
    exact = (1 - D) * math.log2(15)
    assert _channel(exact).claims()[0]["verdict"] == "holds"
    # dropout that erases nothing, and capacity that falls as (1 − D)²
    for null in (np.full(5, math.log2(15)), (1 - D) ** 2 * math.log2(15)):
        assert _channel(null).claims()[0]["verdict"] == "does not hold at this scale"
    # close to the band but off the exact value by 0.05 bits: partly
    assert _channel(exact - 0.05).claims()[0]["verdict"] == "partly"


def test_theorem4_simulated_loss_holds_in_eigenvalue_units() -> None:
    ms = np.array([256, 1024])
    lost = [cap.simulate_quantised_gaussian_loss(int(m), n_samples=4000, seed=0) for m in ms]
    assert entropy_cost_verdict(ms, lost) == "holds"
    # the same measurement judged against the doubled σ-exponent figure log2(m/e) fails
    assert entropy_cost_verdict(ms, lost, exponent="sigma") != "holds"


@pytest.mark.parametrize("n_bits", [16, 32])
def test_theorem4_clipped_sums_hold_in_sigma_units(n_bits: int) -> None:
    ms = np.array([256, 1024, 1600, 6400])
    lost = [(cap.powerlaw_entropy_bound(int(m), n_bits, 0.0) - cap.powerlaw_entropy_bound(int(m), n_bits, 1.0)) / m
            for m in ms]
    assert entropy_cost_verdict(ms, lost, exponent="sigma") == "holds"
    assert entropy_cost_verdict(ms, lost) != "holds"          # the σ-exponent sum is twice the fitted-α cost
    assert np.allclose(lost, [6.6, 8.6, 9.2, 11.2], atol=0.06)


def test_theorem4_nulls_fail() -> None:
    ms = np.array([256, 1024, 1600, 6400])
    # the doubled figure log2(m/e) and a rate of ½·log2(m) (0.72 bits too many) are only partly
    assert entropy_cost_verdict(ms, np.log2(ms / math.e)) == "partly"
    assert entropy_cost_verdict(ms, 0.5 * np.log2(ms)) == "partly"
    # a spectrum whose entropy does not fall with α
    assert entropy_cost_verdict(ms, np.zeros(4)) == "does not hold at this scale"
    # heavily clipped (4-bit units): the entropy saturates and the rate is far below Stirling's
    lost = [(cap.powerlaw_entropy_bound(int(m), 4, 0.0) - cap.powerlaw_entropy_bound(int(m), 4, 1.0)) / m for m in ms]
    assert entropy_cost_verdict(ms, lost, exponent="sigma") != "holds"


def test_claims_carry_a_control_with_numbers() -> None:
    res = run(ChannelConfig(n_samples=20_000))
    (c,) = res.claims()
    assert "uses the symbol 0" in c["control"] and "does not hold" in c["control"] or "partly" in c["control"]
    sim = [cap.simulate_quantised_gaussian_loss(256, n_samples=3000)]
    t4 = entropy_cost_claim([256], sim)
    assert t4["verdict"] == "holds" and "6.56" in t4["control"] and "holds" not in t4["control"]
    # the doubled figure as the measurement is the null: it does not pass
    assert entropy_cost_claim([256], [cap.bits_lost_per_unit_sigma_exponent(256)])["verdict"] != "holds"


def test_every_claim_says_why_when_it_does_not_hold() -> None:
    from polycode_lite.experiments.superposition_capacity import prediction_why

    # prediction: holds → no why; a null world (D* = 1−S) → why naming the best null and the ratio
    assert compare_prediction(X, _toy_like(), N, M).claims()[0]["why"] == ""
    null = compare_prediction(X, np.clip(1 / X, M / N, 1.0), N, M).claims()[0]
    assert null["verdict"] != "holds" and "best null" in null["why"] and "H_elem = 8" in null["why"]
    assert "ρ = 0.30 is not above" in prediction_why(0.1, {"a": 1.0}, spearman=0.3)
    assert "but not the level" in prediction_why(0.9, {"a": 1.0}, spearman=0.99)
    # channel: holds → ""; partly and does-not-hold → the error in bits
    D = np.array([0.0, 0.2, 0.4, 0.6, 0.8])
    exact = (1 - D) * math.log2(15)
    assert _channel(exact).claims()[0]["why"] == ""
    assert "0.050 bits" in _channel(exact - 0.05).claims()[0]["why"]
    assert "outside Theorem 3's band" in _channel(np.full(5, math.log2(15))).claims()[0]["why"]
    # Theorem 4: the doubled figure is 100% off → a why with the width and the percentage
    ms = np.array([256.0, 1024.0])
    assert entropy_cost_claim(ms, cap.bits_lost_per_unit_alpha(ms))["why"] == ""
    off = entropy_cost_claim(ms, cap.bits_lost_per_unit_sigma_exponent(ms))
    assert off["verdict"] == "partly" and "+100%" in off["why"]
    assert "does not fall" in entropy_cost_claim(ms, np.zeros(2))["why"]


def test_channel_run_reports_standard_errors_and_a_zoomed_difference_panel() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from polycode_lite.course.claims import check_figure

    res = run(ChannelConfig(n_samples=20_000))
    assert res.n_subsamples == 10 and res.se_nonzero.shape == (5,) and np.all(res.se_nonzero > 0)
    assert np.all(res.se_nonzero < 0.05)
    fig = res.plot()
    assert len(fig.axes) == 2 and not check_figure(fig)
    lo, hi = fig.axes[1].get_ylim()
    assert hi - lo < 0.5        # zoomed: the differences (< 0.1 bit) fill the panel, not a 0–4 bit axis
    assert run(ChannelConfig(n_samples=500)).se_nonzero is None     # too few samples to split
