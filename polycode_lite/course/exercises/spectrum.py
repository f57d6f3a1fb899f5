"""Exercises of notebook 03 (eigenspectra and alpha)."""

from __future__ import annotations

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register
from polycode_lite.science.eigen import participation_ratio
from polycode_lite.science.powerlaw import fit_power_law, smoothness_threshold


def _pr_diagnose(got, expected, case):
    lam = np.asarray(case.args[0], dtype=float)
    s1, s2, m = lam.sum(), np.sum(lam**2), lam.size
    if np.isclose(got, s2 / s1**2):
        return "You inverted the ratio: it is (Σλ)² / Σλ², which is ≥ 1."
    if np.isclose(got, s1**2 / s2 / m):
        return "Don't divide by m: the participation ratio counts dimensions, from 1 to m."
    if np.isclose(got, s1 / s2):
        return ("Square the sum in the numerator: (Σλ)² / Σλ², not Σλ / Σλ² "
                "(which changes with the units of λ).")
    if np.isclose(got, s1 / np.sqrt(s2)):
        return "No square root: PR = (Σλ)² / Σλ² itself."
    return None


register(Exercise(
    id="spectrum.participation_ratio",
    title="Participation ratio of a spectrum",
    difficulty=1, importance=2, minutes=5, kind="function",
    reference=participation_ratio,
    hint="PR = (Σᵢ λᵢ)² / Σᵢ λᵢ². It is m for a flat spectrum and 1 when one eigenvalue holds all variance.",
    cases=(
        # Σλ = 8, Σλ² = 22, m = 4: PR 2.91; inverted 0.34, /m 0.73, Σλ/Σλ² 0.36, √ 1.71
        Case("decaying spectrum 4, 2, 1, 1", (np.array([4.0, 2.0, 1.0, 1.0]),)),
        Case("flat spectrum of 10", (np.ones(10),)),
        Case("one dominant eigenvalue", (np.array([1.0, 0.0, 0.0]),)),
        Case("power law α=1, m=100", (np.arange(1, 101) ** -1.0,)),
    ),
    rtol=1e-8,
    diagnose=_pr_diagnose,
    wrong_answer=lambda lam: float(np.sum(np.asarray(lam) ** 2) / np.sum(lam) ** 2),
    mistakes=(
        (lambda lam: float(np.sum(np.asarray(lam) ** 2) / np.sum(lam) ** 2), "inverted the ratio"),
        (lambda lam: float(np.sum(lam) ** 2 / np.sum(np.asarray(lam) ** 2) / len(lam)), "divide by m"),
        (lambda lam: float(np.sum(lam) / np.sum(np.asarray(lam) ** 2)), "Square the sum"),
    ),
))


def _fit_reference(eigenvalues, lo, hi):
    return fit_power_law(eigenvalues, ranks=(lo, hi), n_boot=10).alpha


def _slope(ranks, values, w=None):
    return float(-np.polyfit(np.log(ranks), np.log(values), 1, w=w)[0])


_WEIGHTS = (  # np.polyfit's w multiplies the residuals: w = 1/√n is weight 1/n in the squared loss
    ("1/√n", lambda r: 1 / np.sqrt(r), None),
    ("none", lambda r: None, ("That is the unweighted slope: weight each rank by 1/n "
                              "(np.polyfit's w multiplies residuals, so w = 1/√n).")),
    ("1/n", lambda r: 1 / r, ("np.polyfit's w multiplies the residuals, so w = 1/n weights the "
                              "squared loss by 1/n²: pass w = 1/√n (np.sqrt) to weight it by 1/n.")),
)


