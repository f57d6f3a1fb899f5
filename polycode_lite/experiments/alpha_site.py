"""One site's α: spectrum → fit window → power-law fit → bootstrap CI → flags.

The core shared by :func:`~polycode_lite.experiments.alpha.estimate_alpha` (one array) and
:func:`~polycode_lite.experiments.alpha.layer_alphas` (one comparison of many sites). It runs in
two steps so that a comparison can choose one window for all its sites:
:func:`site_spectrum` (the spectrum and the ranks it supports), then :func:`fit_site`.

Flags on a fit (``SiteFit.flags``, ``PowerLawFit.flags``), each with a reason in ``note``:

* ``"curved"``: one power law does not describe the window. The slopes of its lower and upper
  halves (split at the geometric mid-rank) differ by more than 3 bootstrap s.d. and by more
  than a quarter of α, after removing the difference a single power law shows at the same n and
  m (simulated Gaussian spectra; the finite-sample tail bends down). A broken power law has no
  single α; report the two slopes instead.
* ``"heavy tails"``: the rows are far from Gaussian in their fourth moments, where resampling rows
  under-covers (benchmarks/bench_alpha_calibration.py: 80–90% coverage for Student-t and sparse
  sources). The statistic is the relative variance of the squared row norms against what Gaussian
  rows with the same spectrum give, r = [Var‖x‖² / (E‖x‖²)²] / [2 Σλ² / (Σλ)²]; flagged when
  r > ``HEAVY_TAILS``. Only for (n, m) activations (an accumulator keeps no rows).
* ``"few replicates"``: under half of the bootstrap replicates had a positive window (CI NaN).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polycode_lite.experiments.alpha_resampling import (
    Accumulators,
    Activations,
    Repeats,
    replicate_spectra,
    spectrum,
)
from polycode_lite.science.powerlaw import PowerLawFit, _wls_loglog, fit_power_law
from polycode_lite.science.synthetic_spectra import sample_powerlaw_spectrum

__all__ = ["SiteFit", "SiteSpectrum", "fit_site", "segment_slopes", "site_spectrum", "supported_hi"]

NAN = float("nan")
CURVED_SD = 3.0        # the slope difference must exceed this many bootstrap s.d. ...
CURVED_FRACTION = 0.25  # ... and this fraction of α to flag "curved"
HEAVY_TAILS = 3.0  # squared-row-norm variance this many times the Gaussian value flags "heavy tails"


@dataclass(frozen=True)
class SiteFit:
    """α of one site. ``fit`` is the PowerLawFit on all data (None when no window was possible),
    ``eigenvalues`` the spectrum, ``boot_alphas`` the plain fits of the bootstrap replicates,
    ``flags`` reasons not to trust α (see the module docstring), ``extra`` experiment-specific
    columns appended to :meth:`row`."""

    site: str
    depth: float
    n_samples: int
    n_features: int
    estimator: str
    window: tuple[int, int]
    alpha: float
    ci: tuple[float, float]
    ci_method: str
    r2: float
    alpha_plain: float
    participation_ratio: float
    note: str
    fit: PowerLawFit | None = field(default=None, repr=False, compare=False)
    eigenvalues: np.ndarray = field(default=None, repr=False, compare=False)
    boot_alphas: np.ndarray = field(default=None, repr=False, compare=False)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    flags: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        """The table row: :data:`~polycode_lite.experiments.alpha.COLUMNS`, then ``extra``."""
        base = {"site": self.site, "depth": self.depth, "n_samples": self.n_samples,
                "n_features": self.n_features, "estimator": self.estimator,
                "window_lo": self.window[0], "window_hi": self.window[1], "alpha": self.alpha,
                "ci_low": self.ci[0], "ci_high": self.ci[1], "ci_method": self.ci_method,
                "r2": self.r2, "alpha_plain": self.alpha_plain,
                "participation_ratio": self.participation_ratio, "flags": ",".join(self.flags),
                "note": self.note}
        return base | dict(self.extra)

    def plot(self, ax: Any = None, **kw: Any) -> Any:
        """Log-log spectrum with the fitted line (``PowerLawFit.plot``)."""
        if self.fit is None:
            raise ValueError(f"site {self.site!r} has no fit to plot: {self.note}")
        return self.fit.plot(ax=ax, **kw)


@dataclass(frozen=True)
class SiteSpectrum:
    """Step 1 of a site: its data, spectrum and what the spectrum supports."""

    data: Any
    eigenvalues: np.ndarray
    n: int
    m: int
    participation_ratio: float
    k_top: int | None
    n_positive: int
    corrected: bool
    estimator: str


def site_spectrum(data: Any, estimator: str, seed: int, full_spectrum_max: int,
                  hi_wanted: int = 500) -> SiteSpectrum:
    """The spectrum of one prepared site (``as_site_data``) and its positive support."""
    if isinstance(data, Repeats):
        if estimator == "corrected":
            raise ValueError("estimator='corrected' does not apply to repeats (the correction "
                             "simulates PCA of one pass); use 'plain' or 'auto'.")
        n, m = data.reps[0].shape
    elif isinstance(data, Activations):
        n, m = data.x.shape
    else:
        n, m = sum(a.n for a in data.accs), data.accs[0].dim
    corrected = not isinstance(data, Repeats) and (
        estimator == "corrected" or (estimator == "auto" and n < 10 * m))
    k_top = None
    if isinstance(data, Accumulators) and m > full_spectrum_max:
        k_top = min(m, max(60, min(hi_wanted, int(0.5 * min(m, n))) + 50))
    lam, n, m, pr = spectrum(data, k_top, seed)
    # eigenvalues within the eigensolver's round-off (size · eps · λ_max) are zeros, not support:
    # collapsed or dead layers, the centring direction, repeats at p = 0
    eps = lam.size * np.finfo(np.float64).eps * max(float(np.max(lam, initial=0.0)), 0.0)
    floor = np.full(lam.size, eps)
    if isinstance(data, Repeats):
        # the noise's own spectrum, read from the negative side: noise eigenvalues come in both
        # signs, so rank k is signal only while λ_k exceeds the k-th most negative |λ|
        neg = np.sort(-np.asarray(lam)[np.asarray(lam) < 0])[::-1]
        floor[: neg.size] = np.maximum(floor[: neg.size], neg)
    nonpos = np.flatnonzero(np.asarray(lam) <= floor)
    n_pos = int(nonpos[0]) if nonpos.size else lam.size
    est = ("corrected" if corrected else "plain") + (f" {lam.estimator}" if isinstance(data, Repeats) else "")
    return SiteSpectrum(data, lam, n, m, pr, k_top, n_pos, corrected, est)


def supported_hi(ss: SiteSpectrum) -> int:
    """The largest upper rank the site supports: ⌊½·min(m, n)⌋, further capped at ⌊½·positive
    ranks⌋ for PCA (sample eigenvalues bend near the rank edge), or at the last rank before the
    first value at the noise floor for repeats (λ_k <= the k-th most negative |λ|)."""
    hi = int(0.5 * min(ss.m, ss.n))
    if isinstance(ss.data, Repeats):
        return min(hi, ss.n_positive)
    if ss.k_top is not None and ss.n_positive == ss.eigenvalues.size:  # a top-k of positive values
        return min(hi, ss.eigenvalues.size)
    return min(hi, int(0.5 * ss.n_positive))


def segment_slopes(lam: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
    """Plain slopes of the lower and upper halves of ranks lo..hi, split at ⌊√(lo·hi)⌋."""
    mid = max(lo + 2, min(hi - 2, int(math.sqrt(lo * hi))))
    values = np.clip(np.asarray(lam, dtype=np.float64), 1e-300, None)
    low = _wls_loglog(np.arange(lo, mid + 1.0), values[lo - 1: mid])[0]
    high = _wls_loglog(np.arange(mid, hi + 1.0), values[mid - 1: hi])[0]
    return low, high


def _null_slope_difference(alpha: float, m: int, n: int, lo: int, hi: int, seed: int,
                           n_sim: int = 8) -> tuple[float, float]:
    """Mean and s.d. of (upper − lower) half slopes of Gaussian power-law sample spectra."""
    rng = np.random.default_rng([seed, 11])
    diffs = []
    for _ in range(n_sim):
        s = sample_powerlaw_spectrum(m, n, max(alpha, 0.05), rng)
        a, b = segment_slopes(s, lo, hi)
        diffs.append(b - a)
    return float(np.mean(diffs)), float(np.std(diffs, ddof=1))


def tail_ratio(x: np.ndarray, eigenvalues: np.ndarray) -> float:
    """r = [Var‖x‖² / (E‖x‖²)²] / [2 Σλ² / (Σλ)²] of centred rows: 1 for Gaussian rows."""
    xc = x - x.mean(axis=0)
    sq = np.einsum("ij,ij->i", xc, xc)
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0, None)
    gauss = 2 * np.sum(lam**2) / max(np.sum(lam) ** 2, 1e-300)
    return float(np.var(sq) / max(np.mean(sq) ** 2, 1e-300) / max(gauss, 1e-300))


def _white_slope_bound(alpha_plain: float, m: int, n: int, lo: int, hi: int, seed: int,
                       n_sim: int = 10) -> float | None:
    """The flat-spectrum null. Sample eigenvalues of white (isotropic) noise are not flat: they
    spread over the Marchenko–Pastur range and fit a positive slope. Returns the upper end of
    the plain slopes of ``n_sim`` simulated white spectra at the same n, m and window (mean + 4
    s.d.) when ``alpha_plain`` does not exceed it, else None. Skipped (None) when ``alpha_plain``
    is above the largest slope the Marchenko–Pastur edges allow."""
    gamma = min(m, n) / max(m, n)
    edge = 2 * math.log((1 + math.sqrt(gamma)) / max(1 - math.sqrt(gamma), 1e-12))
    if alpha_plain > edge / math.log(hi / lo) or hi > min(m, n - 1):
        return None
    bound = _white_null_bound(m, n, lo, hi, seed, n_sim)
    return bound if alpha_plain <= bound else None


@functools.lru_cache(maxsize=64)
def _white_null_bound(m: int, n: int, lo: int, hi: int, seed: int, n_sim: int) -> float:
    """mean + 4 s.d. of the plain slopes of ``n_sim`` simulated white spectra (m, n, window, seed):
    computed once per setting, so the 48 equally wide sites of a model share one simulation."""
    rng = np.random.default_rng([seed, 7])
    null = [_wls_loglog(np.arange(lo, hi + 1.0), sample_powerlaw_spectrum(m, n, 0.0, rng)[lo - 1: hi])[0]
            for _ in range(n_sim)]
    return float(np.mean(null) + 4 * np.std(null, ddof=1))


def fit_site(site: str, ss: SiteSpectrum, depth: float, window: tuple[int, int] | None,
             n_boot: int, seed: int, k: int, ci_method: str, min_r2: float,
             full_spectrum_max: int) -> SiteFit:
    """Step 2: fit ``ss`` in ``window`` (None: a failed site) with a bootstrap CI and flags."""
    data, lam, n, m, corrected = ss.data, ss.eigenvalues, ss.n, ss.m, ss.corrected
    blank = {"site": site, "depth": depth, "n_samples": n, "n_features": m,
             "estimator": ss.estimator, "participation_ratio": ss.participation_ratio,
             "eigenvalues": lam, "boot_alphas": np.empty(0)}

    def failed(note: str, win: tuple[int, int] = (0, 0), fit: Any = None, ci_m: str = "",
               boots: np.ndarray | None = None) -> SiteFit:
        return SiteFit(**blank | {"boot_alphas": np.empty(0) if boots is None else boots},
                       window=win, alpha=NAN, ci=(NAN, NAN), ci_method=ci_m,
                       r2=NAN if fit is None else fit.r2,
                       alpha_plain=NAN if fit is None else fit.alpha_plain, note=note, fit=fit)

    kind = f"{lam.estimator} " if isinstance(data, Repeats) else ""
    if window is None:
        return failed(f"no fit: the {kind}spectrum supports ranks up to {supported_hi(ss)} only "
                      f"(m={m}, n={n}, {ss.n_positive} values above its floor), short of the window "
                      "of this comparison")
    lo, hi = window
    rep = None if ci_method == "fit" or n_boot == 0 else replicate_spectra(
        data, hi, ss.k_top, full_spectrum_max, np.random.default_rng([seed, k]))
    own_ci = rep is None
    try:
        fit = fit_power_law(lam, ranks=(lo, hi), correct_bias=corrected,
                            n_samples=n, n_features=m, seed=seed,
                            n_boot=max(n_boot, 50) if own_ci else 0)
    except ValueError as exc:
        return failed(f"no fit: {exc}", (lo, hi))
    if fit.alpha_plain <= 0 or not fit.r2 >= min_r2:
        return failed(f"no power law (plain slope {fit.alpha_plain:.2f}, r2 {fit.r2:.2f})", (lo, hi), fit)
    white = _white_slope_bound(fit.alpha_plain, m, n, lo, hi, seed)
    if white is not None:
        return failed(f"flat spectrum: plain slope {fit.alpha_plain:.2f} is within what white "
                      f"noise gives at n={n}, m={m} in ranks {lo}..{hi} (up to {white:.2f})", (lo, hi), fit)
    notes, flags = [], []
    boots, seg_boot = np.empty(0), np.empty(0)
    if own_ci and (ci_method == "fit" or n_boot == 0):
        ci = fit.ci
        ci_m = f"{fit.ci_method} of the fit (ci_method={ci_method!r}, n_boot={n_boot})"
    elif own_ci:  # nothing to resample: spread of fits to Gaussian spectra simulated at n, m
        par = fit if corrected else fit_power_law(lam, ranks=(lo, hi), correct_bias=True, n_samples=n,
                                                  n_features=m, seed=seed, n_boot=max(n_boot, 50))
        ci = (par.ci[0] + fit.alpha - par.alpha, par.ci[1] + fit.alpha - par.alpha)
        ci_m = "parametric bootstrap (simulated Gaussian spectra; nothing to resample: one accumulator)"
    else:
        draw, n_units = rep
        vals, segs = [], []
        for _ in range(n_boot):
            lam_b = draw()
            if lam_b is None or len(lam_b) < hi or np.any(np.asarray(lam_b)[lo - 1: hi] <= 0):
                continue
            vals.append(_wls_loglog(np.arange(lo, hi + 1.0), np.asarray(lam_b)[lo - 1: hi])[0])
            segs.append(np.subtract(*segment_slopes(lam_b, lo, hi)[::-1]))
        boots, seg_boot = np.asarray(vals), np.asarray(segs)
        ci_m = (f"centred percentile bootstrap over {n_units} {data.unit} of the whole pipeline "
                f"(n_boot={n_boot}, {boots.size} valid)")
        if boots.size >= max(5, math.ceil(n_boot / 2)):
            dev = boots - np.median(boots)
            ci = (float(fit.alpha + np.quantile(dev, 0.025)), float(fit.alpha + np.quantile(dev, 0.975)))
        else:
            ci = (NAN, NAN)
            flags.append("few replicates")
            notes.append(f"CI not computed: only {boots.size} of {n_boot} replicates had a positive window")
    if ci[0] <= 0:
        return failed(f"flat spectrum: α {fit.alpha:.2f} with a CI reaching {ci[0]:.2f} <= 0 "
                      "(no power-law decay)", (lo, hi), fit, ci_m, boots)
    if hi - lo >= 8 and m <= full_spectrum_max:
        low, high = segment_slopes(lam, lo, hi)
        null_mean, null_sd = _null_slope_difference(fit.alpha, m, n, lo, hi, seed)
        sd = float(np.std(seg_boot, ddof=1)) if seg_boot.size >= 5 else null_sd
        excess = (high - low) - null_mean
        if abs(excess) > CURVED_SD * max(sd, 1e-12) and abs(excess) > CURVED_FRACTION * fit.alpha:
            flags.append("curved")
            notes.append(f"slopes {low:.2f} (lower half) and {high:.2f} (upper half) of "
                         f"ranks {lo}..{hi} differ by {excess:+.2f} beyond one power law "
                         f"(bootstrap s.d. {sd:.2f}); no single α")
    if isinstance(data, Activations):
        r = tail_ratio(data.x, lam)
        if r > HEAVY_TAILS:
            flags.append("heavy tails")
            notes.append(f"heavy tails: squared row norms vary {r:.1f}x as much as for Gaussian rows "
                         "with this spectrum; a bootstrap over rows may under-cover (80-90% measured)")
    return SiteFit(**blank | {"boot_alphas": boots}, window=(lo, hi), alpha=fit.alpha, ci=ci,
                   ci_method=ci_m, r2=fit.r2, alpha_plain=fit.alpha_plain, note="; ".join(notes),
                   fit=fit, flags=tuple(flags))
