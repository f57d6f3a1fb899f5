"""Figures of alpha: across depth with its CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


__all__ = ['plot_alpha_depth']


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
