"""How well projected trajectories keep the geometry of their inputs: distance correlations (RSA).

For inputs (T, d) and points (T, k), the rank correlation between the pairwise distances of the
inputs and of the projected points; over many random projections, and as one table per layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from polycode_lite import _checks as ck

from polycode_lite._common import to_numpy
from polycode_lite.science.projections import (
    _as_trajectory,
    normalised_path_energy,
    projected_energy,
    random_projection,
)

__all__ = ["input_projection_correlation", "projection_correlations", "trajectory_table"]


# --------------------------------------------------------------------------------------
# input–projection correlation (RSA)
# --------------------------------------------------------------------------------------
def _input_distances(inputs: Any) -> np.ndarray:
    from scipy.spatial.distance import pdist

    x = to_numpy(inputs)
    if x.ndim == 1:  # angles on a circle -> chord distances 2|sin(Δθ/2)|
        return pdist(np.stack([np.cos(x), np.sin(x)], axis=1))
    return pdist(x.reshape(x.shape[0], -1))


def input_projection_correlation(inputs: Any, points: Any, method: str = "spearman") -> float:
    """RSA correlation between the input geometry and the (projected) points.

    Definition: with D_in(i, j) the distance between stimuli i and j in input space and
    D_out(i, j) = ‖p_i − p_j‖ the Euclidean distance between their points, the score is the
    Spearman (default) or Pearson correlation of the T(T−1)/2 upper-triangle entries of D_in
    and D_out. Input distances: for 1-D ``inputs`` (angles θ on a circle) the chord distance
    2|sin((θ_i − θ_j)/2)|; for (T, ...) inputs (e.g. pixels) the Euclidean distance.
    1 = the points preserve the input's distance order; ≈ 0 = no relation (a fractal code).

    Args:
        inputs: (T,) angles or (T, ...) input arrays.
        points: (T, k) projected points (or any (T, m) representation).
        method: "spearman" or "pearson".

    Raises:
        ValueError: T < 3, mismatched T, unknown method, constant distances.
    """
    from scipy.stats import pearsonr, spearmanr

    if method not in {"spearman", "pearson"}:
        raise ValueError(f"method must be 'spearman' or 'pearson', got {method!r}.")
    inputs = ck.array("inputs", inputs)
    if inputs.ndim == 0:
        raise ValueError("inputs must be (T,) angles or (T, ...) input arrays, got a scalar.")
    p = _as_trajectory(points, "points")
    n_in = len(inputs)
    if n_in != p.shape[0]:
        raise ValueError(f"inputs have {n_in} stimuli but points have {p.shape[0]} rows; they must match.")
    if p.shape[0] < 3:
        raise ValueError("RSA needs at least 3 stimuli (3 pairwise distances).")
    from scipy.spatial.distance import pdist

    d_in = _input_distances(inputs)
    d_out = pdist(p)
    if np.ptp(d_in) == 0 or np.ptp(d_out) == 0:
        raise ValueError("all pairwise distances are equal in one space; the correlation is undefined.")
    fn = spearmanr if method == "spearman" else pearsonr
    return float(fn(d_in, d_out)[0])


def projection_correlations(
    inputs: Any, acts: Any, k: int = 3, n_projections: int = 50, seed: int = 0,
    method: str = "spearman",
) -> np.ndarray:
    """:func:`input_projection_correlation` for each of ``n_projections`` random (m, k)
    projections of ``acts`` (same draw order as :func:`projected_energy`). Returns (n_projections,)."""
    a = _as_trajectory(acts, "acts")
    ck.integer("k", k, minimum=1); ck.integer("n_projections", n_projections, minimum=1); ck.seed("seed", seed)
    ck.memory("n_projections", (n_projections,))
    if method not in {"spearman", "pearson"}:
        raise ValueError(f"method must be 'spearman' or 'pearson', got {method!r}.")
    if len(inputs) != a.shape[0]:
        raise ValueError(f"inputs have {len(inputs)} stimuli but acts has {a.shape[0]} rows; they must match.")
    rng = np.random.default_rng(seed)
    return np.array([
        input_projection_correlation(inputs, a @ random_projection(a.shape[1], k, rng), method)
        for _ in range(int(n_projections))
    ])


def trajectory_table(
    trajectories: Mapping[str, Any],
    inputs: Any,
    k: int = 3,
    n_projections: int = 50,
    seed: int = 0,
    closed: bool = True,
    progress: bool = True,
) -> Any:
    """One row per layer: the smoothness statistics of its (T, m) trajectory (docs/paper_guide.md §3 E3).

    Columns: layer, m, energy_norm (:func:`normalised_path_energy`, full space), rsa_mean and
    rsa_sd (Spearman RSA of k-D projections vs ``inputs`` over ``n_projections``), rsa_full
    (RSA of the full-space points), proj_energy_ratio (mean projected energy / (k/m)·E_full).
    Put the input itself in ``trajectories`` (e.g. as "input") to get the baseline row.
    Returns a pandas DataFrame.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    rows = []
    for name, traj in tqdm(trajectories.items(), disable=not progress, desc="layers"):
        a = _as_trajectory(traj, f"trajectory {name!r}")
        pe = projected_energy(a, k=k, n_projections=n_projections, seed=seed, closed=closed)
        rsa = projection_correlations(inputs, a, k=k, n_projections=n_projections, seed=seed)
        rows.append({
            "layer": name, "m": a.shape[1], "energy_norm": normalised_path_energy(a, closed),
            "rsa_mean": float(rsa.mean()), "rsa_sd": float(rsa.std(ddof=1)) if rsa.size > 1 else float("nan"),
            "rsa_full": input_projection_correlation(inputs, a), "proj_energy_ratio": pe.ratio,
        })
    return pd.DataFrame(rows)
