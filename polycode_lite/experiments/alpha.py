"""The one α-per-layer pipeline: spectrum → fit window → power-law fit → bootstrap CI, per site.

Every experiment that reports "α per layer with a CI" (alpha against dropout, the ResNet
autoencoder, language-model depth, the probe CNN of notebook 04) calls :func:`layer_alphas` and
gets an :class:`AlphaTable` with one schema (:data:`COLUMNS`).

* **data**: a mapping site name → activations (n, m), a ``CovarianceAccumulator``, a list of
  accumulators (groups to resample) or a tuple of two or more (n, m) repeats of the same stimuli
  (cvPCA). See :mod:`polycode_lite.experiments.alpha_resampling`; the wrappers
  :class:`Activations` (with optional row ``groups``), :class:`Accumulators`, :class:`Repeats`
  can be passed explicitly, e.g. to name the resampling unit (``unit="document groups"``).
* **estimator**: ``"corrected"`` removes the finite-sample bias by simulation
  (``fit_power_law(lam, n_samples=n, n_features=m)``), ``"plain"`` is the weighted log-log
  slope, ``"auto"`` (default) corrects when n < 10·m. cvPCA spectra are always plain (the
  correction simulates PCA of Gaussian samples).
* **window**: default Stringer's 11..500 capped at half of min(m, n, positive part of the
  spectrum) (:func:`~polycode_lite.science.powerlaw.default_fit_window`); or (lo, hi) with hi capped
  the same way (:func:`fit_window`).
* **CI** (``ci_method="bootstrap"``, one method for every kind of data): the *centred percentile
  bootstrap* α̂ + quantiles₀.₀₂₅,₀.₉₇₅(α*_b − median α*_b) of plain fits on replicates that resample
  the data's unit (samples, groups, stimuli) in the same window. Centring removes the shift that
  resampling itself causes (duplicated rows lower the effective n; a Rayleigh–Ritz subspace
  underestimates the tail) and carries the finite-sample correction over. A lone accumulator
  has nothing to resample: its CI is the parametric bootstrap of the simulation-matched fit
  (spread of fits to Gaussian power-law spectra simulated at the same n, m, window), centred on
  the reported α. ``ci_method="fit"`` or ``n_boot=0`` gives the fit's own CI (parametric when
  corrected, else a residual bootstrap, which is too narrow).
  The column ``ci_method`` states which, with the unit and n_boot.
* **failed fits** give NaN α and a ``note``: too few positive eigenvalues for a window, no power
  law (plain slope ≤ 0 or r² < ``min_r2``), a flat spectrum (CI reaching α ≤ 0), too few valid
  bootstrap replicates (NaN CI only).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite.experiments.alpha_resampling import (
    Accumulators,
    Activations,
    Repeats,
    as_site_data,
    replicate_spectra,
    spectrum,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from polycode_lite.science.powerlaw import PowerLawFit

__all__ = ["COLUMNS", "Accumulators", "Activations", "AlphaTable", "Repeats", "SiteFit",
           "fit_window", "layer_alphas"]

COLUMNS = ("site", "depth", "n_samples", "n_features", "estimator", "window_lo", "window_hi",
           "alpha", "ci_low", "ci_high", "ci_method", "r2", "alpha_plain", "participation_ratio",
           "note")
ESTIMATORS = ("auto", "corrected", "plain")
CI_METHODS = ("bootstrap", "fit")
NAN = float("nan")


@dataclass(frozen=True)
class SiteFit:
    """α of one site. ``fit`` is the PowerLawFit on all data (None when no window was possible),
    ``eigenvalues`` the spectrum, ``boot_alphas`` the plain fits of the bootstrap replicates,
    ``extra`` experiment-specific columns appended to :meth:`row`."""

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

    def row(self) -> dict[str, Any]:
        """The table row: :data:`COLUMNS`, then ``extra``."""
        base = {"site": self.site, "depth": self.depth, "n_samples": self.n_samples,
                    "n_features": self.n_features, "estimator": self.estimator,
                    "window_lo": self.window[0], "window_hi": self.window[1], "alpha": self.alpha,
                    "ci_low": self.ci[0], "ci_high": self.ci[1], "ci_method": self.ci_method, "r2": self.r2,
                    "alpha_plain": self.alpha_plain, "participation_ratio": self.participation_ratio,
                    "note": self.note}
        return base | dict(self.extra)

    def plot(self, ax: Any = None, **kw: Any) -> Any:
        """Log-log spectrum with the fitted line (``PowerLawFit.plot``)."""
        if self.fit is None:
            raise ValueError(f"site {self.site!r} has no fit to plot: {self.note}")
        return self.fit.plot(ax=ax, **kw)


@dataclass(frozen=True)
class AlphaTable:
    """α per site: ``table()`` (DataFrame, :data:`COLUMNS` + extras), ``plot()``, ``table[site]``
    or ``row(site)``; ``fits`` holds the :class:`SiteFit` (spectra, fits) in site order."""

    fits: tuple[SiteFit, ...]

    @property
    def sites(self) -> list[str]:
        return [f.site for f in self.fits]

    def __getitem__(self, site: str) -> SiteFit:
        for f in self.fits:
            if f.site == site:
                return f
        raise KeyError(f"no site {site!r}; sites are {self.sites}")

    def __iter__(self) -> Iterator[SiteFit]:
        return iter(self.fits)

    def __len__(self) -> int:
        return len(self.fits)

    def row(self, site: str) -> dict[str, Any]:
        return self[site].row()

    def table(self, spectra: bool = False) -> pd.DataFrame:
        """One row per site; ``spectra=True`` adds an ``eigenvalues`` column (numpy arrays)."""
        import pandas as pd

        rows = [f.row() | ({"eigenvalues": f.eigenvalues} if spectra else {}) for f in self.fits]
        return pd.DataFrame(rows, columns=list(dict.fromkeys([*COLUMNS, *(k for r in rows for k in r)])))

    def plot(self, ax: Any = None, group: str | None = None, value: str = "alpha",
             d_reference: Sequence[float] = ()) -> Any:
        """α (with CI bars) against depth; ``group``: a column giving one line per value."""
        from polycode_lite.plots.alpha import plot_alpha_depth

        return plot_alpha_depth(self.table(), value=value, ax=ax, d_reference=d_reference, group=group)


def fit_window(m: int, n: int, window: tuple[int, int] | None = None) -> tuple[int, int]:
    """The fit window for m features (or positive eigenvalues) and n samples: the default
    window (:func:`~polycode_lite.science.powerlaw.default_fit_window`), or ``window`` with hi
    capped at min(m, n)/2. Raises ValueError when fewer than 5 ranks remain."""
    from polycode_lite.science.powerlaw import default_fit_window

    if window is None:
        return default_fit_window(m, n)
    lo, hi = int(window[0]), min(int(window[1]), int(0.5 * min(m, n)))
    if hi - lo + 1 < 5:
        raise ValueError(f"fit window ({window[0]}, {window[1]}) leaves only ranks {lo}..{hi} for "
                         f"m={m} features and n={n} samples; lower lo.")
    return lo, hi


def _white_slope_bound(alpha_plain: float, m: int, n: int, lo: int, hi: int, seed: int,
                       n_sim: int = 10) -> float | None:
    """The flat-spectrum null. Sample eigenvalues of white (isotropic) noise are not flat: they
    spread over the Marchenko–Pastur range and fit a positive slope. Returns the upper end of
    the plain slopes of ``n_sim`` simulated white spectra at the same n, m and window (mean + 4
    s.d.) when ``alpha_plain`` does not exceed it, else None. Skipped (None) when ``alpha_plain``
    is above the largest slope the Marchenko–Pastur edges allow."""
    from polycode_lite.science.powerlaw import fit_power_law, sample_powerlaw_spectrum

    gamma = min(m, n) / max(m, n)
    edge = 2 * math.log((1 + math.sqrt(gamma)) / max(1 - math.sqrt(gamma), 1e-12))
    if alpha_plain > edge / math.log(hi / lo) or hi > min(m, n - 1):
        return None
    rng = np.random.default_rng([seed, 7])
    null = [fit_power_law(sample_powerlaw_spectrum(m, n, 0.0, rng), ranks=(lo, hi), n_boot=2).alpha_plain
            for _ in range(n_sim)]
    bound = float(np.mean(null) + 4 * np.std(null, ddof=1))
    return bound if alpha_plain <= bound else None


def _check_args(data: Any, estimator: str, ci_method: str, window: Any, n_boot: int) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"data must be a mapping site name -> data, got {type(data).__name__}.")  # noqa: TRY004
    if not data:
        raise ValueError("data is empty: pass at least one site.")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}.")
    if window is not None and (len(window) != 2 or not 1 <= int(window[0]) < int(window[1])):
        raise ValueError(f"window must be (lo, hi) with 1 <= lo < hi, got {window!r}.")
    if int(n_boot) < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}.")


def layer_alphas(
    data: Mapping[str, Any],
    *,
    estimator: str = "auto",
    window: tuple[int, int] | None = None,
    n_boot: int = 100,
    seed: int = 0,
    ci_method: str = "bootstrap",
    depth: Mapping[str, float] | Sequence[float] | None = None,
    progress: bool = False,
    min_r2: float = 0.5,
    full_spectrum_max: int = 2048,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> AlphaTable:
    """α per site with a 95% CI (see the module docstring).

    Args:
        data: site name → data (see the module docstring).
        estimator: "auto" (corrected when n < 10·m), "corrected" or "plain".
        window: (lo, hi) fit window; None for the default. hi is capped per site.
        n_boot: bootstrap replicates of the CI (0: the fit's own CI).
        seed: seed of the bias simulation, the cvPCA shuffles and the bootstrap (site k uses
            the stream ``[seed, k]``, so one site's numbers do not depend on the others).
        ci_method: "bootstrap" (resample the data's unit) or "fit" (the fit's own CI).
        depth: position of each site (mapping or sequence); default 0, 1, 2, ... in order.
        progress: a progress bar over sites.
        min_r2: log-log fits with r² below this are "no power law" (NaN α).
        full_spectrum_max: accumulators wider than this get the randomized top-k spectrum.
        extra: site → extra columns for its row (e.g. the dropout rate, a layer index).

    Raises:
        ValueError: naming the argument: an empty or non-mapping ``data``, a site with the wrong
        shape or mismatched repeats, an unknown estimator or ci_method, a bad window or depth.
    """
    from tqdm.auto import tqdm

    _check_args(data, estimator, ci_method, window, n_boot)
    sites = list(data)
    if depth is None:
        depths = {s: float(i) for i, s in enumerate(sites)}
    elif isinstance(depth, Mapping):
        missing = [s for s in sites if s not in depth]
        if missing:
            raise ValueError(f"depth has no entry for site(s) {missing}.")
        depths = {s: float(depth[s]) for s in sites}
    else:
        if len(depth) != len(sites):
            raise ValueError(f"depth has {len(depth)} values for {len(sites)} sites.")
        depths = dict(zip(sites, map(float, depth)))
    prepared = {s: as_site_data(data[s], f"data[{s!r}]") for s in sites}
    fits = []
    for k, s in enumerate(tqdm(sites, desc="α per site", disable=not progress)):
        f = _fit_site(s, prepared[s], depths[s], estimator, window, int(n_boot), seed, k,
                      ci_method, min_r2, full_spectrum_max)
        fits.append(SiteFit(**{**f.__dict__, "extra": dict((extra or {}).get(s, {}))}))
    return AlphaTable(tuple(fits))


def _fit_site(site: str, data: Any, depth: float, estimator: str, window: Any, n_boot: int,
              seed: int, k: int, ci_method: str, min_r2: float, full_spectrum_max: int) -> SiteFit:
    from polycode_lite.science.powerlaw import fit_power_law

    if isinstance(data, Repeats):
        if estimator == "corrected":
            raise ValueError(f"estimator='corrected' does not apply to the cvPCA repeats of "
                             f"data[{site!r}] (the correction simulates plain PCA); use 'plain' or 'auto'.")
        n, m = data.reps[0].shape
    elif isinstance(data, Activations):
        n, m = data.x.shape
    else:
        n, m = sum(a.n for a in data.accs), data.accs[0].dim
    corrected = not isinstance(data, Repeats) and (estimator == "corrected"
                                                   or (estimator == "auto" and n < 10 * m))
    est = "corrected" if corrected else "plain"
    k_top = None
    if isinstance(data, Accumulators) and m > full_spectrum_max:
        try:
            k_top = min(m, fit_window(m, n, window)[1] + 50)
        except ValueError:
            k_top = min(m, 60)
    lam, n, m, pr = spectrum(data, k_top, seed)
    blank = {"site": site, "depth": depth, "n_samples": n, "n_features": m, "estimator": est,
                 "participation_ratio": pr, "eigenvalues": lam, "boot_alphas": np.empty(0)}

    def failed(note: str, win: tuple[int, int] = (0, 0), fit: Any = None, ci_m: str = "") -> SiteFit:
        return SiteFit(**blank, window=win, alpha=NAN, ci=(NAN, NAN), ci_method=ci_m,
                       r2=NAN if fit is None else fit.r2,
                       alpha_plain=NAN if fit is None else fit.alpha_plain, note=note, fit=fit)

    # eigenvalues within the eigensolver's round-off (size · eps · λ_max) are zeros, not support:
    # collapsed or dead layers, the centring direction, cvPCA at p = 0
    eps = lam.size * np.finfo(np.float64).eps * max(float(lam.max(initial=0.0)), 0.0)
    nonpos = np.flatnonzero(lam <= eps)
    n_pos = int(nonpos[0]) if nonpos.size else lam.size
    support = min(m, n_pos) if nonpos.size or lam.size >= m else m  # a top-k spectrum: m supports it
    try:
        lo, hi = fit_window(support, n, window)
    except ValueError as exc:
        kind = "cvPCA " if isinstance(data, Repeats) else ""
        return failed(f"no fit: the {kind}spectrum has only {n_pos} positive values ({exc})")
    rep = None if ci_method == "fit" or n_boot == 0 else replicate_spectra(
        data, hi, k_top, full_spectrum_max, np.random.default_rng([seed, k]))
    own_ci = rep is None
    try:
        fit = fit_power_law(lam, ranks=(lo, hi), n_samples=n if corrected else None,
                            n_features=m if corrected else None, seed=seed,
                            n_boot=max(n_boot, 50) if own_ci else 2)
    except ValueError as exc:
        return failed(f"no fit: {exc}", (lo, hi))
    if fit.alpha_plain <= 0 or not fit.r2 >= min_r2:
        return failed(f"no power law (plain slope {fit.alpha_plain:.2f}, r2 {fit.r2:.2f})", (lo, hi), fit)
    white = _white_slope_bound(fit.alpha_plain, m, n, lo, hi, seed)
    if white is not None:
        return failed(f"flat spectrum: plain slope {fit.alpha_plain:.2f} is within what white "
                      f"noise gives at n={n}, m={m} in ranks {lo}..{hi} (up to {white:.2f})", (lo, hi), fit)
    note = ""
    boots = np.empty(0)
    if own_ci and (ci_method == "fit" or n_boot == 0):
        ci = fit.ci
        ci_m = f"{fit.ci_method} of the fit (ci_method={ci_method!r}, n_boot={n_boot})"
    elif own_ci:  # nothing to resample: spread of fits to Gaussian spectra simulated at n, m
        par = fit if corrected else fit_power_law(lam, ranks=(lo, hi), n_samples=n, n_features=m,
                                                  seed=seed, n_boot=max(n_boot, 50))
        ci = (par.ci[0] + fit.alpha - par.alpha, par.ci[1] + fit.alpha - par.alpha)
        ci_m = "parametric bootstrap (simulated Gaussian spectra; nothing to resample: one accumulator)"
    else:
        draw, n_units = rep
        vals = []
        for _ in range(n_boot):
            lam_b = draw()
            try:
                vals.append(fit_power_law(lam_b, ranks=(lo, hi), n_boot=2).alpha_plain)
            except (ValueError, TypeError):  # window non-positive / outside this replicate
                continue
        boots = np.asarray(vals)
        unit = data.unit
        ci_m = f"centred percentile bootstrap over {n_units} {unit} (n_boot={n_boot}, {boots.size} valid)"
        if boots.size >= max(5, math.ceil(n_boot / 2)):
            dev = boots - np.median(boots)
            ci = (float(fit.alpha + np.quantile(dev, 0.025)), float(fit.alpha + np.quantile(dev, 0.975)))
        else:
            ci = (NAN, NAN)
            note = f"CI not computed: only {boots.size} of {n_boot} replicates had a positive window"
    if ci[0] <= 0:
        out = failed(f"flat spectrum: α {fit.alpha:.2f} with a CI reaching {ci[0]:.2f} <= 0 "
                     "(no power-law decay)", (lo, hi), fit, ci_m)
        return SiteFit(**{**out.__dict__, "boot_alphas": boots})
    return SiteFit(**blank | {"boot_alphas": boots}, window=(lo, hi), alpha=fit.alpha, ci=ci,
                   ci_method=ci_m, r2=fit.r2, alpha_plain=fit.alpha_plain, note=note, fit=fit)
