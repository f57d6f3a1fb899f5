"""Figures of notebook 06 (ResNet autoencoders across dropout rates), with failed fits drawn apart.

Every α figure goes through :func:`polycode_lite.plots.alpha.plot_alpha_series`: a fit that
:func:`fit_problems` rejects (no fit, a flag of the α pipeline, a dead layer) is drawn hollow off
the lines and sets no scale, so one α ≈ 27 from a dead spectrum cannot hide the 2–5 range and the
CIs of the rest. Each helper returns ``(fig, notes)``: ``notes`` lists the excluded fits, one line
each, for the caption (:func:`excluded_sentence`).

* :func:`fit_problems`        why each row of an ``alpha_table`` is not usable ("" when it is).
* :func:`plot_alpha_vs_depth`  α per layer, one line per dropout rate, with the untrained control.
* :func:`plot_alpha_vs_dropout` α per dropout rate, one line per layer.
* :func:`plot_alpha_vs_energy` α against the dot loop's path energy and RSA (flagged fits hollow,
  left out of the α axis' scale).
* :func:`plot_dot_loops`       the dot loop through 3 random directions, on one common scale.
* :func:`usable_summary`       the usable fits' range and CI width, for a caption built from the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite.plots.alpha import AlphaSeries, plot_alpha_series

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DEAD_VARIANCE", "excluded_sentence", "fit_problems", "plot_alpha_vs_depth",
           "plot_alpha_vs_dropout", "plot_alpha_vs_energy", "plot_dot_loops", "short_layer",
           "usable_summary"]

#: a layer is dead when its total eval-mode variance is below this fraction of the same layer's
#: in the lowest-dropout model (the spectrum widget of notebook 06 uses the same rule)
DEAD_VARIANCE = 1e-6
_NEEDED = ("dropout", "mode", "site", "alpha", "ci_low", "ci_high")


def short_layer(name: str) -> str:
    """"encoder.layer2" -> "layer2"; other names unchanged."""
    return str(name).replace("encoder.", "")


def _check_table(alphas: Any, what: str = "alphas") -> None:
    import pandas as pd

    if not isinstance(alphas, pd.DataFrame):
        raise TypeError(f"{what} must be the DataFrame of autoencoder.alpha_table, got {type(alphas).__name__}.")
    missing = [c for c in _NEEDED if c not in alphas]
    if missing:
        raise ValueError(f"{what} lacks the columns {missing}: pass autoencoder.alpha_table(...) as it returns.")


def fit_problems(alphas: pd.DataFrame, dead_variance: float = DEAD_VARIANCE) -> pd.Series:
    """Why each α of an :func:`~polycode_lite.experiments.autoencoder.alpha_table` is not usable
    in a figure, "" when it is: "dead layer" (the positive variance of its spectrum, or of the
    same model's eval-mode spectrum at that layer, is below ``dead_variance`` of the lowest-dropout
    model's in the same mode; needs the ``eigenvalues`` column), "no fit" (NaN α or CI, with the
    pipeline's note), or "flagged: …" (the pipeline's ``flags``, e.g. curved). Returns a Series
    of strings aligned with ``alphas``' index."""
    import pandas as pd

    _check_table(alphas)
    if not 0 <= dead_variance < 1:
        raise ValueError(f"dead_variance must be a fraction in [0, 1), got {dead_variance!r}.")
    variance: dict[tuple[str, float, str], float] = {}
    if "eigenvalues" in alphas:
        for m, p, site, lam in zip(alphas["mode"], alphas["dropout"], alphas["site"], alphas["eigenvalues"]):
            variance[(m, float(p), site)] = float(np.sum(np.clip(np.asarray(lam, float), 0, None)))
    p0 = float(alphas["dropout"].min())

    def ratio(mode: str, p: float, site: str) -> float:
        ref, var = variance.get((mode, p0, site)), variance.get((mode, p, site))
        return var / ref if ref and var is not None else float("nan")

    out = []
    for _, r in alphas.iterrows():
        flags = str(r.get("flags", "") or "")
        note = str(r.get("note", "") or "")
        dead = [(m, q) for m, q in ((r["mode"], ratio(r["mode"], float(r["dropout"]), r["site"])),
                                    ("eval", ratio("eval", float(r["dropout"]), r["site"]))) if q < dead_variance]
        if dead:
            m, q = dead[0]
            out.append(f"dead layer ({m}-mode variance {q:.0e} of the p = {p0:g} model's)")
        elif not (np.isfinite(r["alpha"]) and np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"])):
            out.append("no fit" + (f": {note}" if note else ""))
        elif flags:
            out.append(f"flagged: {flags}")
        else:
            out.append("")
    return pd.Series(out, index=alphas.index, dtype=object)


def excluded_sentence(notes: Sequence[str], limit: int = 8) -> str:
    """One sentence listing the fits left out of the scale (the ``notes`` of a plot helper)."""
    notes = list(dict.fromkeys(notes))
    if not notes:
        return "Every fit is usable: none is drawn apart."
    shown = "; ".join(notes[:limit]) + (f"; and {len(notes) - limit} more" if len(notes) > limit else "")
    return (f"Drawn hollow, off the lines and setting no scale ({len(notes)} fit"
            f"{'s' if len(notes) != 1 else ''} the pipeline could not use): {shown}.")


def _series(sub: pd.DataFrame, problems: pd.Series, x: np.ndarray, label: str, names: Sequence[str],
            color: Any, linestyle: str = "-") -> tuple[AlphaSeries, str]:
    """One AlphaSeries drawn without a connecting line (``_draw`` adds lines that stop at
    unusable fits), and the line style it is to get."""
    return AlphaSeries(x=x, color=color, linestyle="none", alpha=sub["alpha"].to_numpy(float), ci_low=sub["ci_low"].to_numpy(float),
                       ci_high=sub["ci_high"].to_numpy(float), usable=(problems.loc[sub.index] == "").to_numpy(),
                       label=label, names=[f"{n} ({problems.loc[i]})" if problems.loc[i] else n
                                           for n, i in zip(names, sub.index)]), linestyle


def _modes(alphas: pd.DataFrame, modes: Sequence[str]) -> list[str]:
    modes = list(modes)
    missing = [m for m in modes if m not in set(alphas["mode"])]
    if not modes or missing:
        raise ValueError(f"modes {missing or modes} are not in the table's modes {sorted(set(alphas['mode']))}.")
    return modes


def plot_alpha_vs_depth(alphas: pd.DataFrame, control: pd.DataFrame | None, layers: Sequence[str],
                        modes: Sequence[str] = ("eval", "repeats"), threshold: float | None = None,
                        n_encoder: int | None = None) -> tuple[Any, list[str]]:
    """α per layer (x) for each dropout rate (one line each, 95% CI bars), one panel per mode,
    with the untrained ``control`` at its lowest rate as a dashed black line and ``threshold``
    (e.g. 1 + 2/d) as a dotted line. ``n_encoder`` draws a grey line after that many layers
    (encoder stages | FC layers). Each panel is scaled by its usable fits only."""
    import matplotlib.pyplot as plt

    _check_table(alphas)
    if control is not None:
        _check_table(control, "control")
    modes, layers = _modes(alphas, modes), list(layers)
    problems = fit_problems(alphas)
    rates = sorted(set(alphas["dropout"]))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(rates)))
    fig, axes = plt.subplots(1, len(modes), figsize=(5.6 * len(modes), 4.4), squeeze=False)
    notes: list[str] = []
    ticks = [short_layer(l) for l in layers]
    for ax, mode in zip(axes[0], modes):
        series = []
        for c, p in zip(colors, rates):
            sub = _indexed(alphas, mode, p, layers)
            x = np.arange(len(layers)) + (p - np.mean(rates)) * 0.15
            series.append(_series(sub, problems, x, f"p = {p:.1f}", [f"{t}, p = {p:g}, {mode}" for t in ticks],
                                  color=c))
        if control is not None and mode in set(control["mode"]):
            p_c = float(control["dropout"].min())
            sub = _indexed(control, mode, p_c, layers)
            series.append(_series(sub, fit_problems(control), np.arange(len(layers), dtype=float),
                                  f"untrained, p = {p_c:g} (control)",
                                  [f"untrained {t}, {mode}" for t in ticks], color="k", linestyle="--"))
        notes += _draw(ax, series, references=[threshold] if threshold is not None else [])
        if n_encoder:
            ax.axvline(n_encoder - 0.5, color="0.8", lw=1)
        ax.set_xticks(range(len(layers)), ticks, rotation=45)
        ax.set_xlabel("layer (encoder stages | FC head and decoder FCs)")
        ax.set_ylabel("α (rank exponent of λₙ ∝ n^−α)")
        ax.set_title(f"α against depth ({mode})")
    fig.suptitle("α against depth, one line per dropout rate")
    _legend(fig, [(s.label, s.color, ls) for s, ls in series], threshold)
    return fig, notes


