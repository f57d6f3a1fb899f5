"""Error correction through depth: I(x; h_l) through the deep dropout network (docs/paper_guide.md §3 E4).

**The well-posed setting (default, ``inputs="codebook"``).** x is one of K = 8 equiprobable
codewords (3 uniform bits: the corners of [−0.8, 0.8]³, :class:`~polycode_lite.science.mi_estimators.CodeBook`).
Then H(x) = 3·ln 2 nats and, by the data-processing inequality, I(x; h_l) ≤ 3·ln 2 at every layer
l, dropout or not: the "3 bits" line is the ceiling, finite and known, and a layer before the
first dropout (a deterministic, almost surely injective map of 8 points) carries exactly 3·ln 2.
I(x; h_l) is measured with dropout *active* by two estimators: MINE (held-out DV bound,
:mod:`polycode_lite.science.mine`, with its divergence check) and a decoder lower bound
H(x) − CE(q(x | h_l)) (:func:`~polycode_lite.science.mi_estimators.decoder_lower_bound`).

**The authors' setting (flagged variant, ``inputs="continuous"``).** x ~ U[−1, 1]³ as in their
code. It is ill-posed: a continuous x through discrete dropout masks keeps the exact values of
the kept units, so h_l determines x on every mask pattern that keeps an invertible path, and the
true I(x; h_l) is infinite at every layer, not only before the first dropout. MINE's numbers then
only say how far its optimiser got (a single dropout layer on raw x, with no network, scores more
than 3·ln 2, and with enough steps the bound diverges). Kept for comparison with their figure.

**Controls** (computed by the experiment, through the same estimators and the same dropout
channel at measurement): ``untrained`` (the random initialisation of the trained nets) and
``no_dropout`` (the same network, same init, trained with its dropout masks switched off,
:func:`~polycode_lite.models.deep_dropout.masks_off`). Results and verdicts: :mod:`polycode_lite.experiments.mi_depth_result`.

Randomness: every function takes a seed; dropout masks are drawn inside ``torch.random.fork_rng``
so the caller's global RNG state is restored afterwards.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polycode_lite.experiments.mi_depth_result import (
    AUTHORS_FIGURE,
    MODELS,
    NECESSARY_INFORMATION_NATS,
    DepthResult,
    capacity_line_nats,
    information_claims,
)
from polycode_lite.experiments.unit_store import UnitStore, unit_name
from polycode_lite.models.deep_dropout import (
    DeepDropoutNet,
    DeepNetConfig,
    first_stochastic_layer,
    keras_layer_kind,
    masks_off,
)
from polycode_lite.science.mi_estimators import CodeBook, decoder_lower_bound
from polycode_lite.science.mine import MINEConfig, estimate_mutual_information

__all__ = [
    "AUTHORS_FIGURE",
    "INPUTS",
    "MODELS",
    "NECESSARY_INFORMATION_NATS",
    "DepthExperimentConfig",
    "DepthResult",
    "IdentityTraining",
    "capacity_line_nats",
    "information_claims",
    "layer_mutual_information",
    "run",
    "run_depth_experiment",
    "sample_inputs",
    "train_identity"
]

#: "codebook": 8 codewords, finite MI with a known ceiling (default); "continuous": the authors'
#: x ~ U[−1, 1]^3, true MI infinite at every layer (ill-posed, kept as a flagged variant).
INPUTS = ("codebook", "continuous")


def sample_inputs(n: int, dim: int, inputs: str = "codebook", codebook: CodeBook = CodeBook(),
                  seed: int = 0) -> tuple[np.ndarray | None, torch.Tensor]:
    """n inputs for the identity net: (labels (n,) or None, x (n, dim) float32 tensor).

    "codebook": uniform codeword indices and their words (``codebook.dim`` must equal ``dim``);
    "continuous": x ~ U[−1, 1]^dim (labels None). Seeded by ``seed``."""
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS}, got {inputs!r}.")
    if inputs == "continuous":
        gen = torch.Generator().manual_seed(int(seed))
        return None, torch.rand(int(n), int(dim), generator=gen) * 2.0 - 1.0
    if codebook.dim != dim:
        raise ValueError(f"codebook.dim ({codebook.dim}) must equal the net's in_dim ({dim}); "
                         f"pass CodeBook(dim={dim}).")
    labels, x = codebook.sample(n, seed=seed)
    return labels, torch.from_numpy(x)


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
    def paper(cls) -> IdentityTraining:
        return cls(n_samples=1_000_000, epochs=4)


def train_identity(
    net: DeepDropoutNet, training: IdentityTraining = IdentityTraining(), progress: bool = True,
    inputs: str = "codebook", codebook: CodeBook = CodeBook(), dropout: bool = True,
) -> dict[str, list[float]]:
    """Train ``net`` in place to map x to itself (MSE, Adam), x drawn as in :func:`sample_inputs`.

    dropout: False trains with every mask switched off (:func:`masks_off`): the no-dropout
    control, same architecture (0.8 scaling included) and same init. Returns the history
    {"epoch", "train_mse", "val_mse"} (val in eval mode: dropout off and the authors' 0.8
    scaling on, as Keras does at inference)."""
    from contextlib import nullcontext

    from tqdm.auto import tqdm

    if training.n_samples < training.batch_size or training.epochs < 1:
        raise ValueError("need n_samples >= batch_size and epochs >= 1.")
    gen = torch.Generator().manual_seed(int(training.seed))
    _, x = sample_inputs(training.n_samples, net.config.in_dim, inputs, codebook, seed=training.seed)
    n_val = max(1, int(training.val_fraction * training.n_samples))
    x_val, x_tr = x[:n_val], x[n_val:]
    opt = torch.optim.Adam(net.parameters(), lr=training.lr)
    hist: dict[str, list[float]] = {"epoch": [], "train_mse": [], "val_mse": []}
    with torch.random.fork_rng(devices=[]), (nullcontext() if dropout else masks_off(net)):
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


def _mine_with_rerun(x: Any, z: Any, mine: MINEConfig, seed: int, desc: str) -> tuple[Any, int]:
    """MINE, rerun once (half the steps, a third of the lr) if it diverges. Returns (estimate,
    reruns); a rerun that diverges too is returned flagged (``diverged``), not hidden."""
    cfg = replace(mine, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est = estimate_mutual_information(x, z, cfg, progress=False, desc=desc)
        if not est.diverged:
            return est, 0
        cfg = replace(cfg, steps=max(100, cfg.steps // 2), lr=cfg.lr / 3)
        return estimate_mutual_information(x, z, cfg, progress=False, desc=desc), 1


def layer_mutual_information(
    net: DeepDropoutNet,
    layers: Sequence[int],
    n_samples: int = 20_000,
    mine: MINEConfig = MINEConfig(),
    seed: int = 0,
    progress: bool = True,
    inputs: str = "codebook",
    codebook: CodeBook = CodeBook(),
    decoder: bool = True,
    keep_curve: bool = False,
    store: UnitStore | None = None,
    unit: str = "mi",
) -> list[dict[str, Any]]:
    """I(x; h_l) for each layer l, fresh x (:func:`sample_inputs`), dropout ACTIVE (the channel
    is stochastic), by MINE on held-out pairs and, for code-book inputs, by the decoder bound.

    Activations of all layers come from one forward pass (masks seeded with ``seed``). A MINE
    run that diverges is rerun once with gentler settings; if it diverges again the row says so
    (``diverged``) and a RuntimeWarning is raised. Returns one dict per layer: layer, kind,
    deterministic (before the first dropout), mi (MINE, nats), mi_sd, diverged, divergence,
    reruns, decoder_mi (nats; NaN for continuous inputs or ``decoder=False``), ceiling (H(x) for
    code-book inputs, inf for continuous ones) and, with ``keep_curve``, curve (MINE's training
    curve, :attr:`~polycode_lite.science.mine.MIEstimate.curve`, e.g. for
    :func:`polycode_lite.plots.mine.plot_mine_training`).

    ``store``: a :class:`~polycode_lite.experiments.unit_store.UnitStore`; each layer's row is
    then a unit (``unit`` + the layer), saved when done and reused by a rerun."""
    from tqdm.auto import tqdm

    from polycode_lite.models.hooks import record_activations

    layers = [int(l) for l in layers]
    bad = [l for l in layers if not 0 <= l < len(net.layers)]
    if bad:
        raise ValueError(f"layers {bad} are outside 0..{len(net.layers) - 1}.")
    labels, x = sample_inputs(n_samples, net.config.in_dim, inputs, codebook, seed=seed)
    was_training = net.training
    net.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 1)
        acts = record_activations(net, x, [f"layers.{l}" for l in layers])
    net.train(was_training)
    first = first_stochastic_layer(net)
    ceiling = codebook.entropy_nats if inputs == "codebook" else float("inf")
    rows = []
    def one_layer(l: int) -> dict[str, Any]:
        h = acts[f"layers.{l}"]
        est, reruns = _mine_with_rerun(x, h, mine, mine.seed + 1000 * seed + l, f"MINE layer {l}")
        dec = float("nan")
        if decoder and labels is not None:
            dec = decoder_lower_bound(labels, h.numpy(), n_classes=2 ** codebook.bits,
                                      seed=seed + l).mi
        return dict(layer=l, kind=keras_layer_kind(net, l), deterministic=l < first,
                    mi=est.mi, mi_sd=est.mi_sd, diverged=est.diverged,
                    divergence=est.divergence, reruns=reruns, decoder_mi=dec, ceiling=ceiling,
                    **({"curve": est.curve} if keep_curve else {}))

    for l in tqdm(layers, desc="I(x; h_l)", disable=not progress, leave=False):
        if store is None:
            rows.append(one_layer(l))
        else:
            rows.append(store.record(unit_name(unit, f"layer={l}"), lambda l=l: one_layer(l),
                                     settings=dict(n_samples=int(n_samples), seed=int(seed), inputs=inputs, mine=asdict(mine),
                                                   decoder=bool(decoder), keep_curve=bool(keep_curve))))
    gone = [r["layer"] for r in rows if r["diverged"]]
    if gone:
        warnings.warn(f"MINE diverged at layers {gone} even after a rerun; those rows are flagged "
                      "'diverged' and left out of the summaries. Lower MINEConfig.lr or steps.",
                      RuntimeWarning, stacklevel=2)
    return rows


@dataclass(frozen=True)
class DepthExperimentConfig:
    """Whole E4 experiment. Presets: :meth:`fast` (notebook fast mode, ~1–2 min on 2 cores),
    :meth:`cpu` (docs/paper_guide.md's CPU scale-down: 2e5 samples × 2 epochs per trained net,
    8 layers, 2 trials of MINE (1,000 steps on 16,000 samples) and the decoder bound, for three
    models; ~15 CPU-minutes), :meth:`paper` (authors' sizes: 1e6 samples × 4 epochs; 40,960 MINE
    samples, plain DV, 5,000 steps; hours on a CPU).

    inputs: "codebook" (well-posed, default) or "continuous" (the authors' ill-posed setting).
    codebook: the code book for "codebook" inputs. trials: independent repeats per model and
    layer (fresh inputs, masks, estimator seeds), as the authors' 3 trials on one model. The
    three models share the initialisation ``net_seed``: "trained" (with dropout), "no_dropout"
    (trained with masks off) and "untrained" (that init, never trained); ``models`` picks them."""

    net: DeepNetConfig = DeepNetConfig()
    training: IdentityTraining = IdentityTraining()
    layers: tuple[int, ...] = (3, 6, 12, 24, 36, 48, 54, 60)
    n_mi_samples: int = 16_000
    mine: MINEConfig = MINEConfig(steps=1000, batch_size=512, lr=1e-3, eval_every=50)
    trials: int = 2
    net_seed: int = 44
    inputs: str = "codebook"
    codebook: CodeBook = field(default_factory=CodeBook)
    models: tuple[str, ...] = MODELS

    def __post_init__(self) -> None:
        if self.inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {INPUTS}, got {self.inputs!r}.")
        bad = [m for m in self.models if m not in MODELS]
        if bad or "trained" not in self.models:
            raise ValueError(f"models must include 'trained' and come from {MODELS}, got {self.models}.")
        if self.trials < 1:
            raise ValueError(f"trials must be >= 1, got {self.trials}.")

    @classmethod
    def fast(cls) -> DepthExperimentConfig:
        return cls(training=IdentityTraining(n_samples=40_000, epochs=1),
                   layers=(3, 12, 36, 60), n_mi_samples=6_000,
                   mine=MINEConfig(steps=400, batch_size=256, eval_every=20), trials=1)

    @classmethod
    def cpu(cls) -> DepthExperimentConfig:
        return cls()

    @classmethod
    def paper(cls) -> DepthExperimentConfig:
        return cls(training=IdentityTraining.paper(), layers=tuple(range(3, 61, 3)), trials=3,
                   n_mi_samples=40_960 + 4_096,
                   mine=MINEConfig(loss="dv", steps=5000, batch_size=1024, lr=1e-4,
                                   holdout=4_096 / (40_960 + 4_096), eval_every=40,
                                   average_last=0.08))

    @classmethod
    def authors_continuous(cls, base: DepthExperimentConfig | None = None) -> DepthExperimentConfig:
        """The authors' ill-posed setting (x ~ U[−1, 1]³; true MI infinite at every layer) with
        the sizes of ``base`` (default :meth:`fast`)."""
        return replace(base or cls.fast(), inputs="continuous")


def run_depth_experiment(
    config: DepthExperimentConfig = DepthExperimentConfig(), progress: bool = True,
    resume_dir: str | Path | None = None,
) -> DepthResult:
    """Train the deep dropout net on the identity task (and, as controls, the same net without
    dropout and its untrained init), then estimate I(x; h_l) at ``config.layers`` for each,
    ``config.trials`` times (docs/paper_guide.md §3 E4). History: the trained nets' histories
    keyed by model.

    ``resume_dir``: a folder for the finished units (each trained net, and each model × trial ×
    layer row), saved as they finish, with their sha256 and this config, and reused by a rerun
    (:class:`~polycode_lite.experiments.unit_store.UnitStore`): a rerun after a crash gives
    bitwise the rows and histories of an uninterrupted run."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    store = None if resume_dir is None else UnitStore(resume_dir, {"experiment": "depth", "config": asdict(config)})
    nets: dict[str, DeepDropoutNet] = {}
    history: dict[str, Any] = {}
    for model in config.models:
        def make() -> DeepDropoutNet:
            return DeepDropoutNet(config.net, seed=config.net_seed)

        def train(net: DeepDropoutNet, model: str = model) -> dict[str, list[float]]:
            return train_identity(net, config.training, progress=progress, inputs=config.inputs,
                                  codebook=config.codebook, dropout=model == "trained")

        if model == "untrained":
            nets[model] = make()
        elif store is None:
            nets[model] = make()
            history[model] = train(nets[model])
        else:
            nets[model], history[model] = store.network(unit_name("net", model), make, train)
    rows: list[dict[str, Any]] = []
    jobs = [(m, t) for t in range(config.trials) for m in config.models]
    for model, trial in tqdm(jobs, desc="MI across depth", disable=not progress):
        for r in layer_mutual_information(nets[model], config.layers, config.n_mi_samples, config.mine,
                                          seed=100 * trial + 7, progress=False, inputs=config.inputs,
                                          codebook=config.codebook, store=store,
                                          unit=unit_name("mi", model, f"trial={trial}")):
            rows.append(dict(model=model, trial=trial, **r))
    return DepthResult(rows=rows, history=history, config=asdict(config),
                       seconds=time.perf_counter() - t0)


#: the experiment's entry point under the common name: ``res = run(DepthExperimentConfig.fast())``
run = run_depth_experiment
