"""Figures for the toy models of superposition (one helper per figure kind).

Every helper returns a labelled matplotlib Figure (title, x and y labels), ready for
``polycode_lite.course.claims.show_figure``. Inputs are numpy arrays or a ToyModel; W is
(n_instances, n_hidden, n_features) as in :mod:`polycode_lite.models.toy`.

* :func:`plot_wtw`             WᵀW heat-map next to the bias b, one panel per chosen instance.
* :func:`plot_features_2d`     feature directions W[:, f] for m = 2 (Elhage's pentagon pictures).
* :func:`draw_feature_arrows`  the same as arrows on one given axes (notebook 00's teaser and slider).
* :func:`plot_dimensionality`  D* = m/‖W‖²_F against 1/(1−S) with the sticky fractions marked.
* :func:`plot_feature_dimensionality`  per-feature D_i scatter against 1/(1−S).
* :func:`wtw_summary`, :func:`wtw_caption`  the numbers a WᵀW/bias figure shows, and its caption
  built from them (represented vs dropped features, their biases, interference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from polycode_lite._common import to_numpy

__all__ = ["draw_feature_arrows", "plot_dimensionality", "plot_feature_dimensionality", "plot_features_2d", "plot_wtw", "wtw_caption",
           "wtw_summary"]

_FRACTION_LABELS = {1.0: "1", 3 / 4: "3/4", 2 / 3: "2/3", 1 / 2: "1/2", 2 / 5: "2/5", 3 / 8: "3/8"}


def _weights(model_or_W: Any, b: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    if hasattr(model_or_W, "W") and hasattr(model_or_W, "b_final"):
        W = to_numpy(model_or_W.W)
        b = model_or_W.b_final if b is None else b
    else:
        W = to_numpy(model_or_W)
    b = None if b is None else to_numpy(b)
    if W.ndim == 2:
        W = W[None]
        if b is not None:
            b = b.reshape(1, -1)
    if W.ndim != 3:
        raise ValueError(f"W must be (n_hidden, n_features) or (n_instances, n_hidden, n_features); got {W.shape}.")
    if b is not None:
        if b.shape != (W.shape[0], W.shape[2]):
            raise ValueError(f"b must have shape {(W.shape[0], W.shape[2])}, got {b.shape}.")
    return W, b


def _instances(n_inst: int, instances: Sequence[int] | None) -> list[int]:
    idx = list(range(n_inst)) if instances is None else [int(i) for i in instances]
    bad = [i for i in idx if not 0 <= i < n_inst]
    if bad:
        raise ValueError(f"instances {bad} out of range for {n_inst} instances.")
    return idx


#: panels per row: a row of 10 small panels is a strip too thin to read (at most about 4:1)
MAX_COLUMNS = 5


def _panel_grid(n_panels: int, panel_w: float, panel_h: float, extra_w: float = 0.0) -> Any:
    """(fig, flat list of the n_panels axes) on rows of at most MAX_COLUMNS panels."""
    import matplotlib.pyplot as plt

    ncols = min(n_panels, MAX_COLUMNS)
    while ncols > 1 and panel_w * ncols + extra_w > 4.0 * panel_h * -(-n_panels // ncols):
        ncols -= 1
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols + extra_w, panel_h * nrows),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.remove()
    return fig, flat[:n_panels]


def plot_wtw(model_or_W: Any, b: Any = None, instances: Sequence[int] | None = None,
             titles: Sequence[str] | None = None, suptitle: str = "WᵀW and bias b") -> Any:
    """Heat-maps of WᵀW (n × n; diagonal = ‖W_i‖², off-diagonal = interference) with the bias
    b as an extra column, one panel per instance (default all). Red positive, blue negative."""
    import matplotlib.pyplot as plt

    W, b = _weights(model_or_W, b)
    idx = _instances(W.shape[0], instances)
    n = W.shape[2]
    fig, axes = _panel_grid(len(idx), 2.6, 3.0, extra_w=0.6)
    im = None
    for k, i in enumerate(idx):
        ax = axes[k]
        G = W[i].T @ W[i]
        panel = np.full((n, n + 2), np.nan)
        panel[:, :n] = G
        if b is not None:
            panel[:, n + 1] = b[i]
        im = ax.imshow(panel, cmap="RdBu_r", vmin=-1.2, vmax=1.2, interpolation="nearest")
        ax.set_title(titles[k] if titles is not None else f"instance {i}", fontsize=9)
        ax.set_xlabel("feature j   |   b" if b is not None else "feature j")
        ax.set_ylabel("feature i")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8, label="(WᵀW)_ij, b_i")
    fig.suptitle(suptitle)
    return fig


def plot_features_2d(model_or_W: Any, instances: Sequence[int] | None = None,
                     importance: Any = None, titles: Sequence[str] | None = None,
                     suptitle: str = "Feature directions W[:, i] in the 2-D hidden space") -> Any:
    """Arrows from the origin to each feature's direction W[:, i] (needs m = 2), one panel per
    instance, coloured by importance (brighter = more important) when given."""
    import matplotlib.pyplot as plt

    W, _ = _weights(model_or_W)
    if W.shape[1] != 2:
        raise ValueError(f"plot_features_2d needs n_hidden = 2, got {W.shape[1]}; use plot_wtw instead.")
    idx = _instances(W.shape[0], instances)
    n = W.shape[2]
    if importance is not None:
        imp = np.broadcast_to(to_numpy(importance), (W.shape[0], n))
    else:
        imp = np.ones((W.shape[0], n))
    cmap = plt.get_cmap("viridis")
    fig, axes = _panel_grid(len(idx), 2.4, 2.7)
    for k, i in enumerate(idx):
        ax = axes[k]
        rel = imp[i] / max(imp[i].max(), 1e-12)
        for f in range(n):
            x, y = W[i, 0, f], W[i, 1, f]
            ax.plot([0, x], [0, y], color=cmap(0.15 + 0.8 * rel[f]), lw=1.5)
            ax.scatter([x], [y], color=cmap(0.15 + 0.8 * rel[f]), s=18, zorder=3)
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(-1.5, 1.5)
        ax.set_aspect("equal")
        ax.axhline(0, color="0.85", lw=0.6, zorder=0)
        ax.axvline(0, color="0.85", lw=0.6, zorder=0)
        ax.set_title(titles[k] if titles is not None else f"instance {i}", fontsize=9)
        ax.set_xlabel("hidden unit 1")
        ax.set_ylabel("hidden unit 2")
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def draw_feature_arrows(ax: Any, W2: Any, title: str, importance: Any = None) -> Any:
    """Arrows from the origin to the columns of a (2, n) weight matrix on ``ax``, darker = more
    important feature (``importance`` default 0.9^i, used for the legend labels), on square axes
    of at least ±1.2 with the two hidden dimensions labelled. Returns ``ax``.

    Raises: ValueError unless W2 has 2 rows."""
    import matplotlib.pyplot as plt

    W2 = to_numpy(W2)
    if W2.ndim != 2 or W2.shape[0] != 2:
        raise ValueError(f"W2 must be (2, n_features), one column per feature; got shape {W2.shape}.")
    n = W2.shape[1]
    imp = 0.9 ** np.arange(n) if importance is None else np.broadcast_to(to_numpy(importance), (n,))
    colors = plt.cm.viridis(np.linspace(0, 0.85, n))
    for f in range(n):
        ax.annotate("", xy=W2[:, f], xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=colors[f], lw=2))
        ax.plot(*W2[:, f], "o", color=colors[f], ms=4, label=f"feature {f} (I={imp[f]:.2f})")
    lim = max(1.2, 1.1 * float(np.abs(W2).max()))
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title,
           xlabel="hidden dim 1", ylabel="hidden dim 2")
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    return ax


def plot_dimensionality(inverse_density: Any, dims_per_feature: Any,
                        predictions: dict[str, Any] | None = None,
                        sticky: Sequence[float] = (1.0, 1 / 2, 2 / 5),
                        floor: float | None = None, ax: Any = None,
                        title: str = "Dimensions per feature D* against sparsity") -> Any:
    """D* = m/‖W‖²_F against 1/(1−S) (log x), with dashed lines at sticky fractions, an optional
    dotted floor m/n, and optional overlaid curves ``predictions`` {label: (x, y)}."""
    import matplotlib.pyplot as plt

    x = np.asarray(inverse_density, dtype=np.float64)
    d = np.asarray(dims_per_feature, dtype=np.float64)
    if x.shape != d.shape:
        raise ValueError(f"inverse_density {x.shape} and dims_per_feature {d.shape} differ in shape.")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 3.8))
    for s in sticky:
        ax.axhline(s, color="0.6", ls="--", lw=0.8)
        ax.text(x.max() * 1.02, s, _FRACTION_LABELS.get(s, f"{s:.2f}"), va="center", fontsize=8, color="0.4")
    if floor is not None:
        ax.axhline(floor, color="0.6", ls=":", lw=0.8, label=f"floor m/n = {floor:g}")
    ax.plot(x, d, "o-", color="k", label="measured D* = m/‖W‖²_F")
    for label, (px, py) in (predictions or {}).items():
        ax.plot(px, py, lw=1.5, label=label)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("1/(1−S)  (inverse feature density, log scale)")
    ax.set_ylabel("dimensions per feature D*")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")   # the curves start at the top left and end low on the right
    return fig


def plot_feature_dimensionality(inverse_density: Any, feature_dims: Any,
                                sticky: Sequence[float] = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8),
                                dims_per_feature: Any = None, ax: Any = None,
                                title: str = "Per-feature dimensionality D_i") -> Any:
    """Scatter of every represented feature's D_i (features with D_i = 0 are skipped) at its
    instance's 1/(1−S), with the sticky fractions drawn; optionally D* as a line."""
    import matplotlib.pyplot as plt

    x = np.asarray(inverse_density, dtype=np.float64)
    Di = np.asarray(feature_dims, dtype=np.float64)
    if Di.ndim != 2 or Di.shape[0] != x.shape[0]:
        raise ValueError(f"feature_dims must be (n_instances, n_features) with n_instances = "
                         f"{x.shape[0]}; got {Di.shape}.")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 3.8))
    for s in sticky:
        ax.axhline(s, color="0.7", ls="--", lw=0.7)
        ax.text(x.max() * 1.02, s, _FRACTION_LABELS.get(s, f"{s:.2f}"), va="center", fontsize=8, color="0.4")
    rng = np.random.default_rng(0)
    for i in range(x.shape[0]):
        keep = Di[i] > 1e-3
        jitter = np.exp(rng.normal(0, 0.015, keep.sum()))
        ax.scatter(x[i] * jitter, Di[i][keep], s=6, alpha=0.35, color="tab:blue")
    if dims_per_feature is not None:
        ax.plot(x, np.asarray(dims_per_feature, dtype=np.float64), "k-", lw=1, label="D*")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("1/(1−S)  (inverse feature density, log scale)")
    ax.set_ylabel("feature dimensionality D_i")
    ax.set_title(title)
    return fig


