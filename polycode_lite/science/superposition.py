"""Superposition metrics of a toy model's weights W (n_instances, n_hidden, n_features) or (m, n).

Elhage et al. 2022: D* = m/‖W‖²_F (dimensions per feature), per-feature dimensionality D_i,
which features are represented, interference, and features per neuron (polysemanticity).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polycode_lite import _checks as ck

__all__ = [
    "STICKY_FRACTIONS", "dimensions_per_feature", "feature_dimensionality", "features_represented",
    "interference", "neuron_polysemanticity", "sticky_fraction_share"
]

#: Fractions at which per-feature dimensionalities cluster (Elhage et al. 2022, docs/paper_guide.md §5):
#: 1 (dedicated), 3/4 (tetrahedron), 2/3 (triangle), 1/2 (antipodal pair), 2/5 (pentagon),
#: 3/8 (square antiprism).
STICKY_FRACTIONS = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8)


def sticky_fraction_share(feature_dims: Any, fractions: Any = STICKY_FRACTIONS,
                          tol: float = 0.02, min_dim: float = 0.05) -> float:
    """Share of represented features (D_i > min_dim) whose D_i lies within ±tol of one of the
    sticky fractions (default 1, 3/4, 2/3, 1/2, 2/5, 3/8). A re-check of Elhage's own models
    found about 26% within ±0.02 of the six named fractions (docs/paper_guide.md §3 E1)."""
    d = ck.array("feature_dims", feature_dims).ravel()
    tol = ck.positive("tol", tol); min_dim = ck.positive("min_dim", min_dim, allow_zero=True)
    f = ck.array("fractions", fractions, ndim=1)
    d = d[d > min_dim]
    if d.size == 0:
        raise ValueError("feature_dims has no represented features (all D_i <= min_dim).")
    return float((np.abs(d[:, None] - f[None, :]) <= tol).any(axis=1).mean())


# ====================================================================================
# metrics: functions of W
# ====================================================================================
def _as_W(W: Any) -> np.ndarray:
    """W as a float64 numpy array of shape (n_instances, m, n); accepts (m, n) or a ToyModel."""
    if hasattr(W, "W") and hasattr(W, "n_hidden"):
        W = W.W
    if hasattr(W, "detach"):
        W = W.detach().cpu().double().numpy()
    arr = ck.array("W", W)
    if arr.size == 0:
        raise ValueError(f"W is empty (shape {arr.shape}); pass the (n_hidden, n_features) weights.")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"W must have shape (n_hidden, n_features) or (n_instances, n_hidden, "
                         f"n_features); got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("W contains NaN or inf.")
    return arr


def _squeeze(out: np.ndarray, W: Any) -> np.ndarray:
    was_2d = (np.ndim(W.detach().cpu() if hasattr(W, "detach") else W) == 2
              if not hasattr(W, "n_hidden") else False)
    return out[0] if was_2d else out


def dimensions_per_feature(W: Any) -> np.ndarray:
    """D* = m / ‖W‖²_F (Elhage et al. 2022; docs/paper_guide.md §5): hidden dimensions per represented
    feature (‖W‖²_F ≈ number of represented features).

    Args: W of shape (m, n) or (n_instances, m, n), or a ToyModel.
    Returns: (n_instances,) array (a scalar array for 2-D input). inf where W = 0.
    """
    arr = _as_W(W)
    fro = (arr ** 2).sum(axis=(1, 2))
    with np.errstate(divide="ignore"):
        out = arr.shape[1] / fro
    return _squeeze(out, W)


def feature_dimensionality(W: Any, eps: float = 1e-8) -> np.ndarray:
    """Per-feature dimensionality D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)² (j includes i; docs/paper_guide.md §5).

    With the Gram matrix G = WᵀW this is D_i = G_ii² / Σ_j G_ij². D_i = 1 for a dedicated
    dimension, 1/2 for an antipodal pair, 2/5 for a pentagon; features with ‖W_i‖² < eps get 0.

    Args: W of shape (m, n) or (n_instances, m, n), or a ToyModel.
    Returns: (n_instances, n) array ((n,) for 2-D input).
    """
    ck.positive("eps", eps)
    arr = _as_W(W)
    G = np.einsum("imf,img->ifg", arr, arr)
    diag = np.einsum("iff->if", G)
    denom = (G ** 2).sum(axis=2)
    out = np.where(diag > eps, diag ** 2 / np.maximum(denom, 1e-300), 0.0)
    return _squeeze(out, W)


def features_represented(W: Any, threshold: float = 0.5) -> np.ndarray:
    """Number of features with ‖W_i‖ > threshold (a hard count; ‖W‖²_F is the soft count).

    Returns: (n_instances,) int array (scalar for 2-D input)."""
    ck.positive("threshold", threshold, allow_zero=True)
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}.")
    arr = _as_W(W)
    norms = np.sqrt((arr ** 2).sum(axis=1))
    return _squeeze((norms > threshold).sum(axis=1), W)


def interference(W: Any, eps: float = 1e-8) -> np.ndarray:
    """Superposition / interference per feature: Σ_{j≠i} (Ŵ_i·W_j)² (docs/paper_guide.md §5).

    0 when feature i has its own orthogonal direction, ≈ ‖W_j‖² per feature sharing its line
    (1 for an antipodal partner). Features with ‖W_i‖² < eps get 0.
    Returns: (n_instances, n) array ((n,) for 2-D input)."""
    ck.positive("eps", eps)
    arr = _as_W(W)
    G = np.einsum("imf,img->ifg", arr, arr)
    diag = np.einsum("iff->if", G)
    off = (G ** 2).sum(axis=2) - diag ** 2
    out = np.where(diag > eps, off / np.maximum(diag, 1e-300), 0.0)
    return _squeeze(out, W)


def neuron_polysemanticity(W: Any, threshold: float | None = None) -> np.ndarray:
    """How many features load on each hidden unit (meaningful in the "hidden_relu" variant,
    whose hidden basis is privileged).

    With ``threshold=None``: the participation ratio of the unit's squared weights,
    (Σ_f W_kf²)² / Σ_f W_kf⁴ — 1 for a monosemantic unit, k for k equal loads.
    With a threshold: the count of features f with |W_kf| > threshold.

    Returns: (n_instances, m) array ((m,) for 2-D input); 0 for a dead unit."""
    ck.optional(ck.positive, "threshold", threshold, allow_zero=True)
    arr = _as_W(W)
    if threshold is not None:
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}.")
        out = (np.abs(arr) > threshold).sum(axis=2).astype(np.float64)
    else:
        sq = arr ** 2
        num = sq.sum(axis=2) ** 2
        den = (sq ** 2).sum(axis=2)
        out = np.where(den > 0, num / np.maximum(den, 1e-300), 0.0)
    return _squeeze(out, W)
