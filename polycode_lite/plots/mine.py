"""Figures of MINE runs (notebook 05's widgets): the held-out estimate against the optimiser step,
with the true MI (where it is known) and other references (the decoder bound, the ceiling H(x))
as horizontal lines, so that a learner sees the estimate climb towards (or past) the truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["plot_mine_training"]

#: how far below 0 the y axis reaches before a diving (diverging) curve is cut at the edge
FLOOR_NATS = -0.5


def plot_mine_training(curve: Mapping[str, Sequence[float]], estimate: float, *,
                       true_mi: float | None = None, references: Mapping[str, float] | None = None,
                       diverged: bool = False, ax: Any = None, title: str = "MINE estimate against training steps"
                       ) -> Any:
    """The MINE estimate over training: the held-out DV bound (and the minibatch bound, faint)
    against the optimiser step, the final ``estimate`` as a marker at the last step, the true MI
    as a dashed black line when ``true_mi`` is given, and each of ``references`` (label → nats,
    e.g. {"decoder bound": 1.9, "ceiling H(x)": 2.08}) as a dotted line. The y axis holds the
    truth, the references and the curve, but stops at FLOOR_NATS below 0 so that a diverging curve
    (``diverged``, said in the legend) cannot flatten the rest. Returns the axes.

    ``curve``: {"step", "heldout"} (and optionally "train") of equal length, as in
    :attr:`polycode_lite.science.mine.MIEstimate.curve`."""
    import matplotlib.pyplot as plt

    missing = [k for k in ("step", "heldout") if k not in curve]
    if missing:
        raise ValueError(f"curve must hold 'step' and 'heldout' lists (MIEstimate.curve); missing {missing}.")
    step = np.asarray(curve["step"], float)
    held = np.asarray(curve["heldout"], float)
    if step.shape != held.shape or step.size == 0:
        raise ValueError(f"curve['step'] and curve['heldout'] need the same, non-zero length; got "
                         f"{step.size} and {held.size}.")
    refs = dict(references or {})
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if "train" in curve and len(curve["train"]) == step.size:
        ax.plot(step, curve["train"], color="C0", alpha=0.3, lw=1, label="minibatch bound (training)")
    ax.plot(step, held, color="C0", lw=2, label="MINE held-out bound")
    est_label = f"estimate {estimate:.3f} nats" + (" (diverged: not a measurement)" if diverged else "")
    if np.isfinite(estimate):
        ax.plot([step[-1]], [estimate], "o", color="C3" if diverged else "C0", ms=8, label=est_label)
    if true_mi is not None:
        err = f", estimate {estimate / true_mi - 1:+.0%}" if true_mi and np.isfinite(estimate) else ""
        ax.axhline(true_mi, color="k", ls="--", lw=1.2, label=f"true MI {true_mi:.3f} nats{err}")
    for k, (name, value) in enumerate(refs.items()):
        ax.axhline(value, color=f"C{k + 1}", ls=":", lw=1.5, label=f"{name} {value:.3f} nats")
    shown = [v for v in [*held, estimate, *([] if true_mi is None else [true_mi]), *refs.values()]
             if np.isfinite(v)]
    lo, hi = max(min(shown + [0.0]), FLOOR_NATS), max(shown + [0.1])
    pad = 0.08 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("mutual information (nats)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return ax
