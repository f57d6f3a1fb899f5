"""Rules for notebook 01's geometry claims (Elhage et al. 2022), each tested against a null.

Each rule reads numbers the notebook measured and returns one of the verdicts of
:data:`polycode_lite.course.claims.VERDICTS`. The controls are the dense instance of the same
sweep (S = 0: no superposition expected) and the untrained model (the same seed before any step).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["orthogonal_pair_verdict", "pentagon_verdict", "polysemanticity_verdict", "more_features_verdict"]


def orthogonal_pair_verdict(n_represented: int, dims_per_feature: float, abs_cos: float,
                            n_hidden: int = 2, tol: float = 0.1) -> str:
    """Dense 5→2 model: "holds" if it represents exactly ``n_hidden`` features with
    D* within ``tol`` of 1 and |cos| between them < ``tol``; "partly" if it represents
    ``n_hidden`` features but they are not orthogonal (or D* is off); else "does not hold"."""
    if n_represented != n_hidden:
        return "does not hold at this scale"
    if abs(dims_per_feature - 1.0) < tol and abs_cos < tol:
        return "holds"
    return "partly"


def pentagon_verdict(n_represented: int, feature_dims: Sequence[float], n_features: int = 5,
                     n_hidden: int = 2, tol: float = 0.06) -> str:
    """Sparse 5→2 model: "holds" if all ``n_features`` are represented with every D_i within
    ``tol`` of n_hidden/n_features (2/5, a regular pentagon); "partly" if more features than
    dimensions are represented; else "does not hold at this scale"."""
    d = np.asarray(feature_dims, dtype=float)
    if n_represented == n_features and d.size == n_features and np.all(np.abs(d - n_hidden / n_features) < tol):
        return "holds"
    return "partly" if n_represented > n_hidden else "does not hold at this scale"


def polysemanticity_verdict(features_per_unit_dense: float, features_per_unit_sparse: float,
                            min_rise: float = 0.3) -> str:
    """Privileged-basis model: "holds" if the mean participation ratio per hidden unit rises by
    more than ``min_rise`` features from the dense to the sparse instance; "partly" if it rises
    at all; else "does not hold at this scale"."""
    rise = float(features_per_unit_sparse) - float(features_per_unit_dense)
    return "holds" if rise > min_rise else "partly" if rise > 0 else "does not hold at this scale"


def more_features_verdict(dense_stored: int, sparse_stored: int, n_hidden: int) -> str:
    """"Sparser features are stored in superposition, more features than dimensions": "holds" if
    the dense instance stores at most ``n_hidden`` features and the sparsest more than
    ``n_hidden``; "partly" if the sparsest stores more than the dense one but the dense one
    already exceeds ``n_hidden`` (as an untrained model's random columns can); else "does not
    hold at this scale"."""
    dense, sparse = int(dense_stored), int(sparse_stored)
    if dense <= n_hidden < sparse:
        return "holds"
    return "partly" if sparse > dense else "does not hold at this scale"
