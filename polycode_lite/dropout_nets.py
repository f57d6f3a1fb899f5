"""Dropout as a noisy channel: the authors' deep dropout network, and alpha against dropout.

Two experiments (PAPER.md §2.2, §3 E4, §3 E5 and pitfall 13):

1. **Error correction through depth** (E4). The authors' ``NN_sparse_dropout``: 40 Dense(32,
   tanh) layers; after every 4th a Dropout(0.2) followed by a multiplication by 0.8, which
   cancels Keras' inverted-dropout rescaling (surviving units are *not* scaled up in training;
   at inference every unit is scaled by 0.8); a final linear Dense(3). It is trained as the
   identity map on x ~ U[−1, 1]^3. The module list mirrors the Keras layer list (61 entries),
   so ``net.layers[l]`` is the authors' "layer number" l; l = 3, 9, 15, ... are the last dense
   layer before a dropout block, l = 6, 12, ... the first one after it, l = 60 the output.
   I(x; h_l) is estimated with MINE (:mod:`polycode_lite.mine`) with dropout *active*, for the
   trained net and an untrained copy. Reference lines: the "necessary information" 3·ln 2
   nats (three uniform inputs at 1 bit each) and the capacity line (1 − D)·width·ln 2.

2. **alpha against dropout** (E5 at toy scale). A small MLP trained on the offline shapes data
   (:func:`polycode_lite.datasets.make_shapes`) at several dropout rates; per hidden layer the
   power-law exponent alpha of the activation eigenspectrum is measured (a) in eval mode with
   plain PCA (:func:`~polycode_lite.spectrum.eigenspectrum`, bias-corrected
   :func:`~polycode_lite.spectrum.fit_power_law`) and (b) with dropout on, by
   :func:`~polycode_lite.spectrum.cv_pca` across two dropout masks of the same images.

Randomness: every function takes a seed. torch's dropout draws from the global generator, so
masks are drawn inside ``torch.random.fork_rng`` with a fixed seed (the caller's global state
is restored afterwards).

Command line: ``python -m polycode_lite.dropout_nets depth --preset cpu --out data/dropout/...``
and ``python -m polycode_lite.dropout_nets alpha --preset full --out ...`` regenerate the
shipped results in ``data/dropout/``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .mine import MINEConfig, estimate_mutual_information

__all__ = [
    "NECESSARY_INFORMATION_NATS",
    "AUTHORS_FIGURE",
    "DATA_DIR",
    "capacity_line_nats",
    "DeepNetConfig",
    "Scale",
    "DeepDropoutNet",
    "keras_layer_kind",
    "first_stochastic_layer",
    "IdentityTraining",
    "train_identity",
    "layer_mutual_information",
    "DepthExperimentConfig",
    "DepthResult",
    "run_depth_experiment",
    "ShapesMLP",
    "AlphaSweepConfig",
    "shapes_targets",
    "train_shapes_mlp",
    "alpha_by_layer",
    "run_alpha_sweep",
    "alpha_trend",
    "alpha_table",
    "load_shipped",
]

#: 3 uniform inputs at one bit each: the information the identity task needs (nats).
NECESSARY_INFORMATION_NATS = 3.0 * math.log(2.0)

#: Values read off the authors' figure ``Mutual_info_through_layers.png`` (nats, approximate;
#: PAPER.md §3 E4, tag [C-fig]). Keys are the Keras layer numbers.
AUTHORS_FIGURE: dict[str, dict[int, float]] = {
    "trained": {3: 3.9, 6: 3.3, 9: 3.5, 12: 3.1, 15: 3.3, 18: 3.0, 21: 3.15, 24: 2.95, 30: 2.8,
                36: 2.75, 42: 2.7, 48: 2.6, 54: 2.55, 60: 2.4},
    "untrained": {3: 4.3, 6: 4.3, 9: 3.9, 12: 2.9, 15: 2.6, 18: 2.1, 21: 2.0, 24: 1.7, 30: 1.3,
                  39: 1.0, 48: 0.7, 54: 0.55, 60: 0.2},
}

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "dropout"


def capacity_line_nats(width: int = 32, dropout: float = 0.2, bits_per_unit: float = 1.0) -> float:
    """Dropout-channel capacity bound (1 − D)·width·C_base in nats (Theorem 3, PAPER.md §2.2).

    With C_base = 1 bit per unit this is the authors' "theoretical limit" line; they used 0.7
    where (1 − D) = 0.8 (pitfall 12), so ours is 17.7 nats, theirs 15.5."""
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")
    return (1.0 - dropout) * width * bits_per_unit * math.log(2.0)


# --------------------------------------------------------------------------------------
# 1. the authors' deep narrow dropout network
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeepNetConfig:
    """Architecture of ``NN_sparse_dropout`` (defaults = the authors' values).

    n_dense: tanh Dense layers (40). width: units per layer (32). in_dim: inputs = outputs (3).
    dropout: rate D (0.2). every: a dropout block after every ``every``-th dense layer (4).
    authors_scaling: True = multiply by (1 − D) after dropout (no inverted rescaling, as the
    authors); False = plain inverted dropout.
    """

    n_dense: int = 40
    width: int = 32
    in_dim: int = 3
    dropout: float = 0.2
    every: int = 4
    authors_scaling: bool = True

    def __post_init__(self) -> None:
        if self.n_dense < 1 or self.width < 1 or self.in_dim < 1 or self.every < 1:
            raise ValueError("n_dense, width, in_dim and every must all be >= 1.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}.")


class Scale(nn.Module):
    """Multiply by a constant (the authors' ``Lambda(lambda x: x * 0.8)``)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = float(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


def _glorot_(linear: nn.Linear, gen: torch.Generator) -> None:
    """Keras defaults: Glorot-uniform kernel, zero bias."""
    bound = math.sqrt(6.0 / (linear.in_features + linear.out_features))
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound, generator=gen)
        linear.bias.zero_()


class DeepDropoutNet(nn.Module):
    """The authors' deep narrow dropout net; ``layers`` mirrors the Keras layer list.

    Entry kinds: ``Sequential(Linear, Tanh)`` (a Keras Dense(tanh)), ``Dropout``, ``Scale``
    (only with ``authors_scaling``), and a final ``Linear`` (Dense(in_dim), linear). Hook
    layer l as ``f"layers.{l}"``. Weights are Glorot-uniform with zero biases, drawn from
    ``seed``. Input (B, in_dim) → output (B, in_dim).
    """

    def __init__(self, config: DeepNetConfig = DeepNetConfig(), seed: int = 0) -> None:
        super().__init__()
        self.config = config
        gen = torch.Generator().manual_seed(int(seed))
        layers: list[nn.Module] = []
        width_in = config.in_dim
        for i in range(config.n_dense):
            with torch.random.fork_rng(devices=[]):  # default init is overwritten below
                lin = nn.Linear(width_in, config.width)
            _glorot_(lin, gen)
            layers.append(nn.Sequential(lin, nn.Tanh()))
            width_in = config.width
            if (i + 1) % config.every == 0:
                layers.append(nn.Dropout(config.dropout))
                if config.authors_scaling:
                    layers.append(Scale(1.0 - config.dropout))
        with torch.random.fork_rng(devices=[]):
            out = nn.Linear(width_in, config.in_dim)
        _glorot_(out, gen)
        layers.append(out)
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Run the net; with ``upto=l`` stop after layer l and return its output (B, width)."""
        last = len(self.layers) - 1 if upto is None else int(upto)
        if not 0 <= last < len(self.layers):
            raise ValueError(f"upto must be in 0..{len(self.layers) - 1}, got {upto}.")
        for layer in self.layers[: last + 1]:
            x = layer(x)
        return x

    def dense_indices(self) -> list[int]:
        """Layer numbers of the Dense layers (tanh ones and the output)."""
        return [i for i, m in enumerate(self.layers) if isinstance(m, (nn.Sequential, nn.Linear))]


def keras_layer_kind(net: DeepDropoutNet, layer: int) -> str:
    """Describe layer ``layer``: "dense", "dense (last before dropout)", "dense (first after
    dropout)", "dropout", "scale" or "output"."""
    mods = net.layers
    if not 0 <= layer < len(mods):
        raise ValueError(f"layer must be in 0..{len(mods) - 1}, got {layer}.")
    m = mods[layer]
    if isinstance(m, nn.Dropout):
        return "dropout"
    if isinstance(m, Scale):
        return "scale"
    if layer == len(mods) - 1:
        return "output"
    if layer + 1 < len(mods) and isinstance(mods[layer + 1], nn.Dropout):
        return "dense (last before dropout)"
    prev = mods[layer - 1] if layer > 0 else None
    if isinstance(prev, (nn.Dropout, Scale)):
        return "dense (first after dropout)"
    return "dense"


