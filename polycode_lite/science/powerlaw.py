"""The power-law exponent alpha of an eigenspectrum, lambda_n ∝ n^-alpha, and its fit window.

alpha is the *rank* exponent (Stringer et al. 2019), not WeightWatcher's density exponent
(alpha_density = 1 + 1/alpha_rank). See docs/paper_guide.md §2.3, §3 E2 and §4.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from polycode_lite._common import as_2d_float64
from polycode_lite.science.eigen import eigenspectrum
from polycode_lite.science.spectrum import Spectrum, check_spectrum, n_leading_positive
from polycode_lite.science.synthetic_spectra import powerlaw_gaussian, sample_powerlaw_spectrum
from polycode_lite import _checks as ck

__all__ = [
    "PowerLawFit", "alpha_window_scan", "bootstrap_alpha", "default_fit_window", "first_rank", "fit_power_law",
    "powerlaw_gaussian", "sample_powerlaw_spectrum", "smoothness_threshold"
]


# --------------------------------------------------------------------------------------
# power-law fit
# --------------------------------------------------------------------------------------
def smoothness_threshold(d: float) -> float:
    """Stringer et al. (2019): a smooth code of a d-dimensional input needs alpha > 1 + 2/d."""
    ck.positive("d", d)
    if d <= 0:
        raise ValueError(f"the input dimension d must be positive, got {d}.")
    return 1.0 + 2.0 / d


def first_rank(hi: int) -> int:
    """The default first rank of a window ending at ``hi``: Stringer's 11 when that leaves at least
    30 ranks (hi >= 40), else 2."""
    ck.integer("hi", hi, minimum=2)
    return 11 if hi >= 40 else 2


def default_fit_window(n_eigenvalues: int, n_samples: int | None = None,
                       n_positive: int | None = None) -> tuple[int, int]:
    """Stringer's rank window 11..500, capped by what the data supports.

    hi = min(500, ⌊½·min(m, n)⌋, n_positive), with m = ``n_eigenvalues`` (the number of
    features), n = ``n_samples`` and ``n_positive`` the number of leading positive values (a
    cvPCA or repeats spectrum ends before its first non-positive value). lo = 11 when that
    leaves at least 30 ranks (hi >= 40), else 2 (narrow layers or few samples); within one comparison, choose the window once for
    all sites (``layer_alphas`` does). Raises ValueError if fewer than 5 ranks remain.
    """
    ck.integer("n_eigenvalues", n_eigenvalues, minimum=1)
    ck.optional(ck.integer, "n_samples", n_samples, minimum=1)
    ck.optional(ck.integer, "n_positive", n_positive, minimum=1)
    support = n_eigenvalues if n_samples is None else min(n_eigenvalues, n_samples)
    hi = min(500, int(0.5 * support))
    if n_positive is not None:
        hi = min(hi, int(n_positive))
    lo = first_rank(hi)
    if hi - lo + 1 < 5:
        raise ValueError(
            f"too few eigenvalues/samples for a power-law fit: {n_eigenvalues} eigenvalues"
            + (f" from {n_samples} samples" if n_samples is not None else "")
            + (f" ({n_positive} positive)" if n_positive is not None else "")
            + f" support only ranks {lo}..{hi}. Collect more samples or pass ranks=(lo, hi)."
        )
    return lo, hi


def _wls_loglog(ranks: np.ndarray, lam: np.ndarray) -> tuple[float, float, float]:
    """Weighted least squares of log λ_n = c - α log n with weights 1/n. Returns (α, c, r²)."""
    lx = np.log(ranks)
    ly = np.log(lam)
    w = 1.0 / ranks
    sw = w.sum()
    mx = np.sum(w * lx) / sw
    my = np.sum(w * ly) / sw
    slope = np.sum(w * (lx - mx) * (ly - my)) / np.sum(w * (lx - mx) ** 2)
    intercept = my - slope * mx
    resid = ly - (intercept + slope * lx)
    ss_tot = np.sum((ly - ly.mean()) ** 2)
    r2 = 1.0 - np.sum(resid**2) / ss_tot if ss_tot > 0 else float("nan")
    return float(-slope), float(intercept), float(r2)


def _check_window(lam: np.ndarray, ranks: tuple[int, int]) -> tuple[int, int]:
    lo, hi = int(ranks[0]), int(ranks[1])
    if lo < 1 or hi <= lo:
        raise ValueError(f"fit window must satisfy 1 <= lo < hi, got ranks=({lo}, {hi}).")
    if hi > lam.size:
        raise ValueError(
            f"fit window ranks=({lo}, {hi}) is outside the spectrum, which has only {lam.size} "
            f"eigenvalues. Use hi <= {lam.size} (or default_fit_window)."
        )
    if hi - lo + 1 < 3:
        raise ValueError(f"fit window ranks=({lo}, {hi}) has fewer than 3 points.")
    window = lam[lo - 1 : hi]
    if np.any(window <= 0):
        bad = np.flatnonzero(window <= 0) + lo
        raise ValueError(
            f"fit window ranks=({lo}, {hi}) contains {bad.size} non-positive eigenvalue(s) "
            f"(first at rank {bad[0]}); the log is undefined there. Lower hi below {bad[0]}, "
            "or clip cvPCA negatives before fitting."
        )
    return lo, hi


@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_power_law`.

    alpha: rank exponent (λ_n ∝ n^-alpha), bias-corrected when method is "simulation-matched".
    ci: 95% interval for alpha. ranks: (lo, hi) window actually used (1-based, inclusive).
    r2: coefficient of determination of the log-log fit in the window. intercept: log λ at n=1.
    alpha_plain: the uncorrected weighted log-log slope. method, ci_method: how alpha and
    ci were obtained. n_samples, n_features: samples and features behind the spectrum, when
    known; estimator: how the spectrum was estimated (:data:`~polycode_lite.science.spectrum.ESTIMATORS`).
    flags: reasons not to trust alpha (e.g. "curved": one power law does not fit the window);
    note: the flags in words. boot_alphas: the bootstrap replicates behind ``ci``, if any.
    """

    alpha: float
    ci: tuple[float, float]
    ranks: tuple[int, int]
    r2: float
    intercept: float
    alpha_plain: float
    method: str
    ci_method: str
    n_samples: int | None = None
    eigenvalues: np.ndarray | None = field(default=None, repr=False, compare=False)
    n_features: int | None = None
    estimator: str = "unknown"
    flags: tuple[str, ...] = ()
    note: str = ""
    boot_alphas: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """A finite alpha with no flag."""
        return bool(np.isfinite(self.alpha)) and not self.flags

    def plot(self, ax: Any = None, label: str | None = None, color: str | None = None) -> Any:
        """Log-log spectrum with the fitted line over the window. Returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 3.5))
        lam = np.asarray(self.eigenvalues)
        ranks = np.arange(1, lam.size + 1)
        pos = lam > 0
        line = ax.loglog(ranks[pos], lam[pos], ".", ms=3, color=color, label=label or "spectrum")
        lo, hi = self.ranks
        rr = np.arange(lo, hi + 1)
        # the plotted line uses the plain slope: it is the fit to these sample eigenvalues
        ax.loglog(
            rr,
            np.exp(self.intercept) * rr ** (-self.alpha_plain),
            "-",
            color="k" if color is None else line[0].get_color(),
            lw=1.5,
            label=f"fit n={lo}..{hi}: α={self.alpha:.2f} [{self.ci[0]:.2f}, {self.ci[1]:.2f}]",
        )
        ax.axvspan(lo, hi, color="0.9", zorder=0)
        ax.set_xlabel("rank n")
        ax.set_ylabel("eigenvalue λₙ (variance)")
        ax.set_title("Eigenspectrum and power-law fit")
        ax.legend(fontsize=8)
        return ax

    def __str__(self) -> str:
        return (
            f"alpha = {self.alpha:.3f} (95% CI {self.ci[0]:.3f}..{self.ci[1]:.3f}; "
            f"ranks {self.ranks[0]}..{self.ranks[1]}; r2 = {self.r2:.3f}; {self.method})"
            + (f" [{', '.join(self.flags)}: {self.note}]" if self.flags else "")
        )


def fit_power_law(
    eigenvalues: Any,
    ranks: tuple[int, int] | None = None,
    n_samples: int | None = None,
    n_boot: int = 200,
    seed: int = 0,
    correct_bias: bool | None = None,
    n_sim: int = 6,
    n_features: int | None = None,
) -> PowerLawFit:
    """Fit λ_n ∝ n^-alpha by weighted log-log least squares (Stringer et al. 2019, weights 1/n).

    This fits a spectrum; for activations use
    :func:`polycode_lite.experiments.alpha.estimate_alpha`, whose CI resamples the data.

    Args:
        eigenvalues: 1-D spectrum, descending: a :class:`~polycode_lite.science.spectrum.Spectrum`
            (from :func:`eigenspectrum`, :func:`cv_pca` or the repeats estimators), which carries
            n_samples and n_features, or a bare array.
        ranks: (lo, hi) 1-based inclusive window; default :func:`default_fit_window`.
        n_samples: number of samples behind the spectrum (read from a Spectrum). When known
            and ``correct_bias`` is not False, a PCA spectrum's finite-sample bias is removed by
            simulation matching: find the population alpha whose simulated Gaussian sample
            spectra, at the same n, m and window, give the observed plain fit (fixed-point
            iteration with common random numbers); the CI is then the spread of simulated fits
            (parametric, Gaussian: too narrow off Gaussian data). Otherwise alpha is the plain
            fit and the CI a residual bootstrap of the regression (too narrow as well).
        n_boot: replicates of that CI; 0 skips it (CI NaN).
        seed: seed for all simulation/bootstrap randomness.
        correct_bias: None: correct when n_samples is known and the spectrum is PCA.
        n_sim: simulated spectra per fixed-point step of the bias correction (>= 1).
        n_features: the layer's width m (read from a Spectrum). A bare array with n_samples
            where n < m could be hidden (as many values as samples) needs it: for n < m a PCA
            spectrum has only n values, so its length is not m.

    Raises:
        ValueError: not 1-D, ascending, NaN/inf, metadata that disagree with the Spectrum, a
        window outside the spectrum or containing non-positive values, a bare array whose m
        is ambiguous, n_boot < 0, n_sim < 1.
    """
    ck.optional(ck.window, "ranks", ranks)
    ck.optional(ck.integer, "n_samples", n_samples, minimum=2)
    ck.optional(ck.integer, "n_features", n_features, minimum=1)
    ck.integer("n_boot", n_boot, minimum=0); ck.seed("seed", seed); ck.integer("n_sim", n_sim, minimum=1)
    lam = check_spectrum(eigenvalues)
    if n_samples is not None and int(n_samples) < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples}.")
    n_samples = _agree("n_samples", n_samples, lam.n_samples)
    n_features = _agree("n_features", n_features, lam.n_features)
    if int(n_boot) < 0:
        raise ValueError(f"n_boot must be >= 0 (0: no CI), got {n_boot}.")
    if int(n_sim) < 1:
        raise ValueError(f"n_sim must be >= 1, got {n_sim}.")
    repeats_kind = lam.estimator in ("cvpca", "cross-covariance", "denoised")
    if correct_bias is None:
        do_correct = n_samples is not None and not repeats_kind
    else:
        do_correct = bool(correct_bias)
    if do_correct and n_samples is None:
        raise ValueError("correct_bias=True needs n_samples (the number of samples behind the spectrum).")
    if do_correct and repeats_kind:
        raise ValueError(f"correct_bias=True simulates PCA of Gaussian samples; it does not apply "
                         f"to a {lam.estimator} spectrum. Pass correct_bias=False.")
    if do_correct and n_features is None:
        if lam.size >= n_samples - 1:
            raise ValueError(
                f"this bare array has {lam.size} eigenvalues from n_samples={n_samples}: the layer "
                "may have more features than samples (for n < m a PCA spectrum has only n values). "
                "Pass n_features=m (the layer's width), or pass the Spectrum that eigenspectrum() "
                "returns, which carries it.")
        n_features = lam.size
    if ranks is None:
        n_pos = n_leading_positive(lam)
        ranks = default_fit_window(n_features or lam.size, n_samples, n_pos)
    lo, hi = _check_window(lam, ranks)
    rr = np.arange(lo, hi + 1, dtype=np.float64)
    alpha_plain, intercept, r2 = _wls_loglog(rr, lam[lo - 1 : hi])
    rng = np.random.default_rng(seed)
    meta = dict(n_samples=n_samples, eigenvalues=lam, n_features=n_features, estimator=lam.estimator)

    if do_correct:
        m = int(n_features)
        if m < hi:
            raise ValueError(f"n_features={m} is smaller than the window's upper rank {hi}.")

        def simulate(alpha_pop: float, reps: int, sim_seed: int) -> np.ndarray:
            g = np.random.default_rng(sim_seed)
            out = np.empty(reps)
            for i in range(reps):
                s = sample_powerlaw_spectrum(m, n_samples, alpha_pop, g)
                out[i] = _wls_loglog(rr, np.clip(s[lo - 1 : hi], 1e-300, None))[0]
            return out

        crn_seed = int(rng.integers(2**31))
        alpha_pop = alpha_plain
        for _ in range(4):
            bias = simulate(alpha_pop, n_sim, crn_seed).mean() - alpha_pop
            new = alpha_plain - bias
            if abs(new - alpha_pop) < 1e-3:
                alpha_pop = new
                break
            alpha_pop = new
        ci = (float("nan"), float("nan"))
        if n_boot > 0:
            sims = simulate(alpha_pop, max(20, min(n_boot, 60)), int(rng.integers(2**31)))
            # parametric bootstrap: the corrected estimator's spread ≈ the plain fit's spread
            spread = sims - sims.mean()
            ci = (float(alpha_pop + np.quantile(spread, 0.025)),
                  float(alpha_pop + np.quantile(spread, 0.975)))
        return PowerLawFit(
            alpha=float(alpha_pop), ci=ci, ranks=(lo, hi), r2=r2, intercept=intercept,
            alpha_plain=alpha_plain, method="simulation-matched",
            ci_method="parametric bootstrap (Gaussian)" if n_boot else "none (n_boot=0)", **meta,
        )

    # residual bootstrap of the weighted regression
    lx = np.log(rr)
    fitted = intercept - alpha_plain * lx
    resid = np.log(lam[lo - 1 : hi]) - fitted
    boots = np.empty(n_boot)
    for i in range(n_boot):
        ly = fitted + rng.choice(resid, size=resid.size, replace=True)
        boots[i] = _wls_loglog(rr, np.exp(ly))[0]
    ci = ((float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))) if n_boot
          else (float("nan"), float("nan")))
    return PowerLawFit(
        alpha=alpha_plain, ci=ci, ranks=(lo, hi), r2=r2, intercept=intercept,
        alpha_plain=alpha_plain, method="plain",
        ci_method="residual bootstrap" if n_boot else "none (n_boot=0)", **meta,
    )


def _agree(name: str, given: int | None, carried: int | None) -> int | None:
    if given is not None and carried is not None and int(given) != carried:
        raise ValueError(f"{name}={given} disagrees with the Spectrum, which came from "
                         f"{name}={carried}; drop the argument.")
    return int(given) if given is not None else carried


def alpha_window_scan(
    eigenvalues: Any,
    los: Sequence[int] = (2, 6, 11, 21),
    his: Sequence[int] | None = None,
    n_samples: int | None = None,
    seed: int = 0,
    n_features: int | None = None,
) -> Any:
    """Fit alpha over a grid of windows to show how it moves. Returns a pandas DataFrame with
    one row per valid (lo, hi): lo, hi, alpha, ci_low, ci_high, r2. Windows past ½·min(m, n)
    or the first non-positive value are skipped. n_samples / n_features as in
    :func:`fit_power_law` (read from a Spectrum)."""
    ck.optional(ck.integer, "n_samples", n_samples, minimum=2)
    ck.optional(ck.integer, "n_features", n_features, minimum=1); ck.seed("seed", seed)
    import pandas as pd

    lam = check_spectrum(eigenvalues)
    n = _agree("n_samples", n_samples, lam.n_samples)
    m = _agree("n_features", n_features, lam.n_features) or lam.size
    n_pos = n_leading_positive(lam)
    cap = min(n_pos, int(0.5 * (m if n is None else min(m, n))))
    if his is None:
        his = sorted({h for h in (20, 50, 100, 200, 500, 1000) if h <= cap} | {max(10, cap)})
    rows = []
    for lo in los:
        for hi in his:
            if hi - lo + 1 < 5 or hi > cap:
                continue
            f = fit_power_law(lam, ranks=(lo, hi), n_samples=n, n_features=m if n else None,
                              n_boot=50, seed=seed)
            rows.append(dict(lo=lo, hi=hi, alpha=f.alpha, ci_low=f.ci[0], ci_high=f.ci[1], r2=f.r2))
    if not rows:
        raise ValueError(f"no valid window: the spectrum supports ranks up to {cap} only.")
    return pd.DataFrame(rows)


def bootstrap_alpha(
    x: Any,
    groups: Any = None,
    n_boot: int = 100,
    ranks: tuple[int, int] | None = None,
    seed: int = 0,
    correct_bias: bool = False,
) -> PowerLawFit:
    """Alpha of raw (n, m) activations with a CI from resampling rows (or whole groups).

    Prefer :func:`polycode_lite.experiments.alpha.estimate_alpha`, which adds the flags and
    the repeats estimators. ``groups`` is a length-n array of group ids (e.g. the document of
    each token, docs/paper_guide.md pitfall 8); groups are resampled with replacement. The
    point estimate is the fit on all data (bias-corrected if ``correct_bias``); the CI is the
    centred percentile interval α̂ + quantiles(α*_b − median α*_b) of the plain bootstrap fits.
    """
    x = ck.array("x", x, ndim=2, min_len=3)
    ck.integer("n_boot", n_boot, minimum=2); ck.optional(ck.window, "ranks", ranks); ck.seed("seed", seed)
    if int(n_boot) < 2:
        raise ValueError(f"n_boot must be >= 2 for a bootstrap CI, got {n_boot}.")
    arr = as_2d_float64(x)
    n = arr.shape[0]
    lam = eigenspectrum(arr, kind="activations")
    base = fit_power_law(lam, ranks=ranks, correct_bias=correct_bias, seed=seed, n_boot=2)
    lo, hi = base.ranks
    rng = np.random.default_rng(seed)
    groups = np.arange(n) if groups is None else np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups has shape {groups.shape} but x has {n} rows; pass one id per row.")
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(uniq.size)]
    if uniq.size < 2:
        raise ValueError("bootstrap_alpha needs at least 2 groups to resample.")
    boots = []
    for _ in range(int(n_boot)):
        pick = rng.integers(0, uniq.size, uniq.size)
        lam_b = np.asarray(eigenspectrum(arr[np.concatenate([members[g] for g in pick])],
                                         kind="activations"))
        if lam_b.size < hi or np.any(lam_b[lo - 1 : hi] <= 0):
            continue
        boots.append(_wls_loglog(np.arange(lo, hi + 1.0), lam_b[lo - 1 : hi])[0])
    if len(boots) < max(2, n_boot // 2):
        raise ValueError("too many bootstrap resamples had a degenerate spectrum; collect more data.")
    dev = np.asarray(boots) - np.median(boots)
    ci = (float(base.alpha + np.quantile(dev, 0.025)), float(base.alpha + np.quantile(dev, 0.975)))
    return replace(base, ci=ci, boot_alphas=np.asarray(boots),
                   ci_method=f"centred percentile bootstrap over {uniq.size} "
                             f"{'groups' if uniq.size < n else 'rows'}")
