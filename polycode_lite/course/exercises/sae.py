"""Exercises of notebook 08 (sparse dictionaries)."""

from __future__ import annotations

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register
from polycode_lite.experiments.sae_recovery import capacity_sparsity
from polycode_lite.models.sae import feature_recovery


# -- 1. the TopK activation -------------------------------------------------------------------
def _topk_reference(pre, k):
    z = np.maximum(np.asarray(pre, dtype=float), 0.0)
    keep = np.argsort(-z, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(z)
    np.put_along_axis(out, keep, np.take_along_axis(z, keep, axis=1), axis=1)
    return out


def _topk_by_abs(pre, k):
    p = np.asarray(pre, dtype=float)
    keep = np.argsort(-np.abs(p), axis=1, kind="stable")[:, :k]
    out = np.zeros_like(p)
    np.put_along_axis(out, keep, np.maximum(np.take_along_axis(p, keep, axis=1), 0.0), axis=1)
    return out


def _topk_no_relu(pre, k):
    p = np.asarray(pre, dtype=float)
    keep = np.argsort(-p, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(p)
    np.put_along_axis(out, keep, np.take_along_axis(p, keep, axis=1), axis=1)
    return out


def _topk_columns(pre, k):
    return _topk_reference(np.asarray(pre, dtype=float).T, k).T


def _topk_diagnose(got, expected, case):
    g = np.asarray(got, dtype=float)
    pre, k = case.args
    if g.shape != np.shape(pre):
        return f"Return an array of the input's shape {np.shape(pre)}: zeros except the kept latents."
    if np.any(g < 0):
        return ("A latent's activation is never negative: apply the ReLU (np.maximum(pre, 0)); a row with fewer "
                "than k positive pre-activations keeps fewer than k non-zero latents.")
    if np.allclose(g, _topk_by_abs(pre, k)):
        return "Rank by the value, not by |value|: a large negative pre-activation is off, it is not a strong latent."
    cols = _topk_columns(pre, k) if np.shape(pre)[0] >= k else None
    if cols is not None and np.allclose(g, cols):
        return "Keep the k largest per row (one input, axis=1), not per column (one latent across inputs)."
    if np.all(np.count_nonzero(g, axis=1) <= k) and not np.allclose(g[g != 0], np.asarray(pre, float)[g != 0]):
        return "Keep the kept latents' values; only the others become 0."
    return None


_pre = np.array([[0.5, -2.0, 1.5, 0.2, 0.9], [-0.1, -3.0, 0.4, -0.2, -0.5], [2.0, 1.0, 3.0, 0.5, 0.0]])

register(Exercise(
    id="sae.topk_activation",
    title="The TopK activation of a sparse autoencoder",
    difficulty=1, importance=3, minutes=10, kind="function",
    reference=_topk_reference,
    hint="z = max(pre, 0); in each row keep the k largest entries of z (np.argsort(-z, axis=1)[:, :k] and "
         "np.put_along_axis) and set the rest to 0.",
    cases=(  # first: a large negative entry and a row with one positive value tell the mistakes apart
        Case("negative pre-activations, k = 2", (_pre, 2)),
        Case("k = 1", (_pre, 1)),
        Case("random 6 × 8, k = 3", (np.random.default_rng(3).standard_normal((6, 8)), 3)),
    ),
    diagnose=_topk_diagnose,
    wrong_answer=_topk_no_relu,
    mistakes=(
        (_topk_no_relu, "apply the ReLU"),
        (_topk_by_abs, "not by |value|"),
        (lambda pre, k: np.where(_topk_reference(pre, k) != 0, 1.0, 0.0), "Keep the kept latents' values"),
    ),
))


# -- 2. feature recovery ----------------------------------------------------------------------
def _rec_no_abs(decoder, true):
    d = np.asarray(decoder, float); t = np.asarray(true, float)
    cos = (t / np.linalg.norm(t, axis=1, keepdims=True)) @ (d / np.linalg.norm(d, axis=1, keepdims=True)).T
    return float(cos.max(axis=1).mean())


def _rec_unnormalised(decoder, true):
    return float(np.abs(np.asarray(true, float) @ np.asarray(decoder, float).T).max(axis=1).mean())


def _rec_wrong_axis(decoder, true):
    d = np.asarray(decoder, float); t = np.asarray(true, float)
    cos = np.abs((t / np.linalg.norm(t, axis=1, keepdims=True)) @ (d / np.linalg.norm(d, axis=1, keepdims=True)).T)
    return float(cos.max(axis=0).mean())


def _rec_diagnose(got, expected, case):
    dec, true = case.args
    for wrong, hint in ((_rec_no_abs, "Take |cos|: a decoder row pointing along −f recovers f just as well "
                                      "(the latent's sign is absorbed by the decoder)."),
                        (_rec_unnormalised, "Normalise both the true features and the decoder rows to unit length "
                                            "before the dot product: a cosine ignores the norms."),
                        (_rec_wrong_axis, "For each *true feature* take the best decoder row (max over latents), "
                                          "then average over features; you averaged over latents.")):
        if np.isclose(got, wrong(dec, true)):
            return hint
    return None


_rng = np.random.default_rng(11)
_true = np.eye(4)[:3] * np.array([[2.0], [1.0], [0.5]])        # 3 features in 4 dims, unequal norms
_dec = np.vstack([-_true[0], 0.5 * _true[1] + 0.1, [0.3, 0.3, 0.9, 0.0], _rng.standard_normal((3, 4))])

register(Exercise(
    id="sae.feature_recovery",
    title="Score a dictionary against known features",
    difficulty=2, importance=3, minutes=10, kind="function",
    reference=lambda decoder, true: feature_recovery(np.asarray(decoder, float), np.asarray(true, float)),
    hint="Normalise the rows of both arrays, take |true_unit @ decoder_unit.T| (n_true, n_latents), the max over "
         "latents (axis=1), then the mean over true features.",
    cases=(  # first: an antipodal row, unequal norms and more latents than features
        Case("antipodal row, unequal norms, 6 latents for 3 features", (_dec, _true)),
        Case("random 10 latents for 5 features", (_rng.standard_normal((10, 6)), _rng.standard_normal((5, 6)))),
    ),
    rtol=1e-8,
    diagnose=_rec_diagnose,
    wrong_answer=_rec_no_abs,
    mistakes=((_rec_no_abs, "Take |cos|"), (_rec_unnormalised, "Normalise both"),
              (_rec_wrong_axis, "you averaged over latents")),
))


# -- 3. where does the capacity boundary lie? -------------------------------------------------
def _capacity_diagnose(got, expected, case):
    if np.isclose(got, 2 / 3, atol=0.005):
        return ("1 − S = m/n drops the entropy term: it asks for as many active features as dimensions. "
                "Solve (1 − S) + H_b(S)/8 = m/n instead.")
    if np.isclose(got, 0.738, atol=0.005):
        return "H_b is in bits: use log2, not the natural log (H_elem = 8 is in bits)."
    if np.isclose(got, 0.705, atol=0.005):
        return "That is H_elem = 23 bits (a float32 mantissa); notebook 02's reference, used here, is 8 bits."
    if np.isclose(got, 1 - expected, atol=0.005):
        return "S is the sparsity (probability a feature is *off*); you gave the activity 1 − S."
    return None


register(Exercise(
    id="sae.capacity_sparsity",
    title="The sparsity at which 24 features fit in 8 dimensions",
    difficulty=2, importance=2, minutes=8, kind="value",
    reference=lambda: capacity_sparsity(8 / 24, 8.0),
    hint="Solve D*_pred(S) = (1 − S) + H_b(S)/8 = m/n = 1/3 for S on (0.5, 1), "
         "H_b(S) = −S log2 S − (1 − S) log2(1 − S): scipy.optimize.brentq, or a grid of S.",
    atol=0.005, rtol=0.0,
    diagnose=_capacity_diagnose,
    wrong_answer=2 / 3,
    mistakes=((2 / 3, "drops the entropy term"), (0.7385, "not the natural log"), (0.7047, "H_elem = 23"), (0.235, "activity")),
))
