"""Figures of notebook 04's probe CNN: per-layer smoothness, the moving-dot loops, and the layers
against random power-law loops without a network.

Every function takes the per-model layer tables that notebook 04 builds (one
:class:`pandas.DataFrame` per model, e.g. ``{"random init": ..., "trained": ...}``, with the
columns ``layer``, ``alpha_traj``, ``energy_norm``, ``rsa_mean`` and, optionally, ``rsa_sd``,
``alpha_shapes``, ``alpha_shapes_lo``, ``alpha_shapes_hi`` and ``shapes_usable``; the row whose
layer is ``"input"`` holds the input pixels). One colour per layer and one marker per model are
used in all three figures, with a legend instead of point labels, so nothing overlaps. Each
figure has a ``*_caption`` function that writes its caption from the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["caption_layer_smoothness", "caption_projected_loops", "caption_vs_null", "layer_colors",
           "normalised_projection", "plot_layer_smoothness", "plot_layers_vs_null", "plot_projected_loops"]

INPUT = "input"
#: markers per model, in the order of the tables: filled, then hollow
_MARKERS = (("o", True), ("s", False), ("^", True), ("D", False))
_NEEDED = ("layer", "alpha_traj", "energy_norm", "rsa_mean")


def _check_tables(tables: Mapping[str, pd.DataFrame], needed: Sequence[str] = _NEEDED) -> None:
    if not isinstance(tables, Mapping) or not tables:
        raise TypeError("tables must be a non-empty dict {model name: layer DataFrame}, got "
                        f"{type(tables).__name__}.")
    if len(tables) > len(_MARKERS):
        raise ValueError(f"at most {len(_MARKERS)} models can be told apart, got {len(tables)}.")
    for name, tab in tables.items():
        missing = [c for c in needed if c not in getattr(tab, "columns", ())]
        if missing:
            raise ValueError(f"table {name!r} lacks the columns {missing}; build it with notebook 04's layer_table.")


def _layers(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Layer names (not the input) in the order of the first table."""
    return [str(x) for x in next(iter(tables.values())).layer if x != INPUT]


def layer_colors(layers: Sequence[str]) -> dict[str, Any]:
    """One colour per layer name, in order (viridis from dark to light: early to late layers)."""
    import matplotlib.pyplot as plt

    if not len(layers):
        raise ValueError("layers must name at least one layer.")
    cmap = plt.get_cmap("viridis")
    return {name: cmap(0.9 * i / max(len(layers) - 1, 1)) for i, name in enumerate(layers)}


def _marker(i: int, color: Any) -> dict[str, Any]:
    m, filled = _MARKERS[i]
    return dict(marker=m, ms=8, mec=color, mfc=color if filled else "none", mew=1.6, ls="none")


def _legend_handles(tables: Mapping[str, pd.DataFrame], colors: Mapping[str, Any], with_input: bool) -> list[Any]:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="0.3", **_marker(i, "0.3"), label=f"{name} network")
               for i, name in enumerate(tables)]
    handles += [Line2D([], [], marker="o", ms=8, color=c, ls="none", label=layer) for layer, c in colors.items()]
    if with_input:
        handles.append(Line2D([], [], marker="*", ms=12, color="k", ls="none", label="input pixels"))
    return handles


def _threshold_line(ax: Any, d: int, vertical: bool) -> Any:
    from polycode_lite.science.powerlaw import smoothness_threshold

    t = smoothness_threshold(d)
    kw = dict(color="C3", ls="--", lw=1.2, label=f"smoothness threshold 1 + 2/d = {t:.3g} (d = {d})")
    return ax.axvline(t, **kw) if vertical else ax.axhline(t, **kw)