#: a bias below −this counts as negative in :func:`wtw_summary` (smaller ones are training noise around 0)
NEGATIVE_BIAS = 0.01


def _num(v: float) -> str:
    """Two decimals, or one significant figure for a small non-zero value (never a false "0.00")."""
    return f"{v:.2f}" if v == 0 or abs(v) >= 0.005 else f"{v:.1g}"


def wtw_summary(model_or_W: Any, b: Any = None, threshold: float = 0.5) -> list[dict[str, Any]]:
    """Per instance, what a :func:`plot_wtw` panel shows: ``n_represented`` (features with
    ‖W_i‖ > ``threshold``), ``interference`` (mean over the represented features i of
    Σ_{j≠i} (Ŵ_i·W_j)², the off-diagonal weight in their rows; 0 for orthogonal features),
    ``bias_represented`` and ``bias_dropped`` ((min, mean, max) of b over each group, or None for
    an empty group) and ``n_negative_bias`` (represented features with b < −``NEGATIVE_BIAS``).

    Raises: ValueError for a negative threshold or when the bias is missing."""
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}.")
    W, b = _weights(model_or_W, b)
    if b is None:
        raise ValueError("wtw_summary needs the bias b: pass a ToyModel or b=.")
    out = []
    for Wi, bi in zip(W, b):
        norms = np.linalg.norm(Wi, axis=0)
        rep = norms > threshold
        G = Wi.T @ Wi
        interf = [float(((G[i] / norms[i]) ** 2).sum() - norms[i] ** 2) for i in np.flatnonzero(rep)]
        stats = lambda v: (float(v.min()), float(v.mean()), float(v.max())) if v.size else None  # noqa: E731
        out.append(dict(n_represented=int(rep.sum()), n_features=int(Wi.shape[1]),
                        interference=float(np.mean(interf)) if interf else 0.0,
                        bias_represented=stats(bi[rep]), bias_dropped=stats(bi[~rep]),
                        n_negative_bias=int((bi[rep] < -NEGATIVE_BIAS).sum())))
    return out


