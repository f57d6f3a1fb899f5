"""Figures of sparse-dictionary feature recovery (issue 17): recovery against sparsity and against
features per dimension, with the capacity prediction, the control and chance marked.
Arrays in, a labelled matplotlib Figure out."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_recovery"]


def plot_recovery(sparsity: Any, ratio: Any, recovery: Any, control: Any, chance: Any,
                  capacity_sparsity: Any, predicted_dims: Any, threshold: float = 0.9) -> Any:
    """Two panels from (H, K) arrays (H widths with n/m ``ratio`` (H,), K sparsities (K,)):

    * left: recovery against S, one line per n/m, the Gaussian control dotted and chance grey;
      a dashed vertical line at each width's capacity S* (``capacity_sparsity``, (H,));
    * right: recovery against n/m, one line per S, with the capacity's limit n/m = 1/D*_pred(S)
      (``predicted_dims``, (K,)) marked by a tick of the same colour."""
    import matplotlib.pyplot as plt

    S, r = np.asarray(sparsity, float), np.asarray(ratio, float)
    rec, ctl, ch = (np.asarray(v, float) for v in (recovery, control, chance))
    s_star, dpred = np.asarray(capacity_sparsity, float), np.asarray(predicted_dims, float)
    if not (rec.shape == ctl.shape == ch.shape == (r.size, S.size)) or s_star.shape != r.shape or dpred.shape != S.shape:
        raise ValueError(f"recovery, control and chance must be (len(ratio), len(sparsity)) = ({r.size}, {S.size}), "
                         f"capacity_sparsity (len(ratio),), predicted_dims (len(sparsity),); got {rec.shape}, "
                         f"{ctl.shape}, {ch.shape}, {s_star.shape}, {dpred.shape}.")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colours = plt.cm.viridis(np.linspace(0, 0.85, r.size))
    for i, c in enumerate(colours):
        a1.plot(S, rec[i], "o-", color=c, label=f"SAE, n/m = {r[i]:.3g}")
        a1.plot(S, ctl[i], ":", color=c, lw=1.2)
        a1.plot(S, ch[i], "-", color="0.7", lw=0.8)
        a1.axvline(s_star[i], color=c, ls="--", lw=1)
    a1.plot([], [], "k:", label="control: Gaussian, same covariance")
    a1.plot([], [], "-", color="0.7", label="chance (random directions)")
    a1.plot([], [], "k--", label="capacity S*: D*_pred(S*) = m/n")
    a1.axhline(threshold, color="0.4", lw=0.6)
    a1.set_xlabel("sparsity S")
    a1.set_ylabel("feature recovery (mean best |cos|)")
    a1.set_title("Recovery against sparsity")
    a1.legend(fontsize=7, loc="lower right")
    order = np.argsort(r)
    colours2 = plt.cm.plasma(np.linspace(0, 0.85, S.size))
    for j, c in enumerate(colours2):
        a2.plot(r[order], rec[order, j], "o-", color=c, label=f"S = {S[j]:g}")
        a2.plot(r[order], ctl[order, j], ":", color=c, lw=1.2)
        limit = 1.0 / max(dpred[j], 1e-12)
        if r.min() / 1.5 <= limit <= r.max() * 1.5:
            a2.axvline(limit, color=c, ls="--", lw=1)
    a2.axhline(threshold, color="0.4", lw=0.6)
    a2.set_xlabel("features per dimension n/m (dashed: capacity limit 1/D*_pred(S))")
    a2.set_ylabel("feature recovery (mean best |cos|)")
    a2.set_title("Recovery against n/m")
    a2.legend(fontsize=7, loc="lower left")
    a1.set_ylim(0, 1.02)
    fig.tight_layout()
    return fig
