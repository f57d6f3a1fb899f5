"""Fixtures of the API fuzz tables: tiny valid inputs and factories of fresh stateful objects
(each bad call gets its own, so one rejected call cannot leak into the next)."""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng(0)
X = _rng.standard_normal((60, 12))            # (n, m) activations
X2 = X + 0.1 * _rng.standard_normal((60, 12))  # a second repeat
EV = 1.0 / np.arange(1, 41) ** 1.0            # a power-law spectrum
COV = np.cov(X, rowvar=False)
W = _rng.standard_normal((3, 6))              # toy weights (m, n)
TRAJ = np.stack([np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                 np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                 0.1 * _rng.standard_normal(16)], axis=1)  # (T, m) closed loop
REPS = np.stack([X, X2])


def _acc(method: str):
    def make():
        from polycode_lite.science.covariance import CovarianceAccumulator

        acc = CovarianceAccumulator(4)
        acc.update(np.arange(20.0).reshape(5, 4) ** 0.5)
        return getattr(acc, method), acc
    return make


def _acc_state(acc) -> dict:
    return {k: v.clone() for k, v in acc.state_dict().items()}


def _toy():
    from polycode_lite.models.toy import ToyModel

    return ToyModel(n_features=5, n_hidden=2, n_instances=2)


def _train_toy():
    from polycode_lite.models.toy_training import train_toy

    model = _toy()
    return (lambda **kw: train_toy(model, progress=False, **kw)), model


def _model_state(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _tiny_net():
    from torch import nn

    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _record():

    from polycode_lite.models.hooks import record_activations

    net = _tiny_net()
    return (lambda **kw: record_activations(net, **kw)), None


def _recorder():
    from polycode_lite.models.hooks import ActivationRecorder

    net = _tiny_net()
    return (lambda **kw: ActivationRecorder(net, **kw)), None


def _inputs():
    import torch

    return {"inputs": torch.ones(6, 4), "layers": ["1"], "batch_size": 2}


def _mine():
    from polycode_lite.science.mine import estimate_mutual_information

    return (lambda **kw: estimate_mutual_information(progress=False, **kw)), None


def _mine_base():
    x = np.random.default_rng(1).standard_normal((64, 1))
    return {"x": x, "z": x + 0.5 * np.random.default_rng(2).standard_normal((64, 1)),
            "steps": 4, "batch_size": 16, "eval_every": 2, "hidden": (8,)}


def _threads(which: str):
    from polycode_lite import _common

    def call(**kw):
        import torch

        before = torch.get_num_threads()
        try:
            if which == "set":
                _common.set_threads(blas=False, **kw)
            else:
                with _common.limit_threads(blas=False, **kw):
                    pass
        finally:
            torch.set_num_threads(before)
    return call, None


def _shipped_path() -> dict:
    from polycode_lite._common import SHIPPED_DATA_DIR

    return {"path": str(SHIPPED_DATA_DIR / "resnet_ae" / "lite_shapes_p0.2.safetensors")}


def _energy_code(T):
    t = np.linspace(0, 2 * np.pi, int(T), endpoint=False)
    return np.stack([np.cos(t), np.sin(t)], axis=1)