def first_stochastic_layer(net: DeepDropoutNet) -> int:
    """Index of the first Dropout: layers before it are deterministic functions of x, so
    their true MI with a continuous x is infinite (PAPER.md pitfall 13a)."""
    for i, m in enumerate(net.layers):
        if isinstance(m, nn.Dropout) and m.p > 0:
            return i
    return len(net.layers)


@dataclass(frozen=True)
class IdentityTraining:
    """Training of the identity task. Authors: 1,000,000 samples, 4 epochs, batch 100, Adam
    lr 1e-3, 2% validation, seed 44 (:meth:`paper`). Default: the CPU scale-down of PAPER.md
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
    :func:`polycode_lite.activations.record_activations`); masks are seeded with ``seed``.
    Returns one dict per layer: layer, kind, deterministic (True before the first dropout,
    where the true MI is infinite), mi, mi_sd (nats)."""
    from .activations import record_activations

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
    :meth:`cpu` (PAPER.md's CPU scale-down: 2e5 samples × 2 epochs, 12 layers, 2 MINE
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
    I(x; h_l) at ``config.layers`` for both, ``config.trials`` times each (PAPER.md §3 E4)."""
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


# --------------------------------------------------------------------------------------
# 2. alpha against dropout on the shapes data
# --------------------------------------------------------------------------------------
class ShapesMLP(nn.Module):
    """MLP on flattened 3×32×32 shapes images: hidden Linear → ReLU → Dropout(p) blocks named
    ``fc{k}``, ``relu{k}``, ``drop{k}`` (k = 1..), then two heads: ``reg`` (continuous factors)
    and ``cls`` (3 shape classes). Standard (inverted) torch dropout. Hook ``drop{k}`` to get
    what the next layer sees: the ReLU output in eval mode, the masked one in train mode."""

    def __init__(self, in_dim: int, widths: Sequence[int], n_reg: int, n_cls: int, dropout: float,
                 seed: int = 0) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")
        from .mine import reset_parameters

        self.hidden = nn.Sequential()
        w = in_dim
        with torch.random.fork_rng(devices=[]):  # default init is overwritten below
            for k, h in enumerate(widths, 1):
                self.hidden.add_module(f"fc{k}", nn.Linear(w, h))
                self.hidden.add_module(f"relu{k}", nn.ReLU())
                self.hidden.add_module(f"drop{k}", nn.Dropout(dropout))
                w = h
            self.reg = nn.Linear(w, n_reg)
            self.cls = nn.Linear(w, n_cls)
        reset_parameters(self, torch.Generator().manual_seed(int(seed)))
        self.n_layers = len(widths)

    def layer_names(self) -> list[str]:
        """Dotted names of the per-layer dropout outputs, e.g. ``["hidden.drop1", ...]``."""
        return [f"hidden.drop{k}" for k in range(1, self.n_layers + 1)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(x.reshape(x.shape[0], -1))
        return self.reg(h), self.cls(h)


def shapes_targets(factors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Regression targets and class labels from make_shapes factors.

    Regression (n, 11), each column z-scored over the given set: x, y, scale, bg_contrast,
    grating_freq, cos/sin 2π·fg_hue, cos/sin 2π·bg_hue, cos/sin 2·grating_angle (circular
    factors as points on a circle). Rotation is left out (invisible for circles and ambiguous
    for the symmetric shapes). Classes (n,): shape id."""
    cols = [factors["x"], factors["y"], factors["scale"], factors["bg_contrast"],
            factors["grating_freq"]]
    for h in (factors["fg_hue"], factors["bg_hue"]):
        cols += [np.cos(2 * np.pi * h), np.sin(2 * np.pi * h)]
    cols += [np.cos(2 * factors["grating_angle"]), np.sin(2 * factors["grating_angle"])]
    y = np.stack(cols, axis=1).astype(np.float64)
    y = (y - y.mean(0)) / np.where(y.std(0) > 0, y.std(0), 1.0)
    return y.astype(np.float32), np.asarray(factors["shape"], dtype=np.int64)


@dataclass(frozen=True)
class AlphaSweepConfig:
    """alpha-against-dropout sweep. Presets :meth:`fast` (notebook fast mode) and :meth:`full`.

    dropouts: rates trained. widths: hidden widths. n_train/n_eval: images for training and
    for the spectra (different seeds of make_shapes). epochs, batch_size, lr: Adam training.
    seeds: network seeds (one trained net per seed and rate). n_boot: bootstrap resamples of
    images for the cvPCA CI. data_seed: seed of the training images (eval uses data_seed+1).
    """

    dropouts: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8)
    widths: tuple[int, ...] = (256, 256, 256)
    n_train: int = 6_000
    n_eval: int = 2_500
    epochs: int = 12
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1)
    n_boot: int = 20
    data_seed: int = 123

    @classmethod
    def fast(cls) -> "AlphaSweepConfig":
        return cls(n_train=3_000, n_eval=1_500, epochs=6, seeds=(0,), n_boot=15,
                   widths=(128, 128, 128))

    @classmethod
    def full(cls) -> "AlphaSweepConfig":
        return cls()


