"""Figures of alpha: across depth with its CI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


__all__ = ['plot_alpha_depth']


def plot_alpha_depth(table: "pd.DataFrame", value: str = "alpha", ax: Any = None,
                     d_reference: Sequence[float] = ()) -> Any:
    """Plot ``value`` ("alpha" with its CI band, or "participation_ratio") against layer, one
    line per site; optional horizontal lines at the smoothness thresholds 1 + 2/d."""
    import matplotlib.pyplot as plt

    from polycode_lite.science.powerlaw import smoothness_threshold

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for site, sub in table.groupby("site"):
        sub = sub.sort_values("layer")
        line = ax.plot(sub["layer"], sub[value], "o-", label=site)[0]
        if value == "alpha":
            ax.fill_between(sub["layer"], sub["ci_low"], sub["ci_high"], color=line.get_color(), alpha=0.2)
    for d in d_reference:
        ax.axhline(smoothness_threshold(d), ls="--", lw=0.8, color="0.4")
        ax.text(ax.get_xlim()[0], smoothness_threshold(d), f" 1+2/d, d={d:g}", va="bottom", fontsize=7)
    ax.set_xlabel("layer (block index)")
    ax.set_ylabel("rank exponent α" if value == "alpha" else "participation ratio (dimensions)")
    ax.set_title(("α" if value == "alpha" else "participation ratio") + " across depth")
    ax.legend(fontsize=8)
    return ax