def _fit_diagnose(got, expected, case):
    lam = np.asarray(case.args[0], dtype=float)
    lo, hi = case.args[1], case.args[2]
    if np.isclose(got, -expected, rtol=1e-3):
        return "Sign: α is minus the slope of log λ against log n."
    if not np.isfinite(got):
        return "log 0 = −inf: ranks are 1-based, n = lo..hi (np.arange(lo, hi + 1)), and all λ > 0."
    r = np.arange(lo, hi + 1.0)
    pairings = [("", r, lam[lo - 1 : hi])]
    if hi < lam.size:
        pairings.append((("Off-by-one: rank n is eigenvalues[n-1] (ranks are 1-based), so take "
                          "eigenvalues[lo-1:hi], not eigenvalues[lo:hi+1]."), r, lam[lo:hi + 1]))
    if lo > 1:
        pairings.append((("Off-by-one: the ranks are 1-based, n = lo..hi (np.arange(lo, hi + 1)), "
                          "not 0-based lo−1..hi−1."), r - 1, lam[lo - 1 : hi]))
    for shift_msg, ranks, values in pairings:
        for _, weight, weight_msg in _WEIGHTS:
            if not shift_msg and weight_msg is None:
                continue
            if np.isclose(got, _slope(ranks, values, weight(ranks)), rtol=1e-6):
                return " ".join(m for m in (shift_msg, weight_msg) if m)
    return None


_rng = np.random.default_rng(0)
_noisy = np.arange(1, 401) ** -1.2 * np.exp(0.1 * _rng.standard_normal(400))

register(Exercise(
    id="spectrum.fit_alpha",
    title="Weighted log-log fit of the power-law exponent",
    difficulty=2, importance=3, minutes=15, kind="function",
    reference=_fit_reference,
    hint=("Regress log λₙ on log n over ranks lo..hi (1-based, inclusive) with weights 1/n, "
          "and return α = −slope."),
    cases=(  # noisy first: on an exact power law every weighting gives the same slope
        Case("noisy spectrum, ranks 11..200", (np.sort(_noisy)[::-1], 11, 200)),
        Case("noisy spectrum, ranks 2..50", (np.sort(_noisy)[::-1], 2, 50)),
        Case("exact power law α=1.3, ranks 11..200", (np.arange(1, 401) ** -1.3, 11, 200)),
    ),
    rtol=1e-6,
    diagnose=_fit_diagnose,
    wrong_answer=lambda lam, lo, hi: float(-np.polyfit(
        np.log(np.arange(lo, hi + 1.0)), np.log(np.asarray(lam)[lo - 1 : hi]), 1)[0]),
    mistakes=(
        (lambda lam, lo, hi: _slope(np.arange(lo, hi + 1.0), np.asarray(lam)[lo - 1:hi]),
         "unweighted slope"),
        (lambda lam, lo, hi: _slope(np.arange(lo, hi + 1.0), np.asarray(lam)[lo - 1:hi],
                                    1 / np.arange(lo, hi + 1.0)), "pass w = 1/√n"),
        (lambda lam, lo, hi: _slope(np.arange(lo, hi + 1.0), np.asarray(lam)[lo:hi + 1],
                                    1 / np.sqrt(np.arange(lo, hi + 1.0))), "eigenvalues[lo-1:hi]"),
        (lambda lam, lo, hi: _slope(np.arange(lo - 1.0, hi), np.asarray(lam)[lo - 1:hi],
                                    1 / np.sqrt(np.arange(lo - 1.0, hi))), "not 0-based"),
        (lambda lam, lo, hi: -_slope(np.arange(lo, hi + 1.0), np.asarray(lam)[lo - 1:hi],
                                     1 / np.sqrt(np.arange(lo, hi + 1.0))), "minus the slope"),
    ),
))


def _threshold_diagnose(got, expected, case):
    if np.isclose(got, 1 + 1 / 2):
        return "You used 1 + 1/d; the threshold is 1 + 2/d."
    if np.isclose(got, 3.0):
        return "3 is the threshold for a 1-D stimulus (d = 1). Here d = 2."
    if np.isclose(got, 1.0):
        return "You dropped the 1: the threshold is 1 + 2/d, not 2/d."
    return None


register(Exercise(
    id="spectrum.threshold_2d",
    title="Smoothness threshold of a code for a 2-D stimulus",
    difficulty=1, importance=3, minutes=3, kind="value",
    reference=lambda: smoothness_threshold(2),
    hint="Stringer et al.: a smooth code of a d-dimensional input needs α > 1 + 2/d.",
    rtol=1e-6,
    diagnose=_threshold_diagnose,
    wrong_answer=3.0,
    mistakes=((1.5, "1 + 1/d"), (3.0, "1-D stimulus"), (1.0, "dropped the 1")),
))
