"""Rules for notebook 01's geometry claims (Elhage et al. 2022), each tested against a null.

Each rule reads numbers the notebook measured and returns one of the verdicts of
:data:`polycode_lite.course.claims.VERDICTS`. The controls are the dense instance of the same
sweep (S = 0: no superposition expected) and the untrained model (the same seed before any step).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["more_features_verdict", "more_features_why", "orthogonal_pair_verdict", "orthogonal_pair_why",
           "pentagon_verdict", "pentagon_why", "polysemanticity_verdict", "polysemanticity_why"]

# Each ``*_why`` takes the arguments of its ``*_verdict`` and returns "" when the verdict is "holds",
# else one sentence, from those numbers, on why the claim does not (fully) hold (record_claim's why=).


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


def orthogonal_pair_why(n_represented: int, dims_per_feature: float, abs_cos: float,
                        n_hidden: int = 2, tol: float = 0.1) -> str:
    """Why :func:`orthogonal_pair_verdict` is not "holds" ("" when it holds)."""
    if orthogonal_pair_verdict(n_represented, dims_per_feature, abs_cos, n_hidden, tol) == "holds":
        return ""
    if n_represented != n_hidden:
        return (f"The dense model represents {n_represented} features, not one per dimension "
                f"({n_hidden}).")
    off = []
    if abs(dims_per_feature - 1.0) >= tol:
        off.append(f"D* = {dims_per_feature:.2f} is {abs(dims_per_feature - 1):.2f} from 1")
    if abs_cos >= tol:
        off.append(f"|cos| = {abs_cos:.2f} between the two is not below {tol:g}, so they are not orthogonal")
    return f"It represents {n_hidden} features, but " + " and ".join(off) + "."


def pentagon_why(n_represented: int, feature_dims: Sequence[float], n_features: int = 5,
                 n_hidden: int = 2, tol: float = 0.06) -> str:
    """Why :func:`pentagon_verdict` is not "holds" ("" when it holds)."""
    if pentagon_verdict(n_represented, feature_dims, n_features, n_hidden, tol) == "holds":
        return ""
    d = np.asarray(feature_dims, dtype=float)
    target = n_hidden / n_features
    if n_represented != n_features:
        return (f"The sparsest model represents {n_represented} of {n_features} features"
                + (" (more than its dimensions, but not all)" if n_represented > n_hidden else
                   f", no more than its {n_hidden} dimensions") + ".")
    return (f"All {n_features} are represented, but D_i spans {d.min():.2f}–{d.max():.2f}, more than ±{tol:g} "
            f"from {target:g}: not a regular pentagon.")


def polysemanticity_why(features_per_unit_dense: float, features_per_unit_sparse: float,
                        min_rise: float = 0.3) -> str:
    """Why :func:`polysemanticity_verdict` is not "holds" ("" when it holds)."""
    dense, sparse = float(features_per_unit_dense), float(features_per_unit_sparse)
    if polysemanticity_verdict(dense, sparse, min_rise) == "holds":
        return ""
    rise = sparse - dense
    return (f"Features per unit go from {dense:.2f} (dense) to {sparse:.2f} (sparse), a change of {rise:+.2f}, "
            f"not the rise of more than {min_rise:g} the rule needs.")


def more_features_why(dense_stored: int, sparse_stored: int, n_hidden: int) -> str:
    """Why :func:`more_features_verdict` is not "holds" ("" when it holds)."""
    dense, sparse = int(dense_stored), int(sparse_stored)
    if more_features_verdict(dense, sparse, n_hidden) == "holds":
        return ""
    if sparse <= dense:
        return (f"The sparsest instance stores {sparse} features, no more than the dense one's {dense}: "
                f"sparsity added no features.")
    if dense > n_hidden:
        return (f"The dense instance already stores {dense} features in {n_hidden} dimensions, so the rise to "
                f"{sparse} does not isolate superposition caused by sparsity.")
    return (f"The sparsest instance stores {sparse} features, no more than its {n_hidden} dimensions.")
