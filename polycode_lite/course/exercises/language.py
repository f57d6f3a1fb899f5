"""Exercises of notebook 07 (language models: depth and pseudo-neurons)."""

from __future__ import annotations

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register
from polycode_lite.experiments.explanation_scoring import correlation_score, normalize_activations


# -- 1. the 0-10 scale ------------------------------------------------------------------------
def _norm_diagnose(got, expected, case):
    g = np.asarray(got)
    if g.size and np.min(g) < 0:
        return "Negative activations must become 0 (OpenAI's scale assumes a ReLU-like unit)."
    a, mx = np.asarray(case.args[0], dtype=float), case.args[1]
    if np.allclose(g, np.minimum(10, np.round(10 * np.clip(a, 0, None) / mx))):
        return "Use floor, not round: 0.99 · max maps to 9, only the maximum itself maps to 10."
    if np.max(g) > 10:
        return "Cap at 10: records other than the explain records can exceed the explain maximum."
    return None


register(Exercise(
    id="language.normalize_0_10",
    title="OpenAI's 0-10 activation scale",
    difficulty=1, importance=2, minutes=5, kind="function",
    reference=lambda acts, max_act: normalize_activations(acts, max_act),
    hint="a ↦ min(10, floor(10 · max(a, 0) / max_act)), as integers.",
    cases=(  # first: a negative, 0.99·max and a value above the maximum, so all three mistakes show
        Case("negative, 0.99·max and above the maximum", (np.array([-0.3, 0.5, 1.98, 2.5]), 2.0)),
        Case("positive values", (np.array([0.0, 0.25, 0.5, 0.99, 1.0]), 1.0)),
        Case("negatives and values above the maximum", (np.array([-0.3, 0.5, 2.5, 3.0]), 2.0)),
        Case("rounding boundary", (np.array([0.149, 0.151, 0.95]), 1.0)),
    ),
    diagnose=_norm_diagnose,
    wrong_answer=lambda acts, max_act: np.floor(10 * np.asarray(acts) / max_act).astype(int),
    mistakes=(
        (lambda acts, max_act: np.minimum(10, np.floor(10 * np.asarray(acts) / max_act)).astype(int),
         "Negative activations must become 0"),
        (lambda acts, max_act: np.minimum(10, np.round(10 * np.clip(acts, 0, None) / max_act)),
         "floor, not round"),
        (lambda acts, max_act: np.floor(10 * np.clip(acts, 0, None) / max_act).astype(int),
         "Cap at 10"),
    ),
))


# -- 2. pooled correlation score --------------------------------------------------------------
def _pooled_reference(true_records, simulated_records):
    return correlation_score(np.concatenate(true_records), np.concatenate(simulated_records))


def _pooled_diagnose(got, expected, case):
    t, s = case.args
    per_record = np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(t, s)])
    if np.isclose(got, per_record):
        return ("You averaged per-record correlations. OpenAI pools all tokens of all scoring records "
                "first, then correlates once (a record-level average hides between-record signal).")
    if np.isclose(got, 1.0):
        return "np.corrcoef(...)[0, 0] is a variable's correlation with itself; take [0, 1]."
    if np.isclose(got, np.cov(np.concatenate(t), np.concatenate(s))[0, 1]):
        return "That is the covariance: divide by both standard deviations (np.corrcoef, not np.cov)."
    return None


_rng = np.random.default_rng(7)
_t = [np.abs(_rng.standard_normal(12)) + k for k in range(3)]
_s = [a + 0.5 * _rng.standard_normal(12) for a in _t]

register(Exercise(
    id="language.pooled_correlation",
    title="Score a simulation by pooled correlation",
    difficulty=2, importance=3, minutes=10, kind="function",
    reference=_pooled_reference,
    hint="Concatenate every record's true activations, and every record's simulated ones, then "
         "take one Pearson correlation (np.corrcoef(...)[0, 1]).",
    cases=(
        Case("two records, opposite per-record signs", ([np.array([0.0, 1]), np.array([2.0, 3])],
                                                        [np.array([0.0, 1]), np.array([3.0, 2])])),
        Case("three noisy records", (_t, _s)),
    ),
    rtol=1e-8,
    diagnose=_pooled_diagnose,
    wrong_answer=lambda t, s: float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(t, s)])),
    mistakes=(
        (lambda t, s: float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(t, s)])),
         "averaged per-record correlations"),
        (lambda t, s: float(np.corrcoef(np.concatenate(t), np.concatenate(s))[0, 0]), "take [0, 1]"),
        (lambda t, s: float(np.cov(np.concatenate(t), np.concatenate(s))[0, 1]), "covariance"),
    ),
))


# -- 3. how many windows does GPT-2 XL need? --------------------------------------------------
def _windows_diagnose(got, expected, case):
    if np.isclose(got, 1000):
        return "You counted 64 tokens per window; 4 positions of each window are dropped: 60 count."
    if np.isclose(got, 250) or np.isclose(got, 267):
        return "That is for the 1600-d residual stream; the MLP layer has 4 · 1600 = 6400 units."
    if np.isclose(got, expected - 1):
        return "Round up (ceil): 1066 windows give 63 960 tokens, fewer than 10 · 6400."
    return None


register(Exercise(
    id="language.windows_for_gpt2xl",
    title="Windows needed for an unbiased GPT-2 XL MLP spectrum",
    difficulty=1, importance=2, minutes=5, kind="value",
    reference=lambda: int(np.ceil(10 * 6400 / (64 - 4))),
    hint="Rule of thumb n ≥ 10·m tokens; GPT-2 XL's MLP has m = 6400 units; each 64-token window "
         "contributes 64 − 4 tokens after dropping its first 4 positions. Round up.",
    diagnose=_windows_diagnose,
    wrong_answer=1000,
    mistakes=((1000, "64 tokens per window"), (267, "residual stream"), (1066, "63 960 tokens")),
))
