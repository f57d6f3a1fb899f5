"""Error correction through depth: I(x; h_l) through the deep dropout network (docs/paper_guide.md §3 E4).

The network is trained as the identity map on x ~ U[−1, 1]^3; I(x; h_l) is estimated with MINE
(:mod:`polycode_lite.science.mine`) with dropout *active*, for the trained net and an untrained
copy. Reference lines: the "necessary information" 3·ln 2 nats (three uniform inputs at 1 bit
each) and the capacity line (1 − D)·width·ln 2 (docs/paper_guide.md §2.2, pitfall 13).

Randomness: every function takes a seed; dropout masks are drawn inside ``torch.random.fork_rng``
so the caller's global RNG state is restored afterwards.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from polycode_lite.models.deep_dropout import (
    DeepDropoutNet,
    DeepNetConfig,
    first_stochastic_layer,
    keras_layer_kind,
)
from polycode_lite.science.mine import MINEConfig, estimate_mutual_information

__all__ = [
    "AUTHORS_FIGURE", "DepthExperimentConfig", "DepthResult", "IdentityTraining",
    "NECESSARY_INFORMATION_NATS", "capacity_line_nats", "layer_mutual_information", "run",
    "run_depth_experiment", "train_identity"
]

#: 3 uniform inputs at one bit each: the information the identity task needs (nats).
NECESSARY_INFORMATION_NATS = 3.0 * math.log(2.0)

#: Values read off the authors' figure ``Mutual_info_through_layers.png`` (nats, approximate;
#: docs/paper_guide.md §3 E4, tag [C-fig]). Keys are the Keras layer numbers.
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


@dataclass(frozen=True)
class IdentityTraining:
    """Training of the identity task. Authors: 1,000,000 samples, 4 epochs, batch 100, Adam
    lr 1e-3, 2% validation, seed 44 (:meth:`paper`). Default: the CPU scale-down of docs/paper_guide.md
    (200,000 samples, 2 epochs)."""

    n_samples: int = 200_000
    epochs: int = 2
    batch_size: int = 100
    lr: float = 1e-3
    val_fraction: float = 0.02
    seed: int = 44

    @classmethod
    def paper(cls) -> "IdentityTraining":
        return cls(n_samples=1_000_000, epochs=4)


def _uniform_inputs(n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, dim, generator=gen) * 2.0 - 1.0


def train_identity(
    net: DeepDropoutNet, training: IdentityTraining = IdentityTraining(), progress: bool = True
) -> dict[str, list[float]]:
    """Train ``net`` in place to map x ~ U[−1, 1]^in_dim to itself (MSE, Adam), dropout on.

    Returns the history {"epoch", "train_mse", "val_mse"} (val in eval mode: dropout off and
    the authors' 0.8 scaling on, as Keras does at inference)."""
    from tqdm.auto import tqdm

    if training.n_samples < training.batch_size or training.epochs < 1:
        raise ValueError("need n_samples >= batch_size and epochs >= 1.")
    gen = torch.Generator().manual_seed(int(training.seed))
    dim = net.config.in_dim
    x = _uniform_inputs(training.n_samples, dim, gen)
    n_val = max(1, int(training.val_fraction * training.n_samples))
    x_val, x_tr = x[:n_val], x[n_val:]
    opt = torch.optim.Adam(net.parameters(), lr=training.lr)
    hist: dict[str, list[float]] = {"epoch": [], "train_mse": [], "val_mse": []}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(training.seed))  # dropout masks during training
        for epoch in range(training.epochs):
            net.train()
            perm = torch.randperm(x_tr.shape[0], generator=gen)
            losses = []
            starts = range(0, x_tr.shape[0] - training.batch_size + 1, training.batch_size)
            for s in tqdm(starts, desc=f"identity training, epoch {epoch + 1}", disable=not progress,
                          leave=False):
                xb = x_tr[perm[s : s + training.batch_size]]
                loss = torch.mean((net(xb) - xb) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
            net.eval()
            with torch.no_grad():
                val = float(torch.mean((net(x_val) - x_val) ** 2))
            hist["epoch"].append(epoch + 1)
            hist["train_mse"].append(float(np.mean(losses)))
            hist["val_mse"].append(val)
    net.train()
    return hist


def layer_mutual_information(
    net: DeepDropoutNet,
    layers: Sequence[int],
    n_samples: int = 20_000,
    mine: MINEConfig = MINEConfig(),
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """I(x; h_l) for each layer l, x ~ U[−1, 1]^in_dim fresh, dropout ACTIVE (the channel is
    stochastic), estimated with MINE on held-out pairs (``mine.holdout`` of the samples).

    Activations of all layers come from one forward pass (recorded with
    :func:`polycode_lite.models.hooks.record_activations`); masks are seeded with ``seed``.
    Returns one dict per layer: layer, kind, deterministic (True before the first dropout,
    where the true MI is infinite), mi, mi_sd (nats)."""
    from polycode_lite.models.hooks import record_activations

    layers = [int(l) for l in layers]
    bad = [l for l in layers if not 0 <= l < len(net.layers)]
    if bad:
        raise ValueError(f"layers {bad} are outside 0..{len(net.layers) - 1}.")
    gen = torch.Generator().manual_seed(int(seed))
    x = _uniform_inputs(n_samples, net.config.in_dim, gen)
    was_training = net.training
    net.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 1)
        acts = record_activations(net, x, [f"layers.{l}" for l in layers])
    net.train(was_training)
    first = first_stochastic_layer(net)
    rows = []
    for l in layers:
        est = estimate_mutual_information(x, acts[f"layers.{l}"], mine, progress=progress,
                                          desc=f"MINE layer {l}", seed=mine.seed + 1000 * seed + l)
        rows.append(dict(layer=l, kind=keras_layer_kind(net, l), deterministic=l < first,
                         mi=est.mi, mi_sd=est.mi_sd))
    return rows


@dataclass(frozen=True)
class DepthExperimentConfig:
    """Whole E4 experiment. Presets: :meth:`fast` (notebook fast mode, ~1–2 min on 2 cores),
    :meth:`cpu` (docs/paper_guide.md's CPU scale-down: 2e5 samples × 2 epochs, 12 layers, 2 MINE
    trials of 1,000 steps on 16,000 samples; about 15 CPU-minutes), :meth:`paper` (authors' sizes:
    1e6 samples × 4 epochs; 40,960 MINE samples, plain DV, 5,000 steps; hours on a CPU).

    trials: independent MINE repeats per model and layer (fresh inputs, masks, MINE seed), as
    the authors' 3 trials on one trained model."""

    net: DeepNetConfig = DeepNetConfig()
    training: IdentityTraining = IdentityTraining()
    layers: tuple[int, ...] = (3, 6, 9, 12, 18, 24, 30, 36, 42, 48, 54, 60)
    n_mi_samples: int = 16_000
    mine: MINEConfig = MINEConfig(steps=1000, batch_size=512, lr=1e-3, eval_every=50)
    trials: int = 2
    net_seed: int = 44
    untrained_seed: int = 45

    @classmethod
    def fast(cls) -> "DepthExperimentConfig":
        return cls(training=IdentityTraining(n_samples=40_000, epochs=1),
                   layers=(3, 12, 24, 36, 48, 60), n_mi_samples=6_000,
                   mine=MINEConfig(steps=400, batch_size=256, eval_every=20), trials=1)

    @classmethod
    def cpu(cls) -> "DepthExperimentConfig":
        return cls()

    @classmethod
    def paper(cls) -> "DepthExperimentConfig":
        return cls(training=IdentityTraining.paper(), layers=tuple(range(3, 61, 3)), trials=3,
                   n_mi_samples=40_960 + 4_096,
                   mine=MINEConfig(loss="dv", steps=5000, batch_size=1024, lr=1e-4,
                                   holdout=4_096 / (40_960 + 4_096), eval_every=40,
                                   average_last=0.08))


@dataclass
class DepthResult:
    """Outcome of :func:`run_depth_experiment`: ``rows`` (one dict per model, trial, layer),
    the identity-training ``history`` and the ``config`` (as a dict)."""

    rows: list[dict[str, Any]]
    history: dict[str, list[float]]
    config: dict[str, Any]
    seconds: float = float("nan")

    def frame(self) -> Any:
        """All rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def summary(self) -> Any:
        """Mean and s.d. across trials per (model, layer): DataFrame with columns model, layer,
        kind, deterministic, mean, sd, n."""
        df = self.frame()
        g = df.groupby(["model", "layer"], as_index=False).agg(
            kind=("kind", "first"), deterministic=("deterministic", "first"),
            mean=("mi", "mean"), sd=("mi", "std"), n=("mi", "size"))
        g["sd"] = g["sd"].fillna(0.0)
        return g

    def checks(self) -> dict[str, Any]:
        """The two qualitative claims of the authors' figure, measured on the stochastic layers:
        trained > untrained at every probed layer from the first dropout on, and trained >
        3·ln 2 at the last layer. Returns booleans plus the numbers behind them."""
        s = self.summary()
        s = s[~s["deterministic"]]
        t = s[s.model == "trained"].set_index("layer")["mean"]
        u = s[s.model == "untrained"].set_index("layer")["mean"]
        common = sorted(set(t.index) & set(u.index))
        margins = {int(l): float(t[l] - u[l]) for l in common}
        last = max(common)
        return dict(
            trained_above_untrained=all(m > 0 for m in margins.values()),
            margins=margins,
            worst_layer=min(margins, key=margins.get),
            last_layer=int(last),
            trained_last=float(t[last]),
            untrained_last=float(u[last]),
            trained_last_above_necessary=bool(t[last] > NECESSARY_INFORMATION_NATS),
        )

    def table(self) -> Any:
        """One row per (model, layer): the trial mean and s.d. (same as :meth:`summary`)."""
        return self.summary()

    def claims(self, from_layer: int = 12, clear_margin: float = 0.3) -> list[dict[str, Any]]:
        """The error-correction claim with a verdict from this rule, on the stochastic layers:

        "holds" if trained ≥ untrained at every probed layer ≥ ``from_layer``, by more than
        ``clear_margin`` nats beyond the first block after it, and trained > 3·ln 2 > untrained at
        the last layer; "partly" if trained is above untrained at the last layer only; else
        "does not hold at this scale". Returns dicts for ``record_claim``."""
        chk = self.checks()
        s = self.summary().set_index(["model", "layer"])
        past = {l: m for l, m in chk["margins"].items() if l >= from_layer}
        later = {l: m for l, m in past.items() if l > min(past, default=from_layer)}
        last_ok = chk["trained_last"] > NECESSARY_INFORMATION_NATS > chk["untrained_last"]
        holds = (bool(past) and all(m > 0 for m in past.values())
                 and all(m > clear_margin for m in later.values()) and last_ok)
        partly = chk["trained_last"] > chk["untrained_last"]
        first = min(past, default=None)
        tie = ""
        if first is not None:
            sd = float(np.hypot(s.loc[("trained", first), "sd"], s.loc[("untrained", first), "sd"]))
            tie = f" (l={first}: {chk['margins'][first]:+.3f} ± {sd:.2f})"
        early = {l: round(m, 2) for l, m in chk["margins"].items() if l < from_layer}
        return [dict(
            claim=("A trained dropout network keeps ≥ 3 bits about its input through 40 layers; "
                   "an untrained one loses it"),
            expected="trained ≈3.9→2.4 nats, above 3·ln2 = 2.08 throughout; untrained decays to ≈0.2 nats [C-fig]",
            measured=(f"trained {chk['trained_last']:.2f} vs untrained {chk['untrained_last']:.2f} nats at "
                      f"l={chk['last_layer']}; trained − untrained ≥ 0 at every probed layer l ≥ {from_layer}: "
                      f"{all(m > 0 for m in past.values())}{tie}; smallest margin beyond: "
                      f"{min(later.values(), default=float('nan')):.2f} nats; margins before l={from_layer}: {early}"),
            verdict="holds" if holds else ("partly" if partly else "does not hold at this scale"),
            values=chk)]

    def plot(self, ax: Any = None, show_authors: bool = True) -> Any:
        """MI against layer number for both models (mean ± s.d. over trials), with the
        necessary-information and capacity lines and, optionally, the authors' values."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.2))
        s = self.summary()
        colors = {"trained": "C0", "untrained": "C3"}
        for model in ("trained", "untrained"):
            d = s[(s.model == model) & ~s["deterministic"]].sort_values("layer")
            ax.plot(d.layer, d["mean"], "o-", color=colors[model], label=f"{model} (ours)")
            ax.fill_between(d.layer, d["mean"] - d["sd"], d["mean"] + d["sd"],
                            color=colors[model], alpha=0.25)
            if show_authors:
                ref = AUTHORS_FIGURE[model]
                ax.plot(list(ref), list(ref.values()), "x:", color=colors[model], alpha=0.6,
                        label=f"{model} (authors' figure, approx.)")
        det = s[s["deterministic"]]
        for l in sorted(det.layer.unique()):
            ax.axvspan(-0.5, l + 0.5, color="0.92", zorder=0)
            ax.text(l, 0.2, "deterministic:\ntrue MI = ∞", fontsize=7, ha="center")
        ax.axhline(NECESSARY_INFORMATION_NATS, color="k", ls="--", lw=1,
                   label=f"necessary information 3·ln2 = {NECESSARY_INFORMATION_NATS:.2f} nats")
        cfg = self.config.get("net", {})
        cap = capacity_line_nats(cfg.get("width", 32), cfg.get("dropout", 0.2))
        top = max(5.0, float(s["mean"][~s["deterministic"]].max()) + 0.5)
        ax.set_ylim(min(-0.2, float(s["mean"][~s["deterministic"]].min()) - 0.2), top)
        ax.annotate(f"capacity (1−D)·32·ln2 = {cap:.1f} nats ↑ (off scale)", xy=(0.99, 0.98),
                    xycoords="axes fraction", ha="right", va="top", fontsize=8)
        ax.set_xlabel("layer number l (Keras layer list: dense, dropout and scale layers count)")
        ax.set_ylabel("I(x; h_l) (nats, MINE held-out)")
        ax.set_title("Information about the input through a 40-layer dropout net")
        ax.legend(fontsize=7, loc="lower left")
        return ax

    def to_json(self, path: str | Path) -> Path:
        """Write rows, history, config and run time to a JSON file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(rows=self.rows, history=self.history, config=self.config,
                                        seconds=self.seconds), indent=1, default=float))
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> "DepthResult":
        d = json.loads(Path(path).read_text())
        return cls(rows=d["rows"], history=d["history"], config=d["config"],
                   seconds=d.get("seconds", float("nan")))


def run_depth_experiment(
    config: DepthExperimentConfig = DepthExperimentConfig(), progress: bool = True
) -> DepthResult:
    """Train the deep dropout net on the identity task, keep an untrained copy, and estimate
    I(x; h_l) at ``config.layers`` for both, ``config.trials`` times each (docs/paper_guide.md §3 E4)."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    trained = DeepDropoutNet(config.net, seed=config.net_seed)
    history = train_identity(trained, config.training, progress=progress)
    untrained = DeepDropoutNet(config.net, seed=config.untrained_seed)
    rows: list[dict[str, Any]] = []
    jobs = [(m, t) for t in range(config.trials) for m in ("trained", "untrained")]
    for model, trial in tqdm(jobs, desc="MI across depth", disable=not progress):
        net = trained if model == "trained" else untrained
        for r in layer_mutual_information(net, config.layers, config.n_mi_samples, config.mine,
                                          seed=100 * trial + 7, progress=False):
            rows.append(dict(model=model, trial=trial, **r))
    return DepthResult(rows=rows, history=history, config=asdict(config),
                       seconds=time.perf_counter() - t0)


#: the experiment's entry point under the common name: ``res = run(DepthExperimentConfig.fast())``
run = run_depth_experiment
