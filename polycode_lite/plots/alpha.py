"""Figures of alpha: across depth with its CI; any α series with failed or flagged fits drawn apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


__all__ = ['plot_alpha_depth', 'AlphaSeries', 'plot_alpha_series', 'fit_label']


def plot_alpha_depth(table: pd.DataFrame, value: str = "alpha", ax: Any = None,
                     d_reference: Sequence[float] = (), group: str | None = None,
                     x: str = "depth") -> Any:
    """Plot ``value`` ("alpha" with 95% CI bars, or e.g. "participation_ratio") against ``x``
    (default the ``depth`` column of an :class:`~polycode_lite.experiments.alpha.AlphaTable`
    table), one line per value of the column ``group`` (one line if None); optional horizontal
    lines at the smoothness thresholds 1 + 2/d. NaN α (failed fits) are left out."""
    import matplotlib.pyplot as plt

    from polycode_lite.science.powerlaw import smoothness_threshold

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    parts = [(None, table)] if group is None else list(table.groupby(group))
    for name, sub in parts:
        sub = sub.sort_values(x)
        if value == "alpha":
            # a bootstrap CI need not contain the point estimate: clip the bars at 0
            yerr = np.clip([sub["alpha"] - sub["ci_low"], sub["ci_high"] - sub["alpha"]], 0, None)
            ax.errorbar(sub[x], sub["alpha"], yerr=np.nan_to_num(yerr), fmt="o-", capsize=3,
                        label=name if name is not None else "α")
        else:
            ax.plot(sub[x], sub[value], "o-", label=name if name is not None else value)
    for d in d_reference:
        ax.axhline(smoothness_threshold(d), ls="--", lw=0.8, color="0.4")
        ax.text(ax.get_xlim()[0], smoothness_threshold(d), f" 1+2/d, d={d:g}", va="bottom", fontsize=7)
    ax.set_xlabel("layer (block index)" if x in ("depth", "layer") else x)
    ax.set_ylabel("rank exponent α" if value == "alpha" else value.replace("_", " "))
    ax.set_title(("α" if value == "alpha" else value.replace("_", " ")) + " across depth")
    ax.legend(fontsize=8)
    return ax


@dataclass
class AlphaSeries:
    """One line of α estimates: ``x`` positions, ``alpha`` with its CI (``ci_low``, ``ci_high``),
    all shape (n,), and ``usable`` (n,) bool: False for a failed or flagged fit (NaN, r² below
    the pipeline's bar, a dead or curved spectrum), which is drawn apart and sets no scale."""

    x: Sequence[float]
    alpha: Sequence[float]
    ci_low: Sequence[float]
    ci_high: Sequence[float]
    usable: Sequence[bool] | None = None
    label: str = "α"
    color: Any = None
    linestyle: str = "-"
    names: Sequence[str] | None = None  # per point, for the excluded list (e.g. "fc5, p = 0.8")


def plot_alpha_series(ax: Any, series: Sequence[AlphaSeries], references: Sequence[float] = (),
                      pad: float = 0.12) -> list[str]:
    """Draw each series' usable fits as a line with 95% CI bars; scale the y axis to the usable
    fits' CIs and the ``references`` (horizontal lines, e.g. 1 + 2/d) only, so one failed fit
    (α ≈ 40) cannot flatten the rest. Unusable fits are hollow markers off the line; one outside
    the axis sits at its edge as a triangle. Returns one line per unusable fit, e.g.
    "fc5, p = 0.8: α = 27.1, drawn at the top edge", for the caption or a printed list."""
    bounds: list[float] = list(references)
    prepared = []
    for s in series:
        a, lo, hi = (np.asarray(v, dtype=float) for v in (s.alpha, s.ci_low, s.ci_high))
        x = np.asarray(s.x, dtype=float)
        if not (len(x) == len(a) == len(lo) == len(hi)):
            raise ValueError(f"series {s.label!r}: x, alpha, ci_low and ci_high need one value per point, "
                             f"got lengths {len(x)}, {len(a)}, {len(lo)}, {len(hi)}.")
        ok = np.isfinite(a) & (np.ones(len(a), bool) if s.usable is None else np.asarray(s.usable, bool))
        prepared.append((s, x, a, lo, hi, ok))
        bounds += [v for v in np.concatenate([a[ok], lo[ok], hi[ok]]) if np.isfinite(v)]
    if bounds:
        y0, y1 = min(bounds), max(bounds)
        span = max(y1 - y0, 0.2)
        ax.set_ylim(y0 - pad * span, y1 + pad * span)
    y_lo, y_hi = ax.get_ylim()
    notes = []
    for s, x, a, lo, hi, ok in prepared:
        # a bootstrap CI need not contain the point estimate: clip the bars at 0
        yerr = np.nan_to_num(np.clip([a[ok] - lo[ok], hi[ok] - a[ok]], 0, None))
        line = ax.errorbar(x[ok], a[ok], yerr=yerr, marker="o", ms=4, capsize=2, color=s.color,
                           ls=s.linestyle, label=s.label)
        color = line[0].get_color()
        for i in np.flatnonzero(~ok):
            name = s.names[i] if s.names is not None else f"{s.label} at x = {x[i]:g}"
            if not np.isfinite(a[i]):
                notes.append(f"{name}: no fit")
                continue
            where = "top" if a[i] > y_hi else "bottom" if a[i] < y_lo else None
            y = y_hi if where == "top" else y_lo if where == "bottom" else a[i]
            ax.plot([x[i]], [y], marker={"top": "^", "bottom": "v"}.get(where, "o"), ms=7, mfc="none",
                    mec=color, ls="none", clip_on=False)
            notes.append(f"{name}: α = {a[i]:.2f}, flagged" + (f", drawn at the {where} edge" if where else ""))
    for r in references:
        ax.axhline(r, ls=":", lw=1, color="0.5")
    return notes


def fit_label(name: str, fit: Any) -> str:
    """A legend entry for one α fit (a :class:`~polycode_lite.science.powerlaw.PowerLawFit` from
    ``estimate_alpha``): "PCA: α = 1.02 [0.98, 1.05]", with "flagged: curved" when the pipeline
    flags it, or "no α (flat)" when it found no power law. One CI per α, never two."""
    flags = tuple(getattr(fit, "flags", ()) or ())
    alpha = float(fit.alpha)
    if not np.isfinite(alpha):
        return f"{name}: no α ({', '.join(flags) or 'no fit'})"
    lo, hi = (float(v) for v in fit.ci)
    ci = f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) and np.isfinite(hi) else " (no CI)"
    return f"{name}: α = {alpha:.2f}{ci}" + (f", flagged: {', '.join(flags)}" if flags else "")
