"""Results, verdict rules and plots of the information-through-depth experiment
(:mod:`polycode_lite.experiments.mi_depth`, docs/paper_guide.md §3 E4).

Verdicts are conservative about the estimator: a model's information is read as the *lower* of
the two estimators (MINE's held-out DV bound, the decoder bound) when it is the claim's subject,
and as the *higher* of the two when it is a control, so a claim must survive the choice of
estimator. Diverged MINE runs are left out of every mean (and counted).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "AUTHORS_FIGURE", "MODELS", "NECESSARY_INFORMATION_NATS", "DepthResult", "capacity_line_nats",
    "dropout_effect_verdict", "dropout_effect_why", "information_claims", "keeps_information_verdict",
    "keeps_information_why",
]

#: the trained model and its two controls (docs/paper_guide.md §3 E4, issue 13)
MODELS = ("trained", "no_dropout", "untrained")

#: 3 uniform bits: H(x) of the code-book input, the ceiling on every I(x; h_l) (nats).
NECESSARY_INFORMATION_NATS = 3.0 * math.log(2.0)

#: Values read off the authors' figure ``Mutual_info_through_layers.png`` (nats, approximate;
#: docs/paper_guide.md §3 E4, tag [C-fig]; continuous x, so not bounded by 3·ln 2).
AUTHORS_FIGURE: dict[str, dict[int, float]] = {
    "trained": {3: 3.9, 6: 3.3, 9: 3.5, 12: 3.1, 15: 3.3, 18: 3.0, 21: 3.15, 24: 2.95, 30: 2.8,
                36: 2.75, 42: 2.7, 48: 2.6, 54: 2.55, 60: 2.4},
    "untrained": {3: 4.3, 6: 4.3, 9: 3.9, 12: 2.9, 15: 2.6, 18: 2.1, 21: 2.0, 24: 1.7, 30: 1.3,
                  39: 1.0, 48: 0.7, 54: 0.55, 60: 0.2},
}


def capacity_line_nats(width: int = 32, dropout: float = 0.2, bits_per_unit: float = 1.0) -> float:
    """Dropout-channel capacity bound (1 − D)·width·C_base in nats (Theorem 3, docs/paper_guide.md §2.2).

    With C_base = 1 bit per unit this is the authors' "theoretical limit" line; they used 0.7
    where (1 − D) = 0.8 (pitfall 12), so ours is 17.7 nats, theirs 15.5."""
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")
    return (1.0 - dropout) * width * bits_per_unit * math.log(2.0)


# --------------------------------------------------------------------------------------
# verdict rules (pure functions of numbers; tests feed them nulls)
# --------------------------------------------------------------------------------------
def keeps_information_verdict(subject: float, control: float, line: float,
                              keep_fraction: float = 0.9, margin: float = 0.3) -> str:
    """"holds" if ``subject`` (nats at the last layer) is at least ``keep_fraction``·``line`` AND
    exceeds ``control`` by more than ``margin``; "partly" if it only exceeds the control by the
    margin; else "does not hold at this scale". A subject no better than its control never holds."""
    if not (math.isfinite(subject) and math.isfinite(control)):
        return "does not hold at this scale"
    beats = subject - control > margin
    if beats and subject >= keep_fraction * line:
        return "holds"
    return "partly" if beats else "does not hold at this scale"


def dropout_effect_verdict(subject: Mapping[int, float], control: Mapping[int, float],
                           from_layer: int = 12, margin: float = 0.3) -> str:
    """"holds" if ``subject`` beats ``control`` by more than ``margin`` nats at every common layer
    ≥ ``from_layer``; "partly" if only at the last common layer; else "does not hold at this
    scale" (also when no layer qualifies)."""
    common = sorted(l for l in set(subject) & set(control) if l >= from_layer)
    gaps = {l: subject[l] - control[l] for l in common}
    if not gaps or not all(math.isfinite(g) for g in gaps.values()):
        return "does not hold at this scale"
    if all(g > margin for g in gaps.values()):
        return "holds"
    return "partly" if gaps[common[-1]] > margin else "does not hold at this scale"


