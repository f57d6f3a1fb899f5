"""Notebook 06's rules with their controls: each rule passes its claim and fails a null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from polycode_lite.experiments import autoencoder_claims as C
from polycode_lite.models.batchnorm import recalibrate_batchnorm


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --- BatchNorm recalibration -------------------------------------------------------------
def _dropout_bn_net(p: float) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Dropout(p), nn.BatchNorm1d(8, momentum=0.1))


def test_recalibration_removes_the_variance_shift():
    net = _dropout_bn_net(0.5)
    x = torch.randn(4096, 8) * 2 + 1
    net.train()
    with torch.no_grad():
        for _ in range(200):  # running var learnt with dropout on: var of x/(1-p) masked, > var(x)
            net(x[torch.randint(0, 4096, (256,))])
    bn = net[1]
    assert (bn.running_var > 1.5 * x.var(0)).all()
    n = recalibrate_batchnorm(net, (x[i:i + 256] for i in range(0, 4096, 256)))
    assert n == 4096 and not net.training and bn.momentum == 0.1
    np.testing.assert_allclose(bn.running_var, x.var(0), rtol=0.02)
    np.testing.assert_allclose(bn.running_mean, x.mean(0), atol=0.02)
    out = net(x)
    np.testing.assert_allclose(out.var(0).detach(), np.ones(8), rtol=0.05)


def test_recalibration_errors_leave_the_statistics_untouched():
    net = _dropout_bn_net(0.5)
    before = net[1].running_var.clone()
    with pytest.raises(ValueError, match="no batches"):
        recalibrate_batchnorm(net, iter([]))
    with pytest.raises(ValueError, match=">= 2"):
        recalibrate_batchnorm(net, iter([torch.randn(1, 8)]))
    assert torch.equal(net[1].running_var, before) and net[1].momentum == 0.1


def test_shipped_models_beat_the_mean_image_and_untrained_does_not():
    from polycode_lite.experiments.autoencoder import analysis_images, reconstruction_table
    from polycode_lite.models.checkpoints import shipped_models

    images, train = analysis_images(128, seed=1), analysis_images(128, seed=0)
    rec = reconstruction_table(shipped_models(), images, baseline_images=train)
    v = C.reconstruction_verdict(rec)
    assert v["verdict"] == "holds", rec
    null = reconstruction_table(C.untrained_models((0.0,), train), images, baseline_images=train)
    assert C.reconstruction_verdict(null)["verdict"] == "does not hold at this scale", null


# --- synthetic α tables ------------------------------------------------------------------
STAGES = ["encoder.layer1", "encoder.layer2", "encoder.layer3", "encoder.layer4"]


def _alpha_rows(slope: float, rates=(0.0, 0.2, 0.4, 0.6, 0.8), half=0.05, mode="eval") -> pd.DataFrame:
    rows = []
    for i, layer in enumerate(STAGES):
        for p in rates:
            a = 2.0 + 0.1 * i + slope * p
            rows.append(dict(dropout=p, mode=mode, site=layer, alpha=a, ci_low=a - half, ci_high=a + half,
                             window_grid={(2, 8): a, (3, 8): a + 0.01}))
    return pd.DataFrame(rows)


def _rec(gains) -> pd.DataFrame:
    return pd.DataFrame({"dropout": [0.0, 0.2, 0.4, 0.6, 0.8], "bce_gain": gains,
                         "bce": [1900.0] * 5, "baseline_bce": [1968.0] * 5})


def test_reconstruction_verdict_null():
    assert C.reconstruction_verdict(_rec([0.3, 0.2, 0.2, 0.1, 0.1]))["verdict"] == "holds"
    assert C.reconstruction_verdict(_rec([0.3, 0.2, 0.0, -0.1, -0.2]))["verdict"] == "partly"
    assert C.reconstruction_verdict(_rec([0.0] * 5))["verdict"] == "does not hold at this scale"


def test_dropout_verdict_holds_only_when_the_control_does_not_rise():
    rec = _rec([0.3, 0.2, 0.2, 0.1, 0.1])
    rising, flat = _alpha_rows(1.0), _alpha_rows(0.0, rates=(0.0, 0.8))
    v = C.dropout_verdict(rising, flat, rec, STAGES)
    assert v["verdict"] == "holds" and v["n_sep_up_net"] == 4
    # null: the untrained network rises just as much -> the estimator, not training, made the trend
    v = C.dropout_verdict(rising, _alpha_rows(1.0, rates=(0.0, 0.8)), rec, STAGES)
    assert v["verdict"] == "does not hold at this scale" and v["n_sep_up_net"] == 0
    # null: no trend at all
    assert C.dropout_verdict(_alpha_rows(0.0), flat, rec, STAGES)["verdict"] == "does not hold at this scale"
    # falling
    assert C.dropout_verdict(_alpha_rows(-1.0), flat, rec, STAGES)["verdict"] == "does not hold at this scale"


def _depth_table(alphas, half=0.05) -> pd.DataFrame:
    a = np.asarray(alphas, float)
    return pd.DataFrame({"alpha": a, "ci_low": a - half, "ci_high": a + half}, index=STAGES)


def test_depth_verdict_needs_training_to_change_the_profile():
    trained, untrained = _depth_table([3.5, 3.6, 3.1, 2.7]), _depth_table([2.4, 2.0, 1.3, 1.0])
    assert C.depth_verdict(trained, untrained, STAGES)["verdict"] == "holds"
    # null: the untrained network has the same profile -> architecture, not learning
    assert C.depth_verdict(trained, trained.copy(), STAGES)["verdict"] == "partly"
    # null: flat within the CIs
    flat = _depth_table([3.0, 3.02, 3.01, 2.99])
    assert C.depth_verdict(flat, untrained, STAGES)["verdict"] == "does not hold at this scale"
    with pytest.raises(ValueError, match="layer names"):
        C.depth_verdict(trained, untrained, ["encoder.layer9"])


def test_smoothness_verdict_fails_on_unrelated_alpha():
    rng = np.random.default_rng(0)
    alpha = rng.uniform(1, 4, 45)
    energy = np.exp(-alpha + 0.2 * rng.normal(size=45))
    rsa = alpha + 0.3 * rng.normal(size=45)
    assert C.smoothness_verdict(alpha, energy, rsa, n_perm=500)["verdict"] == "holds"
    null = rng.permutation(alpha)
    assert C.smoothness_verdict(null, energy, rsa, n_perm=500)["verdict"] == "does not hold at this scale"
    with pytest.raises(ValueError, match="1-D"):
        C.permutation_spearman(alpha[:3], energy[:3])


# --- why: every verdict other than "holds" says why, from the numbers ----------------------
def test_reconstruction_why_names_the_models_that_learnt_nothing():
    assert C.reconstruction_verdict(_rec([0.3, 0.2, 0.2, 0.1, 0.1]))["why"] == ""
    v = C.reconstruction_verdict(_rec([0.3, 0.2, 0.0, -0.1, -0.2]))
    assert v["verdict"] == "partly" and "3 of 5 models" in v["why"] and "p = 0.8 (-20.0%)" in v["why"]
    v = C.reconstruction_verdict(_rec([0.0] * 5))
    assert v["verdict"] == "does not hold at this scale" and "lowest rate" in v["why"]


def test_dropout_why_for_falling_flat_and_control_shared_trends():
    rec = _rec([0.3, 0.2, 0.2, 0.1, 0.1])
    flat = _alpha_rows(0.0, rates=(0.0, 0.8))
    assert C.dropout_verdict(_alpha_rows(1.0), flat, rec, STAGES)["why"] == ""
    v = C.dropout_verdict(_alpha_rows(-1.0), flat, rec, STAGES)
    assert v["verdict"] == "does not hold at this scale"
    assert "in 0 of 4 encoder stages" in v["why"] and "falls beyond the CIs in layer1 2.00→1.20" in v["why"]
    v = C.dropout_verdict(_alpha_rows(0.0), flat, rec, STAGES)
    assert "no change beyond the CIs and the window grid in layer1 2.00→2.00" in v["why"]
    v = C.dropout_verdict(_alpha_rows(1.0), _alpha_rows(1.0, rates=(0.0, 0.8)), rec, STAGES)
    assert "untrained control rises as well in layer1, layer2, layer3, layer4" in v["why"]
    # "partly": one stage rises; the why says so and names the model that does not beat the mean image
    one = _alpha_rows(0.0)
    one.loc[(one.site == "encoder.layer1") & (one.dropout == 0.8), "alpha"] += 1
    one.loc[(one.site == "encoder.layer1") & (one.dropout == 0.8), ["ci_low", "ci_high"]] += 1
    one.loc[(one.site == "encoder.layer1") & (one.dropout == 0.8), "window_grid"] = [{(2, 8): 3.0, (3, 8): 3.01}]
    bad_rec = _rec([0.3, 0.2, 0.2, 0.1, 0.1]).assign(bce=[1900.0] * 4 + [1999.0])
    v = C.dropout_verdict(one, flat, bad_rec, STAGES)
    assert v["verdict"] == "partly" and "in 1 of 4 encoder stages" in v["why"] and "p = 0.8 do not beat" in v["why"]


def test_depth_and_smoothness_whys():
    trained, untrained = _depth_table([3.5, 3.6, 3.1, 2.7]), _depth_table([2.4, 2.0, 1.3, 1.0])
    assert C.depth_verdict(trained, untrained, STAGES)["why"] == ""
    v = C.depth_verdict(trained, trained.copy(), STAGES)
    assert v["verdict"] == "partly" and "untrained architecture has this profile too" in v["why"]
    assert "layer2 3.60 [3.55, 3.65] against layer4 2.70 [2.65, 2.75]" in v["why"]
    v = C.depth_verdict(_depth_table([3.0, 3.02, 3.01, 2.99]), untrained, STAGES)
    assert "CIs overlap" in v["why"]
    v = C.depth_verdict(_depth_table([3.0, np.nan, 3.01, 2.99]), untrained, STAGES)
    assert v["verdict"] == "does not hold at this scale" and "no α for layer2" in v["why"]

    rng = np.random.default_rng(0)
    alpha = rng.uniform(1, 4, 45)
    energy = np.exp(-alpha + 0.2 * rng.normal(size=45))
    rsa = alpha + 0.3 * rng.normal(size=45)
    assert C.smoothness_verdict(alpha, energy, rsa, n_perm=200)["why"] == ""
    # the wrong way round: larger α, rougher trajectories
    v = C.smoothness_verdict(alpha, 1 / energy, -rsa, n_perm=200)
    assert v["verdict"] == "does not hold at this scale"
    assert "ρ(α, energy) = +" in v["why"] and "wrong sign" in v["why"] and "rougher, not smoother" in v["why"]
    # "partly": energy right, RSA unrelated
    v = C.smoothness_verdict(alpha, energy, rng.permutation(rsa), n_perm=200)
    assert v["verdict"] == "partly" and "ρ(α, RSA)" in v["why"] and "ρ(α, energy)" not in v["why"]
