"""Exercises of the orientation notebook (00): three warm-ups on the vocabulary of the paper.

* ``orientation.pentagon_dims`` (value): dimensions per feature of 5 features stored as a
  pentagon in 2 hidden dimensions (Elhage et al. 2022: D = m / n for a regular polygon).
* ``orientation.features_per_neuron`` (function): how polysemantic each hidden unit is,
  counted as the number of features whose weight on it exceeds a tolerance in magnitude.
* ``orientation.smoothness_threshold`` (function): Stringer et al.'s (2019) bound, a smooth
  code of a d-dimensional input needs a power-law exponent α > 1 + 2/d.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register


def _pentagon(m_rows: int = 2, n: int = 5) -> np.ndarray:
    """W of shape (2, n): unit feature directions at the vertices of a regular n-gon."""
    ang = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(ang), np.sin(ang)])[:m_rows]


def _features_per_neuron(W: Any, tol: float = 0.1) -> np.ndarray:
    from polycode_lite.science.superposition import neuron_polysemanticity

    return neuron_polysemanticity(np.asarray(W, dtype=np.float64), threshold=tol)


def _diagnose_features_per_neuron(got: Any, expected: Any, case: Case | None) -> str | None:
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape == e.shape and np.all(g <= e) and case is not None and np.any(
            np.asarray(case.args[0]) < -case.kwargs.get("tol", 0.1)):
        return ("you missed features with negative weights: a feature loads on a unit "
                "whatever the sign, so compare |W| with the tolerance.")
    W = np.asarray(case.args[0]) if case is not None else None
    if W is not None and g.shape == (W.shape[1],):
        return ("you counted per feature (summing over the hidden units); count per hidden unit: "
                "W is (n_hidden, n_features), so sum over axis 1.")
    tol = case.kwargs.get("tol", 0.1) if case is not None else None
    if W is not None and g.shape == e.shape and tol != 0.1 and np.array_equal(
            g, (np.abs(W) > 0.1).sum(axis=1)):
        return "you used the default 0.1, not the tol argument: compare |W| > tol."
    return None


def _diagnose_threshold(got: Any, expected: Any, case: Case | None) -> str | None:
    if case is None:
        return None
    d = case.args[0]
    if np.isclose(got, 1 + 1 / d):
        return "the bound is 1 + 2/d (Weyl's law gives Laplacian eigenvalues growing like n^(2/d))."
    if np.isclose(got, 2 / d):
        return "you dropped the 1: the spectrum must decay faster than 1/n even before smoothness."
    if np.isclose(got, 1 + d / 2):
        return "the fraction is upside down: 1 + 2/d, which falls towards 1 as d grows."
    return None


_PENTAGON_HINTS = {
    5 / 2: "you computed features per dimension (n/m); invert it: m/n.",
    1 / 5: "1/n would give each feature a share of one dimension; there are m = 2 to share: m/n.",
    1 / 2: "1/2 is an antipodal pair (two features on one line); here five share the plane: m/n.",
}

register(Exercise(
    id="orientation.pentagon_dims",
    title="dimensions per feature of a pentagon",
    difficulty=1, importance=2, minutes=2, kind="value",
    reference=lambda: 2 / 5,
    hint="dimensions per feature = hidden dimensions / features stored, here m = 2 and n = 5.",
    rtol=1e-3, atol=1e-3,
    wrong_answer=5 / 2,
    diagnose=lambda got, exp, case: _PENTAGON_HINTS.get(
        next((v for v in _PENTAGON_HINTS if np.isclose(got, v)), None)),
    mistakes=((5 / 2, "features per dimension"), (1 / 5, "1/n"), (1 / 2, "antipodal pair")),
))

register(Exercise(
    id="orientation.features_per_neuron",
    title="how many features load on each hidden unit",
    difficulty=1, importance=3, minutes=5, kind="function",
    reference=_features_per_neuron,
    hint="W has shape (n_hidden, n_features); count, for each row, the entries with |W| > tol.",
    cases=(  # first: mixed signs, non-square, tol ≠ 0.1, so the three mistakes all show
        Case("mixed signs, tol=0.18", (np.array([[1.0, -0.8, 0.05, 0.0, 0.2],
                                                 [0.0, 0.3, -0.9, 0.02, -0.15]]),), {"tol": 0.18}),
        Case("monosemantic (identity)", (np.eye(3),)),
        Case("pentagon, 5 features in 2 units", (_pentagon(),)),
        Case("mixed signs", (np.array([[1.0, -0.8, 0.05, 0.0], [0.0, 0.3, -0.9, 0.02]]),)),
        Case("custom tolerance", (np.array([[0.5, 0.2, -0.25]]),), {"tol": 0.22}),
    ),
    wrong_answer=lambda W, tol=0.1: (np.asarray(W) > tol).sum(axis=1).astype(float),
    diagnose=_diagnose_features_per_neuron,
    mistakes=(
        (lambda W, tol=0.1: (np.asarray(W) > tol).sum(axis=1), "negative weights"),
        (lambda W, tol=0.1: (np.abs(np.asarray(W)) > tol).sum(axis=0), "counted per feature"),
        (lambda W, tol=0.1: (np.abs(np.asarray(W)) > 0.1).sum(axis=1), "tol argument"),
    ),
))

register(Exercise(
    id="orientation.smoothness_threshold",
    title="Stringer's smoothness threshold on α",
    difficulty=1, importance=3, minutes=3, kind="function",
    reference=lambda d: 1.0 + 2.0 / d,
    hint="a smooth code of a d-dimensional input needs α > 1 + 2/d (Stringer et al. 2019).",
    # d = 8 first: at d = 1, 1 + 1/d = 2/d; at d = 2, 1 + d/2 = 1 + 2/d
    cases=(Case("8-D images", (8,)), Case("gratings, d=1", (1,)), Case("d=2", (2,))),
    wrong_answer=lambda d: 1.0 + 1.0 / d,
    diagnose=_diagnose_threshold,
    mistakes=((lambda d: 1.0 + 1.0 / d, "Weyl's law"), (lambda d: 2.0 / d, "dropped the 1"),
              (lambda d: 1.0 + d / 2.0, "upside down")),
))
