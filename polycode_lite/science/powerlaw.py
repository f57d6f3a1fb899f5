"""The power-law exponent alpha of an eigenspectrum, lambda_n ∝ n^-alpha, and its fit window.

alpha is the *rank* exponent (Stringer et al. 2019), not WeightWatcher's density exponent
(alpha_density = 1 + 1/alpha_rank). See docs/paper_guide.md §2.3, §3 E2 and §4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from polycode_lite._common import as_2d_float64
from polycode_lite.science.eigen import eigenspectrum

__all__ = [
    "PowerLawFit", "alpha_window_scan", "bootstrap_alpha", "default_fit_window", "fit_power_law",
    "powerlaw_gaussian", "sample_powerlaw_spectrum", "smoothness_threshold"
]


# --------------------------------------------------------------------------------------
# power-law fit
# --------------------------------------------------------------------------------------
def smoothness_threshold(d: float) -> float:
    """Stringer et al. (2019): a smooth code of a d-dimensional input needs alpha > 1 + 2/d."""
    if d <= 0:
        raise ValueError(f"the input dimension d must be positive, got {d}.")
    return 1.0 + 2.0 / d


def default_fit_window(n_eigenvalues: int, n_samples: int | None = None) -> tuple[int, int]:
    """Stringer's rank window 11..500, capped at half of what the data supports.

    hi = min(500, floor(0.5 · min(number of eigenvalues, n_samples))). When that leaves fewer
    than 40 ranks above 10 (narrow layers or few samples) the window starts at rank 2 instead,
    lo = 2. Raises ValueError if fewer than 5 ranks remain.
    """
    support = n_eigenvalues if n_samples is None else min(n_eigenvalues, n_samples)
    hi = min(500, int(0.5 * support))
    lo = 11 if hi >= 50 else 2
    if hi - lo + 1 < 5:
        raise ValueError(
            f"too few eigenvalues/samples for a power-law fit: {n_eigenvalues} eigenvalues"
            + (f" from {n_samples} samples" if n_samples is not None else "")
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


def sample_powerlaw_spectrum(
    m: int, n_samples: int, alpha: float, rng: np.random.Generator
) -> np.ndarray:
    """Eigenvalues of the centred sample covariance of n Gaussian samples with population
    spectrum λ_i = i^-alpha (i = 1..m), drawn without forming the (n, m) data.

    For n - 1 >= m the scatter matrix is Wishart(Λ, n-1) = Λ^½ A Aᵀ Λ^½ with A the Bartlett
    factor (lower triangular, A_ii ~ chi(n-i), A_ij ~ N(0,1) below the diagonal), an
    O(m³) cost independent of n. For n - 1 < m we form the (n-1, n-1) Gram matrix.
    Returns min(m, n-1) values, descending.
    """
    dof = n_samples - 1
    lam = np.arange(1, m + 1, dtype=np.float64) ** (-alpha)
    if dof >= m:
        a = np.tril(rng.standard_normal((m, m)), -1)
        a[np.diag_indices(m)] = np.sqrt(rng.chisquare(dof - np.arange(m)))
        b = np.sqrt(lam)[:, None] * a
        vals = np.linalg.eigvalsh(b @ b.T)[::-1] / dof
    else:
        z = rng.standard_normal((dof, m)) * np.sqrt(lam)
        vals = np.linalg.eigvalsh(z @ z.T)[::-1] / dof
    return vals


def powerlaw_gaussian(
    n: int, m: int, alpha: float, seed: int = 0, rotate: bool = True, noise_std: float = 0.0
) -> np.ndarray:
    """(n, m) Gaussian samples whose population covariance has eigenvalues i^-alpha.

    With ``rotate`` the eigenbasis is a random orthogonal matrix (a dense code: no single
    feature is a principal axis). ``noise_std`` adds isotropic noise of that s.d. per feature.
    """
    rng = np.random.default_rng(seed)
    lam = np.arange(1, m + 1, dtype=np.float64) ** (-alpha)
    x = rng.standard_normal((n, m)) * np.sqrt(lam)
    if rotate:
        q, r = np.linalg.qr(rng.standard_normal((m, m)))
        x = x @ (q * np.sign(np.diag(r))).T
    if noise_std > 0:
        x = x + noise_std * rng.standard_normal((n, m))
    return x


@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_power_law`.

    alpha: rank exponent (λ_n ∝ n^-alpha), bias-corrected when method is "simulation-matched".
    ci: 95% interval for alpha. ranks: (lo, hi) window actually used (1-based, inclusive).
    r2: coefficient of determination of the log-log fit in the window. intercept: log λ at n=1.
    alpha_plain: the uncorrected weighted log-log slope. method, ci_method: how alpha and
    ci were obtained. n_samples: samples behind the spectrum, when known.
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

    Args:
        eigenvalues: 1-D spectrum, descending (from :func:`eigenspectrum` or :func:`cv_pca`).
        ranks: (lo, hi) 1-based inclusive window; default :func:`default_fit_window`.
        n_samples: number of samples the spectrum was estimated from. When given (and
            ``correct_bias`` is not False) the finite-sample bias is removed by simulation
            matching: find the population alpha whose simulated Gaussian sample spectra, at the
            same n, m and window, give the observed plain fit (fixed-point iteration with common
            random numbers). The CI then comes from the spread of simulated fits (parametric
            bootstrap). Without n_samples, alpha is the plain fit and the CI a residual
            bootstrap of the log-log regression (which ignores the correlation of sample
            eigenvalues, so it is too narrow; prefer :func:`bootstrap_alpha` on raw data).
        n_boot: bootstrap replicates for the CI.
        seed: seed for all simulation/bootstrap randomness.
        n_sim: simulated spectra per fixed-point step of the bias correction.
        n_features: population dimension m for the simulation (default: the spectrum's
            length; pass it when n < m truncated the spectrum to n values).

    Raises:
        ValueError: NaN/inf, a window outside the spectrum or containing non-positive values.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    if lam.size < 3:
        raise ValueError(f"need at least 3 eigenvalues to fit a power law, got {lam.size}.")
    if not np.all(np.isfinite(lam)):
        raise ValueError(
            f"eigenvalues contain {int(np.sum(~np.isfinite(lam)))} NaN/inf value(s) "
            f"(first at rank {int(np.flatnonzero(~np.isfinite(lam))[0]) + 1})."
        )
    if n_samples is not None and n_samples < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples}.")
    if ranks is None:
        n_pos = int(np.argmax(lam <= 0)) if np.any(lam <= 0) else lam.size
        ranks = default_fit_window(n_pos, n_samples)
    lo, hi = _check_window(lam, ranks)
    rr = np.arange(lo, hi + 1, dtype=np.float64)
    alpha_plain, intercept, r2 = _wls_loglog(rr, lam[lo - 1 : hi])
    rng = np.random.default_rng(seed)
    do_correct = n_samples is not None if correct_bias is None else bool(correct_bias)
    if do_correct and n_samples is None:
        raise ValueError("correct_bias=True needs n_samples (the number of samples behind the spectrum).")

    if do_correct:
        m = lam.size if n_features is None else int(n_features)
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
        sims = simulate(alpha_pop, max(20, min(n_boot, 60)), int(rng.integers(2**31)))
        # parametric bootstrap: the corrected estimator's spread ≈ the plain fit's spread
        spread = sims - sims.mean()
        ci = (float(alpha_pop + np.quantile(spread, 0.025)), float(alpha_pop + np.quantile(spread, 0.975)))
        return PowerLawFit(
            alpha=float(alpha_pop), ci=ci, ranks=(lo, hi), r2=r2, intercept=intercept,
            alpha_plain=alpha_plain, method="simulation-matched", ci_method="parametric bootstrap",
            n_samples=n_samples, eigenvalues=lam,
        )

    # residual bootstrap of the weighted regression
    lx = np.log(rr)
    fitted = intercept - alpha_plain * lx
    resid = np.log(lam[lo - 1 : hi]) - fitted
    boots = np.empty(n_boot)
    for i in range(n_boot):
        ly = fitted + rng.choice(resid, size=resid.size, replace=True)
        boots[i] = _wls_loglog(rr, np.exp(ly))[0]
    ci = (float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)))
    return PowerLawFit(
        alpha=alpha_plain, ci=ci, ranks=(lo, hi), r2=r2, intercept=intercept,
        alpha_plain=alpha_plain, method="plain", ci_method="residual bootstrap",
        n_samples=n_samples, eigenvalues=lam,
    )


def alpha_window_scan(
    eigenvalues: Any,
    los: Sequence[int] = (2, 6, 11, 21),
    his: Sequence[int] | None = None,
    n_samples: int | None = None,
    seed: int = 0,
) -> "Any":
    """Fit alpha over a grid of windows to show how it moves. Returns a pandas DataFrame with
    one row per valid (lo, hi): lo, hi, alpha, ci_low, ci_high, r2. Invalid windows are skipped."""
    import pandas as pd

    lam = np.asarray(eigenvalues, dtype=np.float64)
    n_pos = int(np.argmax(lam <= 0)) if np.any(lam <= 0) else lam.size
    if his is None:
        cap = n_pos if n_samples is None else min(n_pos, n_samples)
        his = sorted({h for h in (20, 50, 100, 200, 500, 1000) if h <= cap} | {max(10, cap // 2)})
    rows = []
    for lo in los:
        for hi in his:
            if hi - lo + 1 < 5 or hi > n_pos:
                continue
            f = fit_power_law(lam, ranks=(lo, hi), n_samples=n_samples, n_boot=50, seed=seed)
            rows.append(dict(lo=lo, hi=hi, alpha=f.alpha, ci_low=f.ci[0], ci_high=f.ci[1], r2=f.r2))
    if not rows:
        raise ValueError(f"no valid window: the spectrum has only {n_pos} positive eigenvalues.")
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

    ``groups`` is a length-n array of group ids (e.g. document index for tokens, which are
    correlated within a document, docs/paper_guide.md pitfall 8); groups are resampled with replacement.
    The point estimate is the fit on all data (bias-corrected if ``correct_bias``); the CI is
    the percentile interval of the bootstrap fits, shifted by the same bias correction.
    """
    arr = as_2d_float64(x)
    n = arr.shape[0]
    lam = eigenspectrum(arr, kind="activations")
    base = fit_power_law(lam, ranks=ranks, n_samples=n if correct_bias else None, seed=seed,
                         n_boot=50)
    lo, hi = base.ranks
    rng = np.random.default_rng(seed)
    if groups is None:
        groups = np.arange(n)
    groups = np.asarray(groups)
    if groups.shape[0] != n:
        raise ValueError(f"groups has length {groups.shape[0]} but x has {n} rows.")
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(uniq.size)]
    if uniq.size < 2:
        raise ValueError("bootstrap_alpha needs at least 2 groups to resample.")
    boots = []
    for _ in range(n_boot):
        pick = rng.integers(0, uniq.size, uniq.size)
        idx = np.concatenate([members[g] for g in pick])
        lam_b = eigenspectrum(arr[idx], kind="activations")
        if lam_b.size < hi or np.any(lam_b[lo - 1 : hi] <= 0):
            continue
        boots.append(_wls_loglog(np.arange(lo, hi + 1.0), lam_b[lo - 1 : hi])[0])
    if len(boots) < max(10, n_boot // 2):
        raise ValueError("too many bootstrap resamples had a degenerate spectrum; collect more data.")
    shift = base.alpha - base.alpha_plain
    boots = np.asarray(boots) + shift
    ci = (float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)))
    return PowerLawFit(
        alpha=base.alpha, ci=ci, ranks=base.ranks, r2=base.r2, intercept=base.intercept,
        alpha_plain=base.alpha_plain, method=base.method,
        ci_method=f"bootstrap over {uniq.size} {'groups' if uniq.size < n else 'rows'}",
        n_samples=n, eigenvalues=lam,
    )
