"""Figures of the coding theory of superposition (notebook 02), each with a caption built from
the numbers it draws.

* :func:`plot_sparse_entropy`, :func:`sparse_entropy_caption`  Lemma 2's entropy per element and
  where the "which features are active" part H_b(S) overtakes the value part (1−S)·H_elem.
* :func:`prediction_position`, :func:`prediction_caption`  where the entropy prediction
  D*_pred lies against a measured D* curve (above / within / below, per H_elem).
* :func:`plot_channel`, :func:`channel_caption`  Theorem 3's dropout channel: the capacity and,
  zoomed, each simulated code's difference from C·(1−D) with ±2 s.e.
* :func:`plot_theorem4`, :func:`theorem4_caption`  Theorem 4's entropy bound per unit against α.

All entropies are in bits. Every figure helper returns a labelled matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from polycode_lite.science import capacity as cap

__all__ = ["channel_caption", "plot_channel", "plot_sparse_entropy", "plot_theorem4", "prediction_caption",
           "prediction_position", "sparse_entropy_caption", "theorem4_caption"]

#: |D*_pred − D*| up to this counts as "on" the measured curve (the comparison's tolerance)
POSITION_TOL = 0.02


def _h_elems(h_elems: Sequence[float]) -> list[float]:
    hs = [float(h) for h in h_elems]
    if not hs or any(not h > 0 for h in hs):
        raise ValueError(f"h_elems must be one or more positive bit counts, got {list(h_elems)!r}.")
    return hs


# ------------------------------------------------------------------------------------------
# Lemma 2: entropy of sparse inputs
# ------------------------------------------------------------------------------------------
def entropy_crossover(h_elem: float, x_max: float = 1e3) -> float | None:
    """The smallest 1/(1−S) ≤ ``x_max`` at which H_b(S) exceeds the value part (1−S)·H_elem, or
    None if it does not within the range (on a log grid of 2,000 points)."""
    x = np.logspace(0, np.log10(x_max), 2000)
    S = 1 - 1 / x
    over = np.flatnonzero(cap.binary_entropy(S) > (1 - S) * float(h_elem))
    return float(x[over[0]]) if over.size else None


def plot_sparse_entropy(h_elems: Sequence[float] = (4, 8, 23), x_max: float = 1e3) -> Any:
    """Entropy per S-sparse element, H_b(S) + (1−S)·H_elem, for each H_elem (solid), its value
    part (1−S)·H_elem (dotted, same colour) and H_b(S) (black dashed), against 1/(1−S), log–log."""
    import matplotlib.pyplot as plt

    hs = _h_elems(h_elems)
    inv = np.logspace(0, np.log10(x_max), 200)
    S = 1 - 1 / inv
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for k, h in enumerate(hs):
        color = f"C{k}"
        ax.plot(inv, cap.sparse_entropy(1, S, h), color=color, label=f"H_b(S) + (1−S)·{h:g} bits (total)")
        ax.plot(inv, (1 - S) * h, ":", color=color, lw=1, label=f"(1−S)·{h:g}: the value part")
    ax.plot(inv, cap.binary_entropy(S), "k--", label="H_b(S): which features are active")
    ax.set(xscale="log", yscale="log", ylim=(1e-3, None),
           xlabel="1/(1−S)  (inverse feature density, log scale)",
           ylabel="entropy per input element (bits, log scale)",
           title="Entropy of one S-sparse input element (Lemma 2)")
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    return fig


def sparse_entropy_caption(h_elems: Sequence[float] = (4, 8, 23), x_max: float = 1e3) -> str:
    """Caption of :func:`plot_sparse_entropy`: where H_b(S) overtakes the value part, per H_elem."""
    hs = _h_elems(h_elems)
    parts = []
    for h in hs:
        x = entropy_crossover(h, x_max)
        parts.append(f"from 1/(1−S) = {x:.3g} for H_elem = {h:g}" if x is not None
                     else f"not within 1/(1−S) ≤ {x_max:g} for H_elem = {h:g}")
    return ("Sparse inputs carry little information per element. The value part (1−S)·H_elem (dotted) falls like "
            "1/x; the 'which ones are active' part H_b(S) (dashed) falls like log₂(x)/x, a little slower, so it "
            "overtakes the value part at high sparsity: " + "; ".join(parts) + ".")


# ------------------------------------------------------------------------------------------
# the entropy prediction against the toy model
# ------------------------------------------------------------------------------------------
def prediction_position(inverse_density: Any, dims_per_feature: Any, n_features: int, n_hidden: int,
                        h_elems: Sequence[float], tol: float = POSITION_TOL) -> list[dict[str, float]]:
    """For each H_elem, the share of the measured points where D*_pred (clipped at m/n, as drawn)
    lies ``above`` the measured D* by more than ``tol``, ``within`` ±tol, or ``below`` it, and
    the largest excess of the prediction over the measurement (``max_excess``, may be < 0).

    Raises: ValueError for unequal curves or a negative tol."""
    x = np.asarray(inverse_density, dtype=float)
    d = np.asarray(dims_per_feature, dtype=float)
    if x.shape != d.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"inverse_density and dims_per_feature must be equally long 1-D curves, got "
                         f"{x.shape} and {d.shape}.")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}.")
    out = []
    for h in _h_elems(h_elems):
        p = np.asarray(cap.predicted_dims_per_feature(1 - 1 / x, h, n_features=n_features, n_hidden=n_hidden))
        gap = p - d
        out.append(dict(h_elem=h, above=float(np.mean(gap > tol)), within=float(np.mean(np.abs(gap) <= tol)),
                        below=float(np.mean(gap < -tol)), max_excess=float(gap.max())))
    return out


def prediction_caption(positions: Sequence[dict[str, float]], n_points: int, tol: float = POSITION_TOL) -> str:
    """Caption of the prediction-vs-toy overlay from :func:`prediction_position`."""
    if not positions:
        raise ValueError("positions is empty: pass prediction_position(...) for the drawn H_elem values.")
    pieces = []
    for r in positions:
        pieces.append(f"H_elem = {r['h_elem']:g} bits: below the toy model at {100 * r['below']:.0f}%, within "
                      f"±{tol:g} at {100 * r['within']:.0f}%, above at {100 * r['above']:.0f}%")
    everywhere_below = all(r["above"] == 0 for r in positions)
    reading = ("no drawn curve lies above the measured D*: the toy model uses at least as many dimensions per "
               "feature as a lossless code would need" if everywhere_below else
               "where a curve lies above the measured D*, the toy model uses fewer dimensions per feature than a "
               "lossless code with that H_elem could: it loses information, or its values carry fewer bits")
    return (f"Black: the toy model's D* ({n_points} sparsities). Coloured: the entropy prediction "
            f"(1−S) + H_b(S)/H_elem clipped at m/n. Share of the sparsities where the prediction lies below / on / "
            f"above the measured D*: " + "; ".join(pieces) + f". {reading[0].upper() + reading[1:]}.")


# ------------------------------------------------------------------------------------------
# Theorem 3: the dropout channel
# ------------------------------------------------------------------------------------------
def plot_channel(channel: Any) -> Any:
    """Two panels for a :class:`~polycode_lite.experiments.superposition_capacity.ChannelResult`:
    left, the mutual information per unit against D with Theorem 3's band; right, zoomed, each
    simulated code's difference from C·(1−D) in bits, with ±2 s.e. bars when the result has them
    and the lower bound's difference −εC(1−D) drawn as a line."""
    import matplotlib.pyplot as plt

    D = np.asarray(channel.dropout, dtype=float)
    upper, lower = np.asarray(channel.upper), np.asarray(channel.lower)
    nz, wz = np.asarray(channel.simulated_nonzero), np.asarray(channel.simulated_with_zero)
    se_nz = getattr(channel, "se_nonzero", None)
    se_wz = getattr(channel, "se_with_zero", None)
    n_sym = 2 ** channel.c_bits
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.0))
    ax1.fill_between(D, lower, upper, color="tab:green", alpha=0.25, label="Theorem 3 bounds")
    ax1.plot(D, upper, "g-", lw=1, label="C·(1−D)")
    ax1.plot(D, nz, "ko", label=f"simulated, {n_sym - 1} non-zero symbols")
    ax1.plot(D, wz, "rs", ms=5, label=f"simulated, {n_sym} symbols incl. 0")
    ax1.set(xlabel="dropout rate D", ylabel="mutual information per unit (bits)",
            title=f"Capacity of a {channel.c_bits}-bit unit behind dropout")
    ax1.legend(fontsize=8)
    ax2.axhline(0, color="g", lw=1, label="C·(1−D) (upper bound)")
    ax2.plot(D, lower - upper, "g--", lw=1, label="lower bound (1−ε)C(1−D)")
    ax2.errorbar(D, nz - upper, yerr=None if se_nz is None else 2 * np.asarray(se_nz), fmt="ko", capsize=3,
                 label=f"{n_sym - 1} non-zero symbols (erasure code)")
    ax2.errorbar(D + 0.01, wz - upper, yerr=None if se_wz is None else 2 * np.asarray(se_wz), fmt="rs", ms=5,
                 capsize=3, label=f"{n_sym} symbols incl. 0")
    lo = float(min((wz - upper).min(), (lower - upper).min()))
    ax2.set_ylim(1.25 * lo - 0.005, max(0.01, 0.15 * abs(lo)))
    ax2.set(xlabel="dropout rate D", ylabel="simulated − C·(1−D)  (bits)",
            title="Zoomed: difference from C·(1−D)" + (", ±2 s.e." if se_nz is not None else ""))
    ax2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def channel_caption(channel: Any) -> str:
    """Caption of :func:`plot_channel` from the channel's numbers."""
    D = np.asarray(channel.dropout, dtype=float)
    upper, lower = np.asarray(channel.upper), np.asarray(channel.lower)
    nz, wz = np.asarray(channel.simulated_nonzero), np.asarray(channel.simulated_with_zero)
    below_lower = lower - wz
    k = int(np.argmax(below_lower))
    gap0 = float((upper - lower)[0])
    se = getattr(channel, "se_nonzero", None)
    se_text = (f"; bars are ±2 s.e. from {channel.n_subsamples} sub-samples (largest 2 s.e. "
               f"{2 * float(np.max(se)):.2g} bits)" if se is not None else "")
    return (f"Left: both codes lie close to C·(1−D) on the {channel.c_bits}-bit scale. Right, zoomed to the "
            f"differences (bits): the erasure code (black) sits on Theorem 3's lower bound, within "
            f"{float(np.max(np.abs(nz - lower))):.2g} bits of it at every D, {gap0:.3g}·(1−D) bits below C·(1−D); the "
            f"code that also uses 0 (red) falls below the lower bound by up to {float(below_lower[k]):.3g} bits "
            f"(at D = {D[k]:g}), because a dropped unit and a genuine 0 look the same{se_text}.")


