"""The orientation teaser: Elhage's 5 features in 2 hidden dimensions across sparsity (notebook 00).

Not the dimensionality experiment of :mod:`.toy_dimensionality` (uniform importance, n = 200,
m = 20, D* per sparsity): here n = 5, m = 2, importance 0.9^i, and the quantity is how many
features the model *stores* (‖W_i‖ > 0.5) when dense and when sparse (docs/paper_guide.md §5,
"Intro demo"). ``res = run(TeaserConfig.fast()); res.claims()``.

Two counts of stored features, both at most n: the hard count ‖W_i‖ > :data:`STORED_THRESHOLD`
(the verdict's) and the capped soft count Σ_i min(‖W_i‖², 1) (:func:`capped_feature_count`).
‖W‖²_F is *not* a count: a feature stored with ‖W_i‖ > 1 (as a sparse model's are, to beat the
ReLU's interference cut-off) adds more than 1 to it, so it can exceed n.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from polycode_lite import _checks as ck
__all__ = [
    "STORED_THRESHOLD", "TeaserConfig", "TeaserResult", "capped_feature_count", "run", "superposition_verdict",
    "superposition_why"
]

#: a feature counts as stored when its column has ‖W_i‖ above this (science.superposition's default)
STORED_THRESHOLD = 0.5


def capped_feature_count(W: Any) -> np.ndarray:
    """Soft count of stored features, Σ_i min(‖W_i‖², 1), per instance: each feature adds its
    squared norm up to 1 (fully stored), so the count lies in [0, n_features], unlike ‖W‖²_F.

    Args: W of shape (n_hidden, n_features) or (n_instances, n_hidden, n_features).
    Returns: (n_instances,) float array (a 0-d array for 2-D input).
    Raises: ValueError for another shape or non-finite entries."""
    arr = np.asarray(W, dtype=float)
    if arr.ndim not in (2, 3) or not np.all(np.isfinite(arr)):
        raise ValueError(f"W must be a finite (n_hidden, n_features) or (n_instances, n_hidden, n_features) "
                         f"array; got shape {arr.shape}.")
    out = np.minimum((arr ** 2).sum(axis=-2), 1.0).sum(axis=-1)
    return np.asarray(out)


@dataclass(frozen=True)
class TeaserConfig:
    """Settings of the teaser: ``n_levels`` toy models (one per sparsity, p_k = 20^(−k/(K−1)))
    of n_features → n_hidden with importance ``importance_rate``^i, trained together with AdamW
    at ``lr`` (1e-2: a larger step than Elhage's 1e-3, converges in seconds). :meth:`fast`
    trains 2,000 steps instead of 6,000; the pictures are the same."""

    n_features: int = 5
    n_hidden: int = 2
    n_levels: int = 8
    max_inverse_density: float = 20.0
    importance_rate: float = 0.9
    steps: int = 6_000
    batch_size: int = 1024
    lr: float = 1e-2
    seed: int = 0

    def __post_init__(self) -> None:
        n, m = ck.integer("n_features", self.n_features, minimum=1), ck.integer("n_hidden", self.n_hidden, minimum=1)
        k = ck.integer("n_levels", self.n_levels, minimum=2); b = ck.integer("batch_size", self.batch_size, minimum=1)
        ck.memory("n_features, n_hidden, n_levels, batch_size", (k, max(m, b), n), itemsize=4 * 4)
        if ck.real("max_inverse_density", self.max_inverse_density) < 1:
            raise ValueError(f"max_inverse_density = 1/(1-S) must be >= 1, got {self.max_inverse_density}.")
        if not 0 < ck.real("importance_rate", self.importance_rate) <= 1:
            raise ValueError(f"importance_rate must lie in (0, 1] (importance rate^i), got {self.importance_rate}.")
        ck.integer("steps", self.steps, minimum=1); ck.positive("lr", self.lr); ck.seed("seed", self.seed)

    @classmethod
    def fast(cls, **overrides: Any) -> "TeaserConfig":
        return cls(**{**dict(steps=2_000), **overrides})

    @classmethod
    def full(cls, **overrides: Any) -> "TeaserConfig":
        return cls(**overrides)


def superposition_verdict(dense_stored: int, sparse_stored: int, n_features: int = 5,
                          n_hidden: int = 2) -> str:
    """Verdict of "sparse features are stored in superposition" from the number of features
    stored (‖W_i‖ > 0.5) by the densest and the sparsest model:

    * "holds": the dense model stores at most ``n_hidden`` features (one per dimension, like
      PCA) and the sparse one stores all ``n_features``;
    * "partly": the sparse model stores more features than it has dimensions and more than the
      dense one, but not all of them (or the dense one already stores more than n_hidden);
    * "does not hold at this scale": the sparse model stores no more than ``n_hidden`` features,
      or no more than the dense one: no superposition.
    """
    dense, sparse = int(dense_stored), int(sparse_stored)
    if dense <= n_hidden and sparse == n_features:
        return "holds"
    if sparse > n_hidden and sparse > dense:
        return "partly"
    return "does not hold at this scale"


def superposition_why(dense_stored: int, sparse_stored: int, n_features: int = 5, n_hidden: int = 2) -> str:
    """Why :func:`superposition_verdict` is not "holds", in the run's counts ("" when it holds)."""
    dense, sparse = int(dense_stored), int(sparse_stored)
    verdict = superposition_verdict(dense, sparse, n_features, n_hidden)
    if verdict == "holds":
        return ""
    parts = []
    if sparse <= n_hidden:
        parts.append(f"the sparsest model stores only {sparse} features in {n_hidden} dimensions, no more than "
                     f"one per dimension: no superposition")
    elif sparse <= dense:
        parts.append(f"the sparsest model stores {sparse} features, no more than the dense model's {dense}: "
                     f"sparsity did not add features")
    else:
        if sparse < n_features:
            parts.append(f"the sparsest model stores {sparse} of {n_features} features (more than its "
                         f"{n_hidden} dimensions, but not all)")
        if dense > n_hidden:
            parts.append(f"the dense model already stores {dense} features in {n_hidden} dimensions "
                         f"(a PCA-like code keeps {n_hidden})")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + f" (stored: ‖W_i‖ > {STORED_THRESHOLD:g})."


@dataclass(frozen=True)
class TeaserResult:
    """Outcome of :func:`run`.

    feature_probability: (K,) p = 1 − S of each model. W: (K, n_hidden, n_features) weights.
    n_represented: (K,) features with ‖W_i‖ > 0.5. dims_per_feature: (K,) D* = m/‖W‖²_F.
    final_loss: (K,) last logged training loss. steps, seconds: training steps and wall time.
    """

    feature_probability: np.ndarray
    W: np.ndarray
    n_represented: np.ndarray
    dims_per_feature: np.ndarray
    final_loss: np.ndarray
    steps: int
    seconds: float = 0.0

    @property
    def sparsity(self) -> np.ndarray:
        return 1.0 - self.feature_probability

    @property
    def n_features(self) -> int:
        return int(self.W.shape[2])

    @property
    def n_hidden(self) -> int:
        return int(self.W.shape[1])

    @property
    def capped_count(self) -> np.ndarray:
        """(K,) Σ_i min(‖W_i‖², 1): the soft count of stored features, at most n (:func:`capped_feature_count`)."""
        return capped_feature_count(self.W)

    def table(self) -> Any:
        """One row per sparsity level: sparsity, inverse_density, n_represented (‖W_i‖ > 0.5),
        capped_count (Σ min(‖W_i‖², 1)), dims_per_feature, final_loss."""
        import pandas as pd

        return pd.DataFrame(dict(sparsity=self.sparsity, inverse_density=1.0 / self.feature_probability,
                                 n_represented=self.n_represented, capped_count=self.capped_count,
                                 dims_per_feature=self.dims_per_feature, final_loss=self.final_loss))

    def plot(self, ax: Any = None) -> Any:
        """Features stored against 1/(1−S) (log x): the hard count ‖W_i‖ > 0.5 and the soft count
        Σ min(‖W_i‖², 1), both bounded by n (the y axis is [0, n]). Returns the figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.6))
        x = 1.0 / self.feature_probability
        n, m = self.n_features, self.n_hidden
        ax.semilogx(x, self.n_represented, "o-", label=f"hard count: features with ‖W_i‖ > {STORED_THRESHOLD:g}")
        ax.semilogx(x, self.capped_count, "s--", label="soft count: Σ_i min(‖W_i‖², 1)")
        ax.axhline(m, color="0.6", ls=":", label=f"hidden dimensions m = {m}")
        ax.axhline(n, color="0.3", ls="-", lw=0.8, label=f"all n = {n} features")
        ax.set(xlabel="1 / (1 − S)  (inverse feature density, log scale)",
               ylabel=f"features stored (of {n})", ylim=(0, n + 0.4),
               title=f"Sparser features: more of them share the {m} dimensions")
        ax.legend(fontsize=8, loc="lower right")
        return ax.figure

    def caption(self) -> str:
        """The caption of :meth:`plot`, from this run's counts."""
        x = 1.0 / self.feature_probability
        hard, soft = self.n_represented, self.capped_count
        n, m = self.n_features, self.n_hidden
        first_all = np.flatnonzero(hard == n)
        if not first_all.size:
            when = "at no sparsity level"
        elif np.all(hard[first_all[0]:] == n):
            when = f"from 1/(1−S) = {x[first_all[0]]:.3g} on"
        else:
            when = f"first at 1/(1−S) = {x[first_all[0]]:.3g}, not at every sparser level"
        return (f"Features stored in {m} hidden dimensions as the features get sparser (right). Hard count "
                f"(features with ‖W_i‖ > {STORED_THRESHOLD:g}): {int(hard[0])} at S = {self.sparsity[0]:.2g}, "
                f"{int(hard[-1])} at S = {self.sparsity[-1]:.2f}; all {n} are stored {when}. Soft count "
                f"Σ min(‖W_i‖², 1): {soft[0]:.2f} → {soft[-1]:.2f} of {n}. Above the dotted line m = {m}, "
                f"features share dimensions: superposition.")

    def claims(self) -> list[dict[str, Any]]:
        """The teaser's claim with its verdict from :func:`superposition_verdict` and the reason
        from :func:`superposition_why` (dicts with claim, expected, measured, control, verdict, why,
        values, for ``record_claim``)."""
        dense, sparse = int(self.n_represented[0]), int(self.n_represented[-1])
        d = self.dims_per_feature
        n, m = self.n_features, self.n_hidden
        return [dict(
            claim=(f"Sparse features are stored in superposition: a {n}-feature, {m}-dimension toy model "
                   f"stores {m} features when dense and all {n} when sparse (Elhage et al. 2022)."),
            expected=f"{m} stored at S = 0, {n} (pentagon) at S = 0.95 [C-ext]",
            measured=(f"{dense} stored at S = {self.sparsity[0]:.0f}, {sparse} at S = {self.sparsity[-1]:.2f}; "
                      f"D* = m/‖W‖²_F from {d[0]:.2f} to {d[-1]:.2f}"),
            control=(f"the dense instance (S = 0), same model and training: {dense} stored; "
                     f"D* = {d[0]:.2f}"),
            verdict=superposition_verdict(dense, sparse, n, m),
            why=superposition_why(dense, sparse, n, m),
            values={"dense_features": dense, "sparse_features": sparse, "dstar_dense": float(d[0]),
                    "dstar_sparse": float(d[-1]), "steps": int(self.steps)})]


def run(config: TeaserConfig = TeaserConfig(), progress: bool = True) -> TeaserResult:
    """Train the ``config.n_levels`` teaser models at once and measure what each stores."""
    ck.instance("config", config, TeaserConfig, "TeaserConfig.fast()")
    from polycode_lite.models.toy import ToyModel, importance_decay, sparsity_sweep
    from polycode_lite.models.toy_training import train_toy
    from polycode_lite.science.superposition import dimensions_per_feature, features_represented

    p = sparsity_sweep(config.n_levels, max_inverse_density=config.max_inverse_density)
    toy = ToyModel(n_features=config.n_features, n_hidden=config.n_hidden, n_instances=config.n_levels,
                   feature_probability=p, importance=importance_decay(config.n_features, config.importance_rate),
                   variant="relu", seed=config.seed)
    start = time.perf_counter()
    # train_toy trains on one thread by default: models this small gain nothing from more
    history = train_toy(toy, steps=config.steps, batch_size=config.batch_size, lr=config.lr,
                        seed=config.seed, progress=progress)
    return TeaserResult(feature_probability=np.asarray(p, dtype=float), W=toy.W.detach().numpy().copy(),
                        n_represented=np.asarray(features_represented(toy)),
                        dims_per_feature=np.asarray(dimensions_per_feature(toy)),
                        final_loss=np.asarray(history.final), steps=int(config.steps),
                        seconds=time.perf_counter() - start)
