"""The authors' deep dropout net (docs/paper_guide.md §3 E4) and the alpha-against-dropout sweep."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from polycode_lite.experiments.alpha import COLUMNS
from polycode_lite.experiments.alpha_vs_dropout import (
    AlphaSweepConfig,
    alpha_by_layer,
    alpha_dropout_verdict,
    alpha_table,
    alpha_trend,
    control_string,
    load_shipped,
    run_untrained_control,
    shapes_targets,
    train_shapes_mlp,
)
from polycode_lite.experiments.mi_depth import (
    NECESSARY_INFORMATION_NATS,
    DepthResult,
    IdentityTraining,
    capacity_line_nats,
    layer_mutual_information,
    train_identity,
)
from polycode_lite.models.deep_dropout import (
    DeepDropoutNet,
    DeepNetConfig,
    ShapesMLP,
    first_stochastic_layer,
    keras_layer_kind,
    masks_off,
)
from polycode_lite.science.mine import MINEConfig


# -- architecture ------------------------------------------------------------------------
def test_layer_list_mirrors_keras():
    net = DeepDropoutNet()
    assert len(net.layers) == 61  # 40 dense + 10 dropout + 10 scale + output
    assert first_stochastic_layer(net) == 4
    assert keras_layer_kind(net, 3) == "dense (last before dropout)"
    assert keras_layer_kind(net, 4) == "dropout"
    assert keras_layer_kind(net, 5) == "scale"
    assert keras_layer_kind(net, 6) == "dense (first after dropout)"
    assert keras_layer_kind(net, 60) == "output"
    # every authors' plotted layer 3, 6, ..., 60 is a dense layer
    assert all(l in net.dense_indices() for l in range(3, 61, 3))
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == (3 * 32 + 32) + 39 * (32 * 32 + 32) + (32 * 3 + 3)


def test_dropout_is_not_inverted_like_the_authors():
    net = DeepDropoutNet()
    h = torch.ones(2000, 32)
    drop, scale = net.layers[4], net.layers[5]
    net.train()
    out = scale(drop(h))
    # surviving units keep their value (no 1/(1-p) rescaling), about 20% are zeroed
    assert set(torch.unique(out).tolist()) == {0.0, 1.0}
    assert float((out == 0).float().mean()) == pytest.approx(0.2, abs=0.02)
    net.eval()
    assert torch.allclose(scale(drop(h)), 0.8 * h)
    inverted = DeepDropoutNet(DeepNetConfig(authors_scaling=False))
    assert len(inverted.layers) == 51


def test_init_is_seeded_glorot():
    a, b, c = DeepDropoutNet(seed=1), DeepDropoutNet(seed=1), DeepDropoutNet(seed=2)
    wa, wb, wc = (n.layers[6][0].weight for n in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert float(wa.detach().abs().max()) <= math.sqrt(6 / 64) + 1e-6
    assert float(a.layers[6][0].bias.detach().abs().max()) == 0.0


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="dropout"):
        DeepNetConfig(dropout=1.0)
    with pytest.raises(ValueError, match="upto"):
        DeepDropoutNet()(torch.zeros(1, 3), upto=99)
    with pytest.raises(ValueError, match="outside"):
        layer_mutual_information(DeepDropoutNet(), [70], n_samples=100)


def test_identity_training_learns():
    net = DeepDropoutNet(DeepNetConfig(n_dense=8, width=16), seed=0)
    hist = train_identity(net, IdentityTraining(n_samples=6000, epochs=2, batch_size=50),
                             progress=False)
    # predicting 0 gives MSE 1/3 for U[-1, 1] inputs
    assert hist["val_mse"][-1] < 0.15
    assert len(hist["train_mse"]) == 2


def test_untrained_deep_net_loses_information_with_depth():
    """Untrained 40-layer dropout net, code-book input: before the first dropout both estimators
    find the full 3·ln 2 (an injective map of 8 points), which then decays with depth."""
    net = DeepDropoutNet(seed=45)
    rows = layer_mutual_information(
        net, [3, 12, 60], n_samples=4000,
        mine=MINEConfig(steps=300, batch_size=256, eval_every=20), seed=0, progress=False)
    by = {r["layer"]: r for r in rows}
    assert by[3]["deterministic"] and not by[12]["deterministic"]
    assert by[3]["decoder_mi"] == pytest.approx(NECESSARY_INFORMATION_NATS, abs=0.05)
    assert by[3]["mi"] == pytest.approx(NECESSARY_INFORMATION_NATS, abs=0.15)
    assert all(r["mi"] <= r["ceiling"] + 0.1 and not r["diverged"] for r in rows)
    assert by[60]["mi"] < NECESSARY_INFORMATION_NATS - 0.5
    assert by[12]["mi"] > by[60]["mi"] + 0.5
    assert abs(by[60]["mi"] - by[60]["decoder_mi"]) < 0.15  # the two estimators agree


def test_continuous_variant_has_no_ceiling_and_no_decoder():
    rows = layer_mutual_information(DeepDropoutNet(seed=45), [12], n_samples=2000, inputs="continuous",
                                    mine=MINEConfig(steps=60, batch_size=128, eval_every=20),
                                    progress=False)
    assert rows[0]["ceiling"] == math.inf and math.isnan(rows[0]["decoder_mi"])
    with pytest.raises(ValueError, match="inputs must be one of"):
        layer_mutual_information(DeepDropoutNet(), [12], n_samples=100, inputs="gaussian")


def test_masks_off_trains_the_same_architecture_without_dropout():
    net = DeepDropoutNet(DeepNetConfig(n_dense=4, width=8), seed=0)
    x = torch.ones(64, 3)
    net.train()
    with masks_off(net):
        a, b = net(x), net(x)
        assert torch.equal(a, b)  # no masks inside the block, even in train mode
    assert net.layers[4].p == 0.2 and not torch.equal(net(x), net(x))


def test_capacity_line():
    assert capacity_line_nats(32, 0.2) == pytest.approx(0.8 * 32 * math.log(2))
    assert NECESSARY_INFORMATION_NATS == pytest.approx(2.079, abs=1e-3)


# -- result object -----------------------------------------------------------------------
def _fake_result(trained_last=2.0, untrained_12=1.8):
    rows = []
    for model, vals in {"trained": {3: 2.07, 12: 2.0, 60: trained_last},
                        "no_dropout": {3: 2.07, 12: 1.9, 60: 1.2},
                        "untrained": {3: 2.07, 12: untrained_12, 60: 0.1}}.items():
        for trial in range(2):
            for l, v in vals.items():
                rows.append(dict(model=model, trial=trial, layer=l, kind="dense", deterministic=l < 4,
                                 mi=v + 0.01 * trial, mi_sd=0.01, decoder_mi=v - 0.02, diverged=False))
    return DepthResult(rows=rows, history={"trained": {"epoch": [1]}},
                       config={"net": {"width": 32}, "inputs": "codebook"})


def test_depth_result_checks_and_json(tmp_path):
    res = _fake_result()
    c = res.checks()
    assert c["trained"]["lo"][60] == pytest.approx(1.98) and c["trained"]["hi"][60] == pytest.approx(2.005)
    assert c["max_disagreement"] == pytest.approx(0.025) and c["disagreeing"] == [] and c["n_diverged"] == 0
    assert c["above_ceiling"] == []
    assert DepthResult.from_json(res.to_json(tmp_path / "r.json")).rows == res.rows
    s = res.summary()
    assert set(s.columns) >= {"model", "layer", "mean", "sd", "decoder", "lo", "hi", "n_diverged"}
    # a diverged MINE row is left out of the mean and counted
    res.rows[0] = dict(res.rows[0], mi=-1e5, diverged=True)
    s = res.summary().set_index(["model", "layer"])
    assert s.loc[("trained", 3), "mean"] == pytest.approx(2.08) and s.loc[("trained", 3), "n_diverged"] == 1


def test_depth_plot_is_labelled():
    import matplotlib

    matplotlib.use("Agg")
    from polycode_lite.course.claims import check_figure

    ax = _fake_result().plot()
    assert check_figure(ax.figure) == []


def test_shipped_depth_result_is_well_posed_and_has_its_controls():
    """The shipped CPU-scale run (data/dropout/depth_cpu.json): code-book inputs, three models,
    both estimators, no MINE value above the 3·ln 2 ceiling, the estimators within 0.15 nats."""
    res = load_shipped("depth_cpu")
    assert res.inputs == "codebook" and set(res.frame().model) == {"trained", "no_dropout", "untrained"}
    c = res.checks()
    assert c["above_ceiling"] == [] and c["max_disagreement"] < 0.15, c["disagreeing"]
    last = c["last_layer"]
    assert c["untrained"]["hi"][last] < NECESSARY_INFORMATION_NATS - 1
    assert all(cl["control"] for cl in res.claims())


def test_load_shipped_names_the_command():
    with pytest.raises(FileNotFoundError, match="polycode-lite dropout-experiments"):
        load_shipped("depth_nonexistent")


# -- alpha against dropout -----------------------------------------------------------------
def test_shapes_targets_and_mlp_shapes():
    from polycode_lite.data.shapes import make_shapes

    imgs, f = make_shapes(64, seed=0)
    y, c = shapes_targets(f)
    assert y.shape == (64, 11) and c.shape == (64,)
    assert np.allclose(y.mean(0), 0, atol=1e-5) and np.allclose(y.std(0), 1, atol=1e-4)
    net = ShapesMLP(3 * 32 * 32, (32, 16), 11, 3, dropout=0.5)
    assert net.layer_names() == ["hidden.drop1", "hidden.drop2"]
    r, k = net(torch.from_numpy(imgs))
    assert r.shape == (64, 11) and k.shape == (64, 3)
    with pytest.raises(ValueError, match="dropout"):
        ShapesMLP(10, (4,), 1, 3, dropout=1.0)


def test_alpha_by_layer_two_methods_on_a_small_trained_net():
    from polycode_lite.data.shapes import make_shapes

    cfg = AlphaSweepConfig(widths=(64, 64), n_train=600, epochs=2, batch_size=64)
    imgs, f = make_shapes(600, seed=1)
    net, hist = train_shapes_mlp(imgs, f, 0.3, cfg, seed=0, progress=False)
    assert hist["loss"][-1] < hist["loss"][0]
    eval_imgs, _ = make_shapes(400, seed=2)
    state = torch.random.get_rng_state()
    rows = alpha_by_layer(net, eval_imgs, n_boot=5, seed=0)
    assert torch.equal(state, torch.random.get_rng_state())  # masks drawn from a forked RNG
    assert list(zip(rows["depth"], rows["method"])) == [
        (1, "eval_pca"), (1, "dropout_repeats"), (2, "eval_pca"), (2, "dropout_repeats")]
    assert set(COLUMNS) <= set(rows.columns) and list(rows["site"][::2]) == net.layer_names()
    assert list(rows["estimator"]) == ["corrected", "plain cross-covariance"] * 2
    assert set(rows["n_repeats"].dropna()) == {8} and rows["window_grid"].map(len).min() >= 1
    for r in rows.itertuples():
        if np.isfinite(r.alpha) and np.isfinite(r.ci_low):
            assert r.ci_low <= r.ci_high and r.window_lo < r.window_hi
            assert "bootstrap over 400 images" in r.ci_method
        else:
            assert r.note  # a NaN α or CI says why
    assert not net.training


def test_alpha_trend_and_table_on_synthetic_rows():
    rows = []
    for p in (0.0, 0.2, 0.4, 0.6, 0.8):
        for seed in (0, 1):
            rows.append(dict(dropout=p, seed=seed, depth=1, method="eval_pca",
                             alpha=1.0 + p + 0.02 * seed, ci_low=0.95 + p, ci_high=1.05 + p))
            rows.append(dict(dropout=p, seed=seed, depth=2, method="eval_pca",
                             alpha=2.0 - p, ci_low=1.95 - p, ci_high=2.05 - p))
    df = pd.DataFrame(rows)
    tr = alpha_trend(df, n_boot=300).set_index("depth")
    assert tr.loc[1, "slope"] == pytest.approx(1.0, abs=0.02) and tr.loc[1, "rises"]
    assert tr.loc[2, "slope"] == pytest.approx(-1.0, abs=0.01) and tr.loc[2, "falls"]
    tab = alpha_table(df)
    assert list(tab.columns) == ["D=0", "D=0.2", "D=0.4", "D=0.6", "D=0.8"]
    assert tab.loc[("eval_pca", 1), "D=0.2"] == "1.21 [1.15, 1.25]"
    v = alpha_dropout_verdict(alpha_trend(df, n_boot=300))
    assert v["verdict"] == "partly" and v["eval_pca"] == dict(rises=1, falls=1, layers=2,
                                                              overturned_by_grid=0, explained_by_control=0)
    # the same rise in the main window, undone in one window of the grid: not counted
    df["window_grid"] = [{"2-8": r.alpha, "2-16": r.alpha - (2.5 * r.dropout if r.depth == 1 else 0)}
                         for r in df.itertuples()]
    g = alpha_dropout_verdict(alpha_trend(df, n_boot=300), df)
    assert g["eval_pca"]["rises"] == 0 and g["eval_pca"]["overturned_by_grid"] == 1
    assert g["verdict"] == "does not hold at this scale"


def test_alpha_dropout_verdict_on_a_null_and_a_rise():
    rng = np.random.default_rng(0)
    rows = []
    for method in ("eval_pca", "dropout_repeats"):
        for p in (0.0, 0.2, 0.4, 0.6, 0.8):
            for seed in (0, 1):
                for depth in (1, 2, 3):
                    a = 2.0 + 0.05 * rng.standard_normal()  # no dependence on dropout
                    rows.append(dict(dropout=p, seed=seed, depth=depth, method=method, alpha=a,
                                     ci_low=a - 0.1, ci_high=a + 0.1, r2=0.99))
    null = pd.DataFrame(rows)
    assert alpha_dropout_verdict(alpha_trend(null, n_boot=300))["verdict"] != "holds"
    rise = null.assign(alpha=null.alpha + 1.5 * null.dropout, ci_low=null.ci_low + 1.5 * null.dropout,
                       ci_high=null.ci_high + 1.5 * null.dropout)
    assert alpha_dropout_verdict(alpha_trend(rise, n_boot=300))["verdict"] == "holds"


def test_alpha_verdict_with_the_untrained_control():
    """A rise that the untrained control shows too (a measurement effect) is not counted."""
    rows = [dict(dropout=p, seed=s, depth=1, method="dropout_repeats", alpha=1.0 + p + 0.01 * s,
                 ci_low=0.95 + p, ci_high=1.05 + p, r2=0.99) for p in (0.0, 0.4, 0.8) for s in (0, 1)]
    trained = pd.DataFrame(rows)
    assert alpha_dropout_verdict(alpha_trend(trained, n_boot=300))["verdict"] == "holds"
    same = alpha_trend(trained.assign(trained=False), n_boot=300)  # null: control = trained
    v = alpha_dropout_verdict(alpha_trend(trained, n_boot=300), None, same)
    assert v["verdict"] == "does not hold at this scale" and v["dropout_repeats"]["explained_by_control"] == 1
    flat = alpha_trend(trained.assign(alpha=1.0, ci_low=0.95, ci_high=1.05), n_boot=300)
    assert alpha_dropout_verdict(alpha_trend(trained, n_boot=300), None, flat)["verdict"] == "holds"
    text = control_string(trained, trained.assign(trained=False), same)
    assert "D = 0" in text and "untrained" in text and "1.00" in text


def test_untrained_control_uses_the_given_window_and_validates():
    cfg = AlphaSweepConfig(widths=(64, 64), n_eval=400, seeds=(0,))
    df = run_untrained_control(cfg, window=(5, 30), dropouts=(0.0, 0.5), n_boot=10, progress=False)
    assert set(df["trained"]) == {False} and sorted(df["dropout"].unique()) == [0.0, 0.5]
    ok = df.dropna(subset=["alpha"])
    assert len(ok) and set(zip(ok.window_lo, ok.window_hi)) == {(5, 30)}
    # eval mode ignores the dropout rate: the same init gives the same α at every rate
    ev = ok[ok.method == "eval_pca"].groupby("depth")["alpha"].nunique()
    assert (ev == 1).all()
    with pytest.raises(ValueError, match="window"):
        run_untrained_control(cfg, window=(30, 5), progress=False)


def test_shipped_alpha_sweep_has_every_cell():
    df = load_shipped("alpha_full")
    assert sorted(df["dropout"].unique()) == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert set(df["method"]) == {"eval_pca", "dropout_repeats"}
    assert df.groupby(["method", "depth", "dropout"]).size().min() >= 1
    # shipped in the pre-pipeline schema, converted on load to the common α schema
    assert set(COLUMNS) - {"participation_ratio"} <= set(df.columns)
    assert set(df["n_features"]) == {256} and "layer" not in df


def test_building_networks_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    DeepDropoutNet(seed=3)
    ShapesMLP(12, (8,), 2, 3, dropout=0.1, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())


def test_alpha_dropout_verdict_says_why_for_every_outcome():
    """The why (record_claim's why=) comes with any outcome and carries the slopes and the control."""
    rows = [dict(dropout=p, seed=s, depth=d, method=m, alpha=1.0 + (p if d == 1 else -p) + 0.01 * s,
                 ci_low=0.95 + (p if d == 1 else -p), ci_high=1.05 + (p if d == 1 else -p), r2=0.99)
            for p in (0.0, 0.4, 0.8) for s in (0, 1) for d in (1, 2) for m in ("eval_pca", "dropout_repeats")]
    df = pd.DataFrame(rows)
    part = alpha_dropout_verdict(alpha_trend(df, n_boot=300))
    assert part["verdict"] == "partly" and "Only some layers" in part["why"]
    assert "in eval mode (PCA) dα/dD is L1 +1.00, L2 -1.00" in part["why"]
    same = alpha_trend(df, n_boot=300)  # the control falls as fast: the fall is the measurement's
    none = alpha_dropout_verdict(alpha_trend(df, n_boot=300), None, same)
    assert none["verdict"] == "does not hold at this scale"
    assert "as steep in the untrained control (slopes L1 +1.00, L2 -1.00)" in none["why"]
    empty = alpha_dropout_verdict(pd.DataFrame())
    assert empty["verdict"] == "does not hold at this scale" and "no slope" in empty["why"]


def test_layer_mutual_information_keeps_the_curve_for_the_widget():
    net = DeepDropoutNet(DeepNetConfig(n_dense=4), seed=0)
    (row,) = layer_mutual_information(net, [len(net.layers) - 2], n_samples=1500, progress=False,
                                      mine=MINEConfig(steps=60, batch_size=128, eval_every=20), keep_curve=True)
    assert len(row["curve"]["step"]) == len(row["curve"]["heldout"]) == 3
    assert row["curve"]["heldout"][-1] == pytest.approx(row["mi"], abs=1.0)
    (plain,) = layer_mutual_information(net, [3], n_samples=1500, progress=False,
                                        mine=MINEConfig(steps=20, batch_size=128, eval_every=20))
    assert "curve" not in plain
