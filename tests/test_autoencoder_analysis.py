"""α per layer (eval and cvPCA) and dot-trajectory statistics on a tiny autoencoder."""

import numpy as np
import pytest
import torch
from torch import nn

from polycode_lite._common import limit_threads
from polycode_lite.experiments.autoencoder import (
    alpha_energy_table,
    alpha_table,
    dot_trajectories,
    fit_window_for,
    layer_alphas,
    reconstruction_table,
    set_dropout_only_train,
    trajectory_stats,
)
from polycode_lite.models.hooks import record_activations
from polycode_lite.models.resnet_vae import (
    ANALYSIS_LAYERS,
    AutoencoderConfig,
    ResNetAutoencoder,
    layer_features,
)
from polycode_lite.science.eigen import eigenspectrum
from polycode_lite.science.powerlaw import fit_power_law

SMALL = AutoencoderConfig(name="small", image_size=16, widths=(12, 12, 16, 16), fc_hidden=24,
                          latent_dim=12, decoder_channels=(8, 4, 4, 3))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with limit_threads(1):
        yield


@pytest.fixture(scope="module")
def images():
    return torch.rand(96, 3, 16, 16, generator=torch.Generator().manual_seed(0))


def test_eval_alpha_matches_direct_computation(images):
    model = ResNetAutoencoder(SMALL, dropout=0.3, seed=1)
    df = layer_alphas(model, images, mode="eval", seed=0).table()
    assert list(df["site"]) == list(ANALYSIS_LAYERS) and list(df["depth"]) == list(range(9))
    assert list(df["n_features"]) == [12, 12, 16, 16, 24, 24, 12, 24, 128]
    assert set(df["mode"]) == {"eval"} and set(df["estimator"]) == {"corrected"}
    assert (df["n_samples"] == 96).all()
    assert np.isfinite(df[["alpha", "ci_low", "ci_high", "r2"]].to_numpy()).all()
    assert model.training  # mode restored
    # oracle: the same layer recorded directly and fitted with the same window
    model.eval()
    acts = record_activations(model, images, ["encoder.layer3"], features=layer_features)
    lam = eigenspectrum(acts["encoder.layer3"], kind="activations")
    row = df[df["site"] == "encoder.layer3"].iloc[0]
    ref = fit_power_law(lam, ranks=(int(row.window_lo), int(row.window_hi)), n_samples=96,
                        n_features=16, seed=0)
    assert row.alpha_plain == pytest.approx(ref.alpha_plain, rel=1e-6)
    assert row.alpha == pytest.approx(ref.alpha, rel=1e-6)
    assert row.ci_low <= row.alpha <= row.ci_high


def test_cvpca_without_dropout_equals_pca(images):
    model = ResNetAutoencoder(SMALL, dropout=0.0, seed=2)
    ev = layer_alphas(model, images, layers=["encoder.layer4", "fc1"], mode="eval",
                      ranks=(2, 6)).table(spectra=True)
    cv = layer_alphas(model, images, layers=["encoder.layer4", "fc1"], mode="cvpca",
                      n_boot=10, ranks=(2, 6)).table(spectra=True)
    rp = layer_alphas(model, images, layers=["encoder.layer4", "fc1"], mode="repeats",
                      n_boot=10, ranks=(2, 6), n_repeats=3).table(spectra=True)
    # identical repeats: the cross-validated spectrum is the PCA spectrum
    for a, b in zip(ev["eigenvalues"], cv["eigenvalues"]):
        k = min(a.size, b.size)
        np.testing.assert_allclose(b[:k], a[:k], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(cv["alpha_plain"], ev["alpha_plain"], rtol=1e-6)
    np.testing.assert_allclose(rp["alpha_plain"], ev["alpha_plain"], rtol=1e-6)


def test_cvpca_with_dropout_uses_two_different_masks(images):
    model = ResNetAutoencoder(SMALL, dropout=0.5, seed=3)
    layers = ["encoder.layer2", "fc5"]
    cv = layer_alphas(model, images, layers=layers, mode="cvpca", n_boot=10).table(spectra=True)
    ev = layer_alphas(model, images, layers=layers, mode="eval").table(spectra=True)
    # dropout noise makes the two spectra differ; cvPCA removes variance, never adds it
    for a, b in zip(ev["eigenvalues"], cv["eigenvalues"]):
        assert not np.allclose(a[:5], b[:5])
        assert b.sum() < a.sum()
    # every row has an alpha or says why not
    for _, row in cv.iterrows():
        assert (np.isfinite(row.alpha) and row.alpha > 0) or row.note
    with pytest.raises(ValueError, match="mode"):
        layer_alphas(model, images, mode="train")


def test_set_dropout_only_train():
    model = ResNetAutoencoder(SMALL, dropout=0.5)
    set_dropout_only_train(model)
    assert all(m.training for m in model.modules() if isinstance(m, nn.Dropout))
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_fit_window_for():
    assert fit_window_for(128, 1000) == (11, 64)
    assert fit_window_for(16, 1000) == (2, 8)
    assert fit_window_for(256, 1000, ranks=(3, 500)) == (3, 128)
    with pytest.raises(ValueError, match="lower lo"):
        fit_window_for(16, 1000, ranks=(6, 50))


def test_alpha_table_reconstruction_and_trajectories(images):
    models = {p: ResNetAutoencoder(SMALL, dropout=p, seed=4) for p in (0.0, 0.4)}
    tab = alpha_table(models, images, layers=["encoder.layer4", "mu"], modes=("eval",), progress=False)
    assert set(tab["dropout"]) == {0.0, 0.4} and len(tab) == 4

    rec = reconstruction_table(models, images)
    x = images
    mean = x.mean(0, keepdim=True).clamp(1e-6, 1 - 1e-6)
    direct = float(torch.nn.functional.binary_cross_entropy(mean.expand_as(x), x, reduction="sum")) / len(x)
    assert rec["baseline_bce"].iloc[0] == pytest.approx(direct, rel=1e-5)
    assert (rec["bce"] > rec["bce_floor"]).all()

    angles, trajs = dot_trajectories(models[0.0], n_frames=16, layers=["encoder.layer1", "fc2"])
    assert angles.shape == (16,)
    assert trajs["input"].shape == (16, 3 * 16 * 16)
    assert trajs["encoder.layer1"].shape == (16, 12 * 16 * 16)  # full C·H·W kept
    stats = trajectory_stats(models[0.0], n_frames=16, layers=["encoder.layer1", "fc2"],
                             n_projections=5, Ts=(128, 256))
    assert list(stats["layer"]) == ["input", "encoder.layer1", "fc2"]
    assert stats.loc[0, "energy_rel_input"] == pytest.approx(1.0)
    # a smooth anti-aliased dot: once frames overlap, the pixel path energy falls like 1/T
    assert stats.loc[0, "energy_slope"] == pytest.approx(-1.0, abs=0.15)
    assert np.isfinite(stats[["energy_norm", "rsa_mean", "energy_slope"]].to_numpy()).all()

    joined = alpha_energy_table({0.0: models[0.0]}, tab, n_frames=16, n_projections=5, Ts=(16, 32),
                                progress=False)
    assert "alpha" in joined and joined["alpha"].isna().sum() >= 1  # input and unfitted layers
