"""The one α pipeline: spectrum → fit window → power-law fit → bootstrap CI → flags.

:func:`estimate_alpha` measures one array; :func:`layer_alphas` measures the sites of one
comparison (layers, models, dropout rates) and returns an :class:`AlphaTable` with one schema
(:data:`COLUMNS`). Both run :mod:`polycode_lite.experiments.alpha_site`.

* **data**: (n, m) activations; a (K, n, m) stack (or tuple) of K >= 2 stochastic repeats of
  the same n inputs (dropout masks, noisy trials), whose spectrum is the noise-free
  cross-covariance (:mod:`polycode_lite.science.repeats`, pitfall 5); a
  ``CovarianceAccumulator``; or a list of accumulators (groups to resample). The wrappers
  :class:`Activations` (with row ``groups``), :class:`Accumulators` and :class:`Repeats` name the
  resampling unit (``unit="document groups"``) or the repeats ``method``.
* **estimator**: ``"corrected"`` removes PCA's finite-sample bias by simulation matching
  (:func:`~polycode_lite.science.powerlaw.fit_power_law`), ``"plain"`` is the weighted log-log
  slope, ``"auto"`` corrects when n < 10·m. Repeats spectra are always plain.
* **window** (docs/paper_guide.md pitfall 3): Stringer's 11..500 capped at what the data supports
  (½·min(m, n); for repeats, the last rank before the first non-positive value). In
  :func:`layer_alphas` **one window serves every site** of the comparison: the narrowest site
  sets hi, and lo = 11 when that hi >= 40, else 2, for all. ``AlphaTable.window_grid()`` gives α
  over a grid of windows around it, so a verdict can be required to hold across windows.
* **CI** (``ci="bootstrap"``): the centred percentile bootstrap α̂ + quantiles(α*_b − median α*_b)
  over the data's independent unit (rows, ``groups``, inputs with their repeats, accumulators),
  re-running spectrum and window on each replicate and carrying the finite-sample correction
  over. ``ci="parametric"`` is the Gaussian simulation's spread, too narrow off Gaussian data;
  a lone accumulator has nothing to resample and gets it. Coverage is measured in
  ``benchmarks/bench_alpha_calibration.py``.
* **failed fits and flags**: NaN α with a ``note`` for too few ranks, no power law (slope <= 0 or
  r² < ``min_r2``), a flat spectrum (within what white noise gives, or a CI reaching α <= 0);
  ``flags`` ("curved", "few replicates") mark a finite α not to trust (see ``alpha_site``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite import _checks as ck
from polycode_lite.experiments.alpha_resampling import (
    Accumulators,
    Activations,
    Repeats,
    as_site_data,
)
from polycode_lite.experiments.alpha_site import SiteFit, SiteSpectrum, fit_site, site_spectrum, supported_hi

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from polycode_lite.science.powerlaw import PowerLawFit

__all__ = ["COLUMNS", "Accumulators", "Activations", "AlphaTable", "Repeats", "SiteFit",
           "comparison_window", "estimate_alpha", "fit_window", "grid_windows", "layer_alphas",
           "slopes_across_grid"]

COLUMNS = ("site", "depth", "n_samples", "n_features", "estimator", "window_lo", "window_hi",
           "alpha", "ci_low", "ci_high", "ci_method", "r2", "alpha_plain", "participation_ratio",
           "flags", "note")
ESTIMATORS = ("auto", "corrected", "plain")
CI_METHODS = ("bootstrap", "fit")
NAN = float("nan")


@dataclass(frozen=True)
class AlphaTable:
    """α per site: ``table()`` (DataFrame, :data:`COLUMNS` + extras), ``window_grid()``,
    ``plot()``, ``table[site]`` or ``row(site)``; ``fits`` holds the :class:`SiteFit` in order."""

    fits: tuple[SiteFit, ...]
    grid: tuple[dict, ...] = ()

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

    def table(self, spectra: bool = False, grid: bool = False) -> pd.DataFrame:
        """One row per site; ``spectra=True`` adds an ``eigenvalues`` column (numpy arrays),
        ``grid=True`` a ``window_grid`` column: {"lo-hi": α} over the grid of windows."""
        import pandas as pd

        by_site: dict[str, dict[str, float]] = {}
        for g in self.grid:
            by_site.setdefault(g["site"], {})[f"{g['window_lo']}-{g['window_hi']}"] = g["alpha"]
        rows = [f.row() | ({"eigenvalues": f.eigenvalues} if spectra else {})
                | ({"window_grid": by_site.get(f.site, {})} if grid else {}) for f in self.fits]
        return pd.DataFrame(rows, columns=list(dict.fromkeys([*COLUMNS, *(k for r in rows for k in r)])))

    def window_grid(self) -> pd.DataFrame:
        """α of every site over the grid of windows (columns site, depth, window_lo, window_hi,
        alpha and the extras), same estimator, no CI; empty when no grid was computed."""
        import pandas as pd

        return pd.DataFrame(list(self.grid), columns=None if self.grid else
                            ["site", "depth", "window_lo", "window_hi", "alpha"])

    def plot(self, ax: Any = None, group: str | None = None, value: str = "alpha",
             d_reference: Sequence[float] = ()) -> Any:
        """α (with CI bars) against depth; ``group``: a column giving one line per value."""
        from polycode_lite.plots.alpha import plot_alpha_depth

        return plot_alpha_depth(self.table(), value=value, ax=ax, d_reference=d_reference, group=group)


def fit_window(m: int, n: int, window: tuple[int, int] | None = None) -> tuple[int, int]:
    """The fit window for m features and n samples: :func:`resolve_window` with hi <= ½·min(m, n)."""
    return resolve_window(int(0.5 * min(m, n)), window, f"m={m} features and n={n} samples")


def resolve_window(hi_supported: int, window: tuple[int, int] | None, what: str = "the data") -> tuple[int, int]:
    """(lo, hi): hi = min(500 or the window's hi, ``hi_supported``); lo = the window's lo, or 11
    (Stringer's) when that leaves at least 30 ranks (hi >= 40), else 2. Raises ValueError when
    fewer than 5 ranks remain."""
    from polycode_lite.science.powerlaw import first_rank

    if window is None:
        hi = min(500, int(hi_supported))
        lo = first_rank(hi)
    else:
        lo, hi = int(window[0]), min(int(window[1]), int(hi_supported))
    if hi - lo + 1 < 5:
        raise ValueError(f"fit window {window or 'default'} leaves only ranks {lo}..{hi} for {what}"
                         f" (supported up to rank {hi_supported}); lower lo or collect more data.")
    return lo, hi


def grid_windows(lo: int, hi: int) -> list[tuple[int, int]]:
    """The windows around (lo, hi) a trend must survive: lo ∈ {⌊lo/2⌋, lo, 2·lo} (at least 2, 2·lo
    at most hi/4) × hi ∈ {½hi, ¾hi, hi}, keeping windows of at least 5 ranks."""
    los = sorted({max(2, lo // 2), lo, max(lo, min(2 * lo, hi // 4))})
    his = sorted({max(lo + 4, hi // 2), max(lo + 4, (3 * hi) // 4), hi})
    return [(a, b) for a in los for b in his if b - a + 1 >= 5 and b <= hi]


def slopes_across_grid(df: pd.DataFrame, x: str, by: Sequence[str]) -> pd.DataFrame:
    """Least-squares slope dα/dx per group ``by`` in every window of the ``window_grid``
    column (:meth:`AlphaTable.table` with ``grid=True``). Returns columns *by, window, slope,
    n_points; a window where fewer than two x values have a finite α is left out."""
    import pandas as pd

    out = []
    for key, g in df.groupby(list(by)):
        key = key if isinstance(key, tuple) else (key,)
        windows = sorted({w for grid in g["window_grid"] if isinstance(grid, Mapping) for w in grid})
        for w in windows:
            xs = np.array([r[x] for _, r in g.iterrows()], dtype=float)
            ys = np.array([(r["window_grid"] or {}).get(w, NAN) for _, r in g.iterrows()], dtype=float)
            ok = np.isfinite(ys)
            if np.unique(xs[ok]).size < 2:
                continue
            out.append(dict(zip(by, key)) | {"window": w, "slope": float(np.polyfit(xs[ok], ys[ok], 1)[0]),
                                             "n_points": int(ok.sum())})
    return pd.DataFrame(out, columns=[*by, "window", "slope", "n_points"])


def comparison_window(data: Sequence[Any], window: tuple[int, int] | None = None,
                      collapsed_fraction: float = 0.25, seed: int = 0,
                      full_spectrum_max: int = 2048) -> tuple[int, int]:
    """One window for every site of a comparison that spans several calls (e.g. one network per
    dropout rate): hi = the smallest upper rank the sites support (capped at ``window``'s hi or
    500), lo = ``window``'s lo, or 11 when hi >= 40, else 2. Sites that support less than
    ``collapsed_fraction`` of the largest supported hi (a code collapsed onto a few directions)
    do not set it; pass the result with ``strict_window=True`` so that they are left out with a
    note instead of being fitted on their few ranks.

    Args:
        data: site data as for :func:`layer_alphas` (arrays, repeats, accumulators, wrappers).
    """
    his = []
    for i, d in enumerate(data):
        ss = site_spectrum(as_site_data(d, f"data[{i}]"), "plain", seed, full_spectrum_max,
                           500 if window is None else int(window[1]))
        his.append(supported_hi(ss))
    if not his:
        raise ValueError("comparison_window needs at least one site.")
    top = max(his)
    kept = [h for h in his if h >= collapsed_fraction * top]
    return resolve_window(min(kept), window, f"the narrowest of {len(kept)} sites")


def _check_args(data: Any, estimator: str, ci_method: str, window: Any, n_boot: Any) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"data must be a mapping site name -> data, got {type(data).__name__}.")  # noqa: TRY004
    if not data:
        raise ValueError("data is empty: pass at least one site.")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}.")
    for w in (window.values() if isinstance(window, Mapping) else [window]):
        _check_window_arg(w)
    if isinstance(window, Mapping) and set(window) != set(data):
        raise ValueError(f"window has entries for {sorted(window)} but the sites are {sorted(data)}.")
    _check_n_boot(n_boot)


def _check_window_arg(window: Any) -> None:
    ck.optional(ck.window, "window", window, fix="For layer_alphas it may be a mapping site -> (lo, hi).")


def _check_n_boot(n_boot: Any) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0, got {n_boot!r}.")


def _depths(sites: list[str], depth: Any) -> dict[str, float]:
    if depth is None:
        return {s: float(i) for i, s in enumerate(sites)}
    if isinstance(depth, Mapping):
        missing = [s for s in sites if s not in depth]
        if missing:
            raise ValueError(f"depth has no entry for site(s) {missing}.")
        return {s: float(depth[s]) for s in sites}
    if len(depth) != len(sites):
        raise ValueError(f"depth has {len(depth)} values for {len(sites)} sites.")
    return dict(zip(sites, map(float, depth)))


def _site_windows(spectra: dict[str, SiteSpectrum], window: Any, common: bool,
                  strict: bool = False) -> dict[str, Any]:
    """One window for all sites (from the narrowest that can be fitted), or one per site; a
    mapping ``window`` gives each site its own (lo, hi), hi capped at what the site supports.
    ``strict``: a site that does not support the whole given window is not fitted (None)."""
    own = {}
    for s, ss in spectra.items():
        w = window[s] if isinstance(window, Mapping) else window
        try:
            own[s] = resolve_window(supported_hi(ss), w)
        except ValueError:
            own[s] = None
        if strict and w is not None and own[s] is not None and own[s][1] < int(w[1]):
            own[s] = None
    if not common or isinstance(window, Mapping):
        return own
    his = [supported_hi(spectra[s]) for s, w in own.items() if w is not None]
    if not his:
        return own
    shared = resolve_window(min(his), window)
    return {s: (shared if w is not None else None) for s, w in own.items()}


def _grid_rows(fit: SiteFit, ss: SiteSpectrum, windows: list[tuple[int, int]], seed: int) -> list[dict]:
    from polycode_lite.science.powerlaw import fit_power_law

    rows = []
    for lo, hi in windows:
        try:
            a = fit_power_law(ss.eigenvalues, ranks=(lo, hi), correct_bias=ss.corrected, n_samples=ss.n,
                              n_features=ss.m, n_boot=0, n_sim=3, seed=seed).alpha
        except ValueError:
            a = NAN
        rows.append({"site": fit.site, "depth": fit.depth, "window_lo": lo, "window_hi": hi,
                     "alpha": a} | dict(fit.extra))
    return rows


def layer_alphas(
    data: Mapping[str, Any],
    *,
    estimator: str = "auto",
    window: tuple[int, int] | Mapping[str, tuple[int, int]] | None = None,
    n_boot: int = 100,
    seed: int = 0,
    ci_method: str = "bootstrap",
    depth: Mapping[str, float] | Sequence[float] | None = None,
    progress: bool = False,
    min_r2: float = 0.5,
    full_spectrum_max: int = 2048,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    common_window: bool = True,
    window_grid: bool = True,
    strict_window: bool = False,
) -> AlphaTable:
    """α per site of one comparison with a 95% CI (see the module docstring).

    Args:
        data: site name → data (see the module docstring).
        estimator: "auto" (corrected when n < 10·m), "corrected" or "plain".
        window: (lo, hi) fit window; None for the default; or a mapping site → (lo, hi) (one
            window per site, e.g. one per layer shared by several models). hi is capped by what
            each site supports.
        n_boot: bootstrap replicates of the CI (0: the fit's own CI).
        seed: seed of the bias simulation, the repeat swaps and the bootstrap (site k uses
            the stream ``[seed, k]``, so one site's numbers do not depend on the others).
        ci_method: "bootstrap" (resample the data's unit) or "fit" (the fit's own CI).
        depth: position of each site (mapping or sequence); default 0, 1, 2, ... in order.
        progress: a progress bar over sites.
        min_r2: log-log fits with r² below this are "no power law" (NaN α).
        full_spectrum_max: accumulators wider than this get the randomized top-k spectrum.
        extra: site → extra columns for its row (e.g. the dropout rate, a layer index).
        common_window: one window for all sites (default); False fits each site in its own.
        window_grid: also fit every site over :func:`grid_windows` (``AlphaTable.window_grid``).
        strict_window: with a given ``window``, a site whose spectrum does not support all of it
            gets NaN α (with a note) instead of a shorter window: every fitted site of the
            comparison then shares the window (e.g. a collapsed network is left out, not fitted
            on its few non-zero ranks).

    Raises:
        ValueError: naming the argument: an empty or non-mapping ``data``, a site with the wrong
        shape or mismatched repeats, an unknown estimator or ci_method, a bad window or depth.
    """
    from tqdm.auto import tqdm

    _check_args(data, estimator, ci_method, window, n_boot)
    ck.seed("seed", seed); ck.probability("min_r2", min_r2)
    ck.integer("full_spectrum_max", full_spectrum_max, minimum=1)
    sites = list(data)
    depths = _depths(sites, depth)
    prepared = {s: as_site_data(data[s], f"data[{s!r}]") for s in sites}
    hi_wanted = 500 if window is None else max(int(w[1]) for w in (
        window.values() if isinstance(window, Mapping) else [window]))
    spectra = {s: site_spectrum(prepared[s], estimator, seed, full_spectrum_max, hi_wanted)
               for s in tqdm(sites, desc="spectra", disable=not progress)}
    windows = _site_windows(spectra, window, common_window, strict_window)
    fits, grid = [], []
    for k, s in enumerate(tqdm(sites, desc="α per site", disable=not progress)):
        f = fit_site(s, spectra[s], depths[s], windows[s], int(n_boot), seed, k, ci_method,
                     min_r2, full_spectrum_max)
        f = dataclasses.replace(f, extra=dict((extra or {}).get(s, {})))
        fits.append(f)
        if window_grid and f.fit is not None and np.isfinite(f.alpha):
            grid += _grid_rows(f, spectra[s], grid_windows(*f.window), seed)
    return AlphaTable(tuple(fits), tuple(grid))


def estimate_alpha(
    data: Any,
    *,
    window: tuple[int, int] | None = None,
    correct_bias: bool = True,
    ci: str = "bootstrap",
    n_boot: int = 200,
    groups: Any = None,
    seed: int = 0,
    repeats_method: str = "cross-covariance",
    min_r2: float = 0.5,
) -> PowerLawFit:
    """α of one code with a CI that resamples its independent units.

    Args:
        data: (n, m) activations (numpy or torch); a (K, n, m) array or a sequence of K >= 2
            (n, m) stochastic repeats of the same n inputs (dropout masks, noisy trials); a
            ``CovarianceAccumulator`` or a list of them (groups to resample).
        window: (lo, hi) fit window; default 11..500 capped at what the data supports.
        correct_bias: remove PCA's finite-sample bias (simulation matching). Repeats spectra
            are fitted plain (``method`` says so).
        ci: "bootstrap" (default: rows, ``groups``, or inputs with their repeats, resampling the
            whole pipeline), "parametric" (spread of simulated Gaussian fits: too narrow off
            Gaussian data) or "none".
        n_boot: bootstrap replicates (>= 10 for "bootstrap").
        groups: length-n ids of correlated rows (e.g. the document of each token); whole groups
            are resampled. Only for (n, m) activations.
        seed: seed of every random step.
        repeats_method: spectrum estimator for repeats
            (:data:`~polycode_lite.science.repeats.REPEATS_METHODS`).
        min_r2: fits with r² below this are "no power law".

    Returns:
        :class:`~polycode_lite.science.powerlaw.PowerLawFit` with ``ci_method`` naming what was
        resampled, ``flags`` and ``note``; α is NaN with a flag when there is no power law.

    Raises:
        ValueError: a bad shape or argument, naming it and the fix; too few ranks for a window.
    """
    from polycode_lite.science.covariance import CovarianceAccumulator

    if ci not in ("bootstrap", "parametric", "none"):
        raise ValueError(f"ci must be 'bootstrap', 'parametric' or 'none', got {ci!r}.")
    from polycode_lite.science.repeats import REPEATS_METHODS

    ck.seed("seed", seed); ck.probability("min_r2", min_r2); ck.choice("repeats_method", repeats_method, REPEATS_METHODS)
    _check_n_boot(n_boot)
    if ci == "bootstrap" and n_boot < 10:
        raise ValueError(f"ci='bootstrap' needs n_boot >= 10, got {n_boot}; or pass ci='none'.")
    if isinstance(data, (Activations, Accumulators, Repeats)):
        site = data
    elif isinstance(data, CovarianceAccumulator) or (
            isinstance(data, (list, tuple)) and data and isinstance(data[0], CovarianceAccumulator)):
        site = data
    elif isinstance(data, (list, tuple)):
        site = Repeats(tuple(data), unit="inputs", method=repeats_method)
    else:
        arr = ck.array("data", data)
        if arr.ndim == 3:
            site = Repeats(tuple(arr), unit="inputs", method=repeats_method)
        elif arr.ndim == 2:
            site = Activations(arr, groups)
        else:
            raise ValueError(f"data must be (n, m) activations or (K, n, m) repeats, got shape "
                             f"{arr.shape}; for a spectrum use fit_power_law.")
    if groups is not None and not isinstance(site, Activations):
        raise ValueError("groups applies to (n, m) activations only; for repeats or accumulators "
                         "pass one accumulator per group.")
    prepared = as_site_data(site, "data")
    _check_window_arg(window)
    ss = site_spectrum(prepared, "corrected" if correct_bias and not isinstance(prepared, Repeats)
                       else "plain", seed, 2048, 500 if window is None else int(window[1]))
    win = resolve_window(supported_hi(ss), window, f"m={ss.m}, n={ss.n}")
    fitted = fit_site("data", ss, 0.0, win, 0 if ci != "bootstrap" else int(n_boot), seed, 0,
                      "bootstrap" if ci == "bootstrap" else "fit", min_r2, 2048)
    base = fitted.fit
    if base is None:
        raise ValueError(fitted.note)
    if not np.isfinite(fitted.alpha):
        flag = "flat" if fitted.note.startswith("flat") else "no power law"
        return dataclasses.replace(base, alpha=NAN, ci=(NAN, NAN), flags=(flag,), note=fitted.note,
                                   ci_method=fitted.ci_method or base.ci_method)
    if ci == "none":
        return dataclasses.replace(base, ci=(NAN, NAN), ci_method="none", flags=fitted.flags,
                                   note=fitted.note)
    return dataclasses.replace(base, alpha=fitted.alpha, ci=fitted.ci, ci_method=fitted.ci_method,
                               flags=fitted.flags, note=fitted.note, boot_alphas=fitted.boot_alphas)
