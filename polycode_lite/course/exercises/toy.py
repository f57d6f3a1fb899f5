"""Exercises of notebook 01 (toy models of superposition)."""

from __future__ import annotations

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register
from polycode_lite.science.superposition import dimensions_per_feature

_rng = np.random.default_rng(1)
_x = _rng.random((3, 8, 5)) * (_rng.random((3, 8, 5)) < 0.4)       # (inst, batch, feats)
_xhat = np.maximum(_x + 0.2 * _rng.standard_normal((3, 8, 5)), 0)  # a noisy reconstruction
_imp = np.stack([0.9 ** np.arange(5), 0.7 ** np.arange(5), np.ones(5)])  # (inst, feats)


def reference_loss(x, x_hat, importance):
    """Per-instance loss mean_{batch, features} I_f (x − x̂)², shape (n_instances,)."""
    x, x_hat, imp = (np.asarray(a, dtype=np.float64) for a in (x, x_hat, importance))
    return (imp[:, None, :] * (x - x_hat) ** 2).mean(axis=(1, 2))


def _loss_diagnose(got, expected, case):
    x, x_hat, imp = (np.asarray(a, dtype=np.float64) for a in case.args)
    g = np.asarray(got, dtype=np.float64)
    if g.shape == () or g.size == 1:
        if np.isclose(float(g), expected.sum()) or np.isclose(float(g), expected.mean()):
            return "Keep one loss per instance (shape (n_instances,)): sum over instances only when training."
        return "Return one number per instance: average over the batch and feature axes (1, 2) only."
    if g.shape == expected.shape:
        if np.allclose(g, ((x - x_hat) ** 2).mean(axis=(1, 2))):
            return "Did you forget the importance weights I_f?"
        if np.allclose(g, (imp[:, None, :] * (x - x_hat) ** 2).sum(axis=(1, 2))):
            return "Average over batch and features (mean), don't sum them."
        if np.allclose(g, (imp[:, None, :] * np.abs(x - x_hat)).mean(axis=(1, 2))):
            return "Square the error: (x − x̂)², not |x − x̂|."
    return None


register(Exercise(
    id="toy.loss",
    title="The importance-weighted reconstruction loss",
    difficulty=1, importance=3, minutes=5, kind="function",
    reference=reference_loss,
    hint=("L_i = mean over batch b and features f of I[i, f]·(x[i, b, f] − x̂[i, b, f])². Arrays are "
          "(n_instances, batch, n_features); importance is (n_instances, n_features)."),
    cases=(
        Case("three instances, mixed importance", (_x, _xhat, _imp)),
        Case("perfect reconstruction", (_x, _x, _imp)),
        Case("uniform importance", (_x, _xhat, np.ones((3, 5)))),
    ),
    rtol=1e-8,
    diagnose=_loss_diagnose,
    wrong_answer=lambda x, x_hat, importance: ((np.asarray(x) - np.asarray(x_hat)) ** 2).mean(axis=(1, 2)),
    mistakes=(
        (lambda x, x_hat, importance: ((np.asarray(x) - np.asarray(x_hat)) ** 2).mean(axis=(1, 2)),
         "importance weights"),
        (lambda x, x_hat, importance: (np.asarray(importance)[:, None, :]
                                       * (np.asarray(x) - np.asarray(x_hat)) ** 2).sum(axis=(1, 2)),
         "don't sum"),
        (lambda x, x_hat, importance: float((np.asarray(importance)[:, None, :]
                                             * (np.asarray(x) - np.asarray(x_hat)) ** 2).mean()),
         "one loss per instance"),
    ),
))

_ang = 2 * np.pi * np.arange(5) / 5
_pentagon = np.stack([np.cos(_ang), np.sin(_ang)])[None]                 # (1, 2, 5)
_two = np.zeros((1, 2, 5))
_two[0, 0, 0] = _two[0, 1, 1] = 1.0
_random_W = _rng.standard_normal((4, 3, 10)) * 0.5


def _dstar_diagnose(got, expected, case):
    W = np.asarray(case.args[0], dtype=np.float64)
    m, n = W.shape[1], W.shape[2]
    fro2 = (W ** 2).sum(axis=(1, 2))
    g = np.asarray(got, dtype=np.float64)
    if g.size == 1 and expected.size > 1 and np.isclose(float(g), m * W.shape[0] / fro2.sum()):
        return "One value per instance: sum W² over axes (1, 2) only, not over the instances too."
    if g.shape == expected.shape:
        if np.allclose(g, n / fro2):
            return "D* uses m (hidden dimensions), not n (features): D* = m / ‖W‖²_F."
        if np.allclose(g, m / np.sqrt(fro2)):
            return "Square the Frobenius norm: ‖W‖²_F = Σ W², the number of represented features."
        if np.allclose(g, fro2 / m):
            return "Upside down: D* = m / ‖W‖²_F (dimensions per feature, not features per dimension)."
    return None


register(Exercise(
    id="toy.dims_per_feature",
    title="Dimensions per feature D*",
    difficulty=1, importance=3, minutes=5, kind="function",
    reference=lambda W: np.asarray(dimensions_per_feature(np.asarray(W))),
    hint=("W is (n_instances, m, n). ‖W‖²_F = Σ_{h,f} W[i, h, f]² counts the represented features; "
          "D* = m / ‖W‖²_F, one value per instance."),
    cases=(  # random first: on the two orthogonal features ‖W‖²_F = m, so m/‖W‖² = ‖W‖²/m
        Case("four random instances", (_random_W,)),
        Case("two orthogonal features of five", (_two,)),
        Case("pentagon", (_pentagon,)),
    ),
    rtol=1e-8,
    diagnose=_dstar_diagnose,
    wrong_answer=lambda W: np.asarray(W).shape[2] / (np.asarray(W) ** 2).sum(axis=(1, 2)),
    mistakes=(
        (lambda W: np.asarray(W).shape[2] / (np.asarray(W) ** 2).sum(axis=(1, 2)), "not n (features)"),
        (lambda W: np.asarray(W).shape[1] / np.sqrt((np.asarray(W) ** 2).sum(axis=(1, 2))),
         "Square the Frobenius norm"),
        (lambda W: (np.asarray(W) ** 2).sum(axis=(1, 2)) / np.asarray(W).shape[1], "Upside down"),
    ),
))


def _geometry_diagnose(got, expected, case):
    if np.isclose(got, 0.5):
        return "1/2 is an antipodal pair (two features on one line). Five features share a plane here."
    if np.isclose(got, 1.0):
        return "1 means a dedicated dimension: at high sparsity there are more features than dimensions."
    if np.isclose(got, 0.2):
        return "Two dimensions are shared by five features: 2/5 each, not 1/5."
    if np.isclose(got, 2.5):
        return "Upside down: 5/2 is features per dimension; give dimensions per feature, m/n."
    return None


register(Exercise(
    id="toy.predict_geometry",
    title="Predict the geometry: per-feature dimensionality of a sparse 5→2 model",
    difficulty=2, importance=2, minutes=5, kind="value",
    reference=lambda: 2 / 5,
    hint=("At high sparsity all five features are stored as a regular pentagon of unit vectors. "
          "Use D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)², or just share the 2 dimensions fairly."),
    rtol=1e-3,
    diagnose=_geometry_diagnose,
    wrong_answer=0.5,
    mistakes=((0.5, "antipodal pair"), (0.2, "not 1/5"), (2.5, "features per dimension")),
))