def train_shapes_mlp(
    images: np.ndarray, factors: dict[str, np.ndarray], dropout: float,
    config: AlphaSweepConfig = AlphaSweepConfig(), seed: int = 0, progress: bool = True,
) -> tuple[ShapesMLP, dict[str, list[float]]]:
    """Train a :class:`ShapesMLP` with dropout rate ``dropout`` on (images (n, 3, H, W) in
    [0, 1], factors from make_shapes): loss = MSE on the z-scored factors + cross-entropy on
    the shape. Returns (net in eval mode, history {"epoch", "loss", "accuracy"})."""
    from tqdm.auto import tqdm

    if images.ndim != 4:
        raise ValueError(f"images must be (n, C, H, W), got shape {images.shape}.")
    y_reg, y_cls = shapes_targets(factors)
    x = torch.from_numpy(images.reshape(len(images), -1) - 0.5)
    yr, yc = torch.from_numpy(y_reg), torch.from_numpy(y_cls)
    net = ShapesMLP(x.shape[1], config.widths, yr.shape[1], 3, dropout, seed=seed)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(int(seed) + 17)
    hist: dict[str, list[float]] = {"epoch": [], "loss": [], "accuracy": []}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 29)
        for epoch in tqdm(range(config.epochs), desc=f"train MLP, dropout {dropout}",
                          disable=not progress, leave=False):
            net.train()
            perm = torch.randperm(len(x), generator=gen)
            tot, correct = 0.0, 0
            for s in range(0, len(x), config.batch_size):
                idx = perm[s : s + config.batch_size]
                pr, pc = net(x[idx])
                loss = torch.mean((pr - yr[idx]) ** 2) + nn.functional.cross_entropy(pc, yc[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += loss.item() * len(idx)
                correct += int((pc.argmax(1) == yc[idx]).sum())
            hist["epoch"].append(epoch + 1)
            hist["loss"].append(tot / len(x))
            hist["accuracy"].append(correct / len(x))
    net.eval()
    return net, hist


def _one_blas_thread() -> Any:
    """Limit BLAS/OpenMP to one thread inside the block (threadpoolctl, when installed).

    Multi-threaded OpenBLAS busy-waits: on a loaded 2-core machine an SVD of a 1500 × 128
    matrix took 1 s of CPU with the default threads against 0.015 s with one thread."""
    from contextlib import nullcontext

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the defaults apply
        return nullcontext()
    return threadpool_limits(limits=1)


def _fit_row(lam: np.ndarray, n: int | None, seed: int) -> dict[str, Any]:
    from .spectrum import fit_power_law

    try:
        f = fit_power_law(lam, n_samples=n, seed=seed, n_boot=100)
    except ValueError as exc:
        return dict(alpha=float("nan"), ci_low=float("nan"), ci_high=float("nan"), r2=float("nan"),
                    lo=0, hi=0, note=str(exc))
    return dict(alpha=f.alpha, ci_low=f.ci[0], ci_high=f.ci[1], r2=f.r2, lo=f.ranks[0],
                hi=f.ranks[1], alpha_plain=f.alpha_plain, note="")


def alpha_by_layer(
    net: ShapesMLP, images: np.ndarray, n_boot: int = 40, seed: int = 0
) -> list[dict[str, Any]]:
    """alpha of every hidden layer of ``net`` on ``images``, measured two ways.

    * ``eval_pca``: eval mode (dropout off), plain PCA spectrum, alpha bias-corrected by
      simulation at the same n (``fit_power_law(..., n_samples=n)``), parametric-bootstrap CI.
    * ``dropout_cvpca``: train mode (dropout on), two passes with independent masks, cvPCA
      spectrum (Stringer et al. 2019; mask noise is independent between passes, so it averages
      out), plain weighted fit on the positive part of the spectrum, CI = percentile bootstrap
      over images (``n_boot`` resamples, same rank window).

    Returns one dict per (layer, method) with alpha, ci_low, ci_high, r2, lo, hi, note."""
    from .activations import record_activations

    x = torch.from_numpy(images.reshape(len(images), -1) - 0.5)
    names = net.layer_names()
    n = len(x)
    net.eval()
    eval_acts = record_activations(net, x, names)
    net.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 1)
        a1 = record_activations(net, x, names)
        a2 = record_activations(net, x, names)
    net.eval()
    rng = np.random.default_rng(seed)
    rows = []
    with _one_blas_thread():
        for k, name in enumerate(names, 1):
            rows += _alpha_rows_for_layer(k, name, eval_acts[name], a1[name], a2[name], n_boot,
                                          seed, rng)
    return rows


def _alpha_rows_for_layer(k: int, name: str, eval_act: torch.Tensor, act1: torch.Tensor,
                          act2: torch.Tensor, n_boot: int, seed: int,
                          rng: np.random.Generator) -> list[dict[str, Any]]:
    from .spectrum import cv_pca, eigenspectrum, fit_power_law

    n = eval_act.shape[0]
    rows = []
    lam = eigenspectrum(eval_act.double().numpy(), kind="activations")
    rows.append(dict(layer=k, name=name, method="eval_pca", n=n, **_fit_row(lam, n, seed)))
    r1, r2 = act1.double().numpy(), act2.double().numpy()
    cv = cv_pca(r1, r2, n_shuffles=5, seed=seed)
    row = dict(layer=k, name=name, method="dropout_cvpca", n=n, **_fit_row(cv, None, seed))
    if np.isfinite(row["alpha"]) and n_boot > 0:
        lo, hi = row["lo"], row["hi"]
        rr = np.arange(lo, hi + 1)
        boots = []
        for _ in range(n_boot):
            idx = rng.integers(0, n, n)
            cb = cv_pca(r1[idx], r2[idx], n_shuffles=1, seed=int(rng.integers(2**31)))
            w = cb[lo - 1 : hi]
            if w.size == rr.size and np.all(w > 0):
                boots.append(fit_power_law(cb, ranks=(lo, hi), n_boot=2).alpha_plain)
        if len(boots) >= max(5, n_boot // 2):
            # normal-approximation interval around the estimate: resampling with replacement
            # duplicates images, which biases cvPCA's alpha, so percentile intervals drift
            half = 1.96 * float(np.std(boots, ddof=1))
            row["ci_low"], row["ci_high"] = row["alpha"] - half, row["alpha"] + half
            row["note"] = f"CI: ±1.96 s.d. of {len(boots)} image-bootstrap fits"
        else:
            row["note"] = (f"CI: residual bootstrap (only {len(boots)} image resamples had a "
                           "positive spectrum in the window)")
    rows.append(row)
    return rows


def run_alpha_sweep(config: AlphaSweepConfig = AlphaSweepConfig(), progress: bool = True) -> Any:
    """Train one :class:`ShapesMLP` per (dropout, seed) and measure alpha per layer both ways.

    Returns a pandas DataFrame: dropout, seed, layer, name, method, alpha, ci_low, ci_high, r2,
    lo, hi, n, accuracy (final training accuracy), note."""
    import pandas as pd
    from tqdm.auto import tqdm

    from .datasets import make_shapes

    bad = [p for p in config.dropouts if not 0.0 <= p < 1.0]
    if bad:
        raise ValueError(f"dropout rates must lie in [0, 1), got {bad}.")
    images, factors = make_shapes(config.n_train, seed=config.data_seed)
    eval_images, _ = make_shapes(config.n_eval, seed=config.data_seed + 1)
    rows = []
    jobs = [(p, s) for s in config.seeds for p in config.dropouts]
    for p, s in tqdm(jobs, desc="alpha vs dropout", disable=not progress):
        net, hist = train_shapes_mlp(images, factors, p, config, seed=s, progress=False)
        for r in alpha_by_layer(net, eval_images, n_boot=config.n_boot, seed=s):
            rows.append(dict(dropout=p, seed=s, accuracy=hist["accuracy"][-1],
                             final_loss=hist["loss"][-1], **r))
    return pd.DataFrame(rows)


def alpha_trend(df: Any, n_boot: int = 2000, seed: int = 0, min_r2: float = 0.9) -> Any:
    """Least-squares slope dα/dD of alpha against the dropout rate, per (method, layer), with a
    95% CI from a parametric bootstrap: each measurement is redrawn from a normal with the s.d.
    implied by its own CI (width / 3.92), and, when several seeds exist, the seeds at each rate
    are resampled too. Also Spearman's ρ of alpha with D. Fits whose log-log r² is below
    ``min_r2`` (not a power law: e.g. a layer collapsed to a few directions) are left out and
    counted in ``n_excluded``. Returns a DataFrame: method, layer, slope, ci_low, ci_high,
    spearman, rises (CI above 0), falls (CI below 0), n_points, n_excluded."""
    import pandas as pd
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    out = []
    for (method, layer), d_all in df.groupby(["method", "layer"]):
        d = d_all.dropna(subset=["alpha"])
        if "r2" in d:
            d = d[d["r2"] >= min_r2]
        n_excluded = len(d_all) - len(d)
        D = d["dropout"].to_numpy(float)
        a = d["alpha"].to_numpy(float)
        sd = np.nan_to_num((d["ci_high"] - d["ci_low"]).to_numpy(float) / 3.92)
        if np.unique(D).size < 2:
            continue
        slope = float(np.polyfit(D, a, 1)[0])
        levels = [np.flatnonzero(D == v) for v in np.unique(D)]
        boots = np.empty(n_boot)
        for b in range(n_boot):
            idx = np.concatenate([rng.choice(ix, ix.size) for ix in levels])
            boots[b] = np.polyfit(D[idx], a[idx] + sd[idx] * rng.standard_normal(idx.size), 1)[0]
        lo, hi = float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))
        rho = float(spearmanr(D, a).statistic) if np.unique(a).size > 1 else float("nan")
        out.append(dict(method=method, layer=int(layer), slope=slope, ci_low=lo, ci_high=hi,
                        spearman=rho, rises=lo > 0, falls=hi < 0, n_points=len(d),
                        n_excluded=n_excluded))
    return pd.DataFrame(out)