def _indexed(table: pd.DataFrame, mode: str, p: float, layers: Sequence[str]) -> pd.DataFrame:
    """The rows of (mode, p) in the order of ``layers``, keeping the table's own index."""
    sub = table[(table["mode"] == mode) & (table["dropout"] == p)]
    missing = [l for l in layers if l not in set(sub["site"])]
    if missing:
        raise ValueError(f"layers {missing} are not sites of the table at p = {p:g}, mode {mode!r}.")
    order = {l: i for i, l in enumerate(layers)}
    sub = sub[sub["site"].isin(order)]
    return sub.iloc[np.argsort([order[s] for s in sub["site"]], kind="stable")]


def _draw(ax: Any, styled: Sequence[tuple[AlphaSeries, str]], references: Sequence[float] = ()) -> list[str]:
    """plot_alpha_series (scale from the usable fits, unusable ones hollow), then each series'
    line through runs of consecutive usable fits only: a line never bridges an excluded fit."""
    notes = plot_alpha_series(ax, [s for s, _ in styled], references=references)
    for s, ls in styled:
        x, a = np.asarray(s.x, float), np.asarray(s.alpha, float)
        ok = np.isfinite(a) & np.asarray(s.usable, bool)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(int), [0]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            if stop - start >= 2:
                ax.plot(x[start:stop], a[start:stop], color=s.color, ls=ls, lw=1.3)
    return notes


