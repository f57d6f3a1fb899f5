"""The TMS phase diagram (experiments.phase_diagram): classification, theory, verdict rules and nulls."""

import numpy as np
import pytest

from polycode_lite.experiments import phase_diagram as pd_

N, D, S = pd_.REGIMES


def test_classify_weights_the_three_regimes_and_the_shape():
    W = np.array([[1.0, 0.02], [0.01, -1.0], [1.0, -0.9], [1.0, 0.9], [0.1, 0.1]])
    assert list(pd_.classify_weights(W)) == [N, D, S, N, N]   # same-sign and tiny W are not superposition
    assert pd_.classify_weights(W.reshape(5, 1, 2)).shape == (5,)
    with pytest.raises(ValueError, match="W must have shape"):
        pd_.classify_weights(np.ones((3, 3)))


def test_theory_single_feature_losses_are_the_variances_and_antipodal_wins_when_sparse():
    L = pd_.theoretical_losses([0.1, 1.0, 10.0], [0.01, 1.0], iterations=40)
    var = np.array([0.01, 1.0]) / 3 - np.array([0.01, 1.0]) ** 2 / 4
    np.testing.assert_allclose(L[:, 1, 0], var)             # I2 = 1: dropping either costs Var x
    np.testing.assert_allclose(L[:, 0, 1], var)
    assert np.all(L[..., 2] <= L[..., :2].min(-1) * 1.02)   # antipodal contains both as limits (40 steps: 2%)
    R = pd_.theoretical_regimes(L)
    assert R[0, 1] == S                                     # sparse, equal: superposition
    assert (R[1, 0], R[1, 2]) == (N, D)                     # dense: the weak one dropped / the strong one kept


def test_theory_antipodal_loss_matches_monte_carlo_at_a_fixed_point():
    """The closed-form + midpoint integral against a seeded Monte Carlo of the same W and b."""
    import torch

    rng = np.random.default_rng(0)
    p, a, c, b1, b2, I2 = 0.2, 1.0, 0.9, -0.3, -0.2, 2.0
    x = rng.uniform(size=(400_000, 2)) * (rng.uniform(size=(400_000, 2)) < p)
    W = np.array([a, -c])
    y = np.maximum(np.outer(x @ W, W) + [b1, b2], 0)
    mc = np.mean((x[:, 0] - y[:, 0]) ** 2 + I2 * (x[:, 1] - y[:, 1]) ** 2)
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    nodes = t(pd_._NODES)
    ex = (pd_._feature_loss(t(a * a), t(a * c), t(b1), p, nodes)
          + I2 * pd_._feature_loss(t(c * c), t(a * c), t(b2), p, nodes)).item()
    assert ex == pytest.approx(mc, rel=0.02)


def test_corner_verdict_holds_for_elhage_and_fails_for_nulls():
    d, w = np.array([0.01, 0.1, 1.0]), np.array([0.1, 1.0, 10.0])
    good = np.array([[S, S, S], [N, S, D], [N, N, D]], object)
    assert pd_.corner_verdict(good, d, w)[0] == "holds"
    assert pd_.corner_verdict(np.full((3, 3), S, object), d, w)[0] == "does not hold at this scale"
    swapped = good[:, ::-1]                                 # importance axis reversed: dedicated/not swapped
    assert pd_.corner_verdict(swapped, d, w)[0] != "holds"


def test_agreement_verdict_needs_the_target_and_a_margin_over_the_null():
    assert pd_.agreement_verdict(0.9, 0.5) == "holds"
    assert pd_.agreement_verdict(0.9, 0.85) == "partly"     # a null this good: not "holds"
    assert pd_.agreement_verdict(0.5, 0.5) == "does not hold at this scale"
    with pytest.raises(ValueError, match="agreement"):
        pd_.agreement_verdict(1.5, 0.1)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="feature_density"):
        pd_.PhaseDiagramConfig(feature_density=(0.5, 2.0))
    with pytest.raises(ValueError, match="relative_importance"):
        pd_.phase_diagram(relative_importance=[-1.0, 1.0])
    with pytest.raises(TypeError, match="n_seeds"):
        pd_.phase_diagram(n_seeds=1.5)
    with pytest.raises(TypeError, match="config"):
        pd_.run("fast")
    assert pd_.PhaseDiagramConfig().relative_importance[0] == pytest.approx(0.1)   # the good input passes


def test_tiny_run_has_the_api_and_an_untrained_null():
    res = pd_.phase_diagram([0.1, 1.0], [0.05, 1.0], seed=0, n_seeds=2, steps=300, batch_size=256)
    assert len(res.regimes) == 2 and len(res.regimes[0]) == 2
    assert {r for row in res.regimes for r in row} <= set(pd_.REGIMES)
    assert 0.0 <= res.agreement <= 1.0
    t = res.table()
    assert len(t) == 4 and {"W1", "W2", "empirical", "theory"} <= set(t.columns)
    assert [c["verdict"] for c in res.claims()]
    assert res.init_regimes.shape == (2, 2)


@pytest.mark.slow
def test_fast_default_grid_agrees_with_theory_and_elhage_and_the_nulls_fail():
    res = pd_.run(pd_.PhaseDiagramConfig.fast())
    a, b = res.claims()
    assert res.agreement >= pd_.MIN_AGREEMENT, res.agreement
    assert a["verdict"] == "holds" and b["verdict"] == "holds", (a, b)
    assert res.shuffled_agreement() < pd_.MIN_AGREEMENT
    init = np.mean(res.init_regimes == np.asarray(res.theory, object))
    assert pd_.agreement_verdict(init, res.shuffled_agreement()) != "holds"   # the untrained W fails
    fig = res.plot()
    assert len(fig.axes) == 2 and all(ax.get_xscale() == "log" for ax in fig.axes)
