"""Figures of the α-against-dropout sweep (notebook 05 §3): α per hidden layer against the training
dropout rate, one panel per measurement, with the fits the trend leaves out drawn apart
(:func:`polycode_lite.plots.alpha.plot_alpha_series`) so that they cannot set the scale.

The plots wing imports no experiment: the reasons a fit is left out come in as a per-row sequence
of strings (""  for a fit the trend uses), e.g. from
:func:`polycode_lite.experiments.alpha_dropout_rules.trend_exclusions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite.plots.alpha import AlphaSeries, plot_alpha_series

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["METHOD_TITLES", "alpha_dropout_caption", "alpha_dropout_series", "plot_alpha_vs_dropout", "plot_mask_noise"]

#: panel titles of the two measurements
METHOD_TITLES = {"eval_pca": "eval mode, PCA (dropout off)",
                 "dropout_repeats": "train mode, cross-covariance of 8 masks"}
#: short names in the list of excluded fits
SHORT = {"eval_pca": "eval", "dropout_repeats": "8-mask"}
REQUIRED = ("method", "depth", "dropout", "alpha", "ci_low", "ci_high")


def _check(df: Any, excluded: Sequence[str] | None) -> list[str]:
    missing = [c for c in REQUIRED if c not in getattr(df, "columns", ())]
    if missing:
        raise ValueError(f"df must be a sweep DataFrame with columns {REQUIRED} (run_alpha_sweep or "
                         f"load_shipped('alpha_full')); missing {missing}.")
    if excluded is None:
        return ["" if np.isfinite(a) else "no fit" for a in df["alpha"].to_numpy(float)]
    reasons = list(excluded)
    if len(reasons) != len(df) or not all(isinstance(r, str) for r in reasons):
        raise ValueError(f"excluded must hold one string per row of df ({len(df)}), '' for a fit the "
                         "trend uses: pass trend_exclusions(df).")
    return reasons


def _kind(reason: str) -> str:
    """"used" (the trend uses it), "apart" (flagged, e.g. curved: a real fit with a CI that the
    trend leaves out) or "unusable" (no fit, or r² below the bar: not a power law)."""
    if not reason:
        return "used"
    return "unusable" if ("no fit" in reason or "r²" in reason) else "apart"


def alpha_dropout_series(df: pd.DataFrame, method: str, excluded: Sequence[str] | None = None
                         ) -> tuple[list[AlphaSeries], list[AlphaSeries], list[str]]:
    """The series of one panel: per hidden layer of ``method`` and per dropout rate, the mean α
    over seeds (CI from the lowest to the highest per-seed bound) of (1) the fits the trend uses
    (a joined line), (2) the flagged fits it leaves out that still have a CI (e.g. "curved": drawn
    unjoined, as squares) and, marked unusable (hollow, no scale), (3) the fits with no α or an r²
    below the bar. Layers are offset by 0.01 in D so that their bars do not overlap. Returns
    (line series, one per layer; flagged series; notes on the flagged points)."""
    reasons = _check(df, excluded)
    d = df.assign(_why=reasons)
    d = d[d["method"] == method]
    if d.empty:
        raise ValueError(f"method {method!r} has no rows; the sweep has {sorted(set(df['method']))}.")
    d = d.assign(_kind=[_kind(r) for r in d["_why"]])
    n_seeds = int(d.groupby(["depth", "dropout"]).size().max())
    lines, flagged, notes = [], [], []
    for k, (layer, g) in enumerate(d.groupby("depth")):
        main: dict[str, list] = {c: [] for c in ("x", "a", "lo", "hi", "ok", "names")}
        apart: dict[str, list] = {c: [] for c in ("x", "a", "lo", "hi")}
        for p, cell in g.groupby("dropout"):
            x = float(p) + 0.01 * (k - 1)
            for kind, part in cell.groupby("_kind"):
                seeds = f"{len(part)} of {len(cell)} seeds, " if n_seeds > 1 else ""
                why = ", ".join(dict.fromkeys(w for r in part["_why"] for w in r.split(", ") if w))
                name = f"{SHORT.get(method, method)} L{int(layer)} D={p:g} ({seeds}{why})"
                a = float(part["alpha"].mean()) if part["alpha"].notna().any() else np.nan
                lo, hi = float(part["ci_low"].min()), float(part["ci_high"].max())
                if kind == "apart":
                    apart["x"].append(x), apart["a"].append(a), apart["lo"].append(lo), apart["hi"].append(hi)
                    notes.append(f"{name}: α = {a:.2f} [{lo:.2f}, {hi:.2f}]")
                    continue
                main["x"].append(x), main["a"].append(a), main["names"].append(name)
                main["lo"].append(lo if kind == "used" else np.nan)
                main["hi"].append(hi if kind == "used" else np.nan)
                main["ok"].append(kind == "used")
        lines.append(AlphaSeries(x=main["x"], alpha=main["a"], ci_low=main["lo"], ci_high=main["hi"],
                                 usable=main["ok"], label=f"hidden layer {int(layer)}", color=f"C{k}",
                                 names=main["names"]))
        if apart["x"]:
            flagged.append(AlphaSeries(x=apart["x"], alpha=apart["a"], ci_low=apart["lo"],
                                       ci_high=apart["hi"], label="_flagged", color=f"C{k}",
                                       linestyle="none"))
    return lines, flagged, notes


def plot_alpha_vs_dropout(df: pd.DataFrame, title: str, excluded: Sequence[str] | None = None,
                          methods: Sequence[str] = ("eval_pca", "dropout_repeats")
                          ) -> tuple[Any, dict[str, list[str]]]:
    """α against the training dropout rate, one panel per method, one line per hidden layer with
    95% CIs. ``excluded``: one string per row of ``df``, "" for a fit the trend uses, else why it
    is left out (:func:`~polycode_lite.experiments.alpha_dropout_rules.trend_exclusions`; default:
    only NaN fits). Flagged fits with a CI ("curved") are drawn unjoined as squares with their CIs;
    fits with no α or r² below the bar are marked unusable (hollow, a triangle at the edge when
    outside the axis) and set no scale, so one failed fit (α ≈ 40) cannot flatten the rest.
    Returns (figure, notes): {"flagged": one note per square, "unusable": one per hollow marker}
    (e.g. "eval L3 D=0.4 (2 of 2 seeds, curved): α = 1.80 [1.72, 1.88]"), for the caption."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    reasons = _check(df, excluded)
    if not title.strip():
        raise ValueError("title must say which sweep this is, e.g. 'shipped full sweep'.")
    fig, axes = plt.subplots(1, len(methods), figsize=(5.6 * len(methods), 4.4), squeeze=False)
    notes: dict[str, list[str]] = {"flagged": [], "unusable": []}
    for ax, method in zip(axes[0], methods):
        lines, flagged, apart_notes = alpha_dropout_series(df, method, reasons)
        n_before = len(ax.containers)
        notes["unusable"] += plot_alpha_series(ax, [*lines, *flagged])
        notes["flagged"] += apart_notes
        for c in ax.containers[n_before + len(lines):]:  # the flagged series: squares, unjoined
            c.lines[0].set_marker("s")
            c.lines[0].set_markerfacecolor("white")
            c.lines[0].set_markersize(5.5)
        ax.set_xlabel("training dropout rate D")
        ax.set_ylabel("α (dimensionless; λ_n ∝ n^−α)")
        ax.set_title(METHOD_TITLES.get(method, method), fontsize=10)
        ax.grid(alpha=0.3)
    handles, _ = axes[0][0].get_legend_handles_labels()
    handles += [Line2D([], [], marker="s", mfc="white", mec="0.3", ls="none",
                       label="flagged (curved): left out of the trend"),
                Line2D([], [], marker="o", mfc="none", mec="0.3", ls="none", ms=7,
                       label="no fit or r² < 0.9: sets no scale")]
    fig.suptitle(title)
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig, notes


