"""SAE feature recovery against sparsity and n/m beside the capacity bound (experiments/sae_recovery.py)."""

from __future__ import annotations

import numpy as np
import pytest

from polycode_lite.experiments.sae_recovery import (
    RecoveryConfig,
    RecoveryResult,
    boundary_verdict,
    capacity_sparsity,
    chance_recovery,
    recovery_verdict,
    run,
)
from polycode_lite.science.capacity import predicted_dims_per_feature

TINY = dict(n_features=12, hidden=(4,), sparsities=(0.5, 0.95), toy_steps=200, toy_batch=256,
            n_samples=800, sae_steps=150, chance_draws=3)


@pytest.fixture(scope="module")
def tiny() -> RecoveryResult:
    return run(RecoveryConfig(**TINY))


def test_tiny_run_table_plot_claims(tiny):
    t = tiny.table()
    assert len(t) == 2 and {"recovery", "control", "chance", "within_capacity", "recovered", "recovered_share",
                            "predicted_share"} <= set(t.columns)
    assert np.all((tiny.recovered_share >= 0) & (tiny.recovered_share <= 1))
    assert np.all((tiny.recovery > 0) & (tiny.recovery <= 1)) and tiny.n_latents == 24
    assert tiny.k.tolist() == [[3, 1]]  # k = round(0.5 · n(1 − S)), at least 1
    claims = tiny.claims()
    assert [c["verdict"] in {"holds", "partly", "does not hold at this scale"} for c in claims] == [True, True]
    for c in claims:
        assert c["control"] and (c["why"] == "") == (c["verdict"] == "holds")
    fig = tiny.plot()
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_capacity_sparsity_solves_the_entropy_bound():
    for r in (1 / 3, 1 / 2, 0.1):
        s = capacity_sparsity(r)
        assert float(predicted_dims_per_feature(s, 8.0, clip=False)) == pytest.approx(r, abs=1e-8)
    assert capacity_sparsity(1 / 3) > capacity_sparsity(1 / 2)  # more features per dimension need sparser inputs
    assert capacity_sparsity(1.0) == 0.0 == capacity_sparsity(2.0)
    with pytest.raises(ValueError, match="ratio_m_over_n"):
        capacity_sparsity(0.0)


def test_chance_recovery_falls_with_dimension():
    rng = np.random.default_rng(0)
    lo = chance_recovery(rng.standard_normal((10, 32)), 20, draws=5)
    hi = chance_recovery(rng.standard_normal((10, 4)), 20, draws=5)
    assert 0 < lo < hi < 1


def test_recovery_verdict_and_its_null():
    chance = np.array([0.77, 0.66])
    assert recovery_verdict([0.99, 0.98], chance) == "holds"
    assert recovery_verdict([0.95, 0.85], chance) == "partly"
    # the null: an SAE on Gaussian data with the same covariance lands at chance
    assert recovery_verdict([0.78, 0.66], chance) == "does not hold at this scale"
    with pytest.raises(ValueError, match="equally shaped"):
        recovery_verdict([0.9], chance)


def test_boundary_verdict_and_its_null():
    within = np.array([[False, True, True], [True, True, True]])
    assert boundary_verdict(within, within) == "holds"
    optimistic = np.array([[False, False, True], [False, True, True]])  # stops earlier than capacity
    assert boundary_verdict(optimistic, within) == "partly"
    beyond = np.array([[True, True, True], [True, True, False]])
    assert boundary_verdict(beyond, np.array([[False, False, True], [False, False, True]])) == \
        "does not hold at this scale"
    # the null: the Gaussian control recovers nothing, so the rule cannot call it a boundary
    assert boundary_verdict(np.zeros_like(within), within) == "does not hold at this scale"
    # a boundary no better than the null with no entropy term is only "partly"
    assert boundary_verdict(within, within, null_within=within) == "partly"
    assert boundary_verdict(within, within, null_within=~within) == "holds"
    everywhere = np.ones_like(within)
    assert boundary_verdict(everywhere, everywhere) == "partly"  # no boundary on the grid to predict


@pytest.mark.parametrize("kwargs, word", [
    (dict(hidden=(30,)), "hidden"), (dict(hidden=()), "hidden"), (dict(sparsities=(0.5, 1.0)), "sparsities"),
    (dict(sparsities=(0.5,)), "sparsities"), (dict(k_fraction=0.0), "k_fraction"), (dict(n_samples=5), "n_samples"),
    (dict(seed=-1), "seed"), (dict(h_elem=0.0), "h_elem"), (dict(sae_steps=0), "sae_steps"),
])
def test_config_refuses_bad_settings(kwargs, word):
    RecoveryConfig(**TINY)  # the null: the good settings pass
    with pytest.raises((ValueError, TypeError), match=word):
        RecoveryConfig(**{**TINY, **kwargs})


def test_run_refuses_a_non_config():
    with pytest.raises(TypeError, match="RecoveryConfig"):
        run(dict(TINY))


@pytest.mark.slow
def test_fast_preset_recovers_sparse_features_and_beats_control():
    res = run(RecoveryConfig.fast())
    i = list(res.hidden).index(8)
    assert res.recovery[i, -1] >= 0.9  # 24 features in 8 dims at 4% activity
    assert np.all(res.control < res.chance + 0.1)
    assert res.claims()[0]["verdict"] == "holds"


def test_plot_refuses_mismatched_arrays():
    from polycode_lite.plots.sae import plot_recovery

    good = dict(sparsity=[0.5, 0.9], ratio=[3.0], recovery=[[0.8, 0.99]], control=[[0.7, 0.7]],
                chance=[[0.7, 0.7]], capacity_sparsity=[0.76], predicted_dims=[0.6, 0.16])
    import matplotlib.pyplot as plt

    plt.close(plot_recovery(**good))  # the null: matching shapes draw
    with pytest.raises(ValueError, match="len\\(ratio\\), len\\(sparsity\\)"):
        plot_recovery(**{**good, "recovery": [0.8, 0.99]})