def _legend(fig: Any, styled: Sequence[tuple[str, Any, str]], threshold: float | None = None,
            off: str = "▲ ▼ at the top or bottom edge") -> None:
    """One legend under the panels: (label, color, line style) per series, the unusable marker
    and the threshold line; the panels are laid out above it."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, ls=ls, marker="o", ms=4) for _, c, ls in styled]
    labels = [label for label, _, _ in styled]
    handles.append(Line2D([], [], marker="o", mfc="none", mec="0.3", ls="none"))
    labels.append(f"unusable fit: hollow ({off} when off the scale)")
    if threshold is not None:
        handles.append(Line2D([], [], ls=":", color="0.5"))
        labels.append(f"1 + 2/d = {threshold:.2f}")
    ncol = min(len(labels), 5)
    rows = -(-len(labels) // ncol)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.045 * rows + 0.01, 1, 1))


def plot_alpha_vs_dropout(alphas: pd.DataFrame, layers: Sequence[str],
                          modes: Sequence[str] = ("eval", "repeats")) -> tuple[Any, list[str]]:
    """α against the dropout rate, one line per layer (solid: ``encoder.*`` stages, where dropout
    acts; dashed: the FC layers), one panel per mode, 95% CI bars; each panel is scaled by its
    usable fits only (:func:`fit_problems`)."""
    import matplotlib.pyplot as plt

    _check_table(alphas)
    modes, layers = _modes(alphas, modes), list(layers)
    problems = fit_problems(alphas)
    colors = plt.cm.tab10(np.arange(len(layers)) % 10)
    fig, axes = plt.subplots(1, len(modes), figsize=(5.6 * len(modes), 4.4), squeeze=False)
    notes: list[str] = []
    for ax, mode in zip(axes[0], modes):
        series = []
        for c, layer in zip(colors, layers):
            sub = alphas[(alphas["mode"] == mode) & (alphas["site"] == layer)].sort_values("dropout")
            if sub.empty:
                raise ValueError(f"layer {layer!r} is not a site of the table in mode {mode!r}.")
            x = sub["dropout"].to_numpy(float)
            series.append(_series(sub, problems, x, short_layer(layer),
                                  [f"{short_layer(layer)}, p = {p:g}, {mode}" for p in x], color=c,
                                  linestyle="-" if layer.startswith("encoder") else "--"))
        notes += _draw(ax, series)
        ax.set_xlabel("dropout rate p")
        ax.set_ylabel("α (rank exponent of λₙ ∝ n^−α)")
        ax.set_title(f"α against dropout ({mode})")
    fig.suptitle("α against dropout rate, one line per layer (solid: encoder stages; dashed: FC layers)")
    _legend(fig, [(s.label, s.color, ls) for s, ls in series])
    return fig, notes


def _edge_scatter(ax: Any, x: np.ndarray, y: np.ndarray, ok: np.ndarray, color: Any, label: str,
                  x_lim: tuple[float, float]) -> None:
    """Usable points filled; the others hollow, at the x edge (◀ ▶) when outside ``x_lim``."""
    ax.scatter(x[ok], y[ok], color=color, s=25, label=label)
    for xi, yi in zip(x[~ok], y[~ok]):
        if not np.isfinite(xi):
            continue
        marker = ">" if xi > x_lim[1] else "<" if xi < x_lim[0] else "o"
        ax.scatter([min(max(xi, x_lim[0]), x_lim[1])], [yi], s=36, marker=marker, facecolors="none",
                   edgecolors=[color], clip_on=False)


def plot_alpha_vs_energy(traj: pd.DataFrame, alphas: pd.DataFrame | None = None, pad: float = 0.08
                         ) -> tuple[Any, list[str]]:
    """α of each layer × model (eval mode) against the dot loop's normalised path energy (log
    axis, relative to the input's) and against the RSA of angle and 3-D projection.

    ``traj``: :func:`~polycode_lite.experiments.autoencoder.alpha_energy_table` (columns dropout,
    layer, alpha, energy_rel_input, rsa_mean). ``alphas``: the :func:`alpha_table` that gave its
    α; its eval-mode :func:`fit_problems` mark the unusable α, which are drawn hollow (at the
    edge when outside the scale) while the α axis is scaled by the usable ones only. Without
    ``alphas`` only NaN α count as unusable. Returns (fig, notes: one line per unusable α)."""
    import matplotlib.pyplot as plt

    need = ["dropout", "layer", "alpha", "energy_rel_input", "rsa_mean"]
    missing = [c for c in need if c not in traj]
    if missing:
        raise ValueError(f"traj lacks the columns {missing}: pass autoencoder.alpha_energy_table(...).")
    lay = traj[traj["layer"] != "input"]
    reason: dict[tuple[float, str], str] = {}
    if alphas is not None:
        ev = alphas[alphas["mode"] == "eval"]
        reason = dict(zip(zip(ev["dropout"].astype(float), ev["site"]), fit_problems(alphas).loc[ev.index]))
    bad = [reason.get((float(p), l), "") or ("" if np.isfinite(a) else "no fit")
           for p, l, a in zip(lay["dropout"], lay["layer"], lay["alpha"])]
    ok_all = (np.array(bad) == "") & np.isfinite(lay["alpha"].to_numpy(float))
    a_ok = lay["alpha"].to_numpy(float)[ok_all]
    if a_ok.size:
        span = max(float(a_ok.max() - a_ok.min()), 0.2)
        x_lim = (float(a_ok.min()) - pad * span, float(a_ok.max()) + pad * span)
    else:
        x_lim = (0.0, 5.0)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    rates = sorted(set(lay["dropout"]))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(rates)))
    for c, p in zip(colors, rates):
        m = (lay["dropout"] == p).to_numpy()
        x = lay["alpha"].to_numpy(float)[m]
        for ax, col in zip(axes, ("energy_rel_input", "rsa_mean")):
            _edge_scatter(ax, x, lay[col].to_numpy(float)[m], ok_all[m], c, f"p = {p:.1f}", x_lim)
    notes = [f"{short_layer(l)}, p = {p:g}: α = {a:.2f} ({why})" if np.isfinite(a) else
             f"{short_layer(l)}, p = {p:g}: {why}"
             for l, p, a, why in zip(lay["layer"], lay["dropout"], lay["alpha"], bad) if why]
    for ax in axes:
        ax.set_xlim(*x_lim)
        ax.set_xlabel("α of the layer (eval mode, shapes images)")
    axes[0].set_yscale("log")
    axes[0].axhline(1.0, color="0.6", lw=0.8, ls=":")
    axes[0].set_ylabel("path energy / input pixels' (normalised, log)")
    axes[0].set_title("α against energy (lower: smoother)")
    axes[1].set_ylabel("RSA: dot angle vs 3-D projection (Spearman ρ)")
    axes[1].set_title("α against input–projection correlation")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axes[0].yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes[0].yaxis.set_minor_formatter(NullFormatter())
    fig.suptitle("Dot-trajectory smoothness against α (every layer × dropout rate)")
    _legend(fig, [(f"p = {p:.1f}", c, "none") for c, p in zip(colors, rates)], off="◀ ▶ at the left or right edge")
    return fig, notes


def plot_dot_loops(trajectories: Mapping[float, tuple[np.ndarray, Mapping[str, np.ndarray]]], traj: pd.DataFrame,
                   layers: Sequence[str] = ("encoder.layer2", "fc2"), seed: int = 0) -> tuple[Any, pd.DataFrame]:
    """The moving-dot loop through 3 random directions: the input pixels, then each of ``layers``
    for each dropout rate of ``trajectories`` (in its order), on **one common scale** (each
    projected loop divided by its RMS radius) and one view, titled with the numbers that the
    claim compares (full-space path energy relative to the input's, and the RSA, from ``traj`` =
    :func:`~polycode_lite.experiments.autoencoder.alpha_energy_table`). A bar panel puts those
    energies side by side.

    ``trajectories``: {dropout: (angles (T,), {layer: (T, m)})} as
    :func:`~polycode_lite.experiments.autoencoder.dot_trajectories` returns them (with the
    "input" entry), e.g. for the lowest and the highest rate. Returns (fig, table of the panels:
    panel, dropout, layer, energy_rel_input, rsa_mean)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from polycode_lite.science.projections import random_projection

    if not trajectories:
        raise ValueError("trajectories is empty: pass {dropout: autoencoder.dot_trajectories(model, ...)}.")
    rates = [float(p) for p in trajectories]
    layers = list(layers)
    stats = traj.set_index(["dropout", "layer"])
    panels = [("input", rates[0], "input pixels")] + [(l, p, f"{short_layer(l)}, p = {p:g}")
                                                       for p in rates for l in layers]
    missing = [(p, l) for l, p, _ in panels if (p, l) not in stats.index]
    absent = [(p, l) for l, p, _ in panels if l not in trajectories[p][1]]
    if missing or absent:
        raise ValueError(f"no rows in traj for (dropout, layer) {missing} / no trajectories for {absent}: "
                         "compute both for these rates and layers.")
    loops: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = {}
    for layer, p, _ in panels:
        angles, trajs = trajectories[p]
        a = np.asarray(trajs[layer], float)
        a = a - a.mean(0)
        pts = a @ random_projection(a.shape[1], 3, seed=seed)
        loops[(layer, p)] = (np.asarray(angles), pts / np.sqrt(np.mean(np.sum(pts ** 2, 1))))
    lim = 1.05 * max(float(np.abs(pts).max()) for _, pts in loops.values())
    n_cols = 1 + len(layers)
    fig = plt.figure(figsize=(3.7 * n_cols, 3.5 * len(rates)))
    rows = []
    slots = [(0, 0)] + [(r, 1 + c) for r in range(len(rates)) for c in range(len(layers))]
    for (layer, p, title), (r, c) in zip(panels, slots):
        angles, pts = loops[(layer, p)]
        ax = fig.add_subplot(len(rates), n_cols, r * n_cols + c + 1, projection="3d")
        ax.plot(*np.vstack([pts, pts[:1]]).T, lw=0.8, color="0.4")
        ax.scatter(*pts.T, c=angles, cmap="twilight", s=10)
        ticks = [-np.floor(lim), 0.0, np.floor(lim)] if lim >= 1 else [-0.5, 0.0, 0.5]
        for setter, tick in ((ax.set_xlim, ax.set_xticks), (ax.set_ylim, ax.set_yticks),
                             (ax.set_zlim, ax.set_zticks)):
            setter(-lim, lim)
            tick(ticks)
        ax.view_init(elev=25, azim=-60)
        e, rsa = (float(stats.loc[(p, layer), k]) for k in ("energy_rel_input", "rsa_mean"))
        ax.set_title(f"{title}\nE / E_input = {e:.2f}, RSA = {rsa:.2f}", fontsize=9)
        ax.set_xlabel("r₁ (RMS radii)", fontsize=7, labelpad=-6)
        ax.set_ylabel("r₂", fontsize=7, labelpad=-6)
        ax.set_zlabel("r₃", fontsize=7, labelpad=-6)
        ax.tick_params(labelsize=6, pad=-2)
        rows.append(dict(panel=title, dropout=p, layer=layer, energy_rel_input=e, rsa_mean=rsa))
    table = pd.DataFrame(rows)
    if len(rates) > 1:
        ax = fig.add_subplot(len(rates), n_cols, n_cols + 1)
        ax.barh(np.arange(len(table)), table["energy_rel_input"], color="0.6")
        ax.set_yticks(np.arange(len(table)), table["panel"], fontsize=7)
        ax.invert_yaxis()
        ax.axvline(1.0, color="k", lw=0.8, ls=":")
        ax.set_xlabel("path energy / input pixels' (full space)")
        ax.set_ylabel("loop")
        ax.set_title("energies of the loops shown", fontsize=9)
    fig.suptitle("The moving-dot loop through 3 random directions (common scale; colour: dot angle)")
    fig.tight_layout()
    return fig, table


def usable_summary(alphas: pd.DataFrame, mode: str) -> dict[str, float]:
    """For a caption: n (fits in ``mode``), n_usable, the usable α's range (lo, hi) and the
    median width of their 95% CIs (NaN when none is usable)."""
    _check_table(alphas)
    sub = alphas[alphas["mode"] == mode]
    if sub.empty:
        raise ValueError(f"mode {mode!r} is not in the table's modes {sorted(set(alphas['mode']))}.")
    ok = sub[(fit_problems(alphas).loc[sub.index] == "").to_numpy()]
    nan = float("nan")
    return dict(n=len(sub), n_usable=len(ok), lo=float(ok.alpha.min()) if len(ok) else nan,
                hi=float(ok.alpha.max()) if len(ok) else nan,
                ci_width=float((ok.ci_high - ok.ci_low).median()) if len(ok) else nan)
