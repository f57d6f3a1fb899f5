"""Toy models of superposition (Elhage et al. 2022), many instances trained at once.

Model (docs/paper_guide.md §5): a feature vector x ∈ R^n is compressed to h = W x ∈ R^m and read back
with the tied weights, x' = ReLU(Wᵀ W x + b) ("ReLU-output model"). Variants:

  * ``"relu"``        x' = ReLU(Wᵀ W x + b)          (Elhage's model; the default)
  * ``"linear"``      x' = Wᵀ W x + b                (the linear baseline: no superposition)
  * ``"hidden_relu"`` x' = ReLU(Wᵀ ReLU(W x) + b)    (a privileged hidden basis, so
                                                       individual neurons can be polysemantic)

Layout, said once and used everywhere: the **instance axis comes first**.
``W`` is (n_instances, n_hidden, n_features) (ARENA's order), ``b`` is (n_instances, n_features),
batches are (n_instances, batch, n_features). Each instance has its own feature probability
p = 1 − S and importance I (both broadcast to (n_instances, n_features)); instances never
interact, so training 20 instances in one tensor trains 20 independent models.

Data: each feature is independently 0 with probability S, else U[0, 1]. Optional correlated
pairs (both present or both absent) and anticorrelated pairs (never both present; needs p ≤ 1/2).

Loss: Σ_instances mean_{batch, features} I_f (x_f − x'_f)², Adam(W) at lr 1e-3, batch 1024.

Speed (benchmarks/bench_toy.py): :func:`train_toy` draws one (batch, features) uniform
tensor U per step that is shared by all instances (x_i = 1[U < p_i]·U/p_i has exactly the
per-instance distribution and instances never interact; feature pairs need a second tensor),
computes the gradient analytically
(no autograd graph), folds the importance into the small weight matrices and streams the
big (instances, batch, features) tensors through preallocated buffers in cache-sized chunks
of instances.

Metrics are functions of W: :func:`dimensions_per_feature` (D* = m/‖W‖²_F),
:func:`feature_dimensionality` (per-feature D_i), :func:`features_represented`,
:func:`interference`, :func:`neuron_polysemanticity`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch  # this module is about a torch.nn.Module, so torch is imported at the top

from polycode_lite import _checks as ck


__all__ = [
    "ToyModel", "VARIANTS", "importance_decay", "sparsity_sweep"
]

VARIANTS = ("relu", "linear", "hidden_relu")


def importance_decay(n_features: int, rate: float) -> np.ndarray:
    """Importance schedule I_f = rate**f, f = 0..n−1 (Elhage's 0.9^i / 0.7^i demos). Shape (n,)."""
    n_features = ck.integer("n_features", n_features, minimum=1); ck.memory("n_features", (n_features,))
    if not 0 < ck.real("rate", rate) <= 1:
        raise ValueError(f"importance decay rate must be in (0, 1], got {rate}.")
    return rate ** np.arange(n_features, dtype=np.float64)


def sparsity_sweep(n_instances: int, max_inverse_density: float = 20.0) -> np.ndarray:
    """Feature probabilities p_k = max_inverse_density^(−k/(K−1)), k = 0..K−1, so 1/(1−S)
    runs log-spaced from 1 to ``max_inverse_density`` (the official dimensionality sweep uses
    20, docs/paper_guide.md §3 E1). Shape (n_instances,)."""
    n_instances = ck.integer("n_instances", n_instances, minimum=1); ck.memory("n_instances", (n_instances,))
    if ck.real("max_inverse_density", max_inverse_density) < 1:
        raise ValueError(f"max_inverse_density = 1/(1-S) must be >= 1, got {max_inverse_density}.")
    t = np.linspace(0.0, 1.0, n_instances) if n_instances > 1 else np.zeros(1)
    return max_inverse_density ** (-t)


def _broadcast_param(value: Any, n_instances: int, n_features: int, name: str) -> np.ndarray:
    """Broadcast a scalar, a per-instance vector (inst,), a per-feature vector (n,) or a full
    (inst, n) array to shape (inst, n), float64. Ambiguous when inst == n: a 1-D input of that
    length is read per instance."""
    arr = ck.array(name, value)
    if arr.ndim == 0:
        out = np.full((n_instances, n_features), float(arr))
    elif arr.ndim == 1 and arr.shape[0] == n_instances:
        out = np.repeat(arr[:, None], n_features, axis=1)
    elif arr.ndim == 1 and arr.shape[0] == n_features:
        out = np.repeat(arr[None, :], n_instances, axis=0)
    elif arr.ndim == 2:
        try:
            out = np.broadcast_to(arr, (n_instances, n_features)).copy()
        except ValueError:
            raise ValueError(f"{name} has shape {arr.shape}; it must broadcast to "
                             f"(n_instances, n_features) = ({n_instances}, {n_features}).") from None
    else:
        raise ValueError(f"{name} has shape {arr.shape}; give a scalar, a vector of length "
                         f"n_instances={n_instances} or n_features={n_features}, or an "
                         f"(n_instances, n_features) array.")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or inf.")
    return out


class ToyModel(torch.nn.Module):
    """Elhage's toy model, ``n_instances`` independent copies in one tensor.

    Args:
        n_features: n, number of input features.
        n_hidden: m, hidden width (m < n forces compression).
        n_instances: number of independent models trained side by side.
        feature_probability: p = 1 − S; scalar, per instance (n_instances,), per feature
            (n_features,) or (n_instances, n_features).
        importance: I_f; same broadcasting as feature_probability (default 1).
        variant: "relu" (Elhage's ReLU-output model), "linear" or "hidden_relu".
        n_correlated_pairs: the first 2k features form k pairs that are present together.
        n_anticorrelated_pairs: the next 2k features form k pairs that are never present
            together (each pair has one feature present with probability 2p; needs p ≤ 1/2).
        seed: seed of the xavier-normal initialisation of W (b starts at 0).

    Attributes:
        W: (n_instances, n_hidden, n_features) parameter; column W[i, :, f] is feature f's
           direction in instance i.
        b_final: (n_instances, n_features) output bias.
        feature_probability, importance: (n_instances, n_features) float32 buffers.

    Raises:
        ValueError: bad sizes, a probability outside (0, 1], a negative importance,
            an unknown variant or too many pairs.
    """

    def __init__(
        self,
        n_features: int,
        n_hidden: int,
        n_instances: int = 1,
        feature_probability: Any = 1.0,
        importance: Any = 1.0,
        variant: str = "relu",
        n_correlated_pairs: int = 0,
        n_anticorrelated_pairs: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, val in (("n_features", n_features), ("n_hidden", n_hidden),
                          ("n_instances", n_instances)):
            ck.integer(name, val, minimum=1, fix=f"{name} must be a positive integer.")
        # W (inst, m, n) and the broadcast (inst, n) probabilities and importances, float64 at most
        ck.memory("n_features, n_hidden, n_instances", (n_instances, n_hidden + 2, n_features))
        ck.integer("n_correlated_pairs", n_correlated_pairs, minimum=0)
        ck.integer("n_anticorrelated_pairs", n_anticorrelated_pairs, minimum=0); ck.seed("seed", seed)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
        if n_correlated_pairs < 0 or n_anticorrelated_pairs < 0:
            raise ValueError("numbers of correlated/anticorrelated pairs must be >= 0.")
        if 2 * (n_correlated_pairs + n_anticorrelated_pairs) > n_features:
            raise ValueError(
                f"n_correlated_pairs={n_correlated_pairs} + n_anticorrelated_pairs={n_anticorrelated_pairs} "
                f"pairs need {2 * (n_correlated_pairs + n_anticorrelated_pairs)} features, "
                f"but n_features = {n_features}; lower the pair counts or add features.")
        p = _broadcast_param(feature_probability, n_instances, n_features, "feature_probability")
        if np.any(p <= 0) or np.any(p > 1):
            raise ValueError("feature_probability (= 1 - sparsity) must lie in (0, 1]; "
                             f"got values in [{p.min():.3g}, {p.max():.3g}].")
        imp = _broadcast_param(importance, n_instances, n_features, "importance")
        if np.any(imp < 0):
            raise ValueError("importance must be >= 0.")
        self.n_features, self.n_hidden, self.n_instances = int(n_features), int(n_hidden), int(n_instances)
        self.variant = variant
        self.n_correlated_pairs = int(n_correlated_pairs)
        self.n_anticorrelated_pairs = int(n_anticorrelated_pairs)
        lo = 2 * n_correlated_pairs
        hi = lo + 2 * n_anticorrelated_pairs
        if n_correlated_pairs:
            pc = p[:, :lo].reshape(n_instances, -1, 2)
            if not np.allclose(pc[..., 0], pc[..., 1]):
                raise ValueError("the two features of a correlated pair need the same "
                                 "feature_probability.")
        if n_anticorrelated_pairs:
            pa = p[:, lo:hi].reshape(n_instances, -1, 2)
            if not np.allclose(pa[..., 0], pa[..., 1]):
                raise ValueError("the two features of an anticorrelated pair need the same "
                                 "feature_probability.")
            if np.any(pa > 0.5):
                raise ValueError("anticorrelated pairs need feature_probability <= 1/2 "
                                 "(one of the pair is present with probability 2p).")
        gen = torch.Generator().manual_seed(int(seed))
        # xavier-normal for a (m, n) matrix: std = sqrt(2 / (m + n)), per instance
        std = math.sqrt(2.0 / (n_hidden + n_features))
        W = torch.randn(n_instances, n_hidden, n_features, generator=gen) * std
        self.W = torch.nn.Parameter(W)
        self.b_final = torch.nn.Parameter(torch.zeros(n_instances, n_features))
        self.register_buffer("feature_probability", torch.tensor(p, dtype=torch.float32))
        self.register_buffer("importance", torch.tensor(imp, dtype=torch.float32))

    # ---------------------------------------------------------------- data
    def _thresholds(self) -> torch.Tensor:
        """Per (instance, feature) presence threshold T: feature present iff U < T."""
        T = self.feature_probability.clone()
        lo = 2 * self.n_correlated_pairs
        hi = lo + 2 * self.n_anticorrelated_pairs
        T[:, lo:hi] *= 2.0  # one of an anticorrelated pair is present with prob. 2p
        return T

    def _shared_uniforms(self, batch_size: int, generator: torch.Generator):
        """Uniform draws shared by all instances: (U, V), each (batch, n), or (U, None).

        Without pairs one tensor suffices: x_i = 1[U < p_i]·U/p_i is exactly "0 with
        probability 1 − p_i, else U[0, 1]" for every instance (given U < p, U/p is uniform).
        With pairs, U decides presence and V carries the values, x_i = 1[U < T_i]·V, and the pair
        structure is written into U and V."""
        n = self.n_features
        U = torch.rand(batch_size, n, generator=generator)
        if not (self.n_correlated_pairs or self.n_anticorrelated_pairs):
            return U, None
        V = torch.rand(batch_size, n, generator=generator)
        lo = 2 * self.n_correlated_pairs
        hi = lo + 2 * self.n_anticorrelated_pairs
        if lo:
            U[:, 1:lo:2] = U[:, 0:lo:2]  # both features of a correlated pair share presence
        if hi > lo:
            U[:, lo + 1:hi:2] = U[:, lo:hi:2]
            first = torch.rand(batch_size, (hi - lo) // 2, generator=generator) < 0.5
            V[:, lo:hi:2] *= first  # present member of the pair chosen by a fair coin
            V[:, lo + 1:hi:2] *= ~first
        return U, V

    def _batch_from_uniforms(self, U: torch.Tensor, V: torch.Tensor | None) -> torch.Tensor:
        """The (n_instances, batch, n) batch defined by the shared draws of _shared_uniforms."""
        if V is None:
            x = U.unsqueeze(0) * (1.0 / self.feature_probability).unsqueeze(1)
            return torch.where(x < 1.0, x, torch.zeros(()))
        return (U.unsqueeze(0) < self._thresholds().unsqueeze(1)) * V.unsqueeze(0)

    def generate_batch(self, batch_size: int, seed: int | None = None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample a batch (n_instances, batch_size, n_features): each feature is 0 with
        probability S = 1 − p, else U[0, 1] (pairs as configured).

        Raises ValueError for batch_size < 1."""
        batch_size = ck.integer("batch_size", batch_size, minimum=1); ck.optional(ck.seed, "seed", seed)
        ck.memory("batch_size", (self.n_instances, batch_size, self.n_features), itemsize=4 * 3)
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        return self._batch_from_uniforms(*self._shared_uniforms(batch_size, generator))

    # ---------------------------------------------------------------- model
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction x' for a batch x of shape (n_instances, batch, n_features)."""
        if not isinstance(x, torch.Tensor) or x.is_complex():
            raise TypeError(f"x must be a real torch tensor (n_instances, batch, n_features), got {type(x).__name__}.")
        if x.dim() != 3 or x.shape[0] != self.n_instances or x.shape[2] != self.n_features:
            raise ValueError(f"x must have shape (n_instances={self.n_instances}, batch, "
                             f"n_features={self.n_features}); got {tuple(x.shape)}.")
        h = torch.bmm(x, self.W.transpose(1, 2))
        if self.variant == "hidden_relu":
            h = torch.relu(h)
        out = torch.baddbmm(self.b_final.unsqueeze(1), h, self.W)
        return out if self.variant == "linear" else torch.relu(out)

    def loss(self, x: torch.Tensor, per_instance: bool = False) -> torch.Tensor:
        """Importance-weighted reconstruction loss, mean over batch and features, summed
        over instances (or returned per instance, shape (n_instances,))."""
        err = self.importance.unsqueeze(1) * (x - self(x)) ** 2
        li = err.mean(dim=(1, 2))
        return li if per_instance else li.sum()

    def extra_repr(self) -> str:
        return (f"n_features={self.n_features}, n_hidden={self.n_hidden}, "
                f"n_instances={self.n_instances}, variant={self.variant!r}")
