"""Tests of differences between estimates with CIs, and Holm's correction for many of them.

A claim that pools many comparisons (the 15 layer pairs of a depth trend, one comparison per
layer and kind of direction) must not pass because one of many uncorrected tests did.
:func:`holm` is the Holm–Bonferroni step-down procedure (controls the family-wise error rate
at ``level`` under any dependence); :func:`z_pvalues` turns differences and standard errors into
two-sided normal p-values; :func:`se_from_ci` reads a standard error off a 95% CI.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from polycode_lite import _checks as ck

__all__ = ["holm", "se_from_ci", "z_pvalues"]


def se_from_ci(ci_low: Any, ci_high: Any, level: float = 0.95) -> np.ndarray:
    """Standard error implied by a two-sided ``level`` CI: (high − low) / (2·z_{(1+level)/2}).

    NaN bounds give NaN. Shapes broadcast; returns a float64 array."""
    if not 0 < ck.real("level", level) < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    lo, hi = ck.array("ci_low", ci_low, finite=False), ck.array("ci_high", ci_high, finite=False)
    return (hi - lo) / (2.0 * stats.norm.ppf(0.5 + level / 2.0))


def z_pvalues(difference: Any, se: Any) -> np.ndarray:
    """Two-sided p-values of ``difference / se`` under a standard normal null.

    NaN (or non-positive ``se``) gives p = 1: a comparison that cannot be made never counts
    as significant. Shapes broadcast; returns a float64 array."""
    d, s = ck.array("difference", difference, finite=False), ck.array("se", se, finite=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(d) / s
    p = 2.0 * stats.norm.sf(z)
    return np.where(np.isfinite(p) & (s > 0), p, 1.0)


def holm(pvalues: Any, level: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm–Bonferroni step-down correction of m p-values.

    Sort the p-values, p_(1) <= ... <= p_(m); reject H_(1..k) for the largest k with
    p_(i) <= level / (m − i + 1) for every i <= k. Adjusted p-values are
    max_{j<=i} min(1, (m − j + 1)·p_(j)), returned in the input order.

    Args:
        pvalues: (m,) p-values in [0, 1]; NaN counts as 1 (not rejected).
        level: family-wise error rate.

    Returns:
        (reject, adjusted): (m,) bool and (m,) float64 arrays in the input order.

    Raises:
        ValueError: a p-value outside [0, 1], a non-1-D input, or ``level`` outside (0, 1).
    """
    p = ck.array("pvalues", pvalues, ndim=1, finite=False)
    if not 0 < ck.real("level", level) < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    p = np.where(np.isnan(p), 1.0, p)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues must lie in [0, 1].")
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    order = np.argsort(p, kind="stable")
    adj_sorted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = adj_sorted
    return adjusted <= level, adjusted
