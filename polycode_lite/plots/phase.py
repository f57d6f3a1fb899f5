"""Figures for the TMS phase diagram and the correlated-features experiment (notebook 01).

* :func:`plot_phase_diagrams`  regime maps side by side (density on x, importance on y, log axes).
* :func:`plot_phase_slice`     W₁ and W₂ along one density of the diagram (the widget's view).
* :func:`plot_pair_cosines`    the cosine between the two features of each pair, per condition.

They take arrays and regime names, never experiment objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["REGIME_COLOURS", "plot_pair_cosines", "plot_phase_diagrams", "plot_phase_slice"]

REGIME_COLOURS = ("#4c72b0", "#bbbbbb", "#c44e52")  # not represented, dedicated, superposition


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges of log-spaced centres v (geometric midpoints, extended by half a step)."""
    lv = np.log(v)
    if len(v) == 1:
        return np.exp([lv[0] - 0.5, lv[0] + 0.5])
    mid = (lv[1:] + lv[:-1]) / 2
    return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))


def plot_phase_diagrams(density: Any, importance: Any, maps: Sequence[Any], regimes: Sequence[str],
                        titles: Sequence[str] | None = None, suptitle: str | None = None) -> Any:
    """One panel per regime map; ``maps[k]`` is (len(density), len(importance)) of names in
    ``regimes`` (coloured by REGIME_COLOURS in that order). x: feature density, y: relative
    importance of feature 2, both log. Returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    d, w = np.asarray(density, float), np.asarray(importance, float)
    fig, axes = plt.subplots(1, len(maps), figsize=(5.2 * len(maps), 4.4), squeeze=False)
    cmap = ListedColormap(REGIME_COLOURS[:len(regimes)])
    for k, (ax, R) in enumerate(zip(axes[0], maps)):
        codes = np.vectorize(lambda r: list(regimes).index(r))(np.asarray(R, object)).astype(float)
        ax.pcolormesh(_edges(d), _edges(w), codes.T, cmap=cmap, vmin=-0.5, vmax=len(regimes) - 0.5)
        ax.set_xscale("log"); ax.set_yscale("log")
        ax.set_xlabel("feature density p (both features)")
        ax.set_ylabel("relative importance of feature 2, I₂")
        ax.set_title(titles[k] if titles else f"map {k + 1}")
    handles = [Patch(color=REGIME_COLOURS[k], label=f"feature 2 {r}" if r != "superposition" else r)
               for k, r in enumerate(regimes)]
    handles[1].set_label("feature 2 dedicated (feature 1 dropped)")
    fig.legend(handles=handles, loc="lower center", ncol=len(regimes), frameon=False)
    fig.suptitle(suptitle or "TMS phase diagram: 2 features in 1 dimension")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_phase_slice(importance: Any, W: Any, regimes: Sequence[str], density: float, ax: Any = None) -> Any:
    """W₁ and W₂ (``W`` is (len(importance), 2)) against the relative importance at one density,
    with each point's regime written under it; the overall sign of each W is fixed so that W₁ ≥ 0
    (W₂ ≥ 0 where |W₁| is small). Returns the Figure."""
    import matplotlib.pyplot as plt

    w, W = np.asarray(importance, float), np.asarray(W, float)
    # W and −W are the same model: fix the sign so that W₁ ≥ 0 (W₂ ≥ 0 where feature 1 is dropped)
    sign = np.where(np.abs(W[:, 0]) > 0.25, np.sign(W[:, 0]), np.sign(W[:, 1]))
    W = W * np.where(sign == 0, 1.0, sign)[:, None]
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
    else:
        fig = ax.figure
    ax.axhline(0, color="0.6", lw=0.8)
    ax.plot(w, W[:, 0], "o-", label="W₁ (feature 1, importance 1)")
    ax.plot(w, W[:, 1], "s-", label="W₂ (feature 2, importance I₂)")
    ax.set_xscale("log"); ax.set_ylim(-1.6, 1.6)
    short = {"not represented": "N", "dedicated": "D", "superposition": "S"}
    for x, r in zip(w, regimes):
        ax.text(x, -1.5, short.get(r, r), ha="center", fontsize=9)
    ax.set_xlabel("relative importance of feature 2, I₂ (letters: N not represented, D dedicated, S superposition)")
    ax.set_ylabel("weight W_f (1 hidden dimension)")
    ax.set_title(f"The 1 × 2 weights along density p = {density:.3g}")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def plot_pair_cosines(cosines: dict[str, Any], ax: Any = None) -> Any:
    """Strip plot of pair cosines per condition (``cosines[name]`` a 1-D array), with the mean and
    its 95% interval. Returns the Figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.8))
    else:
        fig = ax.figure
    rng = np.random.default_rng(0)  # horizontal jitter only
    for k, (name, c) in enumerate(cosines.items()):
        c = np.asarray(c, float)
        ax.scatter(k + rng.uniform(-0.15, 0.15, c.size), c, s=14, alpha=0.6)
        half = 1.96 * c.std(ddof=1) / np.sqrt(c.size) if c.size > 1 else 0.0
        ax.errorbar(k + 0.3, c.mean(), yerr=half, fmt="D", color="k", capsize=4)
    ax.axhline(0, color="0.7", lw=0.8); ax.axhline(-1, color="0.7", lw=0.8, ls=":")
    ax.set_xticks(range(len(cosines)), list(cosines))
    ax.set_ylim(-1.1, 1.1)
    ax.set_xlabel("how the two features of a pair co-occur")
    ax.set_ylabel("cos(W_a, W_b) of the pair")
    ax.set_title("Pair geometry: correlated → orthogonal, anticorrelated → antipodal")
    return fig
