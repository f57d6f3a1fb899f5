"""Why eval-mode PCA and the dropout-mask cross-covariance disagree about dropout (notebook 05 §3).

The α-against-dropout sweep (:mod:`polycode_lite.experiments.alpha_vs_dropout`) measures every
network two ways. In eval mode dropout is off: the spectrum is that of the deterministic code h(x).
In train mode every pass draws new masks; torch's dropout is inverted (kept units are scaled by
1/(1 − p), so a unit's mask average is its eval value), and a single pass carries mask noise of
variance p/(1 − p)·h² per unit, uneven across units (notebook 03 §3e). The cross-covariance of K
passes removes that noise *in expectation*; with finitely many masks and images what is left of it
fills the tail of the spectrum, which flattens it (lower α), and more so the larger p/(1 − p).

This module shows it where nothing is learned: a :class:`~polycode_lite.models.deep_dropout.ShapesMLP`
at its random initialisation (the untrained control of the sweep). Its weights do not depend on
the dropout rate, so its eval-mode α is the same at every rate, and at the first hidden layer the
mask average of the train-mode activations *is* the eval code: there, any gap between the two
measurements is the estimator's. :func:`run` measures, per layer and rate, in one window: eval PCA,
PCA of one train-mode pass, and the cross-covariance of K masks for each K in ``masks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polycode_lite import _checks as ck

__all__ = ["MaskNoiseConfig", "MaskNoiseResult", "run"]

METHODS = ("eval PCA", "one train-mode pass")


@dataclass(frozen=True)
class MaskNoiseConfig:
    """An untrained :class:`ShapesMLP` of ``widths`` (seed ``seed``) on ``n_eval`` shapes images
    (seed ``data_seed`` + 1, the sweep's eval images); dropout rates ``dropouts``; cross-covariance
    of K masks for K in ``masks`` (the sweep uses 8); fits in ``window`` (None: the pipeline's
    default). :meth:`from_sweep` takes the sizes of an
    :class:`~polycode_lite.experiments.alpha_vs_dropout.AlphaSweepConfig`."""

    widths: tuple[int, ...] = (256, 256, 256)
    n_eval: int = 2_500
    dropouts: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
    masks: tuple[int, ...] = (8, 32)
    seed: int = 0
    data_seed: int = 123
    window: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        widths = ck.sequence_of("widths", self.widths, lambda n, w: ck.integer(n, w, minimum=1))
        n_eval = ck.integer("n_eval", self.n_eval, minimum=2); ck.memory("n_eval, widths", (n_eval, max(widths), 4))
        ck.seed("seed", self.seed); ck.seed("data_seed", self.data_seed)
        ck.sequence_of("dropouts", self.dropouts, ck.real, min_len=0)
        ck.sequence_of("masks", self.masks, ck.integer, min_len=0)
        ck.optional(ck.window, "window", self.window, hi_max=min(n_eval, max(widths)))
        if not self.dropouts or any(not 0.0 < p < 1.0 for p in self.dropouts):
            raise ValueError(f"dropouts must be rates in (0, 1), got {self.dropouts}.")
        if not self.masks or any(int(k) < 2 for k in self.masks):
            raise ValueError(f"masks must be numbers of passes >= 2, got {self.masks}.")
        if self.window is not None and not (len(self.window) == 2 and 1 <= self.window[0] < self.window[1]):
            raise ValueError(f"window must be (lo, hi) with 1 <= lo < hi, got {self.window}.")

    @classmethod
    def from_sweep(cls, sweep: Any, window: tuple[int, int] | None = None, **overrides: Any) -> MaskNoiseConfig:
        """The sizes of the sweep ``sweep`` (widths, eval images, its rates above 0, first seed)."""
        kw = dict(widths=tuple(sweep.widths), n_eval=sweep.n_eval, data_seed=sweep.data_seed,
                  dropouts=tuple(p for p in sweep.dropouts if p > 0), seed=sweep.seeds[0], window=window)
        return cls(**{**kw, **overrides})


@dataclass
class MaskNoiseResult:
    """``rows``: one dict per (layer, dropout, method): depth, dropout, method ("eval PCA", "one
    train-mode pass", "8 masks", ...), alpha, r2, window_lo, window_hi; ``config``."""

    rows: list[dict[str, Any]]
    config: MaskNoiseConfig

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows)

    def table(self) -> Any:
        """α by (layer, method) × dropout rate, rounded to 3 significant figures."""
        df = self.frame()
        order = {m: i for i, m in enumerate(self.methods)}
        tab = df.pivot_table(index=["depth", "method"], columns="dropout", values="alpha", sort=False)
        tab = tab.reindex(sorted(tab.index, key=lambda ix: (ix[0], order[ix[1]])))
        tab.columns = [f"D={p:g}" for p in tab.columns]
        return tab.map(lambda v: float(f"{v:.3g}") if np.isfinite(v) else v)

    @property
    def methods(self) -> list[str]:
        return [*METHODS, *(f"{k} masks" for k in self.config.masks)]

    def value(self, depth: int, dropout: float, method: str) -> float:
        df = self.frame()
        hit = df[(df.depth == depth) & np.isclose(df.dropout, dropout) & (df.method == method)]
        return float(hit.alpha.iloc[0]) if len(hit) else float("nan")

    def summary(self) -> dict[str, Any]:
        """The numbers the notebook's explanation quotes, per layer at the highest rate p: eval
        α, one-pass α, α with the fewest and the most masks, and the share of the fewest-mask gap
        (eval − K-mask) that the most masks close; plus p and the noise-to-signal p/(1 − p)."""
        p = max(self.config.dropouts)
        k0, k1 = f"{min(self.config.masks)} masks", f"{max(self.config.masks)} masks"
        layers = {}
        for d in range(1, len(self.config.widths) + 1):
            ev, one, few, many = (self.value(d, p, m) for m in ("eval PCA", "one train-mode pass", k0, k1))
            gap = ev - few
            layers[d] = dict(eval=ev, one_pass=one, few=few, many=many,
                             closed=(many - few) / gap if abs(gap) > 1e-9 else float("nan"))
        return dict(p=p, noise_to_signal=p / (1 - p), few=k0, many=k1, layers=layers)

    def explanation(self) -> str:
        """Two or three sentences with this run's numbers, worded for any outcome."""
        s = self.summary()
        L = s["layers"]
        deep = max(L)
        first, last = L[1], L[deep]
        text = (f"In the untrained net at D = {s['p']:g} (mask noise {s['noise_to_signal']:.2g}× the signal's "
                f"variance per unit), eval PCA gives α = {first['eval']:.2f} at layer 1 and "
                f"{last['eval']:.2f} at layer {deep}, the same at every rate; one train-mode pass gives "
                f"{first['one_pass']:.2f} and {last['one_pass']:.2f}, and the cross-covariance of "
                f"{s['few']} {first['few']:.2f} and {last['few']:.2f}.")
        share = first["closed"]
        if not np.isfinite(share) or abs(first["eval"] - first["few"]) < 0.03:
            text += (f" At layer 1, where the mask average is exactly the eval code, {s['few']} already "
                     f"agree with eval PCA within 0.03.")
        elif share > 0.1:
            text += (f" With {s['many']}: {first['many']:.2f} and {last['many']:.2f}. At layer 1, where the "
                     f"mask average is exactly the eval code, more masks close {share:.0%} of the gap, so "
                     "that gap is noise the estimator has not averaged out, not a change in the code.")
        else:
            text += (f" With {s['many']}: {first['many']:.2f} and {last['many']:.2f}; at layer 1, where the "
                     f"mask average is exactly the eval code, more masks do not close the gap in this run "
                     f"({share:+.0%}), so it is the estimator's bias at this number of images.")
        return text

    def plot(self, axes: Any = None) -> Any:
        """α against the rate, one panel per layer, one line per method (:func:`polycode_lite.plots.dropout.plot_mask_noise`)."""
        from polycode_lite.plots.dropout import plot_mask_noise

        return plot_mask_noise(self.frame(), self.methods, axes=axes)


def run(config: MaskNoiseConfig = MaskNoiseConfig()) -> MaskNoiseResult:
    """Measure the untrained net's α per layer and rate by eval PCA, one train-mode pass, and the
    cross-covariance of each K in ``config.masks`` (plain fits, no CI: ``estimate_alpha`` with
    ``ci="none"``, in ``config.window``; a repeats window ends at its noise floor)."""
    ck.instance("config", config, MaskNoiseConfig, "MaskNoiseConfig()")
    from polycode_lite._common import limit_threads
    from polycode_lite.data.shapes import make_shapes
    from polycode_lite.experiments.alpha import estimate_alpha
    from polycode_lite.experiments.alpha_vs_dropout import record_layers
    from polycode_lite.models.deep_dropout import ShapesMLP

    images, _ = make_shapes(config.n_eval, seed=config.data_seed + 1)
    k_max = max(int(k) for k in config.masks)
    rows = []

    def fit(data: Any) -> tuple[float, float, int, int]:
        try:
            f = estimate_alpha(data, window=config.window, correct_bias=False, ci="none", seed=config.seed)
        except ValueError:  # too few ranks above the noise floor: no fit
            return float("nan"), float("nan"), 0, 0
        return float(f.alpha), float(f.r2), int(f.ranks[0]), int(f.ranks[1])

    with limit_threads(1):
        for p in config.dropouts:
            net = ShapesMLP(int(np.prod(images.shape[1:])), config.widths, 11, 3, p, seed=config.seed)
            ev, reps = record_layers(net, images, config.seed, k_max)
            for d, name in enumerate(net.layer_names(), 1):
                stack = np.stack([r[name].numpy() for r in reps]).astype(np.float64)
                data = {"eval PCA": ev[name].numpy().astype(np.float64), "one train-mode pass": stack[0]}
                data |= {f"{k} masks": stack[: int(k)] for k in config.masks}
                for method, x in data.items():
                    a, r2, lo, hi = fit(x)
                    rows.append(dict(depth=d, dropout=float(p), method=method, alpha=a, r2=r2,
                                     window_lo=lo, window_hi=hi))
    return MaskNoiseResult(rows=rows, config=config)