def plot_layer_smoothness(tables: Mapping[str, pd.DataFrame], circle_energy: float | None = None,
                          d_loop: int = 1, d_shapes: int = 9) -> tuple[Any, list[str]]:
    """Three panels per layer of each model: (a) normalised energy E/tr Σ of the dot loop against
    the loop's α (log y), (b) input–projection RSA against the same α (bars: ±1 s.d. over
    projections), (c) α on the shapes images per layer with its 95% CI (the input has no channel
    α there and is left off that axis). (a) and (b) draw the loop's threshold 1 + 2/``d_loop``
    and the input pixels as a star; (c) draws 1 + 2/``d_shapes``; ``circle_energy``, if given, is
    the perfect circle's E/tr Σ. Returns (figure, notes on shapes fits drawn apart)."""
    import matplotlib.pyplot as plt

    from polycode_lite.plots.alpha import AlphaSeries, plot_alpha_series
    from polycode_lite.science.powerlaw import smoothness_threshold

    _check_tables(tables)
    layers = _layers(tables)
    colors = layer_colors(layers)
    fig, axes = plt.subplots(1, 3, figsize=(14, 5.0))
    inp = next(iter(tables.values())).set_index("layer").loc[INPUT] if \
        INPUT in set(next(iter(tables.values())).layer) else None
    for i, (name, tab) in enumerate(tables.items()):
        lay = tab[tab.layer != INPUT]
        for ax, col, err in ((axes[0], "energy_norm", None), (axes[1], "rsa_mean", "rsa_sd")):
            ax.plot(lay.alpha_traj, lay[col], color="0.75", lw=0.8, ls="-" if i == 0 else ":", zorder=1)
            for _, r in lay.iterrows():
                yerr = r[err] if err and err in lay and np.isfinite(r[err]) else None
                ax.errorbar(r.alpha_traj, r[col], yerr=yerr, elinewidth=0.8, capsize=2, zorder=2,
                            **_marker(i, colors[str(r.layer)]), ecolor=colors[str(r.layer)])
    for ax, col in ((axes[0], "energy_norm"), (axes[1], "rsa_mean")):
        if inp is not None:
            ax.plot(inp.alpha_traj, inp[col], "*", ms=14, color="k", zorder=3)
        _threshold_line(ax, d_loop, vertical=True)
        alphas = np.concatenate([t.alpha_traj.to_numpy(float) for t in tables.values()])
        lo, hi = np.nanmin(alphas), max(np.nanmax(alphas), smoothness_threshold(d_loop))
        ax.set_xlim(lo - 0.08 * (hi - lo), hi + 0.32 * (hi - lo))
        ax.set_xlabel("α of the dot-loop activations (rank exponent)")
        ax.text(smoothness_threshold(d_loop), 0.02, " smooth →", transform=ax.get_xaxis_transform(),
                color="C3", fontsize=9, ha="left", va="bottom")
    if circle_energy is not None:
        axes[0].axhline(circle_energy, color="k", ls=":", lw=1, label=f"perfect circle, 4π²/T ≈ {circle_energy:.2g}")
    axes[0].set(yscale="log", ylabel="normalised path energy E / tr Σ (log)", title="(a) Loop energy against α")
    axes[1].set(ylabel="input–projection RSA (Spearman ρ)", title="(b) Input geometry kept by 3-D projections")
    notes: list[str] = []
    series = []
    for i, (name, tab) in enumerate(tables.items()):
        lay = tab[tab.layer != INPUT]
        if "alpha_shapes" not in lay:
            continue
        a = lay.alpha_shapes.to_numpy(float)
        lo_ = lay["alpha_shapes_lo"].to_numpy(float) if "alpha_shapes_lo" in lay else a
        hi_ = lay["alpha_shapes_hi"].to_numpy(float) if "alpha_shapes_hi" in lay else a
        usable = lay["shapes_usable"].to_numpy(bool) if "shapes_usable" in lay else None
        series.append(AlphaSeries(x=np.arange(len(lay)) + 0.08 * (i - 0.5), alpha=a, ci_low=lo_, ci_high=hi_,
                                  usable=usable, label=f"{name} network", color=f"C{i}",
                                  linestyle="-" if i == 0 else ":", names=[f"{name} {x}" for x in lay.layer]))
    if series:
        notes = plot_alpha_series(axes[2], series, references=[smoothness_threshold(d_shapes)])
        _threshold_line(axes[2], d_shapes, vertical=False)
        y0, y1 = axes[2].get_ylim()
        axes[2].set_ylim(y0, y1 + 0.3 * (y1 - y0))   # room for the legend above the data
    axes[2].set_xticks(range(len(layers)), layers)
    axes[2].set(xlabel="layer (input pixels have no channel α: left out)",
                ylabel="α of channel features on shapes images", title="(c) α on the shapes dataset, 95% CI")
    axes[2].legend(fontsize=8, loc="upper right")
    handles = _legend_handles(tables, colors, inp is not None)
    handles += [h for h in axes[0].get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig, notes


def normalised_projection(traj: Any, k: int = 2, seed: int = 0) -> np.ndarray:
    """(T, k) random projection of a (T, m) loop, centred and in units of the expected s.d.
    √(tr Σ / m) of one projected coordinate, so loops of layers whose activations differ by
    orders of magnitude can be drawn on one scale. Raises ValueError for a constant loop."""
    from polycode_lite.science.projections import project, random_projection

    a = np.asarray(traj, dtype=float)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"traj must be a (T, m) array with T >= 2, got shape {a.shape}.")
    a = a - a.mean(axis=0)
    tr = float(np.sum(a ** 2) / a.shape[0])
    if not tr > 0:
        raise ValueError("traj is constant: its loop has no variance to project.")
    return project(a, random_projection(a.shape[1], k, seed=seed)) / np.sqrt(tr / a.shape[1])