# ------------------------------------------------------------------------------------------
# Theorem 4: the entropy cost of a steep spectrum
# ------------------------------------------------------------------------------------------
def plot_theorem4(ms: Sequence[int] = (256, 1024, 6400), n_bits: float = 16, alphas: Any = None) -> Any:
    """Theorem 4's entropy bound per unit against the fitted (eigenvalue) α, clipped per unit at
    0 (solid) and in Stirling form (dotted), one curve per width m."""
    import matplotlib.pyplot as plt

    a = np.linspace(0, 3, 61) if alphas is None else np.asarray(alphas, dtype=float)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for k, m in enumerate(ms):
        h = cap.powerlaw_entropy_bound(int(m), n_bits, a, exponent="eigenvalue") / m
        ax.plot(a, h, color=f"C{k}", label=f"m = {m}")
        ax.plot(a, np.maximum(cap.powerlaw_entropy_stirling(m, n_bits, a, exponent="eigenvalue") / m, 0),
                ":", color="0.4", lw=1)
    ax.plot([], [], ":", color="0.4", label="Stirling form")
    ax.set(xlabel="fitted power-law exponent α of the eigenvalues (λ_i ∝ i^−α)",
           ylabel="entropy bound per unit (bits)",
           title=f"Theorem 4: a steeper spectrum carries less information ({n_bits:g}-bit units)")
    ax.legend(fontsize=8)
    return fig


def theorem4_caption(ms: Sequence[int] = (256, 1024, 6400), n_bits: float = 16) -> str:
    """Caption of :func:`plot_theorem4`: the drop per unit of α read off the clipped curves
    between α = 0 and 1, against ½·log₂(m/e)."""
    pieces = []
    for m in ms:
        h = cap.powerlaw_entropy_bound(int(m), n_bits, np.array([0.0, 1.0]), exponent="eigenvalue") / m
        pieces.append(f"m = {m}: {float(h[0] - h[1]):.2f} (½·log₂(m/e) = {float(cap.bits_lost_per_unit_alpha(m)):.2f})")
    return (f"Entropy bound per unit against the fitted (eigenvalue) α, clipped per unit at 0 (solid) and in Stirling "
            f"form (dotted). Each unit of α costs, in bits per unit between α = 0 and 1, " + "; ".join(pieces)
            + ". Where the solid curve bends away from the dotted one, units are clipped at 0 and the linear cost no "
              "longer applies.")
