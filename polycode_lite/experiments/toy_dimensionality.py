"""Elhage's dimensionality experiment: D* and per-feature D_i across sparsity (docs/paper_guide.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polycode_lite.models.toy import ToyModel, sparsity_sweep
from polycode_lite.models.toy_training import evaluate_loss, train_toy
from polycode_lite.science.superposition import dimensions_per_feature, feature_dimensionality

__all__ = ['DimensionalityResult', 'dimensionality_sweep']


@dataclass(frozen=True)
class DimensionalityResult:
    """Outcome of :func:`dimensionality_sweep` (Elhage's dimensionality experiment).

    inverse_density: (K,) 1/(1−S) of each instance.
    dims_per_feature: (K,) D* = m/‖W‖²_F.
    feature_dims: (K, n) per-feature D_i.
    final_loss: (K,) loss on a fresh batch.
    n_features, n_hidden, steps, seconds: the run's settings and wall time.
    """

    inverse_density: np.ndarray
    dims_per_feature: np.ndarray
    feature_dims: np.ndarray
    final_loss: np.ndarray
    n_features: int
    n_hidden: int
    steps: int
    seconds: float

    @property
    def sparsity(self) -> np.ndarray:
        """S = 1 − p for each instance, shape (K,)."""
        return 1.0 - 1.0 / self.inverse_density


def dimensionality_sweep(
    n_features: int = 200,
    n_hidden: int = 20,
    n_instances: int = 20,
    max_inverse_density: float = 20.0,
    steps: int = 10_000,
    batch_size: int = 1024,
    seed: int = 0,
    progress: bool = True,
    **train_kwargs: Any,
) -> DimensionalityResult:
    """Elhage's dimensionality experiment (docs/paper_guide.md §3 E1): train one instance per sparsity
    (p_k = max_inverse_density^(−k/(K−1)), uniform importance) and measure D* and D_i.

    Defaults are the official settings (n=200, m=20, 20 instances, 1/(1−S) from 1 to 20,
    batch 1024, 10,000 steps, AdamW lr 1e-3); extra keyword arguments go to :func:`train_toy`."""
    p = sparsity_sweep(n_instances, max_inverse_density)
    model = ToyModel(n_features, n_hidden, n_instances, feature_probability=p, seed=seed)
    hist = train_toy(model, steps=steps, batch_size=batch_size, seed=seed, progress=progress,
                     **train_kwargs)
    return DimensionalityResult(
        inverse_density=1.0 / p,
        dims_per_feature=np.asarray(dimensions_per_feature(model)),
        feature_dims=np.asarray(feature_dimensionality(model)),
        final_loss=evaluate_loss(model, batch_size=4096, seed=seed + 1),
        n_features=n_features, n_hidden=n_hidden, steps=steps, seconds=hist.seconds)
