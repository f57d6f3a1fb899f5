"""Tests of the shared hook recorder."""

import numpy as np
import pytest
import torch
from torch import nn

from polycode_lite.models.hooks import (
    ActivationRecorder,
    accumulate_covariances,
    channel_features,
    get_module,
    pooled_features,
    record_activations,
    token_features,
)


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5),
    )


def test_record_shapes_and_hooks_removed():
    model = small_cnn()
    x = torch.randn(7, 3, 8, 8)
    acts = record_activations(model, x, ["1", "3", "6"])
    assert acts["1"].shape == (7, 4, 8, 8)
    assert acts["3"].shape == (7, 6, 8, 8)
    assert acts["6"].shape == (7, 5)
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    torch.testing.assert_close(acts["6"], model(x).detach())


def test_hooks_removed_on_error():
    model = small_cnn()
    with pytest.raises(RuntimeError):
        with ActivationRecorder(model, ["1"]):
            model(torch.randn(2, 5, 8, 8))  # wrong channel count
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_batched_recording_and_module_reuse_fires_twice():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(3, 3), relu, nn.Linear(3, 3), relu)
    with ActivationRecorder(model, {"relu": relu}) as rec:
        model(torch.randn(4, 3))
    assert len(rec.activations["relu"]) == 2
    acts = record_activations(model, torch.randn(10, 3), ["0"], batch_size=3)
    assert acts["0"].shape == (10, 3)


def test_unknown_layer_name_is_helpful():
    with pytest.raises(KeyError, match="no module named 'conv9'"):
        get_module(small_cnn(), "conv9")


def test_feature_maps():
    t = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    assert channel_features(t).shape == (8, 3)
    torch.testing.assert_close(channel_features(t)[1], t[0, :, 0, 1])
    torch.testing.assert_close(pooled_features(t), t.mean(dim=(2, 3)))
    tok = torch.randn(2, 5, 4)
    assert token_features(drop_first=2)(tok).shape == (6, 4)
    with pytest.raises(ValueError, match="removes all"):
        token_features(drop_first=5)(tok)


def test_accumulate_covariances_matches_stacked():
    model = small_cnn().eval()
    batches = [torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    accs = accumulate_covariances(model, batches, ["3", "6"], progress=False,
                                  features={"3": channel_features})
    stacked = record_activations(model, torch.cat(batches), ["3", "6"])
    ref3 = np.cov(channel_features(stacked["3"]).double().numpy(), rowvar=False)
    ref6 = np.cov(stacked["6"].double().numpy(), rowvar=False)
    np.testing.assert_allclose(accs["3"].covariance(), ref3, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(accs["6"].covariance(), ref6, rtol=1e-5, atol=1e-7)
    assert accs["3"].n == 64 * 64
