"""Exercises of notebook 02 (coding theory of superposition)."""

from __future__ import annotations

import math

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register
from polycode_lite.science.capacity import (
    binary_entropy,
    erasure_channel_mi,
    predicted_dims_per_feature,
)

_P = np.array([0.0, 0.1, 0.5, 0.9, 1.0])


def _hb_diagnose(got, expected, case):
    g = np.asarray(got, dtype=np.float64)
    if np.any(np.isnan(g)):
        return "0·log 0 counts as 0: handle p = 0 and p = 1 (np.where, or np.clip before the log)."
    if g.shape == expected.shape and np.allclose(g, expected * math.log(2), equal_nan=True):
        return "That is nats: use log base 2 (np.log2) for bits."
    p = np.asarray(case.args[0], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0.0)
    if g.shape == expected.shape and np.allclose(g, half):
        return "Add the (1−p)·log2(1−p) term: both outcomes contribute."
    return None


def _hb_wrong(p):
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


register(Exercise(
    id="capacity.binary_entropy",
    title="Binary entropy in bits",
    difficulty=1, importance=3, minutes=5, kind="function",
    reference=lambda p: np.asarray(binary_entropy(np.asarray(p, dtype=np.float64))),
    hint="H_b(p) = −p log2 p − (1−p) log2(1−p), vectorised over an array p, with 0·log 0 = 0.",
    cases=(Case("array incl. 0 and 1", (_P,)), Case("p = 0.25", (np.array([0.25]),))),
    rtol=1e-8,
    diagnose=_hb_diagnose,
    wrong_answer=_hb_wrong,
    mistakes=(
        (_hb_wrong, "0·log 0 counts as 0"),
        (lambda p: np.asarray(binary_entropy(np.asarray(p, dtype=np.float64))) * math.log(2), "nats"),
        (lambda p: -np.asarray(p) * np.log2(np.where(np.asarray(p) > 0, p, 1)), "(1−p)·log2(1−p)"),
    ),
))

_S = np.array([0.0, 0.5, 0.8, 0.9, 0.99])


def _dstar_diagnose(got, expected, case):
    S, h = case.args
    g = np.asarray(got, dtype=np.float64)
    if g.shape == expected.shape and np.allclose(g, 1 - S):
        return "You dropped the H_b(S)/h_elem term: knowing *which* features are active costs bits too."
    if g.shape == expected.shape and np.allclose(g, (1 - S) + np.asarray(binary_entropy(S)) * h):
        return "Divide H_b(S) by h_elem (bits per element), don't multiply."
    if g.shape == expected.shape and np.allclose(g, S + np.asarray(binary_entropy(S)) / h):
        return "S is the probability that a feature is zero: a fraction 1 − S is active, not S."
    return None


register(Exercise(
    id="capacity.dims_per_feature_prediction",
    title="Predicted dimensions per feature from the entropy of sparse inputs",
    difficulty=2, importance=3, minutes=8, kind="function",
    reference=lambda S, h_elem: np.asarray(predicted_dims_per_feature(S, h_elem, clip=False)),
    hint=("Set capacity = entropy: m·h_elem = n·[H_b(S) + (1−S)·h_elem], so m/n = (1−S) + H_b(S)/h_elem. "
          "Return it for an array of sparsities S (no clipping)."),
    cases=(Case("8-bit elements", (_S, 8.0)), Case("23-bit elements", (_S, 23.0))),
    rtol=1e-8,
    diagnose=_dstar_diagnose,
    wrong_answer=lambda S, h_elem: 1 - np.asarray(S),
    mistakes=(
        (lambda S, h_elem: 1 - np.asarray(S), "dropped the H_b(S)/h_elem term"),
        (lambda S, h_elem: 1 - np.asarray(S) + np.asarray(binary_entropy(S)) * h_elem,
         "don't multiply"),
        (lambda S, h_elem: np.asarray(S) + np.asarray(binary_entropy(S)) / h_elem, "not S"),
    ),
))

_D = 0.3


def _dropout_diagnose(got, expected, case):
    if np.isclose(got, _D * math.log(2)):
        return "(1−D) of the symbols get through, not D: I = (1 − D)·ln 2."
    if np.isclose(got, 1 - _D):
        return "That is in bits; the question asks for nats (multiply by ln 2)."
    if np.isclose(got, math.log(2)):
        return "Dropout erases a fraction D of the symbols; the information they carried is lost."
    return None


register(Exercise(
    id="capacity.dropout_mi",
    title="Mutual information through a dropout unit",
    difficulty=1, importance=3, minutes=5, kind="value",
    reference=lambda: float(erasure_channel_mi(_D)),
    hint=(f"A ±1 unit is set to 0 with probability D = {_D}. 0 never occurs otherwise, so the receiver "
          "knows when a value was dropped: an erasure channel. Give I(X;Y) in nats."),
    rtol=1e-3,
    diagnose=_dropout_diagnose,
    wrong_answer=_D * math.log(2),
    mistakes=((_D * math.log(2), "not D"), (1 - _D, "in bits"), (math.log(2), "erases a fraction D")),
))