def keeps_information_why(verdict: str, subject: float, control: float, line: float, layer: int,
                          keep_fraction: float = 0.9, margin: float = 0.3) -> str:
    """Why :func:`keeps_information_verdict` gave ``verdict`` (any outcome), in the numbers:
    the subject's nats at ``layer`` against the ``line`` (the share of it kept, and the share the
    claim needs) and against the control (the gap, and the margin it needs)."""
    if not (math.isfinite(subject) and math.isfinite(control)):
        return (f"At l={layer} an estimate is missing (trained {subject:.2f}, untrained {control:.2f} nats), "
                "so the claim cannot be read.")
    share, gap = subject / line, subject - control
    kept = (f"the dropout-trained net keeps {subject:.2f} nats at l={layer} (lower estimator), "
            f"{share:.0%} of the {line:.2f}-nat ceiling")
    beat = f"{gap:.2f} nats more than the untrained net's {control:.2f} (higher estimator)"
    if verdict == "holds":
        return (f"It holds: {kept} (the claim needs {keep_fraction:.0%}), {beat}, beyond the "
                f"{margin:g}-nat margin.")
    if verdict == "partly":
        return (f"Only the comparison holds: {kept}, short of the {keep_fraction:.0%} the claim needs, "
                f"though {beat}; part of the 3 bits is lost on the way through the layers.")
    return (f"{kept[0].upper() + kept[1:]}, {gap:+.2f} nats against the untrained net's {control:.2f} "
            f"(higher estimator): within the {margin:g}-nat margin, so the trained net is not shown to "
            "keep more than its untrained start.")


def dropout_effect_why(verdict: str, gaps: Mapping[int, float], from_layer: int = 12,
                       margin: float = 0.3) -> str:
    """Why :func:`dropout_effect_verdict` gave ``verdict`` (any outcome): the layers ≥
    ``from_layer`` where the dropout-trained net beats the no-dropout net by more than ``margin``
    nats, and those where it does not, with the gaps (trained, lower estimator − no-dropout,
    higher estimator)."""
    common = sorted(l for l in gaps if l >= from_layer and math.isfinite(gaps[l]))
    if not common:
        return (f"No layer at or beyond l={from_layer} has both nets measured, so the effect of "
                "dropout cannot be read.")
    won = [l for l in common if gaps[l] > margin]
    lost = [l for l in common if gaps[l] <= margin]

    def show(ls: list[int]) -> str:
        return ", ".join(f"l={l} {gaps[l]:+.2f}" for l in ls)

    if verdict == "holds":
        return (f"It holds: the dropout-trained net beats the same net trained without dropout by more "
                f"than {margin:g} nats at every layer from l={from_layer} ({show(won)} nats).")
    if won:
        return (f"The dropout-trained net beats the same net trained without dropout by more than "
                f"{margin:g} nats at {show(won)} nats, but not at {show(lost)}: the advantage of "
                "dropout training appears only deeper in the net, not at every layer the claim covers.")
    return (f"The dropout-trained net is within {margin:g} nats of (or below) the same net trained "
            f"without dropout at every layer from l={from_layer} ({show(lost)} nats): training alone "
            "explains what it keeps.")


