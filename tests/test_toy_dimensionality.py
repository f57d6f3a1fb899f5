"""Verdict rules of the dimensionality experiment: a superposing curve passes, nulls fail."""

from __future__ import annotations

import numpy as np
import pytest

from polycode_lite.experiments.toy_dimensionality import DimensionalityResult, dimensionality_sweep


def _result(dstar, feature_dims=None) -> DimensionalityResult:
    dstar = np.asarray(dstar, dtype=float)
    k = len(dstar)
    if feature_dims is None:
        feature_dims = np.tile(dstar[:, None], (1, 10))
    return DimensionalityResult(inverse_density=np.geomspace(1, 20, k), dims_per_feature=dstar,
                                feature_dims=np.asarray(feature_dims, float),
                                final_loss=np.zeros(k), n_features=200, n_hidden=20, steps=1, seconds=0.0)


def _verdicts(res: DimensionalityResult) -> list[str]:
    return [c["verdict"] for c in res.claims()]


def test_an_elhage_like_curve_holds() -> None:
    res = _result([1.0, 0.9, 0.75, 0.52, 0.5, 0.49, 0.47, 0.3, 0.2, 0.14])
    assert _verdicts(res) == ["holds", "holds", "holds"]
    table = res.table()
    assert list(table.columns[:3]) == ["inverse_density", "sparsity", "dims_per_feature"]
    assert len(table) == 10


def test_null_without_superposition_fails() -> None:
    # a linear model stores m features orthogonally at every sparsity: D* stays at 1
    res = _result(np.ones(10), feature_dims=np.where(np.arange(10) < 5, 1.0, 0.0)[None].repeat(10, 0))
    falls, sticky, fractions = _verdicts(res)
    assert falls == "does not hold at this scale"
    assert sticky == "does not hold at this scale"


def test_noise_around_a_fall_is_only_partly() -> None:
    rng = np.random.default_rng(0)
    d = np.linspace(1, 0.2, 10)
    d[5] += 0.2  # one sparsity jumps back up: under-trained, not a clean fall
    res = _result(d, feature_dims=rng.uniform(0, 1, (10, 10)))
    falls, _, fractions = _verdicts(res)
    assert falls == "partly" and "not monotone" in res.claims()[0]["measured"]
    assert fractions == "partly"


def test_one_point_near_half_is_partly() -> None:
    res = _result([1.0, 0.8, 0.5, 0.3, 0.2])
    assert res.claims()[1]["verdict"] == "partly"


@pytest.mark.slow
def test_real_sweep_falls() -> None:
    res = dimensionality_sweep(n_features=40, n_hidden=4, n_instances=6, steps=1500, batch_size=256,
                               progress=False)
    assert res.claims()[0]["verdict"] in {"holds", "partly"}


def test_every_claim_that_does_not_hold_says_why() -> None:
    cases = [_result([1.0, 0.9, 0.75, 0.52, 0.5, 0.49, 0.47, 0.3, 0.2, 0.14]),      # holds everywhere
             _result(np.ones(10)),                                                   # no fall, no plateau
             _result([1.0, 0.8, 0.5, 0.3, 0.2]),                                     # one point near 1/2
             _result(np.r_[np.linspace(1, 0.2, 5), 0.45, np.linspace(0.3, 0.2, 4)],
                     feature_dims=np.random.default_rng(0).uniform(0, 1, (10, 10)))]  # not monotone, no clusters
    seen = set()
    for res in cases:
        for c in res.claims():
            assert bool(c["why"].strip()) == (c["verdict"] != "holds"), c
            seen.add(c["verdict"])
    assert seen == {"holds", "partly", "does not hold at this scale"}
    falls, sticky, share = cases[3].claims()
    assert "rises by" in falls["why"] and "below the 25%" in share["why"]
    assert "no plateau" in cases[1].claims()[1]["why"] and "Only 1 of 5" in cases[2].claims()[1]["why"]