def alpha_table(df: Any, min_r2: float = 0.9) -> Any:
    """Layer × dropout table of "α [lo, hi]" strings (mean over seeds; CI from the lowest to
    the highest per-seed CI bound, so it covers seed-to-seed spread), one block per method.
    A "*" marks cells where some fit has log-log r² < ``min_r2`` (not a power law); "n/a" where
    no fit was possible (e.g. a cvPCA spectrum with too few positive values). Returns a pandas
    DataFrame indexed by (method, layer), columns = dropout rates."""
    import pandas as pd

    rows = {}
    for (method, layer, p), d in df.groupby(["method", "layer", "dropout"]):
        if d["alpha"].isna().all():
            cell = "n/a"
        else:
            d = d.dropna(subset=["alpha"])
            cell = f"{d['alpha'].mean():.2f} [{d['ci_low'].min():.2f}, {d['ci_high'].max():.2f}]"
            if "r2" in d and (d["r2"] < min_r2).any():
                cell += " *"
        rows.setdefault((method, int(layer)), {})[f"D={p:g}"] = cell
    tab = pd.DataFrame.from_dict(rows, orient="index")
    tab.index = pd.MultiIndex.from_tuples(tab.index, names=["method", "layer"])
    return tab


def load_shipped(name: str) -> Any:
    """Load a shipped result from ``data/dropout/``: ``"depth_cpu"`` → :class:`DepthResult`,
    ``"alpha_full"`` → DataFrame. Raises FileNotFoundError naming the command that makes it."""
    import pandas as pd

    path = DATA_DIR / f"{name}.json"
    if not path.exists():
        cmd = ("python -m polycode_lite.dropout_nets depth --preset cpu" if name.startswith("depth")
               else "python -m polycode_lite.dropout_nets alpha --preset full")
        raise FileNotFoundError(f"{path} is missing; regenerate it with `{cmd} --out {path}`.")
    if name.startswith("depth"):
        return DepthResult.from_json(path)
    d = json.loads(path.read_text())
    return pd.DataFrame(d["rows"])


def cli_main(argv: list[str] | None = None) -> int:
    """``python -m polycode_lite.dropout_nets {depth,alpha} --preset P --out FILE.json``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m polycode_lite.dropout_nets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment", choices=["depth", "alpha"])
    ap.add_argument("--preset", default=None,
                    help="depth: fast | cpu (default) | paper; alpha: fast | full (default)")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.experiment == "depth":
        preset = args.preset or "cpu"
        if preset not in {"fast", "cpu", "paper"}:
            ap.error("depth presets: fast, cpu, paper")
        res = run_depth_experiment(getattr(DepthExperimentConfig, preset)())
        res.to_json(args.out)
        print(res.summary().to_string())
        print(res.checks())
    else:
        preset = args.preset or "full"
        if preset not in {"fast", "full"}:
            ap.error("alpha presets: fast, full")
        cfg = getattr(AlphaSweepConfig, preset)()
        t0 = time.perf_counter()
        df = run_alpha_sweep(cfg)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(dict(rows=df.to_dict(orient="records"),
                                                  config=asdict(cfg),
                                                  seconds=time.perf_counter() - t0),
                                             indent=1, default=float))
        print(alpha_table(df).to_string())
        print(alpha_trend(df).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_main())