def wtw_caption(summary: Sequence[dict[str, Any]], labels: Sequence[str], threshold: float = 0.5,
                feature_probability: Any = None) -> str:
    """Caption of a :func:`plot_wtw` figure from :func:`wtw_summary` (one label per panel, e.g.
    "S = 0.90"), describing the first and the last panel with their own numbers. With
    ``feature_probability`` (p = 1 − S per panel) a dropped feature's bias is set beside the
    feature's mean p/2 (features uniform in [0, 1] when active), the constant guess that minimises
    the squared error."""
    if len(summary) != len(labels) or not summary:
        raise ValueError(f"need one label per instance summary, got {len(labels)} labels for {len(summary)}.")
    p = None if feature_probability is None else np.broadcast_to(np.asarray(feature_probability, float),
                                                                  (len(summary),))

    def rng(t: tuple[float, float, float]) -> str:
        return f"{_num(t[0])} to {_num(t[2])} (mean {_num(t[1])})"

    def panel(k: int) -> str:
        s, label = summary[k], labels[k]
        n_drop = s["n_features"] - s["n_represented"]
        text = (f"{label}: {s['n_represented']} of {s['n_features']} features represented, mean interference "
                f"among them {_num(s['interference'])}")
        if s["bias_represented"] is not None:
            text += (f"; their bias {rng(s['bias_represented'])}, {s['n_negative_bias']} below "
                     f"−{NEGATIVE_BIAS:g}")
        if n_drop:
            text += f"; the {n_drop} dropped features' bias {rng(s['bias_dropped'])}"
            if p is not None:
                text += f" against their mean input p/2 = {_num(p[k] / 2)}"
        return text

    return (f"Diagonal: ‖W_i‖² (represented: ‖W_i‖ > {threshold:g}); off-diagonal: interference; right column: "
            f"the bias b. {panel(0)}." + (f" {panel(len(summary) - 1)}." if len(summary) > 1 else ""))
