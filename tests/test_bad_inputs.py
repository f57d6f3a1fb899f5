"""Bad inputs get a clear ValueError/TypeError naming the argument (issue 16's silent and obscure
cases), and leave state untouched. Each row: a call, the exception, a pattern its message must
match (the argument's name)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polycode_lite import _checks
from polycode_lite.data.stimuli import moving_dot_images
from polycode_lite.experiments.explanation_scoring import normalize_activations
from polycode_lite.science.covariance import CovarianceAccumulator
from polycode_lite.science.mine import MINEConfig
from polycode_lite.science.projections import expected_projected_action, theoretical_energy_slope

CASES = [
    # (id, call, exception, message pattern); the first seven returned a wrong value before
    ("energy slope alpha=nan", lambda: theoretical_energy_slope(float("nan")), ValueError, "alpha must be finite"),
    ("energy slope d='2'", lambda: theoretical_energy_slope(3.0, d="2"), TypeError, "d must be an integer"),
    ("dots sigma=nan", lambda: moving_dot_images(4, sigma=float("nan")), ValueError, "sigma must be finite"),
    ("dots n_frames='4'", lambda: moving_dot_images("4"), TypeError, "n_frames must be an integer"),
    ("dots n_frames=1", lambda: moving_dot_images(1), ValueError, "at least 2 frames"),
    ("dots background=2", lambda: moving_dot_images(4, background=2.0), ValueError, r"background must lie in \[0, 1\]"),
    ("normalize nan", lambda: normalize_activations([np.nan, 1.0], 1.0), ValueError, "activations holds 1 NaN"),
    ("normalize max nan", lambda: normalize_activations([0.5, 1.0], float("nan")), ValueError, "max_activation"),
    ("projected action k=-3", lambda: expected_projected_action(alpha=2.0, m=10, k=-3), ValueError, "k must be >= 1"),
    ("projected action k>m", lambda: expected_projected_action(np.ones(4), k=5), ValueError, "cannot exceed"),
    ("projected action negative eigenvalue", lambda: expected_projected_action([1.0, -2.0]), ValueError, ">= 0"),
    ("MINE grad_clip=-1", lambda: MINEConfig(grad_clip=-1), ValueError, "grad_clip must be > 0"),
    ("MINE lr=inf", lambda: MINEConfig(lr=float("inf")), ValueError, "lr must be finite"),
    ("accumulator from n=-5", lambda: CovarianceAccumulator.from_state_dict(
        {"n": torch.tensor([-5]), "mean": torch.zeros(3, dtype=torch.float64),
         "m2": torch.zeros(3, 3, dtype=torch.float64)}), ValueError, "cannot be negative"),
    ("accumulator from bad shapes", lambda: CovarianceAccumulator.from_state_dict(
        {"n": torch.tensor([5]), "mean": torch.zeros(3), "m2": torch.zeros(2, 2)}), ValueError, r"\(dim, dim\)"),
]


@pytest.mark.parametrize("call, exc, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(call, exc, pattern) -> None:
    with pytest.raises(exc, match=pattern):
        call()


def test_train_toy_refuses_an_infinite_lr() -> None:
    from polycode_lite.models.toy import ToyModel
    from polycode_lite.models.toy_training import train_toy

    model = ToyModel(n_features=5, n_hidden=2, n_instances=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="lr must be finite"):
        train_toy(model, steps=5, lr=float("inf"), progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("batch, exc, pattern", [
    (np.ones((4, 3)) * (1 + 1j), TypeError, "complex"),
    (np.array([["a", "b", "c"]] * 2), TypeError, "real numbers"),
    (np.arange(12.0).reshape(4, 3) * 1e200, ValueError, "overflow"),
], ids=["complex", "strings", "x 1e200"])
def test_accumulator_refuses_a_bad_batch_and_keeps_its_state(batch, exc, pattern) -> None:
    acc = CovarianceAccumulator(3)
    acc.update(np.random.default_rng(0).standard_normal((10, 3)))
    before = {k: v.clone() for k, v in acc.state_dict().items()}
    with pytest.raises(exc, match=pattern):
        acc.update(batch)
    after = acc.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_the_checks_accept_good_values_and_name_bad_ones() -> None:
    assert _checks.integer("k", np.int64(3), minimum=1) == 3
    assert _checks.probability("p", 0.0) == 0.0
    assert _checks.positive("s", 0, allow_zero=True) == 0.0
    with pytest.raises(TypeError, match="k must be an integer, got bool"):
        _checks.integer("k", True)
    with pytest.raises(TypeError, match="x must be a real number, got str"):
        _checks.real("x", "2")
    with pytest.raises(ValueError, match="p must lie in"):
        _checks.probability("p", 1.5)


def test_train_toy_stops_at_a_non_finite_loss_and_restores_the_weights() -> None:
    from polycode_lite.models.toy import ToyModel
    from polycode_lite.models.toy_training import train_toy

    model = ToyModel(n_features=5, n_hidden=2, n_instances=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"non-finite by step 10 \(lr=1e\+30"):
        train_toy(model, steps=200, lr=1e30, batch_size=64, progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    history = train_toy(model, steps=20, lr=1e-3, batch_size=64, progress=False)  # the null: trains
    assert np.isfinite(history.loss).all() and not torch.equal(before["W"], model.W.detach())


def test_mine_stops_at_a_non_finite_loss_and_flags_it() -> None:
    from polycode_lite.science import mine

    x, z = mine.sample_correlated_gaussian(400, 0.8, 1, seed=0)
    kw = dict(steps=60, batch_size=64, eval_every=10, loss="dv", grad_clip=None, progress=False)
    with pytest.warns(RuntimeWarning, match="non-finite training loss"):
        est = mine.estimate_mutual_information(x, z, lr=1e30, **kw)
    assert est.diverged and "non-finite training loss at step" in est.divergence
    assert len(est.curve["step"]) == 1 and np.isnan(est.mi)  # stopped at once
    ok = mine.estimate_mutual_information(x, z, lr=1e-3, **kw)  # the null
    assert "non-finite" not in ok.divergence and len(ok.curve["step"]) == 6


def test_unknown_names_are_key_and_value_errors_naming_the_argument() -> None:
    from torch import nn

    from polycode_lite.course.exercises import check
    from polycode_lite.models.hooks import ActivationRecorder, get_module

    net = nn.Sequential(nn.Linear(2, 2))
    for call, pattern in ((lambda: get_module(net, "nope"), "^name: model has no module named 'nope'"),
                          (lambda: ActivationRecorder(net, ["0", "nope"]), r"^layers\[1\]: model has no module"),
                          (lambda: check("bogus.id", 1, verbose=False), "^exercise_id 'bogus.id': no exercise topic")):
        with pytest.raises(KeyError, match=pattern):
            call()
        with pytest.raises(ValueError, match=pattern):
            call()
    assert isinstance(get_module(net, "0"), nn.Linear)


def test_the_new_checks() -> None:
    assert _checks.array("x", [[1, 2], [3, 4]], ndim=2, min_len=2).dtype == np.float64
    t = torch.ones(3, 2)
    assert _checks.array("x", t, ndim=2, keep_tensor=True) is t
    for value, exc, pattern in ((torch.ones(2, 2) * (1 + 1j), TypeError, "x must hold real numbers"),
                                (torch.tensor([[1.0, float("nan")], [1.0, 2.0]]), ValueError, "x holds 1 NaN"),
                                (np.ones((1, 3)), ValueError, r"x needs at least 2 rows"),
                                (np.ones(3), ValueError, "x must be 2-D"), ([[1], [1, 2]], ValueError, "ragged")):
        with pytest.raises(exc, match=pattern):
            _checks.array("x", value, ndim=2, min_len=2)
    assert np.isnan(_checks.array("p", [np.nan], finite=False)[0])
    assert _checks.choice("method", "exact", ("exact", "auto")) == "exact"
    with pytest.raises(ValueError, match="method must be one of 'exact', 'auto'; got 1"):
        _checks.choice("method", 1, ("exact", "auto"))
    assert _checks.sequence_of("Ts", [2, 3], _checks.integer) == (2, 3)
    with pytest.raises(TypeError, match=r"Ts\[1\] must be an integer"):
        _checks.sequence_of("Ts", [2, "3"], _checks.integer)
    assert _checks.window("ranks", (2, 9), hi_max=9) == (2, 9)
    with pytest.raises(ValueError, match="exceeds the 8 ranks"):
        _checks.window("ranks", (2, 9), hi_max=8)
    assert _checks.seed("seed", 0) == 0
    with pytest.raises(ValueError, match="seed must be >= 0"):
        _checks.seed("seed", -1)
    _checks.memory("n", (1000, 1000))  # 8 MB: fine
    with pytest.raises(ValueError, match="n asks for an array of shape"):
        _checks.memory("n", (10**12,))
    with pytest.raises(TypeError, match="flag must be True or False"):
        _checks.boolean("flag", "no")


def test_shipped_models_refuses_a_bad_device_before_loading(monkeypatch):
    from polycode_lite.models import checkpoints

    loaded = []

    def fake_load(path, device):
        loaded.append(path)
        return None, {"dropout": float(len(loaded))}

    monkeypatch.setattr(checkpoints, "load_autoencoder", fake_load)
    for device in ("gpu9", "cuda:7", 3):
        with pytest.raises(ValueError, match="device"):
            checkpoints.shipped_models(device=device)
    assert not loaded
    assert len(checkpoints.shipped_models(device="cpu")) == 5 == len(loaded)  # the null: cpu loads
