"""Exercises of notebook 03 (eigenspectra and alpha)."""

from __future__ import annotations

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register
from polycode_lite.science.eigen import participation_ratio
from polycode_lite.science.powerlaw import fit_power_law, smoothness_threshold


def _pr_diagnose(got, expected, case):
    lam = np.asarray(case.args[0], dtype=float)
    if np.isclose(got, np.sum(lam**2) / np.sum(lam) ** 2):
        return "You inverted the ratio: it is (Σλ)² / Σλ², which is ≥ 1."
    if np.isclose(got, np.sum(lam) ** 2 / np.sum(lam**2) / lam.size):
        return "Don't divide by m: the participation ratio counts dimensions, from 1 to m."
    return None


register(Exercise(
    id="spectrum.participation_ratio",
    title="Participation ratio of a spectrum",
    difficulty=1, importance=2, minutes=5, kind="function",
    reference=participation_ratio,
    hint="PR = (Σᵢ λᵢ)² / Σᵢ λᵢ². It is m for a flat spectrum and 1 when one eigenvalue holds all variance.",
    cases=(
        Case("flat spectrum of 10", (np.ones(10),)),
        Case("one dominant eigenvalue", (np.array([1.0, 0.0, 0.0]),)),
        Case("power law α=1, m=100", (np.arange(1, 101) ** -1.0,)),
    ),
    rtol=1e-8,
    diagnose=_pr_diagnose,
    wrong_answer=lambda lam: float(np.sum(np.asarray(lam) ** 2) / np.sum(lam) ** 2),
))


def _fit_reference(eigenvalues, lo, hi):
    return fit_power_law(eigenvalues, ranks=(lo, hi), n_boot=10).alpha


def _fit_diagnose(got, expected, case):
    lam = np.asarray(case.args[0], dtype=float)
    lo, hi = case.args[1], case.args[2]
    if np.isclose(got, -expected, rtol=1e-3):
        return "Sign: α is minus the slope of log λ against log n."
    r = np.arange(lo, hi + 1.0)
    unweighted = -np.polyfit(np.log(r), np.log(lam[lo - 1 : hi]), 1)[0]
    if np.isclose(got, unweighted, rtol=1e-6):
        return "That is the unweighted slope: weight each rank by 1/n (np.polyfit's w multiplies residuals, so w = 1/√n)."
    r0 = np.arange(lo - 1, hi + 0.0)
    if lo > 1 and np.isclose(got, -np.polyfit(np.log(r0), np.log(lam[lo - 1 : hi]), 1, w=1 / np.sqrt(r0))[0], rtol=1e-6):
        return "Off-by-one: ranks are 1-based, so rank n is eigenvalues[n-1]."
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
    cases=(
        Case("exact power law α=1.3, ranks 11..200", (np.arange(1, 401) ** -1.3, 11, 200)),
        Case("noisy spectrum, ranks 11..200", (np.sort(_noisy)[::-1], 11, 200)),
        Case("noisy spectrum, ranks 2..50", (np.sort(_noisy)[::-1], 2, 50)),
    ),
    rtol=1e-6,
    diagnose=_fit_diagnose,
    wrong_answer=lambda lam, lo, hi: float(-np.polyfit(
        np.log(np.arange(lo, hi + 1.0)), np.log(np.asarray(lam)[lo - 1 : hi]), 1)[0]),
))


def _threshold_diagnose(got, expected, case):
    if np.isclose(got, 1 + 1 / 2):
        return "You used 1 + 1/d; the threshold is 1 + 2/d."
    if np.isclose(got, 3.0):
        return "3 is the threshold for a 1-D stimulus (d = 1). Here d = 2."
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
))
