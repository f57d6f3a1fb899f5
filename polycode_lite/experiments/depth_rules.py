"""Verdict rule of the depth claim (notebook 07): α across depth, against the untrained control.

The paper says α depends on depth. What a measurement can show is sharper: the trained network's
α differs between layers (pairs of layers, Holm-corrected over all pairs), and the same
architecture at random initialisation, fitted in the same window, does not show that profile
(the training effect α_trained − α_untrained itself differs between layers, Holm-corrected).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite.science.multiple_comparisons import holm, se_from_ci, z_pvalues

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["depth_claims", "layer_pair_tests"]


def layer_pair_tests(alpha: Any, se: Any, grids: list | None = None, level: float = 0.05
                     ) -> dict[str, Any]:
    """All pairs i < j of per-layer estimates: z-test of α_i − α_j with s.e. √(se_i² + se_j²)
    (conservative when the estimates share documents and so are positively correlated), Holm
    over the pairs. With ``grids`` (one {window: α} per layer), a pair only counts when every
    shared window of the grid orders the two layers the same way.

    Returns dict(pairs, p, holm_p, significant (Holm), ordered (grid-consistent), n_pairs,
    n_significant, n_uncorrected (p < level without correction), n_reversed)."""
    a, s = np.asarray(alpha, dtype=float), np.asarray(se, dtype=float)
    pairs = [(i, j) for i in range(a.size) for j in range(i + 1, a.size)]
    p = np.array([z_pvalues(a[i] - a[j], np.hypot(s[i], s[j])) for i, j in pairs], dtype=float)
    reject, adj = holm(p, level) if pairs else (np.zeros(0, bool), np.zeros(0))

    def same_order(i: int, j: int) -> bool:
        if not grids:
            return True
        gi, gj = grids[i] or {}, grids[j] or {}
        sign = np.sign(a[i] - a[j])
        return all(np.sign(gi[w] - gj[w]) == sign for w in set(gi) & set(gj))

    ordered = np.array([same_order(i, j) for i, j in pairs], dtype=bool)
    sig = reject & ordered
    return dict(pairs=pairs, p=p, holm_p=adj, significant=sig, ordered=ordered, n_pairs=len(pairs),
                n_significant=int(sig.sum()), n_uncorrected=int(np.sum(p < level)),
                n_reversed=int(np.sum(reject & ~ordered)))


def _rows(table: pd.DataFrame, kind: str, what: str) -> pd.DataFrame:
    sub = table[table.kind == kind].sort_values("layer").reset_index(drop=True)
    if sub.empty:
        raise ValueError(f"the {what} table has no {kind!r} rows; its kinds are {sorted(set(table.kind))}.")
    return sub


def _grids(sub: pd.DataFrame) -> list | None:
    return list(sub["window_grid"]) if "window_grid" in sub else None


def _span(sub: pd.DataFrame) -> str:
    a = sub.alpha
    return f"{a.min():.2f}–{a.max():.2f}"


def depth_claims(table: pd.DataFrame, model_name: str, control: pd.DataFrame, kind: str = "mlp.post",
                 level: float = 0.05) -> list[dict[str, Any]]:
    """The paper's "α depends on depth" claim with its untrained control.

    Args:
        table: the trained model's :func:`~polycode_lite.experiments.language_depth.layer_alphas`
            table (columns kind, layer, alpha, ci_low, ci_high; optional window_lo/hi and
            window_grid).
        model_name: for the sentence.
        control: the same table for the same architecture at random initialisation
            (:func:`~polycode_lite.models.language_models.random_init_like`), same layers and,
            when the tables say, the same fit window.
        kind: the site compared across layers.
        level: family-wise error rate of Holm's correction.

    Rule: pairs of layers whose α differ by a z-test on the CI-derived s.e., Holm-corrected over
    all pairs and ordered the same way in every window of the grid. "holds" if the trained model
    has such a pair **and** the training effect (trained − untrained α per layer) differs
    between some pair of layers (Holm): training, not the architecture, shapes the depth
    profile. "partly" if the trained model has such pairs but the untrained one shows the same
    profile. Else "does not hold at this scale". NaN α or CI never counts.

    Returns one dict for ``record_claim`` (with ``control`` and ``why``: for a verdict other
    than "holds", what fell short in this run's numbers; empty for "holds").
    """
    sub, ctl = _rows(table, kind, "trained"), _rows(control, kind, "control")
    if sub.layer.tolist() != ctl.layer.tolist():
        raise ValueError(f"control has layers {ctl.layer.tolist()}, the trained table {sub.layer.tolist()}: "
                         "fit the same layers of both models.")
    if {"window_lo", "window_hi"} <= set(sub) & set(ctl):
        tw = list(zip(sub.window_lo, sub.window_hi))
        cw = list(zip(ctl.window_lo, ctl.window_hi))
        if tw != cw:
            raise ValueError(f"trained and control were fitted in different windows ({tw} vs {cw}): "
                             "fit both in one layer_alphas call (control=...).")
    se_t, se_c = se_from_ci(sub.ci_low, sub.ci_high), se_from_ci(ctl.ci_low, ctl.ci_high)
    trained = layer_pair_tests(sub.alpha, se_t, _grids(sub), level)
    untrained = layer_pair_tests(ctl.alpha, se_c, _grids(ctl), level)
    effect = sub.alpha.to_numpy(float) - ctl.alpha.to_numpy(float)
    inter = layer_pair_tests(effect, np.hypot(se_t, se_c), None, level)
    verdict = ("holds" if trained["n_significant"] and inter["n_significant"] else
               "partly" if trained["n_significant"] else "does not hold at this scale")
    a = sub.alpha
    window = (f"ranks {int(sub.window_lo[0])}..{int(sub.window_hi[0])}"
              if "window_lo" in sub and np.isfinite(sub.window_lo[0]) else "the same window")
    n = trained["n_pairs"]
    if verdict == "holds":
        why = ""
    elif trained["n_significant"]:
        why = (f"{trained['n_significant']} of {n} layer pairs differ, but the training effect (trained − "
               f"untrained α, {effect.min():+.2f} to {effect.max():+.2f}) differs between no pair after Holm's "
               f"correction: the untrained architecture has the same profile ({untrained['n_significant']} "
               f"of {n} pairs differ there).")
    else:
        why = (f"no pair of layers differs after Holm's correction and in every window of the grid (α "
               f"{a.min():.2f}–{a.max():.2f}; {trained['n_uncorrected']} of {n} pairs at p < {level:g} "
               f"uncorrected, {trained['n_reversed']} reversed by a window).")
    return [dict(
        claim="α of the activation covariance depends on depth (GPT-2 XL in the paper), and training shapes it",
        expected="[S] qualitative only: α depends on depth; no per-layer values are known",
        measured=(f"{model_name} {kind}: α from {a.min():.2f} to {a.max():.2f} (layer "
                  f"{int(sub.layer[a.idxmin()])} to {int(sub.layer[a.idxmax()])}); {trained['n_significant']} "
                  f"of {n} layer pairs differ after Holm's correction and in every window of the grid "
                  f"({trained['n_uncorrected']} at p < {level:g} uncorrected, {trained['n_reversed']} "
                  "more reversed by a window)"),
        control=(f"same architecture at random initialisation, {window}: α {_span(ctl)} "
                 f"({untrained['n_significant']} of {n} pairs differ after Holm); training changes α by "
                 f"{effect.min():+.2f} to {effect.max():+.2f} across layers, and this effect differs "
                 f"between {inter['n_significant']} of {n} layer pairs after Holm"),
        verdict=verdict,
        why=why,
        values=dict(model=model_name, layers=sub.layer.tolist(), alpha=a.round(4).tolist(),
                    ci_low=sub.ci_low.round(4).tolist(), ci_high=sub.ci_high.round(4).tolist(),
                    untrained_alpha=ctl.alpha.round(4).tolist(), untrained_ci_low=ctl.ci_low.round(4).tolist(),
                    untrained_ci_high=ctl.ci_high.round(4).tolist(), n_pairs=n,
                    n_holm_pairs=trained["n_significant"], n_uncorrected_pairs=trained["n_uncorrected"],
                    n_untrained_holm_pairs=untrained["n_significant"],
                    n_effect_holm_pairs=inter["n_significant"]))]