def plot_projected_loops(trajectories: Mapping[str, Mapping[str, Any]], theta: Any,
                         energies: Mapping[str, Mapping[str, float]] | None = None, seed: int = 0) -> Any:
    """Grid of moving-dot loops, one row per model and one column per layer: the same random
    2-D projection per layer (:func:`normalised_projection`), equal aspect, one shared scale,
    coloured by the dot angle θ (a smooth code changes colour gradually along the curve).
    ``energies`` (model → layer → E/tr Σ) are printed in each panel's title. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if not isinstance(trajectories, Mapping) or not trajectories:
        raise TypeError("trajectories must be a non-empty dict {model: {layer: (T, m) array}}.")
    th = np.asarray(theta, dtype=float)
    rows = list(trajectories)
    cols = list(next(iter(trajectories.values())))
    proj = {(r, c): normalised_projection(trajectories[r][c], 2, seed=seed + j) for r in rows
            for j, c in enumerate(cols)}
    if any(p.shape[0] != th.size for p in proj.values()):
        raise ValueError(f"theta has {th.size} angles but a loop has a different number of points.")
    lim = 1.05 * max(float(np.max(np.abs(p))) for p in proj.values())
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.1 * len(cols) + 1.0, 2.3 * len(rows) + 0.6),
                             squeeze=False, sharex=True, sharey=True)
    norm = plt.Normalize(0, 2 * np.pi)
    for (i, r), (j, c) in ((a, b) for a in enumerate(rows) for b in enumerate(cols)):
        ax, p = axes[i, j], np.vstack([proj[r, c], proj[r, c][:1]])
        seg = np.stack([p[:-1], p[1:]], axis=1)
        lc = LineCollection(seg, cmap="hsv", norm=norm, lw=1.1)
        lc.set_array(th)
        ax.add_collection(lc)
        e_txt = f"\nE/trΣ = {energies[r][c]:.3g}" if energies is not None and c in energies.get(r, {}) else ""
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=f"{r}: {c}{e_txt}")
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("random dir. 1 (s.d.)" if i == len(rows) - 1 else " ", fontsize=8)
        ax.set_ylabel("random dir. 2 (s.d.)" if j == 0 else " ", fontsize=8)
    fig.suptitle("Moving-dot loop through each layer: one random 2-D projection, shared scale "
                 "(coordinates in units of √(tr Σ / m))", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    cax = fig.add_axes((0.94, 0.2, 0.012, 0.6), label="<colorbar>")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="hsv"), cax=cax, label="dot angle θ (rad)")
    return fig


def plot_layers_vs_null(null: Any, tables: Mapping[str, pd.DataFrame], d_loop: int = 1) -> Any:
    """Random power-law loops without a network (grey, with the null curve) and each model's
    layers (layer colour, model marker; the input pixels as a star, not part of the test), on
    E/tr Σ (log) against the loop α, with the threshold 1 + 2/``d_loop``. ``null``: an
    ``experiments.smoothness.LoopNull`` (``alpha``, ``energy_norm``, ``predict``). Returns the figure."""
    import matplotlib.pyplot as plt

    from polycode_lite.science.powerlaw import smoothness_threshold

    _check_tables(tables)
    colors = layer_colors(_layers(tables))
    fig, ax = plt.subplots(figsize=(8, 5.2))
    ax.plot(null.alpha, null.energy_norm, ".", color="0.65", ms=6, label="random power-law loops (no network)")
    grid = np.linspace(np.nanmin(null.alpha), np.nanmax(null.alpha), 100)
    ax.plot(grid, np.exp(null.predict(grid)), "k-", lw=1, label="null curve (cubic fit)")
    for i, (name, tab) in enumerate(tables.items()):
        lay = tab[tab.layer != INPUT]
        for _, r in lay.iterrows():
            ax.plot(r.alpha_traj, r.energy_norm, **_marker(i, colors[str(r.layer)]), zorder=3)
    first = next(iter(tables.values()))
    inp = first[first.layer == INPUT]
    if len(inp):
        ax.plot(inp.alpha_traj, inp.energy_norm, "*", ms=14, color="k", zorder=3)
    _threshold_line(ax, d_loop, vertical=True)
    ax.text(smoothness_threshold(d_loop), 0.02, " smooth →", transform=ax.get_xaxis_transform(), color="C3",
            fontsize=9, va="bottom")
    ax.set(yscale="log", xlabel=f"α of the loop activations (ranks {null.window[0]}..{null.window[1]}, T = "
           f"{null.n_points})", ylabel="normalised path energy E / tr Σ (log)",
           title="Probe-CNN layers against random power-law loops of the same α")
    handles = ax.get_legend_handles_labels()[0] + _legend_handles(tables, colors, len(inp) > 0)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _by_energy(tables: Mapping[str, pd.DataFrame]) -> list[tuple[float, str, str]]:
    return sorted((float(r.energy_norm), name, str(r.layer)) for name, tab in tables.items()
                  for _, r in tab[tab.layer != INPUT].iterrows())


def caption_layer_smoothness(tables: Mapping[str, pd.DataFrame], notes: Sequence[str] = (), d_loop: int = 1,
                             d_shapes: int = 9) -> str:
    """Caption of :func:`plot_layer_smoothness`, from the numbers."""
    from polycode_lite.science.powerlaw import smoothness_threshold

    _check_tables(tables)
    t, t_shapes = smoothness_threshold(d_loop), smoothness_threshold(d_shapes)
    rows = [r for tab in tables.values() for _, r in tab[tab.layer != INPUT].iterrows()]
    below = sum(float(r.alpha_traj) <= t for r in rows)
    ranked = _by_energy(tables)
    (e_lo, m_lo, l_lo), (e_hi, m_hi, l_hi) = ranked[0], ranked[-1]
    text = (f"Colour = layer, marker = model. (a) {below} of {len(rows)} layer loops have α at or below the "
            f"circle threshold {t:g} (dashed red){', so none is expected to be smooth' if below == len(rows) else ''}; "
            f"E/trΣ runs from {e_lo:.3g} ({m_lo} {l_lo}) to {e_hi:.3g} ({m_hi} {l_hi}). (b) How well 3-D "
            f"projections keep the dot's geometry (bars: ±1 s.d. over projections).")
    shapes = [float(r.alpha_shapes) for r in rows if "alpha_shapes" in r and np.isfinite(r.alpha_shapes)]
    if shapes:
        above = sum(a > t_shapes for a in shapes)
        text += (f" (c) α on the shapes images: {above} of {len(shapes)} layers above 1 + 2/{d_shapes} = "
                 f"{t_shapes:.2f}; the input pixels have no channel α and are left out.")
    if notes:
        text += " Drawn apart (hollow): " + "; ".join(notes) + "."
    return text


def caption_projected_loops(tables: Mapping[str, pd.DataFrame]) -> str:
    """Caption of :func:`plot_projected_loops`, from the layers' E/tr Σ."""
    _check_tables(tables)
    ranked = _by_energy(tables)
    first = next(iter(tables.values()))
    inp = first[first.layer == INPUT]
    inp_txt = f" (input pixels {float(inp.energy_norm.iloc[0]):.3g})" if len(inp) else ""
    return (f"Every panel is on the same scale, so the loops can be compared: a smooth loop changes colour "
            f"gradually, a rough one jumps between distant points. Distant dot positions give nearly orthogonal "
            f"images, so even the input loop is tangled. The roughest loop is {ranked[-1][1]} {ranked[-1][2]} "
            f"(E/trΣ = {ranked[-1][0]:.3g}), the smoothest {ranked[0][1]} {ranked[0][2]} ({ranked[0][0]:.3g})"
            f"{inp_txt}.")


def caption_vs_null(test: Any, control: Any = None) -> str:
    """Caption of :func:`plot_layers_vs_null`, from an ``experiments.smoothness.SmoothnessTest``
    against the null (and the same test on its control)."""
    null = test.null
    side = "below" if np.mean(test.residual) < 0 else "above"
    text = (f"Grey: {null.alpha.size} random power-law loops with no network, whose energy falls with α on its "
            f"own (ρ = {null.rho:+.2f}). The trained layers sit on average {np.mean(test.residual):+.2f} in ln E "
            f"{side} the grey curve and their offsets change by {test.resid_slope:+.2f} per unit α "
            f"(p = {test.p_slope:.2f})")
    if control is not None:
        text += f"; random init: {np.mean(control.residual):+.2f}, {control.resid_slope:+.2f} per unit α"
    return text + ". A network claim needs the offsets to fall with α, not just the energy."
