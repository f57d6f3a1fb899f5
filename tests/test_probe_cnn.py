"""The small torchvision-block CNN used by notebook 04."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from polycode_lite.models.hooks import record_activations
from polycode_lite.models.probe_cnn import PROBE_LAYERS, make_probe_cnn, train_probe_cnn


def test_layers_shapes_and_seeded_init():
    model = make_probe_cnn(width=4, seed=1).eval()
    x = torch.rand(2, 3, 32, 32)
    acts = record_activations(model, x, PROBE_LAYERS)
    assert {k: tuple(v.shape) for k, v in acts.items()} == {
        "stem": (2, 4, 32, 32), "layer1": (2, 4, 32, 32), "layer2": (2, 8, 16, 16),
        "layer3": (2, 16, 8, 8), "pool": (2, 16)}
    state = torch.random.get_rng_state()
    again = make_probe_cnn(width=4, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state), "global RNG must be untouched"
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    other = make_probe_cnn(width=4, seed=2)
    assert not torch.equal(next(other.parameters()), next(model.parameters()))


def test_brief_training_lowers_the_loss():
    model = make_probe_cnn(width=4, seed=0)
    out = train_probe_cnn(model, n_train=64, n_test=32, steps=40, batch_size=16, lr=1e-2, progress=False, threads=1)
    assert len(out["losses"]) == 40 and not model.training
    assert np.mean(out["losses"][-10:]) < np.mean(out["losses"][:5])
    assert 0.0 <= out["test_accuracy"] <= 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="width"):
        make_probe_cnn(width=0)
    with pytest.raises(ValueError, match="n_train"):
        train_probe_cnn(make_probe_cnn(width=2), n_train=8, batch_size=16, progress=False)
