"""Exercises of notebook 04 (random projections and smooth codes)."""

from __future__ import annotations

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register
from polycode_lite.science.projections import path_energy, theoretical_energy_slope

_rng = np.random.default_rng(4)
_traj = _rng.standard_normal((6, 5))
_theta = 2 * np.pi * np.arange(12) / 12
_circle = np.stack([np.cos(_theta), np.sin(_theta)], axis=1)


def _energy_diagnose(got, expected, case):
    a = np.asarray(case.args[0], dtype=float)
    closed = case.kwargs.get("closed", True)
    d = np.diff(a, axis=0)
    open_e = float(np.sum(d * d))
    close_e = float(np.sum((a[0] - a[-1]) ** 2))
    if closed and np.isclose(got, open_e):
        return "You left out the closing step ‖p₀ − p_{T−1}‖²: the loop returns to its start."
    if not closed and np.isclose(got, open_e + close_e):
        return "With closed=False there is no step from the last point back to the first."
    norms = np.linalg.norm(np.concatenate([d, (a[0] - a[-1])[None]]) if closed else d, axis=1)
    if np.isclose(got, norms.sum()):
        return "Square the step lengths: E = Σ‖p_{t+1} − p_t‖², not Σ‖p_{t+1} − p_t‖."
    if np.isclose(got, np.sum(norms**2) / len(norms)):
        return "Sum the squared steps, don't average them."
    return None


register(Exercise(
    id="projections.path_energy",
    title="Energy of a closed trajectory",
    difficulty=1, importance=3, minutes=5, kind="function",
    reference=path_energy,
    hint=("E = Σ_t ‖p_{t+1} − p_t‖² over consecutive rows of the (T, m) array; when closed=True "
          "add the step from the last point back to the first."),
    cases=(
        Case("random 6-point loop", (_traj,)),
        Case("12-gon on the unit circle", (_circle,)),
        Case("open path", (_traj,), {"closed": False}),
    ),
    rtol=1e-8,
    diagnose=_energy_diagnose,
    wrong_answer=lambda traj, closed=True: float(np.sum(np.diff(np.asarray(traj), axis=0) ** 2)),
    mistakes=(
        (lambda traj, closed=True: float(np.sum(np.diff(np.asarray(traj), axis=0) ** 2)),
         "closing step"),
        (lambda traj, closed=True: float(np.sum(np.linalg.norm(
            np.diff(np.concatenate([traj, traj[:1]]) if closed else traj, axis=0), axis=1))),
         "Square the step lengths"),
        (lambda traj, closed=True: float(np.mean(np.sum(np.diff(
            np.concatenate([traj, traj[:1]]) if closed else traj, axis=0) ** 2, axis=1))),
         "don't average"),
        (lambda traj, closed=True: float(np.sum(np.diff(np.concatenate([traj, traj[:1]]), axis=0) ** 2)),
         "closed=False"),
    ),
))

# value exercise: a layer of m = 1600 units, full-space energy 8.0, k = 3
_M, _E_FULL, _K = 1600, 8.0, 3


def _kprojection_diagnose(got, expected, case):
    if np.isclose(got, _E_FULL):
        return "That is the full-space energy: a random projection onto k of m dimensions keeps only k/m of it."
    if np.isclose(got, _E_FULL / _M):
        return "Each of the k columns keeps E/m on average, so multiply by k = 3."
    if np.isclose(got, _E_FULL / 2):
        return "The supplement's ½ belongs to the action ½‖Ar‖², not to the path energy; and you still need k/m."
    if np.isclose(got, _K / (2 * _M) * _E_FULL):
        return "No ½ here: this is the path energy, not the action ½‖Ar‖²."
    if np.isclose(got, _K / _M):
        return "k/m is the fraction kept; multiply it by the full-space energy E_full = 8."
    return None


register(Exercise(
    id="projections.expected_projected_energy",
    title="Expected energy after a random projection",
    difficulty=1, importance=3, minutes=5, kind="value",
    reference=lambda: _K / _M * _E_FULL,
    hint=("R has i.i.d. N(0, 1/m) entries, so E_R‖d R‖² = (k/m)‖d‖² for every step d. "
          f"Here m = {_M}, k = {_K}, E_full = {_E_FULL}."),
    rtol=1e-6,
    diagnose=_kprojection_diagnose,
    wrong_answer=_E_FULL,
    mistakes=((_E_FULL, "full-space energy"), (_E_FULL / _M, "multiply by k"),
              (_K / (2 * _M) * _E_FULL, "No ½ here")),
))


def _slope_diagnose(got, expected, case):
    alpha, d = case.args[0], case.kwargs.get("d", 1)
    if d != 1 and (np.isclose(got, 2 - alpha) or np.isclose(got, max(-1.0, 2 - alpha))):
        return ("2 − α is the d = 1 formula; on a d-torus the loop sees an effective spectrum "
                "n^−(d(α−1)+1): slope 1 − d(α − 1), and never below −1.")
    if np.isclose(got, 1 - d * (alpha - 1)) and got < -1:
        return "Clamp at −1: a smooth code (α > 1 + 2/d) has E ∝ 1/T, so take max(−1, 1 − d(α − 1))."
    if np.isclose(got, max(-1.0, 1 - (alpha - 1) / d)) or np.isclose(got, 1 - (alpha - 1) / d):
        return "Multiply (α − 1) by d, don't divide: higher-dimensional inputs need a steeper spectrum."
    return None


register(Exercise(
    id="projections.theory_slope",
    title="Predicted energy-scaling slope d log E / d log T",
    difficulty=2, importance=2, minutes=10, kind="function",
    reference=theoretical_energy_slope,
    hint=("Smooth (α > 1 + 2/d): E ∝ 1/T. Below the threshold the slope is 1 − d(α − 1), "
          "which is 2 − α for d = 1. Take the larger of the two."),
    cases=(  # first: 1 − d(α−1) = −2 < −1 and 2 − α = −0.5, 1 − (α−1)/d = 0.25 all differ from −1
        Case("α=2.5, torus d=2", (2.5,), {"d": 2}),
        Case("α=2, circle", (2.0,)),
        Case("α=4, circle", (4.0,)),
        Case("α=1.5, torus d=2", (1.5,), {"d": 2}),
    ),
    rtol=1e-8, atol=1e-10,
    diagnose=_slope_diagnose,
    wrong_answer=lambda alpha, d=1: 2.0 - alpha,
    mistakes=(
        (lambda alpha, d=1: max(-1.0, 2.0 - alpha), "d = 1 formula"),
        (lambda alpha, d=1: 1.0 - d * (alpha - 1), "Clamp at −1"),
        (lambda alpha, d=1: max(-1.0, 1.0 - (alpha - 1) / d), "Multiply (α − 1) by d"),
    ),
))
