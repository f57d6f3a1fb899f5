"""Correlated and anticorrelated features (experiments.feature_correlation): the measure, the rule, the null."""

import numpy as np
import pytest

from polycode_lite.experiments import feature_correlation as fc


def test_pair_cosines_on_known_geometry():
    W = np.array([[[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0]],       # pair 0 antipodal, pair 1 parallel
                  [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]])       # pair 0 orthogonal, pair 1 zero
    np.testing.assert_allclose(fc.pair_cosines(W), [[-1.0, 1.0], [0.0, 0.0]], atol=1e-12)
    square = np.array([[[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]]])
    c = fc.all_pair_cosines(square)
    assert c.shape == (1, 6) and np.isclose((c < -0.9).mean(), 1 / 3)
    with pytest.raises(ValueError, match="W"):
        fc.pair_cosines(np.ones((2, 2)))


def test_geometry_verdict_and_its_null():
    antipodal, orth = np.full(20, -0.99), np.full(20, 0.01)
    square = np.tile([-1.0, 0.0, 0.0], 8)                  # the independent control: 1/3 antipodal
    assert fc.geometry_verdict(antipodal, "antipodal", square)[0] == "holds"
    assert fc.geometry_verdict(orth, "orthogonal", square)[0] == "holds"
    assert fc.geometry_verdict(square, "antipodal", square)[0] == "does not hold at this scale"   # null fails
    assert fc.geometry_verdict(square, "orthogonal", square)[0] == "does not hold at this scale"
    assert fc.geometry_verdict(orth, "orthogonal", orth)[0] == "partly"    # control shows it too
    with pytest.raises(ValueError, match="geometry"):
        fc.geometry_verdict(orth, "parallel", square)


def test_config_checks_name_the_argument():
    with pytest.raises(ValueError, match="n_features"):
        fc.CorrelationConfig(n_features=5)
    with pytest.raises(ValueError, match="feature_probability"):
        fc.CorrelationConfig(feature_probability=0.7)
    with pytest.raises(ValueError, match="n_hidden"):
        fc.CorrelationConfig(n_hidden=4)
    with pytest.raises(TypeError, match="config"):
        fc.run({"n_features": 4})
    assert fc.CorrelationConfig.fast().n_instances == 16   # the good input passes


def test_tiny_run_api():
    res = fc.run(fc.CorrelationConfig(n_instances=3, steps=50, batch_size=128))
    t = res.table()
    assert list(t.condition) == list(fc.CONDITIONS)
    assert res.cos["independent"].shape == (3, 6) and res.cos["correlated"].shape == (3, 2)
    assert len(res.claims()) == 2


@pytest.mark.slow
def test_fast_run_correlated_orthogonal_anticorrelated_antipodal_independent_neither():
    res = fc.run(fc.CorrelationConfig.fast())
    anti, corr = res.claims()
    assert anti["verdict"] == "holds", anti
    assert corr["verdict"] == "holds", corr
    ctl = res.selected("independent")
    assert fc.geometry_verdict(ctl, "antipodal", ctl)[0] == "does not hold at this scale"
    assert res.summary("anticorrelated")["mean_cos"] < -0.9 < res.summary("independent")["mean_cos"]
    assert len(res.plot().axes) == 1
