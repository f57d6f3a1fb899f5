"""Figures of notebook 07 (language models): α across depth with failed or flagged fits drawn apart.

* :func:`plot_depth_profile`  α per layer with 95% CIs (left; one line per series, e.g. the
  trained MLP and residual stream and the untrained MLP) through
  :func:`polycode_lite.plots.alpha.plot_alpha_series`, so a fit the α pipeline flags (curved,
  few replicates) or could not make is drawn hollow and sets no scale; the participation ratio
  (Σλ)²/Σλ² on a log axis (right).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite.plots.alpha import AlphaSeries, plot_alpha_series

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["plot_depth_profile", "usable_fit"]

_NEEDED = ("layer", "alpha", "ci_low", "ci_high", "participation_ratio")


def usable_fit(table: pd.DataFrame) -> np.ndarray:
    """(n,) bool: a finite α with a finite CI and no flag of the α pipeline (``flags`` empty)."""
    finite = np.isfinite(table[["alpha", "ci_low", "ci_high"]].to_numpy(float)).all(1)
    if "flags" not in table:
        return finite
    return finite & (table["flags"].fillna("").astype(str) == "").to_numpy()


def _faint_cis(ax: Any, series: Sequence[AlphaSeries]) -> None:
    """Faint CI bars on the flagged fits that plot_alpha_series drew hollow, within the axis it
    scaled by the usable fits (the limits are fixed by then, so these bars set no scale)."""
    y_lo, y_hi = ax.get_ylim()
    for s in series:
        a, lo, hi = (np.asarray(v, float) for v in (s.alpha, s.ci_low, s.ci_high))
        bad = ~np.asarray(s.usable, bool) & np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi) & (a >= y_lo) & (a <= y_hi)
        if bad.any():
            yerr = np.clip([a[bad] - lo[bad], hi[bad] - a[bad]], 0, None)
            ax.errorbar(np.asarray(s.x, float)[bad], a[bad], yerr=yerr, fmt="none", ecolor=s.color, alpha=0.35,
                        capsize=2)
    ax.set_ylim(y_lo, y_hi)


def plot_depth_profile(table: pd.DataFrame, group: str = "series", d_reference: Sequence[float] = (4, 20),
                       title: str = "") -> tuple[Any, list[str]]:
    """α (left) and participation ratio (right, log axis) against the layer, one line per value
    of ``group``, from ``LayerSpectra.table()`` (columns layer, alpha, ci_low, ci_high,
    participation_ratio, flags, note and ``group``). Horizontal lines mark the smoothness
    thresholds 1 + 2/d for ``d_reference``. Returns (fig, notes): one note per fit drawn apart,
    e.g. "mlp.post, untrained, layer 3 (curved): α = 0.61, flagged"."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from polycode_lite.science.powerlaw import smoothness_threshold

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a DataFrame (LayerSpectra.table()), got {type(table).__name__}.")
    missing = [c for c in (*_NEEDED, group) if c not in table]
    if missing:
        raise ValueError(f"table lacks the columns {missing}; pass spectra.table() with a {group!r} column "
                         "(e.g. kind plus ', untrained' for the control).")
    refs = [smoothness_threshold(d) for d in d_reference]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    series = []
    for i, (name, sub) in enumerate(table.groupby(group, sort=False)):
        sub = sub.sort_values("layer")
        ok = usable_fit(sub)
        why = sub["flags"].fillna("").astype(str) if "flags" in sub else pd.Series("", index=sub.index)
        names = [f"{name}, layer {int(l)}" + (f" ({w})" if w else "") for l, w in zip(sub["layer"], why)]
        style = dict(color=f"C{i}", linestyle="--" if "untrained" in str(name) else "-")
        series.append(AlphaSeries(x=sub["layer"].to_numpy(float), alpha=sub["alpha"].to_numpy(float),
                                  ci_low=sub["ci_low"].to_numpy(float), ci_high=sub["ci_high"].to_numpy(float),
                                  usable=ok, label=str(name), names=names, **style))
        axes[1].plot(sub["layer"], sub["participation_ratio"], marker="o", label=str(name), **style)
    notes = plot_alpha_series(axes[0], series, references=refs)
    _faint_cis(axes[0], series)
    for d, r in zip(d_reference, refs):
        axes[0].text(axes[0].get_xlim()[0], r, f" 1 + 2/d, d = {d:g}", va="bottom", fontsize=7, color="0.35")
    axes[0].set_xlabel("layer (block index)")
    axes[0].set_ylabel("rank exponent α (λₙ ∝ n^−α)")
    axes[0].set_title("α across depth (95% CI; hollow: flagged fit, faint bar its CI)", fontsize=10)
    axes[0].legend(fontsize=7)
    axes[1].set_yscale("log")
    axes[1].yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes[1].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes[1].yaxis.set_minor_formatter(NullFormatter())
    axes[1].set_xlabel("layer (block index)")
    axes[1].set_ylabel("participation ratio (Σλ)²/Σλ² (dimensions, log)")
    axes[1].set_title("participation ratio across depth")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(sorted(set(table["layer"].astype(int))))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, notes
