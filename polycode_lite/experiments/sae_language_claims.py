"""Verdict rules and figures of the SAE-on-language experiment (:mod:`.sae_language`).

* :func:`latent_claims`: are SAE latents more explainable than random directions, and than
  neurons? Judged with the same pipeline's window-shuffled control, bootstrap CIs over unsigned
  directions (:func:`~polycode_lite.experiments.pseudo_neuron_claims.compare_kinds`) and Holm's
  correction over the two comparisons.
* :func:`selection_claim`: are latents picked by a statistic (top variance) more explainable than a
  random sample of the same SAE's latents?
* :func:`alpha_claim`: is the latent code's spectrum flatter (smaller α) than the neurons'?
* :func:`tradeoff_claim`: does the SAE reconstruct better than PCA with as many components as its L0?
* :func:`plot_kind_scores`, :func:`plot_tradeoff`: the two panels of ``SAELanguageResult.plot``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite import _checks as ck
from polycode_lite.experiments.pseudo_neuron_claims import compare_kinds
from polycode_lite.science.multiple_comparisons import holm

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["PICK_TEXT", "REFERENCES", "alpha_claim", "control_summary", "latent_claims", "plot_kind_scores",
           "plot_tradeoff", "selection_claim", "tradeoff_claim"]

KIND = "sae latent"
#: the kinds SAE latents are compared with, in the order of the Holm family
REFERENCES = ("random", "neuron")


def _sub(scores: pd.DataFrame, simulator: str) -> pd.DataFrame:
    if simulator not in set(scores.simulator):
        raise ValueError(f"simulator {simulator!r} is not in scores; it has {sorted(scores.simulator.unique())}.")
    sub = scores[scores.simulator == simulator]
    if "score_shuffled" not in sub or sub.score_shuffled.isna().all():
        raise ValueError(f"scores has no window-shuffled control for {simulator!r}: score with "
                         f"control_simulators=[{simulator!r}].")
    return sub.assign(excess=np.nan_to_num(sub.score.to_numpy(float)) - np.nan_to_num(sub.score_shuffled.to_numpy(float)))


def control_summary(scores: pd.DataFrame, simulator: str = "token lookup", n_boot: int = 1000,
                    seed: int = 0) -> pd.DataFrame:
    """Per kind, all layers pooled: mean score, the window-shuffled control and the excess
    (score − shuffled), each with its 95% bootstrap CI over unsigned directions. Columns kind, n,
    mean, ci_low, ci_high, shuffled, shuffled_ci_low, shuffled_ci_high, excess, excess_ci_low, excess_ci_high."""
    sub = _sub(scores, simulator)
    parts = {v: compare_kinds(sub, v, n_boot=n_boot, seed=seed, pool_layers=True).set_index("kind")
             for v in ("score", "score_shuffled", "excess")}
    out = parts["score"][["n", "mean", "ci_low", "ci_high"]].copy()
    for v, name in (("score_shuffled", "shuffled"), ("excess", "excess")):
        out[name], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = (parts[v][c] for c in ("mean", "ci_low", "ci_high"))
    return out.reset_index()


def _ci(mean: float, lo: float, hi: float, sign: bool = False) -> str:
    """"0.642 [0.519, 0.771]"; "1.451 (no CI)" when the interval was not computed (NaN bounds)."""
    f = "+.3f" if sign else ".3f"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:{f}} (no CI)"
    return f"{mean:{f}} [{lo:{f}}, {hi:{f}}]"


#: how the scored latents were picked (SAELanguageConfig.pick), as the claims state it
PICK_TEXT = {"variance": "the latents of largest activation variance on the train tokens (a selected set)",
             "frequency": "the most frequently firing latents on the train tokens (a selected set)",
             "random": "a seeded random sample of the live latents (unselected)"}


def latent_claims(scores: pd.DataFrame, simulator: str = "token lookup", seed: int = 0, n_boot: int = 1000,
                  level: float = 0.05, pick: str | None = None) -> list[dict[str, Any]]:
    """SAE latents against random directions, then against neurons, pooled over layers.

    Rule, per reference kind: "holds" when the latents are explainable (95% CI of score −
    window-shuffled score above 0) and beat the reference (difference > 0 and significant after
    Holm's correction over the two references, z-test on the bootstrap s.e.); "partly" when they
    are explainable and not significantly different from the reference; "does not hold at this
    scale" when they are not explainable, or significantly worse. Returns dicts for
    ``record_claim`` (``why`` from the numbers for a verdict other than "holds"). pick: how the
    latents were chosen (:data:`PICK_TEXT`), stated in ``measured``; neurons and random directions
    are random samples."""
    ck.seed("seed", seed); ck.integer("n_boot", n_boot, minimum=10); ck.probability("level", level)
    ck.optional(ck.choice, "pick", pick, tuple(PICK_TEXT))
    picked = f"; scored latents: {PICK_TEXT[pick]}, neurons and random directions: random samples" if pick else ""
    sub = _sub(scores, simulator)
    missing = [k for k in (KIND, *REFERENCES) if k not in set(sub.kind)]
    if missing:
        raise ValueError(f"scores has no {missing} directions for {simulator!r}; run sae_language.run.")
    ctl = control_summary(scores, simulator, n_boot, seed).set_index("kind")
    ov = {r: compare_kinds(sub, n_boot=n_boot, seed=seed, reference=r, pool_layers=True).set_index("kind").loc[KIND]
          for r in REFERENCES}
    reject, adj = holm(np.array([ov[r]["diff_p"] for r in REFERENCES]), level)
    s = e = ctl.loc[KIND]
    explainable = bool(e.excess_ci_low > 0)
    excess = _ci(e.excess, e.excess_ci_low, e.excess_ci_high, sign=True)
    out = []
    for r, rj, p in zip(REFERENCES, reject, adj):
        d, lo, hi = (float(ov[r][c]) for c in (f"diff_vs_{r}", "diff_ci_low", "diff_ci_high"))
        better, worse = bool(rj and d > 0), bool(rj and d < 0)
        verdict = ("holds" if explainable and better else
                   "partly" if explainable and not worse else "does not hold at this scale")
        diff = f"sae latent − {r} {_ci(d, lo, hi, sign=True)}, Holm p {p:.3g} over {len(REFERENCES)} comparisons"
        if verdict == "holds":
            why = ""
        elif not explainable:
            why = (f"SAE latents score no more than the window-shuffled control (latent − shuffled {excess}, not "
                   "above 0): their explanations predict nothing the pipeline's own bias does not.")
        elif worse:
            why = f"SAE latents are explainable (latent − shuffled {excess}) but score below {r} directions: {diff}."
        else:
            why = (f"SAE latents are explainable (latent − shuffled {excess}) but not significantly better than "
                   f"{r} directions: {diff}.")
        rc = ctl.loc[r]
        out.append(dict(
            claim=f"SAE latents of the MLP code are more explainable than {'random directions' if r == 'random' else 'single neurons'}",
            expected=("[I] the field's premise (Bricken et al. 2023; Cunningham et al. 2023): dictionary features "
                      "are more interpretable than neurons; the paper expects random directions to be as "
                      "explainable as neurons"),
            measured=(f"{simulator} score, all layers (95% CI over directions): sae latent {_ci(s['mean'], s.ci_low, s.ci_high)}, "
                      f"{r} {_ci(rc['mean'], rc.ci_low, rc.ci_high)}; {diff}"
                      + (" (better)" if better else " (worse)" if worse else " (no significant difference)") + picked),
            control=(f"window-shuffled control of the same pipeline: sae latent {_ci(s.shuffled, s.shuffled_ci_low, s.shuffled_ci_high)}, "
                     f"{r} {_ci(rc.shuffled, rc.shuffled_ci_low, rc.shuffled_ci_high)}; latent − shuffled {excess}"
                     + (" (explainable)" if explainable else " (not above the control)")),
            verdict=verdict, why=why,
            values=dict(reference=r, mean=float(s["mean"]), ci=[float(s.ci_low), float(s.ci_high)],
                        reference_mean=float(rc["mean"]), diff=d, diff_ci=[lo, hi], holm_p=float(p),
                        excess_ci=[float(e.excess_ci_low), float(e.excess_ci_high)], explainable=explainable)))
    return out


def selection_claim(scores: pd.DataFrame, selected: str, simulator: str = "token lookup", seed: int = 0,
                    n_boot: int = 1000, level: float = 0.05) -> dict[str, Any]:
    """Are the latents of kind ``selected`` (e.g. "sae latent by variance") more explainable than the
    scored random sample of the same SAE's latents (kind "sae latent")? A selection effect, measured.

    Rule: "holds" when the selected latents are explainable (95% CI of score − window-shuffled
    score above 0) and score above the random sample (difference > 0, z-test on the bootstrap s.e.
    at ``level``); "partly" when explainable and not significantly different; "does not hold at this
    scale" when not explainable, or significantly worse."""
    ck.text("selected", selected); ck.seed("seed", seed); ck.integer("n_boot", n_boot, minimum=10)
    ck.probability("level", level)
    sub = _sub(scores, simulator)
    missing = [k for k in (KIND, selected) if k not in set(sub.kind)]
    if missing:
        raise ValueError(f"scores has no {missing} directions for {simulator!r}; run sae_language.run with also_pick.")
    ctl = control_summary(scores, simulator, n_boot, seed).set_index("kind")
    row = compare_kinds(sub, n_boot=n_boot, seed=seed, reference=KIND, pool_layers=True).set_index("kind").loc[selected]
    d, lo, hi, p = (float(row[c]) for c in (f"diff_vs_{KIND}", "diff_ci_low", "diff_ci_high", "diff_p"))
    e, r = ctl.loc[selected], ctl.loc[KIND]
    explainable = bool(e.excess_ci_low > 0)
    better, worse = bool(p < level and d > 0), bool(p < level and d < 0)
    verdict = ("holds" if explainable and better else
               "partly" if explainable and not worse else "does not hold at this scale")
    diff = f"{selected} − {KIND} {_ci(d, lo, hi, sign=True)}, p {p:.3g}"
    excess = _ci(e.excess, e.excess_ci_low, e.excess_ci_high, sign=True)
    why = "" if verdict == "holds" else (
        f"the selected latents score no more than the window-shuffled control ({selected} − shuffled {excess})."
        if not explainable else
        f"the selected latents score below the random sample: {diff}." if worse else
        f"the selected latents are not significantly more explainable than a random sample of the same SAE's "
        f"latents: {diff}.")
    return dict(
        claim=f"Picking SAE latents by {selected.removeprefix(KIND + ' by ')} finds more explainable latents than a "
              "random sample of them",
        expected="[I] a selection effect: the latents usually shown are the strongest ones; exploratory",
        measured=(f"{simulator} score, all layers (95% CI over directions): {selected} "
                  f"{_ci(e['mean'], e.ci_low, e.ci_high)}, random sample {_ci(r['mean'], r.ci_low, r.ci_high)}; {diff}"),
        control=(f"a seeded random sample of the same SAE's live latents, same pipeline; window-shuffled control: "
                 f"{selected} {_ci(e.shuffled, e.shuffled_ci_low, e.shuffled_ci_high)}, random sample "
                 f"{_ci(r.shuffled, r.shuffled_ci_low, r.shuffled_ci_high)}"),
        verdict=verdict, why=why,
        values=dict(selected=selected, diff=d, diff_ci=[lo, hi], p=p, explainable=explainable))


def alpha_claim(alphas: pd.DataFrame) -> dict[str, Any]:
    """Is the SAE's latent code flatter (smaller α) than the neurons of the same layer? [I]

    Rule: "holds" when at every hook both α are finite, neither fit is flagged (e.g. "curved":
    no single power law) and the latent code's 95% CI lies wholly below the neurons'; "partly" when the latent α is below the neurons' at every hook but some
    CIs overlap (or are missing); "does not hold at this scale" when it is not below at some hook
    or an α could not be fitted."""
    need = {"hook", "code", "alpha", "ci_low", "ci_high"}
    if not need <= set(alphas.columns) or not {"neurons", "sae latents"} <= set(alphas.code):
        raise ValueError(f"alphas needs columns {sorted(need)} and codes 'neurons' and 'sae latents'.")
    rows, parts = [], []
    for hook, g in alphas.groupby("hook", sort=False):
        n, z = g.set_index("code").loc["neurons"], g.set_index("code").loc["sae latents"]
        finite = bool(np.isfinite(n.alpha) and np.isfinite(z.alpha))
        flagged = [f"{c} {x}" for c, x in (("neurons", n.get("flags", "")), ("latents", z.get("flags", "")))
                   if isinstance(x, str) and x]
        rows.append(dict(hook=hook, finite=finite, below=finite and z.alpha < n.alpha, flagged=flagged,
                         separated=finite and bool(z.ci_high < n.ci_low) and not flagged))
        parts.append(f"{hook}: latents {_ci(z.alpha, z.ci_low, z.ci_high)}, neurons {_ci(n.alpha, n.ci_low, n.ci_high)}"
                     + (f" (not fitted: {z.note if not np.isfinite(z.alpha) else n.note})" if not finite else ""))
    verdict = ("holds" if all(r["separated"] for r in rows) else
               "partly" if all(r["below"] for r in rows) else "does not hold at this scale")
    bad = [r["hook"] for r in rows if not (r["separated"] if verdict == "partly" else r["below"])]
    flags = "; ".join(f"{r['hook']}: {', '.join(r['flagged'])}" for r in rows if r["flagged"])
    why = "" if verdict == "holds" else (
        f"the latent code's α is below the neurons' everywhere but at {', '.join(bad)} the CIs overlap or a fit "
        "is flagged" + (f" ({flags})" if flags else "") + "." if verdict == "partly" else
        f"the latent code's α is not below the neurons' (or not fitted) at {', '.join(bad)}: " + "; ".join(parts)
        + (f" (flagged: {flags})" if flags else "") + ".")
    win = alphas.iloc[0]
    return dict(
        claim="A sparse dictionary's latent code has a flatter covariance spectrum (smaller α) than the neurons",
        expected="[I] a sparse code spreads the variance over more, nearly independent latents; exploratory",
        measured=("α (95% bootstrap CI over document groups): " if np.isfinite(alphas.ci_low.to_numpy(float)).any()
                  else "α (no bootstrap CI: alpha_boot = 0): ") + "; ".join(parts),
        control=(f"the neurons of the same layer on the same eval tokens, document groups and fit window "
                 f"(ranks {win.get('window_lo', '?')}..{win.get('window_hi', '?')})"),
        verdict=verdict, why=why, values=dict(per_hook=rows))


def tradeoff_claim(tradeoff: pd.DataFrame) -> dict[str, Any]:
    """Does the SAE reconstruct held-out activations better than PCA with as many components as its L0?

    Rule: "holds" when its FVU is below PCA's at every sparsity of the sweep; "partly" at some;
    else "does not hold at this scale"."""
    need = {"sparsity", "fvu", "l0", "fvu_pca_same_l0", "dead_fraction"}
    if not need <= set(tradeoff.columns) or tradeoff.empty:
        raise ValueError(f"tradeoff needs rows and columns {sorted(need)}.")
    wins = tradeoff.fvu.to_numpy() < tradeoff.fvu_pca_same_l0.to_numpy()
    verdict = "holds" if wins.all() else "partly" if wins.any() else "does not hold at this scale"
    rows = [f"{r.sparsity:g}: FVU {r.fvu:.3f} at L0 {r.l0:.1f} (PCA {r.fvu_pca_same_l0:.3f}, dead {r.dead_fraction:.0%})"
            for r in tradeoff.itertuples()]
    lost = [f"{r.sparsity:g}" for r, w in zip(tradeoff.itertuples(), wins) if not w]
    why = "" if verdict == "holds" else (
        f"at sparsity {', '.join(lost)} of {len(wins)} the SAE's held-out FVU is not below PCA's with as many "
        "components as its L0: " + "; ".join(rows) + ".")
    method = str(tradeoff.method.iloc[0]) if "method" in tradeoff else "sae"
    return dict(
        claim="A sparse autoencoder reconstructs the MLP code better than PCA with as many components as its L0",
        expected="[I] a sparse code of L0 active latents out of many should beat the best L0-dimensional subspace",
        measured=f"held-out FVU per {method} sparsity: " + "; ".join(rows),
        control="PCA fitted on the same train tokens, evaluated on the same held-out tokens, rank = round(L0)",
        verdict=verdict, why=why, values=dict(sparsity=tradeoff.sparsity.tolist(), fvu=tradeoff.fvu.tolist(),
                                              l0=tradeoff.l0.tolist(), pca=tradeoff.fvu_pca_same_l0.tolist()))


def plot_kind_scores(summary: pd.DataFrame, ax: Any = None, title: str = "") -> Any:
    """Mean score per kind with its 95% CI (filled) and the window-shuffled control (hollow),
    from :func:`control_summary`."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.6))[1]
    x = np.arange(len(summary))
    ax.errorbar(x, summary["mean"], yerr=[summary["mean"] - summary.ci_low, summary.ci_high - summary["mean"]],
                fmt="o", capsize=3, label="score")
    ax.errorbar(x + 0.15, summary.shuffled, yerr=[summary.shuffled - summary.shuffled_ci_low,
                                                  summary.shuffled_ci_high - summary.shuffled],
                fmt="o", mfc="none", color="0.5", capsize=3, label="window-shuffled control")
    ax.set_xticks(x, summary.kind, rotation=20)
    ax.axhline(0, color="0.7", lw=0.6)
    ax.set(xlabel="kind of direction", ylabel="explanation score (pooled correlation)",
           title=title or "explanation score by kind")
    ax.legend(fontsize=8)
    return ax


def plot_tradeoff(tradeoff: pd.DataFrame, ax: Any = None, highlight: float | None = None) -> Any:
    """Held-out FVU against L0 (log axis) for the SAEs of the sweep (labelled by k or L1, with the
    dead fraction) and PCA with as many components; ``highlight``: a sparsity of the sweep to ring
    (a widget's slider value). Raises ValueError for a ``highlight`` not in the sweep."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.6))[1]
    t = tradeoff.sort_values("l0")
    ax.plot(t.l0, t.fvu, "o-", label="SAE")
    ax.plot(t.l0, t.fvu_pca_same_l0, "s--", color="0.5", label="PCA, rank = L0")
    name = "k" if str(t.method.iloc[0]) == "topk" else "L1"
    for r in t.itertuples():
        ax.annotate(f"{name}={r.sparsity:g}\n{r.dead_fraction:.0%} dead", (r.l0, r.fvu), fontsize=7,
                    textcoords="offset points", xytext=(4, 4))
    if highlight is not None:
        hit = t[np.isclose(t.sparsity.astype(float), ck.real("highlight", highlight))]
        if hit.empty:
            raise ValueError(f"highlight={highlight!r} is not a sparsity of the sweep {t.sparsity.tolist()}.")
        ax.plot(hit.l0, hit.fvu, "o", ms=14, mfc="none", mec="C3", label=f"{name}={highlight:g}")
    ax.set_xscale("log")
    ax.set(xlabel="L0 (active latents per token)", ylabel="fraction of variance unexplained (held out)",
           title=f"reconstruction–sparsity trade-off, {t.hook.iloc[0]}")
    ax.legend(fontsize=8)
    return ax