@dataclass
class DepthResult:
    """Outcome of :func:`~polycode_lite.experiments.mi_depth.run_depth_experiment`: ``rows`` (one
    dict per model, trial, layer: mi (MINE), decoder_mi, diverged, ...), the training
    ``history`` and the ``config`` (as a dict)."""

    rows: list[dict[str, Any]]
    history: dict[str, Any]
    config: dict[str, Any]
    seconds: float = float("nan")

    @property
    def inputs(self) -> str:
        """"codebook" (well-posed) or "continuous" (the authors' ill-posed setting)."""
        return self.config.get("inputs", "continuous")

    @property
    def ceiling(self) -> float:
        """H(x) in nats for code-book inputs (the bound on every I(x; h_l)); inf for continuous."""
        return NECESSARY_INFORMATION_NATS if self.inputs == "codebook" else math.inf

    def frame(self) -> Any:
        """All rows as a pandas DataFrame (diverged MINE values kept, flagged)."""
        import pandas as pd

        df = pd.DataFrame(self.rows)
        for col, default in (("diverged", False), ("decoder_mi", np.nan)):
            if col not in df:
                df[col] = default
        return df

    def summary(self) -> Any:
        """Per (model, layer): kind, deterministic, mean and sd of MINE over non-diverged trials,
        n (trials), n_diverged, decoder (mean decoder bound), lo / hi (lower / higher of the two
        estimators; MINE alone where there is no decoder value)."""
        df = self.frame()
        df["mi_ok"] = df["mi"].where(~df["diverged"].astype(bool))
        g = df.groupby(["model", "layer"], as_index=False).agg(
            kind=("kind", "first"), deterministic=("deterministic", "first"),
            mean=("mi_ok", "mean"), sd=("mi_ok", "std"), n=("mi", "size"),
            n_diverged=("diverged", "sum"), decoder=("decoder_mi", "mean"))
        g["sd"] = g["sd"].fillna(0.0)
        both = g[["mean", "decoder"]]
        g["lo"], g["hi"] = both.min(axis=1), both.max(axis=1)
        return g

    def table(self) -> Any:
        """Layer × model table of MINE and decoder means (nats)."""
        s = self.summary()
        return s.pivot(index="layer", columns="model", values=["mean", "decoder"]).round(3)

    def _series(self, model: str, col: str) -> dict[int, float]:
        s = self.summary()
        d = s[s.model == model]
        return {int(l): float(v) for l, v in zip(d.layer, d[col])}

    def checks(self, tolerance: float = 0.15) -> dict[str, Any]:
        """The numbers behind the claims: last layer; per model the MINE, decoder, lo and hi
        values at every layer; estimator agreement (largest |MINE − decoder| over all cells,
        and the cells differing by more than ``tolerance`` nats); MINE values above the ceiling
        by more than ``tolerance``; the count of diverged MINE runs."""
        s = self.summary()
        last = int(s.layer.max())
        out: dict[str, Any] = dict(last_layer=last, ceiling=self.ceiling, inputs=self.inputs,
                                   n_diverged=int(s.n_diverged.sum()), tolerance=tolerance)
        for model in sorted(set(s.model)):
            out[model] = {c: self._series(model, c) for c in ("mean", "decoder", "lo", "hi")}
        diff = (s["mean"] - s["decoder"]).abs().dropna()
        out["max_disagreement"] = float(diff.max()) if len(diff) else float("nan")
        out["disagreeing"] = [(m, int(l)) for m, l, d in zip(s.model, s.layer, s["mean"] - s["decoder"])
                              if abs(d) > tolerance]
        out["above_ceiling"] = [(m, int(l), round(float(v), 3)) for m, l, v in zip(s.model, s.layer, s["mean"])
                                if v > self.ceiling + tolerance]
        return out

    def claims(self, from_layer: int = 12, keep_fraction: float = 0.9, margin: float = 0.3
               ) -> list[dict[str, Any]]:
        """The two information claims with verdicts from :func:`information_claims`."""
        return information_claims(self, from_layer, keep_fraction, margin)

    def plot(self, ax: Any = None, show_authors: bool = False) -> Any:
        """I(x; h_l) against layer for every model: MINE (solid, ± s.d. over trials) and the
        decoder bound (dashed), with the 3·ln 2 line (the ceiling for code-book inputs)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.2))
        s = self.summary()
        colors = {"trained": "C0", "no_dropout": "C2", "untrained": "C3"}
        for model in [m for m in MODELS if m in set(s.model)]:
            d = s[s.model == model].sort_values("layer")
            c = colors[model]
            ax.plot(d.layer, d["mean"], "o-", color=c, label=f"{model}: MINE")
            ax.fill_between(d.layer, d["mean"] - d["sd"], d["mean"] + d["sd"], color=c, alpha=0.2)
            if d["decoder"].notna().any():
                ax.plot(d.layer, d["decoder"], "s--", color=c, alpha=0.8, label=f"{model}: decoder bound")
            if show_authors and model in AUTHORS_FIGURE:
                ref = AUTHORS_FIGURE[model]
                ax.plot(list(ref), list(ref.values()), "x:", color=c, alpha=0.6,
                        label=f"{model} (authors' figure, continuous x)")
        name = "H(x) = 3·ln2 (ceiling)" if self.inputs == "codebook" else "3·ln2 (authors' line)"
        ax.axhline(NECESSARY_INFORMATION_NATS, color="k", ls="--", lw=1,
                   label=f"{name} = {NECESSARY_INFORMATION_NATS:.2f} nats")
        if self.inputs != "codebook":
            ax.text(0.5, 0.03, "continuous x: true MI = ∞ at every layer (ill-posed)",
                    transform=ax.transAxes, ha="center", fontsize=8, color="0.3")
        vals = np.concatenate([s["mean"].dropna().to_numpy(), s["decoder"].dropna().to_numpy()])
        ax.set_ylim(min(-0.2, float(vals.min()) - 0.2), max(2.6, float(vals.max()) + 0.3))
        ax.set_xlabel("layer number l (Keras layer list: dense, dropout and scale layers count)")
        ax.set_ylabel("I(x; h_l) lower bound (nats)")
        ax.set_title(f"Information about the input through a 40-layer dropout net ({self.inputs} x)")
        ax.legend(fontsize=7, loc="lower left")
        return ax

    def to_json(self, path: str | Path) -> Path:
        """Write rows, history, config and run time to a JSON file, atomically."""
        from polycode_lite.experiments.resume_files import atomic_write_text

        return atomic_write_text(path, json.dumps(dict(rows=self.rows, history=self.history, config=self.config,
                                                       seconds=self.seconds), indent=1, default=float))

    @classmethod
    def from_json(cls, path: str | Path) -> DepthResult:
        """Read a result written by :meth:`to_json`; ValueError naming the file if it is not one."""
        try:
            d = json.loads(Path(path).read_text())
            if not isinstance(d, dict) or not {"rows", "history", "config"} <= set(d):
                raise ValueError("it lacks rows, history or config")
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"{path} is not a depth result written by DepthResult.to_json ({exc}); "
                             "regenerate it with `polycode-lite dropout-experiments depth`.") from None
        return cls(rows=d["rows"], history=d["history"], config=d["config"],
                   seconds=d.get("seconds", float("nan")))


def _fmt(d: Mapping[int, float], layer: int) -> str:
    v = d.get(layer, float("nan"))
    return f"{v:.2f}"


def information_claims(res: DepthResult, from_layer: int = 12, keep_fraction: float = 0.9,
                       margin: float = 0.3) -> list[dict[str, Any]]:
    """The two claims of E4, each with its control measured in ``res`` (dicts for ``record_claim``):

    1. the dropout-trained net keeps (≥ ``keep_fraction`` of) the 3 bits to the last layer and
       beats its untrained init there (:func:`keeps_information_verdict`; subject = the lower,
       control = the higher of the two estimators);
    2. that is owed to dropout, not to training alone: it beats the same net trained without
       dropout by more than ``margin`` nats at every layer ≥ ``from_layer``
       (:func:`dropout_effect_verdict`)."""
    c = res.checks()
    last = c["last_layer"]
    t = c["trained"]
    u, nd = c.get("untrained"), c.get("no_dropout")
    tag = "" if res.inputs == "codebook" else " [continuous x: ill-posed, true MI infinite]"

    def both(m: dict[str, dict[int, float]] | None, name: str) -> str:
        if m is None:
            return f"{name}: not run"
        return f"{name}: MINE {_fmt(m['mean'], last)}, decoder {_fmt(m['decoder'], last)} nats at l={last}"

    div = f"; {c['n_diverged']} diverged MINE run(s) left out" if c["n_diverged"] else ""
    measured = (f"trained with dropout: MINE {_fmt(t['mean'], last)}, decoder {_fmt(t['decoder'], last)} "
                f"nats at l={last} (ceiling H(x) = {NECESSARY_INFORMATION_NATS:.2f}){tag}{div}")
    control = f"{both(u, 'untrained (random init)')}; {both(nd, 'trained without dropout')}"
    out = []
    v1 = ("does not hold at this scale" if u is None else
          keeps_information_verdict(t["lo"][last], u["hi"][last], NECESSARY_INFORMATION_NATS,
                                    keep_fraction, margin))
    out.append(dict(
        claim="A network trained under dropout keeps its input's 3 bits through 40 layers; an untrained one loses them",
        expected="trained ≈2.4 nats at l=60, above 3·ln2 = 2.08; untrained ≈0.2 [C-fig] (continuous x there)",
        measured=measured, control=control, verdict=v1,
        why=("The untrained control was not run, so the claim cannot be read." if u is None else
             keeps_information_why(v1, t["lo"][last], u["hi"][last], NECESSARY_INFORMATION_NATS, last,
                                   keep_fraction, margin)),
        values=dict(last_layer=last, trained=t, untrained=u, keep_fraction=keep_fraction, margin=margin)))
    v2 = ("does not hold at this scale" if nd is None else
          dropout_effect_verdict(t["lo"], nd["hi"], from_layer, margin))
    gaps = {} if nd is None else {l: round(t["lo"][l] - nd["hi"][l], 2) for l in t["lo"]
                                  if l >= from_layer and l in nd["hi"]}
    out.append(dict(
        claim="Training under dropout, not training alone, is what keeps the information (an error-correcting code)",
        expected="the dropout-trained net above the same net trained without dropout at depth [I]",
        measured=f"{measured}; trained (lower estimator) − no-dropout (higher) per layer ≥ {from_layer}: {gaps}",
        control=control, verdict=v2,
        why=("The no-dropout control was not run, so the claim cannot be read." if nd is None else
             dropout_effect_why(v2, gaps, from_layer, margin)),
        values=dict(trained=t, no_dropout=nd, gaps=gaps, margin=margin, from_layer=from_layer)))
    return out