def alpha_dropout_caption(what: str, notes: dict[str, list[str]]) -> str:
    """The caption of :func:`plot_alpha_vs_dropout`: ``what`` (what the figure shows and what to
    look at), then the fits left out of the trend, listed from its notes (or that none was)."""
    if not what.strip():
        raise ValueError("what must say what the figure shows.")
    flagged, unusable = list(notes.get("flagged", [])), list(notes.get("unusable", []))
    text = what.rstrip(". ") + "."
    if not flagged and not unusable:
        return text + " Every fit is used by the trend (joined lines)."
    text += " Joined points are the fits the trend uses."
    if flagged:
        text += (f" Squares, {len(flagged)} flagged fit(s) the trend leaves out (curved: no single α): "
                 + "; ".join(flagged) + ".")
    if unusable:
        text += (f" Hollow markers, {len(unusable)} fit(s) with no α or r² < 0.9, which set no scale: "
                 + "; ".join(unusable) + ".")
    return text


def plot_mask_noise(df: pd.DataFrame, methods: Sequence[str], axes: Any = None) -> Any:
    """α against the dropout rate, one panel per hidden layer, one line per measurement in
    ``methods`` (rows of ``df``: depth, dropout, method, alpha; from
    :class:`~polycode_lite.experiments.mask_noise.MaskNoiseResult`): eval PCA (dashed black),
    one train-mode pass, the cross-covariance of K masks. NaN α (no fit) is left out. Returns the
    figure."""
    import matplotlib.pyplot as plt

    missing = [c for c in ("depth", "dropout", "method", "alpha") if c not in getattr(df, "columns", ())]
    if missing:
        raise ValueError(f"df needs the columns depth, dropout, method, alpha (MaskNoiseResult.frame()); "
                         f"missing {missing}.")
    layers = sorted(set(df["depth"]))
    if axes is None:
        _, axes = plt.subplots(1, len(layers), figsize=(4.2 * len(layers), 3.9), sharey=True, squeeze=False)
        axes = axes[0]
    styles = {"eval PCA": dict(color="k", ls="--", marker="o"),
              "one train-mode pass": dict(color="C3", ls=":", marker="v")}
    for ax, layer in zip(axes, layers):
        for k, method in enumerate(methods):
            d = df[(df["depth"] == layer) & (df["method"] == method)].sort_values("dropout")
            st = styles.get(method, dict(color=f"C{k - 2}", ls="-", marker="s"))
            ax.plot(d["dropout"], d["alpha"], label=method, ms=5, **st)
        ax.set_xlabel("dropout rate of the masks D")
        ax.set_title(f"hidden layer {int(layer)}", fontsize=10)
        ax.set_ylabel("α (dimensionless; λ_n ∝ n^−α)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig = axes[0].figure
    fig.suptitle("Untrained net: what the train-mode measurement does with mask noise")
    fig.tight_layout()
    return fig
