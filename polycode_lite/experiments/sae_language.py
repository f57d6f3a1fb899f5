"""A sparse autoencoder on a language model's MLP code, scored like neurons (issue 17; notebook 07's corpus).

One forward pass records ``mlp.post`` (after GELU) at the chosen layers on two disjoint, seeded
sets of pydoc windows: **train** windows, on which a TopK (or L1) SAE is trained
(:func:`polycode_lite.models.sae.train_sae`), and **eval** windows, on which everything is
measured. On the eval windows:

* **explanation scores**: neurons, random directions, best-of-N and exact minimum-action
  directions through :func:`~polycode_lite.experiments.pseudo_neurons.run_comparison`, and
  ``n_directions`` SAE latents per layer as the kind ``"sae latent"`` through
  :func:`~polycode_lite.experiments.pseudo_neurons.score_directions`: the same simulators, records,
  window-shuffled control and seeds. A latent's trace is its **activation** (the SAE's code,
  ReLU/TopK of the encoder: what SAE interpretability scores; one sign, it is >= 0), or with
  ``trace="projection"`` the projection of the activations on its decoder direction (a linear
  pseudo-neuron, both signs). Latents are picked on the *train* tokens among those that fire on at
  least ``min_frequency`` of them: a seeded random sample (``pick="random"``, default, the
  analogue of the neurons' random subset), or the ``n_directions`` of largest activation variance
  (``"variance"``) or highest firing frequency (``"frequency"``). ``also_pick`` scores a second set
  chosen the other way (default the top-variance latents) as the kind ``"sae latent by <pick>"``,
  so the effect of selecting latents is measured beside the unselected comparison.
* **α**: the spectrum of the latent code (its latents alive on the eval tokens: a dead latent
  adds an exact zero eigenvalue only) and of the neurons of the same layer, through the one α
  pipeline (:func:`~polycode_lite.experiments.alpha.estimate_alpha` on one covariance accumulator per
  document group, resampled by the bootstrap), in one window per layer.
* **trade-off**: for each sparsity of ``sweep`` (k of a TopK SAE, or the L1 coefficient) an SAE of
  the same size on the first layer: fraction of variance unexplained (FVU), L0 and dead fraction
  on the eval tokens, beside PCA with as many components as the SAE's L0 (fitted on the train
  tokens): a widget can plot :attr:`SAELanguageResult.tradeoff`.

α and the trade-off: :mod:`polycode_lite.experiments.sae_language_measures`; verdict rules and
figures: :mod:`polycode_lite.experiments.sae_language_claims`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite import _checks as ck

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from polycode_lite.data.corpus import Document, TokenWindows
    from polycode_lite.models.language_models import LanguageModel

__all__ = [
    "KIND",
    "PICKS",
    "TRACES",
    "SAELanguageConfig",
    "SAELanguageResult",
    "collect_mlp_activations",
    "latent_statistics",
    "pick_latents",
    "run",
    "selected_kind",
]

#: the kind of direction SAE latents get in the score table
KIND = "sae latent"
PICKS = ("variance", "frequency", "random")
TRACES = ("activation", "projection")


@dataclass(frozen=True)
class SAELanguageConfig:
    """Settings (:meth:`fast`: one layer, 150 + 120 windows, seconds to a minute on one core).

    layers: MLP layers of the model. train_windows, eval_windows: disjoint window counts (64
    tokens each). expansion: latents per activation dimension. k / l1: the scored SAE's sparsity
    (exactly one; TopK k or L1 coefficient); sweep: the trade-off's values of the same kind.
    steps, batch_size: SAE training steps (None: ``train_sae``'s default) and inputs per step;
    num_threads: torch threads while an SAE trains (1: the same result on any machine; None:
    torch's setting, faster on several cores). n_directions: neurons, random
    directions and SAE latents scored per layer (n_min_action best-of-N and exact min-action).
    pick, also_pick, trace, min_frequency: which latents and what trace (module docstring). n_boot: bootstrap
    replicates of the score CIs; alpha_boot: of α (0: no CI); correct_bias: α's finite-sample
    correction; n_groups: document groups the α bootstrap resamples."""

    model: str = "minilm"
    layers: tuple[int, ...] = (1, 4)
    train_windows: int = 1000
    eval_windows: int = 800
    expansion: int = 2
    k: int | None = 32
    l1: float | None = None
    sweep: tuple[float, ...] = (8, 16, 32, 64, 128)
    steps: int | None = None
    batch_size: int = 256
    num_threads: int | None = 1
    n_directions: int = 24
    n_min_action: int = 12
    pool_size: int = 32
    pick: str = "random"
    also_pick: str | None = "variance"
    trace: str = "activation"
    min_frequency: float = 1e-3
    n_top: int = 20
    n_records_random: int = 20
    drop_first: int = 4
    n_groups: int = 10
    n_boot: int = 1000
    alpha_boot: int = 50
    correct_bias: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        ck.text("model", self.model)
        ck.sequence_of("layers", self.layers, lambda n, v: ck.integer(n, v, minimum=0))
        for name in ("train_windows", "eval_windows", "expansion", "n_directions", "n_groups"):
            ck.integer(name, getattr(self, name), minimum=1)
        for name in ("n_min_action", "n_top", "n_records_random", "drop_first", "alpha_boot"):
            ck.integer(name, getattr(self, name), minimum=0)
        ck.integer("pool_size", self.pool_size, minimum=1); ck.integer("batch_size", self.batch_size, minimum=1)
        ck.optional(ck.integer, "steps", self.steps, minimum=1)
        ck.optional(ck.integer, "num_threads", self.num_threads, minimum=1, fix="Or None for torch's setting.")
        if (self.k is None) == (self.l1 is None):
            raise ValueError(f"give exactly one of k (TopK) and l1 (L1 coefficient); got k={self.k!r}, l1={self.l1!r}.")
        if self.k is not None:
            ck.integer("k", self.k, minimum=1)
            ck.sequence_of("sweep", self.sweep, lambda n, v: ck.integer(n, v, minimum=1))
        else:
            ck.positive("l1", self.l1)
            ck.sequence_of("sweep", self.sweep, ck.positive)
        ck.choice("pick", self.pick, PICKS); ck.choice("trace", self.trace, TRACES)
        ck.optional(ck.choice, "also_pick", self.also_pick, PICKS)
        ck.probability("min_frequency", self.min_frequency)
        ck.integer("n_boot", self.n_boot, minimum=10, fix="compare_kinds needs >= 10 replicates.")
        if self.alpha_boot and self.alpha_boot < 10:
            raise ValueError(f"alpha_boot must be 0 (no CI) or >= 10, got {self.alpha_boot}.")
        ck.boolean("correct_bias", self.correct_bias); ck.seed("seed", self.seed)

    @property
    def sparsity(self) -> dict[str, Any]:
        """The scored SAE's ``k=`` or ``l1=`` keyword for ``train_sae``."""
        return {"k": int(self.k)} if self.k is not None else {"l1": float(self.l1)}

    @classmethod
    def fast(cls, **overrides: Any) -> SAELanguageConfig:
        return cls(**{**dict(layers=(3,), train_windows=150, eval_windows=120, k=16, sweep=(8, 16, 32),
                             steps=120, batch_size=128, n_directions=6, n_min_action=3, n_groups=5, n_boot=200, alpha_boot=0,
                             correct_bias=False), **overrides})

    @classmethod
    def full(cls, **overrides: Any) -> SAELanguageConfig:
        return cls(**overrides)


@dataclass(frozen=True)
class SAELanguageResult:
    """Outcome of :func:`run`.

    scores: one row per (direction, simulator) as ``score_directions`` gives, kinds neuron, random,
    best-of-N, min-action and :data:`KIND`. alphas: one row per (hook, code): code "neurons" or
    "sae latents", width, n_tokens, alpha, ci_low, ci_high, window_lo, window_hi, flags, note.
    tradeoff: one row per sparsity of the sweep: hook, method, sparsity, n_latents, fvu, l0,
    dead_fraction, fvu_pca_same_l0, seconds. latents: the scored latents per hook (index,
    frequency, variance, kind). sae_stats: the scored SAE per hook (fvu, l0, dead_fraction on eval)."""

    config: SAELanguageConfig
    scores: pd.DataFrame
    alphas: pd.DataFrame
    tradeoff: pd.DataFrame
    latents: pd.DataFrame
    sae_stats: pd.DataFrame
    seconds: float = float("nan")
    saes: dict = field(default_factory=dict, repr=False, compare=False)

    def table(self, simulator: str | None = None, pool_layers: bool = False) -> pd.DataFrame:
        """Mean score per (hook, simulator, kind) with 95% bootstrap CIs over unsigned directions
        and the difference to neurons (:func:`~polycode_lite.experiments.pseudo_neuron_claims.compare_kinds`)."""
        from polycode_lite.experiments.pseudo_neuron_claims import compare_kinds

        sub = self.scores if simulator is None else self.scores[self.scores.simulator == simulator]
        return compare_kinds(sub, n_boot=self.config.n_boot, seed=self.config.seed, pool_layers=pool_layers)

    def control_table(self, simulator: str = "token lookup") -> pd.DataFrame:
        """The window-shuffled control and the excess (score − shuffled) per kind, all layers."""
        from polycode_lite.experiments.sae_language_claims import control_summary

        return control_summary(self.scores, simulator, n_boot=self.config.n_boot, seed=self.config.seed)

    def plot(self, simulator: str = "token lookup") -> Any:
        """Left: mean score per kind with CIs and the shuffled control; right: the trade-off."""
        import matplotlib.pyplot as plt

        from polycode_lite.experiments.sae_language_claims import plot_kind_scores, plot_tradeoff

        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
        plot_kind_scores(self.control_table(simulator), ax=a, title=f"{simulator}, all layers")
        plot_tradeoff(self.tradeoff, ax=b)
        fig.tight_layout()
        return fig

    def claims(self, simulator: str = "token lookup", level: float = 0.05) -> list[dict[str, Any]]:
        """The verdicts of :mod:`~polycode_lite.experiments.sae_language_claims`: SAE latents against
        random directions and neurons (with the window-shuffled control), the ``also_pick`` latents
        against the scored sample (when there are any), α of the latent code
        against the neurons', and the SAE against PCA at the same L0."""
        from polycode_lite.experiments import sae_language_claims as rules

        c = self.config
        selected = selected_kind(c.also_pick) if c.also_pick and c.also_pick != c.pick else None
        return (rules.latent_claims(self.scores, simulator, seed=c.seed, n_boot=c.n_boot, level=level,
                                    pick=c.pick)
                + ([rules.selection_claim(self.scores, selected, simulator, seed=c.seed, n_boot=c.n_boot,
                                          level=level)] if selected else [])
                + [rules.alpha_claim(self.alphas), rules.tradeoff_claim(self.tradeoff)])


# --------------------------------------------------------------------------------------
# activations, latents
# --------------------------------------------------------------------------------------
def collect_mlp_activations(lm: LanguageModel, windows: TokenWindows, hooks: list[str], drop_first: int = 4,
                            batch_size: int = 16) -> dict[str, np.ndarray]:
    """{hook: (N, T', width) float32} of ``windows`` (positions ``drop_first`` .. before the suffix)."""
    import torch

    from polycode_lite.models.hooks import ActivationRecorder

    stop = windows.length - windows.n_suffix
    if drop_first >= stop:
        raise ValueError(f"drop_first={drop_first} leaves no position of {windows.length}-token windows.")
    out: dict[str, list] = {h: [] for h in hooks}

    def keep(name: str, t: torch.Tensor) -> None:
        out[name].append(t[:, drop_first:stop].float().cpu().numpy())

    with ActivationRecorder(lm.model, lm.modules(hooks), on_output=keep), torch.no_grad():
        for batch in windows.batches(batch_size, lm.device):
            lm.model(**batch)
    return {h: np.concatenate(v, axis=0) for h, v in out.items()}


def _encode_chunks(sae: Any, x: np.ndarray, chunk: int = 4096):
    for start in range(0, x.shape[0], chunk):
        yield start, np.asarray(sae.encode(x[start:start + chunk]), dtype=np.float64)


def latent_statistics(sae: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequency, variance) of every latent over the rows of ``x`` (n, d): the share of rows
    where it is non-zero and the variance of its activation (encoded in chunks)."""
    n, s1, s2, fires = 0, 0.0, 0.0, 0.0
    for _, z in _encode_chunks(sae, x):
        n += z.shape[0]
        s1, s2, fires = s1 + z.sum(0), s2 + (z * z).sum(0), fires + (z != 0).sum(0)
    mean = s1 / n
    return fires / n, np.maximum(s2 / n - mean * mean, 0.0)


def pick_latents(frequency: Any, variance: Any, n: int, pick: str = "variance", min_frequency: float = 1e-3,
                 seed: int = 0) -> np.ndarray:
    """Indices of ``n`` latents among those with ``frequency >= min_frequency`` (and > 0): the
    largest ``variance`` or ``frequency``, or a seeded random sample (``pick="random"``), sorted.

    Raises: ValueError when fewer than ``n`` latents qualify (naming how many do)."""
    f, v = ck.array("frequency", frequency, ndim=1), ck.array("variance", variance, ndim=1)
    ck.integer("n", n, minimum=1); ck.choice("pick", pick, PICKS)
    ck.probability("min_frequency", min_frequency); ck.seed("seed", seed)
    if f.shape != v.shape:
        raise ValueError(f"frequency {f.shape} and variance {v.shape} differ in shape.")
    alive = np.flatnonzero((f >= min_frequency) & (f > 0))
    if alive.size < n:
        raise ValueError(f"only {alive.size} of {f.size} latents fire on >= {min_frequency:g} of the train tokens, "
                         f"fewer than the n={n} to score: lower n_directions or min_frequency, or train longer.")
    if pick == "random":
        chosen = np.random.default_rng([seed, 23]).choice(alive, n, replace=False)
    else:
        key = v[alive] if pick == "variance" else f[alive]
        chosen = alive[np.argsort(-key, kind="stable")[:n]]
    return np.sort(chosen)


def _latent_traces(sae: Any, acts: np.ndarray, chosen: np.ndarray, trace: str) -> np.ndarray:
    """(N, T', K) traces of the chosen latents on ``acts`` (N, T', d)."""
    flat = acts.reshape(-1, acts.shape[-1])
    if trace == "projection":
        out = flat @ np.asarray(sae.decoder, dtype=np.float32)[chosen].T
    else:
        out = np.empty((flat.shape[0], chosen.size), dtype=np.float32)
        for start, z in _encode_chunks(sae, flat):
            out[start:start + z.shape[0]] = z[:, chosen]
    return out.reshape(acts.shape[0], acts.shape[1], chosen.size).astype(np.float32)


def selected_kind(pick: str) -> str:
    """The score-table kind of the latents picked by ``pick`` beside the scored set: "sae latent by variance"."""
    return f"{KIND} by {ck.choice('pick', pick, PICKS)}"


def _score_latents(kind: str, hook: str, sae: Any, acts: np.ndarray, chosen: np.ndarray, ids: np.ndarray,
                   lm: Any, sims: list, config: SAELanguageConfig) -> pd.DataFrame:
    """Scores of the ``chosen`` latents (as ``kind``) on ``acts`` (N, T', d) by score_directions."""
    from polycode_lite.experiments.pseudo_neurons import Direction, score_directions
    from polycode_lite.science.action import path_action

    traces = _latent_traces(sae, acts, chosen, config.trace)
    actions = path_action(traces)
    signs = (1,) if config.trace == "activation" else (1, -1)
    dec = np.asarray(sae.decoder)
    dirs = [Direction(kind, int(j), s, dec[j], float(a)) for j, a in zip(chosen, actions) for s in signs]
    signed = np.concatenate([s * traces[:, :, [q]] for q in range(chosen.size) for s in signs], axis=2)
    return score_directions(hook, dirs, signed, ids, lm.token_strings, sims, config.n_top,
                            config.n_records_random, seed=config.seed)


# --------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------
def _split_windows(n_windows: int, config: SAELanguageConfig) -> tuple[np.ndarray, np.ndarray]:
    need = config.train_windows + config.eval_windows
    if need > n_windows:
        raise ValueError(f"train_windows + eval_windows = {need} exceeds the {n_windows} windows of the corpus; "
                         "use fewer.")
    if config.eval_windows < config.n_top + config.n_records_random:
        raise ValueError(f"eval_windows={config.eval_windows} is fewer than n_top + n_records_random = "
                         f"{config.n_top + config.n_records_random} records per direction.")
    perm = np.random.default_rng([config.seed, 29]).permutation(n_windows)
    return np.sort(perm[config.eval_windows:need]), np.sort(perm[:config.eval_windows])


def run(config: SAELanguageConfig = SAELanguageConfig(), lm: LanguageModel | None = None,
        documents: list[Document] | None = None, progress: bool = False) -> SAELanguageResult:
    """Run the experiment of ``config`` (``res = run(SAELanguageConfig.fast()); res.claims()``).

    lm: a loaded model (default ``load_language_model(config.model)`` on the CPU); documents:
    the corpus (default pydoc), cut into 64-token windows."""
    import pandas as pd

    from polycode_lite.data.corpus import load_documents, make_windows
    from polycode_lite.experiments.covariance_collection import assign_groups
    from polycode_lite.experiments.explanation_scoring import (
        BigramSimulator,
        LinearProbeSimulator,
        TokenLookupSimulator,
    )
    from polycode_lite.experiments.pseudo_neurons import run_comparison
    from polycode_lite.experiments.sae_language_measures import (
        code_alphas,
        group_accumulators,
        tradeoff_table,
    )
    from polycode_lite.models.language_models import load_language_model
    from polycode_lite.models.sae import train_sae

    ck.instance("config", config, SAELanguageConfig, "SAELanguageConfig.fast()")
    t_start = time.perf_counter()
    lm = lm if lm is not None else load_language_model(config.model, device="cpu")
    for layer in config.layers:
        if layer >= lm.n_layers:
            raise ValueError(f"layers: {layer} is out of range, {lm.name} has {lm.n_layers} layers (0..{lm.n_layers - 1}).")
    windows = make_windows(lm, documents if documents is not None else load_documents("pydoc"), window=64)
    train_idx, eval_idx = _split_windows(len(windows), config)
    ev = windows.subset(eval_idx)
    hooks = lm.hook_names(["mlp.post"], list(config.layers))
    acts = collect_mlp_activations(lm, windows.subset(np.concatenate([train_idx, eval_idx])), hooks, config.drop_first)
    sims = [TokenLookupSimulator(), BigramSimulator(), LinearProbeSimulator(lm.input_embeddings())]
    base = run_comparison(lm, ev, hooks, simulators=sims, n_neurons=config.n_directions,
                          n_random=config.n_directions, n_min_action=config.n_min_action,
                          pool_size=config.pool_size, n_top=config.n_top, n_records_random=config.n_records_random,
                          drop_first=config.drop_first, seed=config.seed, progress=progress)
    ids = ev.input_ids[:, config.drop_first:ev.length - ev.n_suffix]
    groups = assign_groups(ev, config.n_groups, seed=config.seed)
    tables, alpha_rows, latent_rows, stats_rows, saes, trade = [base], [], [], [], {}, None
    n_train = len(train_idx)
    for i, h in enumerate(hooks):
        a_train, a_eval = acts[h][:n_train], acts[h][n_train:]
        train_flat, eval_flat = a_train.reshape(-1, a_train.shape[-1]), a_eval.reshape(-1, a_eval.shape[-1])
        n_latents = config.expansion * train_flat.shape[1]
        t0 = time.perf_counter()
        sae = train_sae(train_flat, n_latents, steps=config.steps, batch_size=config.batch_size,
                        seed=config.seed + i, progress=progress, num_threads=config.num_threads, **config.sparsity)
        secs = time.perf_counter() - t0
        saes[h] = sae
        freq, var = latent_statistics(sae, train_flat)
        picks = [(KIND, config.pick)] + ([(selected_kind(config.also_pick), config.also_pick)]
                                         if config.also_pick and config.also_pick != config.pick else [])
        for kind, pick in picks:
            chosen = pick_latents(freq, var, config.n_directions, pick, config.min_frequency, seed=config.seed + i)
            latent_rows += [dict(hook=h, kind=kind, latent=int(j), frequency=float(freq[j]), variance=float(var[j]))
                            for j in chosen]
            tables.append(_score_latents(kind, h, sae, a_eval, chosen, ids, lm, sims, config))
        stats_rows.append(dict(hook=h, n_latents=n_latents, train_tokens=train_flat.shape[0],
                               eval_tokens=eval_flat.shape[0], fvu=float(sae.reconstruction_error(eval_flat)),
                               l0=float(sae.l0(eval_flat)), dead_fraction=float(sae.dead_fraction(eval_flat)),
                               alive_train=int(np.sum(freq > 0)), seconds=secs))
        # latents silent on every eval token add exact zero eigenvalues only: leave them out
        alive = np.flatnonzero(latent_statistics(sae, eval_flat)[0] > 0)
        codes = {"neurons": group_accumulators(a_eval, groups),
                 "sae latents": group_accumulators(a_eval, groups, lambda x, s=sae, a=alive: s.encode(x)[:, a])}
        alpha_rows += code_alphas(h, codes, n_boot=config.alpha_boot, correct_bias=config.correct_bias,
                                  seed=config.seed)
        if i == 0:
            scored_value = config.k if config.k is not None else config.l1
            trade = tradeoff_table(h, train_flat, eval_flat, n_latents, config.sweep,
                                   "topk" if config.k is not None else "l1", steps=config.steps,
                                   batch_size=config.batch_size, seed=config.seed, reuse={scored_value: (sae, secs)},
                                   num_threads=config.num_threads)
    return SAELanguageResult(config=config, scores=pd.concat(tables, ignore_index=True),
                             alphas=pd.DataFrame(alpha_rows), tradeoff=trade, latents=pd.DataFrame(latent_rows),
                             sae_stats=pd.DataFrame(stats_rows), seconds=time.perf_counter() - t_start, saes=saes)
