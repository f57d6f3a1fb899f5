"""Verdict rules of notebook 03's α checks (finite-sample bias, PCA against cvPCA under noise):
the claims pass on simulated codes where they are true and fail on nulls."""

from __future__ import annotations

import numpy as np
import pytest

from polycode_lite.experiments.alpha_estimation import (
    BiasConfig,
    BiasResult,
    NoiseConfig,
    NoiseResult,
    run,
    run_noise,
)

RATIOS = np.array([0.5, 1, 2, 4, 16])


def _bias(plain, corrected) -> BiasResult:
    return BiasResult(n_over_m=RATIOS, n=(RATIOS * 200).astype(int), window=("11..50",) * 5,
                      plain=np.asarray(plain, float), corrected=np.asarray(corrected, float),
                      corrected_ci=((0.9, 1.1),) * 5, m=200, true_alpha=1.0)


PLAIN = [1.25, 1.13, 1.06, 1.03, 1.0]


def test_a_correction_that_removes_the_bias_holds() -> None:
    res = _bias(PLAIN, [1.01, 0.99, 1.0, 1.01, 1.0])
    (claim,) = res.claims()
    assert claim["verdict"] == "holds"
    assert "plain 1.130, corrected 0.990" in claim["measured"]
    assert list(res.table().columns) == ["n_over_m", "n", "window", "plain", "corrected", "corrected_ci"]


def test_null_correction_no_better_than_plain_fails() -> None:
    assert _bias(PLAIN, PLAIN).claims()[0]["verdict"] == "does not hold at this scale"
    # a "correction" that overshoots the other way just as far
    assert _bias(PLAIN, 2.0 - np.asarray(PLAIN)).claims()[0]["verdict"] == "does not hold at this scale"


def test_better_but_not_within_tolerance_is_partly() -> None:
    assert _bias(PLAIN, [1.08, 1.05, 1.02, 1.0, 1.0]).claims()[0]["verdict"] == "partly"
    # no bias to remove at n = m: the first half of the claim fails
    assert _bias([1.0] * 5, [1.0] * 5).claims()[0]["verdict"] == "does not hold at this scale"


def test_real_bias_experiment_holds() -> None:
    res = run(BiasConfig(m=100, n_seeds=1, ratios=(1, 16)))
    assert isinstance(res, BiasResult)
    plain1, corr1 = res.at_ratio(1)
    assert plain1 > 1.05 and abs(corr1 - 1.0) < 0.05
    assert res.claims()[0]["verdict"] == "holds"


def _noise(pca, cv) -> NoiseResult:
    return NoiseResult(noise_var=np.array([0.0, 1e-3, 1e-2]), pca_alpha=np.asarray(pca, float),
                       cvpca_alpha=np.asarray(cv, float), window=(11, 66), true_alpha=1.0)


def test_cvpca_rule_and_its_nulls() -> None:
    assert _noise([1.0, 0.9, 0.6], [1.0, 1.0, 0.97]).claims()[0]["verdict"] == "holds"
    # cvPCA no better than PCA
    assert _noise([1.0, 0.9, 0.6], [1.0, 0.9, 0.6]).claims()[0]["verdict"] == "does not hold at this scale"
    # cvPCA better, but noise has not flattened the PCA spectrum (or cvPCA still 0.15 off)
    assert _noise([1.0, 0.95, 0.9], [1.0, 1.0, 1.0]).claims()[0]["verdict"] == "partly"
    assert _noise([1.0, 0.9, 0.6], [1.0, 0.9, 0.85]).claims()[0]["verdict"] == "partly"


@pytest.mark.parametrize("shared", [False, True])
def test_real_noise_experiment_and_shared_noise_null(shared: bool) -> None:
    res = run_noise(NoiseConfig(m=100, noise_vars=(0.0, 3e-2), shared_noise=shared))
    verdict = res.claims()[0]["verdict"]
    if shared:   # the same noise in both repeats: cvPCA cannot average it out
        assert np.allclose(res.cvpca_alpha, res.pca_alpha, atol=1e-6)
        assert verdict == "does not hold at this scale"
    else:
        assert verdict == "holds", res.table()
    assert res.table().shape == (2, 3)


def test_run_rejects_other_configs() -> None:
    with pytest.raises(TypeError):
        run(object())


def test_claims_name_their_control_with_numbers() -> None:
    (b,) = _bias(PLAIN, [1.01, 1.0, 1.0, 1.0, 1.0]).claims()
    assert "true α = 1.0 known" in b["control"] and "n/m = 16" in b["control"]
    (n,) = _noise([1.0, 0.9, 0.6], [1.0, 1.0, 0.97]).claims()
    assert "noise-free" in n["control"] and "PCA α̂ = 1.00" in n["control"]


def test_every_outcome_carries_a_why_from_its_numbers() -> None:
    from polycode_lite.course.claims import record_claim  # noqa: F401  (the why is what it needs)

    for res in (_bias(PLAIN, [1.0] * 5), _bias(PLAIN, [1.08, 1.05, 1.02, 1.0, 1.0]), _bias(PLAIN, PLAIN)):
        (c,) = res.claims()
        assert c["why"].strip() and f"{res.worst_corrected:.3f}" in c["why"]
    (c,) = _bias(PLAIN, PLAIN).claims()
    assert c["verdict"] == "does not hold at this scale" and "no smaller" in c["why"]
    (c,) = _bias(PLAIN, [1.08, 1.05, 1.02, 1.0, 1.0]).claims()
    assert c["verdict"] == "partly" and "beyond the tolerance" in c["why"] and "0.080" in c["why"]
    (c,) = _noise([1.0, 0.9, 0.6], [1.0, 0.9, 0.6]).claims()
    assert c["verdict"] == "does not hold at this scale" and "no closer" in c["why"] and "-0.40" in c["why"]
    (c,) = _noise([1.0, 0.95, 0.9], [1.0, 1.0, 1.0]).claims()
    assert c["verdict"] == "partly" and "not a drop of" in c["why"]
    assert _noise([1.0, 0.9, 0.6], [1.0, 1.0, 0.97]).claims()[0]["why"]


def test_dropout_noise_claim_says_why() -> None:
    from polycode_lite.experiments.repeats_estimation import DropoutNoiseResult

    def result(cv, rep):
        alphas = np.array([[1.0, 1.0, 1.0, 1.0], [0.7, 1.0 + cv, 1.0, 1.0 + rep]])
        return DropoutNoiseResult(np.array([0.05, 0.8]), alphas, np.ones((2, 4)), 8, False)

    holds, partly, fails = result(0.3, 0.01).claims()[0], result(0.3, 0.08).claims()[0], result(0.02, 0.03).claims()[0]
    assert (holds["verdict"], partly["verdict"], fails["verdict"]) == ("holds", "partly", "does not hold at this scale")
    assert "not repaired" in partly["why"] and "+0.080" in partly["why"]
    assert "not broken" in fails["why"] and "no closer" in fails["why"]
    assert holds["why"].strip()
