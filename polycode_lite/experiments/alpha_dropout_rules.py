"""Trend, table and verdict of the α-against-dropout sweep (:mod:`polycode_lite.experiments.alpha_vs_dropout`),
with its controls: the D = 0 nets (the no-dropout control, inside the sweep) and the untrained
nets (random init, same architecture, measured in the same window: :func:`~polycode_lite.experiments.alpha_vs_dropout.run_untrained_control`).

The untrained control matters for the train-mode measurement: an untrained net measured through
masks of rate D has no learned code at all, so any slope of its α against D is what the
measurement itself does with dropout noise; :func:`alpha_dropout_verdict` counts a trained layer
as rising (falling) only if its slope's CI lies above (below) the untrained control's slope.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["alpha_dropout_verdict", "alpha_dropout_why", "alpha_table", "alpha_trend", "control_string",
           "trend_exclusions"]


def trend_exclusions(df: Any, min_r2: float = 0.9) -> Any:
    """Why :func:`alpha_trend` leaves each row of ``df`` out: a pandas Series of strings aligned
    with ``df``'s index, "" for a fit the trend uses, else the reasons joined by ", ": "no fit"
    (α is NaN), "r² 0.89" (log-log r² below ``min_r2``: not a power law), "curved" (flagged: no
    single α). Figures use it to draw the excluded fits apart (:func:`polycode_lite.plots.dropout.plot_alpha_vs_dropout`)."""
    import pandas as pd

    out = []
    for _, r in df.iterrows():
        a = r.get("alpha", np.nan)
        if not np.isfinite(a):
            out.append("no fit")
            continue
        why = []
        r2 = r.get("r2", np.nan)
        if r2 is not None and np.isfinite(r2) and r2 < min_r2:
            why.append(f"r² {r2:.2f}")
        flags = r.get("flags", "")
        if isinstance(flags, str) and "curved" in flags:
            why.append("curved")
        out.append(", ".join(why))
    return pd.Series(out, index=df.index, dtype=object)


def alpha_trend(df: Any, n_boot: int = 2000, seed: int = 0, min_r2: float = 0.9) -> Any:
    """Least-squares slope dα/dD of alpha against the dropout rate, per (method, depth), with a
    95% CI from a parametric bootstrap: each measurement is redrawn from a normal with the s.d.
    implied by its own CI (width / 3.92), and, when several seeds exist, the seeds at each rate
    are resampled too. Also Spearman's ρ of alpha with D. Fits whose log-log r² is below
    ``min_r2`` (not a power law: e.g. a layer collapsed to a few directions) or flagged "curved"
    (no single α) are left out and counted in ``n_excluded``. Returns a DataFrame: method, depth (hidden layer), slope, ci_low,
    ci_high, spearman, rises (CI above 0), falls (CI below 0), n_points, n_excluded."""
    import pandas as pd
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    out = []
    reasons = trend_exclusions(df, min_r2)
    for (method, layer), d_all in df.groupby(["method", "depth"]):
        d = d_all[reasons.loc[d_all.index] == ""]
        n_excluded = len(d_all) - len(d)
        D = d["dropout"].to_numpy(float)
        a = d["alpha"].to_numpy(float)
        sd = np.nan_to_num((d["ci_high"] - d["ci_low"]).to_numpy(float) / 3.92)
        if np.unique(D).size < 2:
            continue
        slope = float(np.polyfit(D, a, 1)[0])
        levels = [np.flatnonzero(D == v) for v in np.unique(D)]
        boots = np.empty(n_boot)
        for b in range(n_boot):
            idx = np.concatenate([rng.choice(ix, ix.size) for ix in levels])
            boots[b] = np.polyfit(D[idx], a[idx] + sd[idx] * rng.standard_normal(idx.size), 1)[0]
        lo, hi = float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))
        rho = float(spearmanr(D, a).statistic) if np.unique(a).size > 1 else float("nan")
        out.append({'method': method, 'depth': int(layer), 'slope': slope, 'ci_low': lo, 'ci_high': hi,
                        'spearman': rho, 'rises': lo > 0, 'falls': hi < 0, 'n_points': len(d),
                        'n_excluded': n_excluded})
    return pd.DataFrame(out)


def alpha_table(df: Any, min_r2: float = 0.9) -> Any:
    """Layer × dropout table of "α [lo, hi]" strings (mean over seeds; CI from the lowest to
    the highest per-seed CI bound, so it covers seed-to-seed spread), one block per method.
    A "*" marks cells where some fit has log-log r² < ``min_r2`` (not a power law); "n/a" where
    no fit was possible (e.g. a cvPCA spectrum with too few positive values). Returns a pandas
    DataFrame indexed by (method, depth), columns = dropout rates."""
    import pandas as pd

    rows = {}
    for (method, layer, p), d in df.groupby(["method", "depth", "dropout"]):
        if d["alpha"].isna().all():
            cell = "n/a"
        else:
            d = d.dropna(subset=["alpha"])
            cell = f"{d['alpha'].mean():.2f} [{d['ci_low'].min():.2f}, {d['ci_high'].max():.2f}]"
            if "r2" in d and (d["r2"] < min_r2).any():
                cell += " *"
        rows.setdefault((method, int(layer)), {})[f"D={p:g}"] = cell
    tab = pd.DataFrame.from_dict(rows, orient="index")
    tab.index = pd.MultiIndex.from_tuples(tab.index, names=["method", "depth"])
    return tab


def alpha_dropout_verdict(trend: Any, df: Any = None, control_trend: Any = None) -> dict[str, Any]:
    """The verdict on "α rises with the dropout rate" from :func:`alpha_trend`.

    A layer rises (falls) when its slope's CI is above (below) 0 and, given the sweep ``df``
    with its ``window_grid`` column, the slope has the same sign in every window of the grid
    (a trend that one window makes and another undoes is not counted). Given ``control_trend``
    (:func:`alpha_trend` of the untrained control), the CI must also lie above (below) the
    control's slope for the same method and layer: a trend the untrained net shows too is the
    measurement's, not the training's. "holds" when every layer rises by every method, "partly"
    when some layer does, else "does not hold at this scale". Returns verdict and its evidence:
    per method the layers rising / falling / fitted, those the grid overturned and those the
    control explains, the slopes as strings, the control's slopes, and the grid's slopes."""
    from polycode_lite.experiments.alpha import slopes_across_grid

    grid = None
    if df is not None and "window_grid" in df:
        grid = slopes_across_grid(df.dropna(subset=["alpha"]), "dropout", ["method", "depth"])
    ctrl: dict[tuple[str, int], float] = {}
    if control_trend is not None and len(control_trend):
        ctrl = {(r.method, int(r.depth)): float(r.slope) for r in control_trend.itertuples()}
    ev: dict[str, Any] = {}
    for method in (dict.fromkeys(trend.method) if len(trend) else ()):
        t = trend[trend.method == method]
        rises = falls = overturned = explained = 0
        for r in t.itertuples():
            g = None if grid is None else grid[(grid.method == method) & (grid.depth == r.depth)]
            same_up = g is None or g.empty or bool((g.slope > 0).all())
            same_down = g is None or g.empty or bool((g.slope < 0).all())
            c = ctrl.get((method, int(r.depth)), 0.0)
            up, down = bool(r.rises and same_up), bool(r.falls and same_down)
            rises += bool(up and r.ci_low > c)
            falls += bool(down and r.ci_high < c)
            explained += bool((up and r.ci_low <= c) or (down and r.ci_high >= c))
            overturned += bool((r.rises and not same_up) or (r.falls and not same_down))
        ev[method] = {'rises': rises, 'falls': falls, 'layers': len(t), 'overturned_by_grid': overturned,
                      'explained_by_control': explained}
    all_rise = bool(ev) and all(e["layers"] and e["rises"] == e["layers"] for e in ev.values())
    verdict = ("holds" if all_rise else
               "partly" if any(e["rises"] for e in ev.values()) else "does not hold at this scale")
    slopes = {f"{r.method} L{r.depth}": f"{r.slope:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
              for r in trend.itertuples()}
    control_slopes = {f"{m} L{d}": round(v, 2) for (m, d), v in ctrl.items()}
    why = alpha_dropout_why(verdict, trend, ev, ctrl)
    return dict(verdict=verdict, why=why, slopes=slopes, control_slopes=control_slopes, grid=grid, **ev)


#: how the two measurements are named in a why sentence: (where, short name)
METHOD_WORDS = {"eval_pca": ("in eval mode (PCA)", "eval-mode"),
                "dropout_repeats": ("through 8 dropout masks (cross-covariance)", "8-mask")}


def _count(n: int, what: str) -> str:
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
    return f"{words.get(n, n)} {what}" + ("" if n == 1 else "s")


def alpha_dropout_why(verdict: str, trend: Any, evidence: dict[str, Any],
                      control: dict[tuple[str, int], float] | None = None) -> str:
    """One or two sentences, from the numbers, on why :func:`alpha_dropout_verdict` came out as
    ``verdict`` (any outcome): per method the slopes dα/dD and how many layers rise or fall, the
    trends a window of the grid reverses, and those the untrained control matches (with its
    slopes). ``evidence``: the per-method dicts of the verdict; ``control``: the control's slope
    per (method, layer)."""
    control = control or {}
    if trend is None or not len(trend):
        return ("No layer had fits at two or more dropout rates that pass the trend's bar (r² ≥ 0.9, "
                "not curved), so no slope dα/dD could be measured.")
    parts, notes = [], []
    for method in sorted(dict.fromkeys(trend.method), key=lambda m: m != "eval_pca"):
        t = trend[trend.method == method].sort_values("depth")
        e = evidence.get(method, {})
        where, short = METHOD_WORDS.get(method, (method, method))
        sl = ", ".join(f"L{int(r.depth)} {r.slope:+.2f}" for r in t.itertuples())
        parts.append(f"{where} dα/dD is {sl} ({e.get('rises', 0)} of {len(t)} layers rise, "
                     f"{e.get('falls', 0)} fall)")
        if e.get("overturned_by_grid"):
            notes.append(f"{_count(e['overturned_by_grid'], short + ' trend')} {'is' if e['overturned_by_grid'] == 1 else 'are'} "
                         "reversed by another window of the grid")
        if e.get("explained_by_control"):
            cs = ", ".join(f"L{d} {v:+.2f}" for (m, d), v in sorted(control.items()) if m == method)
            notes.append(f"{_count(e['explained_by_control'], short + ' trend')} {'is' if e['explained_by_control'] == 1 else 'are'} as steep in the untrained "
                         f"control (slopes {cs}), which has no learned code, so that part is the measurement's")
    head = {"holds": "Every layer's α rises by both measures, beyond its CI, in every window and beyond "
                     "the untrained control",
            "partly": "Only some layers' α rises beyond its CI, in every window and beyond the untrained "
                      "control"}.get(verdict, "No layer's α rises beyond its CI, in every window and beyond "
                                              "the untrained control")
    text = f"{head}: " + "; ".join(parts) + "."
    if notes:
        joined = "; ".join(notes)
        text += " " + joined[0].upper() + joined[1:] + "."
    return text


def control_string(trained: Any, untrained: Any, control_trend: Any = None) -> str:
    """The ``control=`` text of the α claim, from this run's numbers: the D = 0 nets (trained
    without dropout: the no-dropout control) and the untrained nets (random init, same
    architecture, same window), α per method and layer (mean over seeds and, for the untrained,
    over the rates measured), plus the untrained slopes dα/dD when given."""
    def per_layer(d: Any) -> str:
        g = d.dropna(subset=["alpha"]).groupby(["method", "depth"])["alpha"]
        return ", ".join(f"{m} L{int(k)} {lo:.2f}" + (f"–{hi:.2f}" if hi - lo >= 0.005 else "")
                         for (m, k), lo, hi in zip(g.min().index, g.min(), g.max()))

    d0 = trained[trained["dropout"] == 0.0]
    out = f"trained without dropout (the D = 0 nets): α {per_layer(d0)}; untrained (random init, same window): α {per_layer(untrained)}"
    if control_trend is not None and len(control_trend):
        out += "; untrained dα/dD " + ", ".join(f"{r.method} L{int(r.depth)} {r.slope:+.2f}"
                                                for r in control_trend.itertuples())
    return out
