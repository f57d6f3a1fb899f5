"""Single neurons against random-projection "pseudo-neurons" (docs/paper_guide.md §3 E6, §7).

The paper compares how well OpenAI's automated-interpretability pipeline explains single MLP
neurons of GPT-2 XL and random projections of the same layer. The LLMs it used are retired, so
the explainer and simulator are offline ones (:mod:`polycode_lite.experiments.explanation_scoring`).

Directions: single neurons (basis vectors), random unit directions, and the paper's
"minimum-action" variant (the smoothest of many random directions); random ones with both
signs, because the 0-10 scale sets negatives to 0 (docs/paper_guide.md pitfall 14).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from polycode_lite.data.corpus import TokenWindows
    from polycode_lite.models.language_models import LanguageModel
from polycode_lite.experiments.explanation_scoring import (
    ActivationRecord,
    BigramSimulator,
    LinearProbeSimulator,
    RecordSet,
    Simulator,
    TokenLookupSimulator,
)

__all__ = [
    "comparison_claims",
    "Direction", "compare_kinds", "direction_traces", "make_directions", "make_records",
    "path_action", "random_unit_directions", "run_comparison", "score_directions",
    "select_min_action"
]


# --------------------------------------------------------------------------------------
# directions: neurons, random projections, minimum action
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Direction:
    """A unit direction in a layer's activation space, with a sign.

    kind: "neuron" (basis vector ``index``), "random" (unselected random unit vector) or
    "min-action" (the smoothest of a pool of random vectors). vector: (width,) unit vector
    (None for neurons). action: normalised path action of its trace (see :func:`path_action`).
    """

    kind: str
    index: int
    sign: int
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    action: float = float("nan")

    @property
    def name(self) -> str:
        return f"{self.kind}#{self.index}{'+' if self.sign > 0 else '−'}"


def random_unit_directions(width: int, n: int, seed: int = 0) -> np.ndarray:
    """(n, width) Gaussian vectors normalised to unit length (uniform on the sphere)."""
    v = np.random.default_rng(seed).standard_normal((n, width))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def path_action(traces: Any) -> np.ndarray:
    """Normalised action of 1-D activation traces over text (docs/paper_guide.md §2.4, pitfall 9).

    For traces p of shape (N windows, T positions, K directions):
    A_k = mean_{windows,t} (p_{t+1} − p_t)² / (2 · var(p_k)) = 1 − lag-1 autocorrelation.
    Small = smooth along the text. Returns (K,).
    """
    p = np.asarray(traces, dtype=np.float64)
    if p.ndim != 3 or p.shape[1] < 2:
        raise ValueError(f"traces must be (windows, positions >= 2, directions), got {p.shape}.")
    diff = np.diff(p, axis=1)
    var = p.reshape(-1, p.shape[2]).var(axis=0)
    return np.mean(diff**2, axis=(0, 1)) / (2.0 * np.where(var > 0, var, np.nan))


def select_min_action(candidates: np.ndarray, traces: np.ndarray, n_select: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's "minimum-action" selection: split ``candidates`` (K, width) into n_select
    pools and keep the smoothest direction of each pool.

    traces: (N, T, K) activations of the candidates. Returns (indices into candidates,
    their actions, actions of all candidates).
    """
    k = candidates.shape[0]
    if n_select < 1 or k < n_select:
        raise ValueError(f"cannot select {n_select} directions from {k} candidates.")
    act = path_action(traces)
    pools = np.array_split(np.arange(k), n_select)
    pick = np.array([pool[np.nanargmin(act[pool])] for pool in pools])
    return pick, act[pick], act


def make_directions(
    width: int,
    n_neurons: int = 16,
    n_random: int = 16,
    n_min_action: int = 0,
    pool_size: int = 32,
    neuron_signs: Sequence[int] = (1,),
    random_signs: Sequence[int] = (1, -1),
    seed: int = 0,
) -> tuple[list[Direction], np.ndarray]:
    """Neuron and random directions of one layer (min-action candidates returned separately).

    Returns (directions, candidates) where candidates is (n_min_action · pool_size, width) for
    :func:`select_min_action`; neurons are a seeded random subset of the width. Neurons get
    ``neuron_signs`` (OpenAI explains the positive side of GELU neurons), random directions
    both signs by default because the 0-10 scale drops the negative half (pitfall 14).
    """
    rng = np.random.default_rng(seed)
    if n_neurons > width:
        raise ValueError(f"n_neurons={n_neurons} exceeds the layer width {width}.")
    dirs = [Direction("neuron", int(i), s) for i in np.sort(rng.choice(width, n_neurons, replace=False))
            for s in neuron_signs]
    rand = random_unit_directions(width, n_random, seed=int(rng.integers(2**31)))
    dirs += [Direction("random", i, s, rand[i]) for i in range(n_random) for s in random_signs]
    cands = random_unit_directions(width, n_min_action * pool_size, seed=int(rng.integers(2**31))) \
        if n_min_action else np.zeros((0, width))
    return dirs, cands


def direction_traces(
    lm: "LanguageModel",
    windows: "TokenWindows",
    projections: Mapping[str, np.ndarray],
    drop_first: int = 4,
    batch_size: int = 16,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Project each hook's activations on the rows of ``projections[hook]`` (K, width) in one
    pass over ``windows``. Returns {hook: (N, T', K) float32}, T' = positions kept (the first
    ``drop_first`` and BERT's [SEP] dropped). Uses :class:`~polycode_lite.models.hooks.ActivationRecorder`."""
    import torch
    from tqdm.auto import tqdm

    from polycode_lite.models.hooks import ActivationRecorder

    mats = {h: torch.as_tensor(np.asarray(p, dtype=np.float32).T, device=lm.device) for h, p in projections.items()}
    for h, m in mats.items():
        if m.shape[0] != lm.width(h):
            raise ValueError(f"{h}: projections have width {m.shape[0]}, the layer has {lm.width(h)}.")
    stop = windows.length - windows.n_suffix
    if drop_first >= stop:
        raise ValueError(f"drop_first={drop_first} leaves no position of {windows.length}-token windows.")
    out: dict[str, list] = {h: [] for h in projections}

    def on_output(name: str, t: "torch.Tensor") -> None:
        x = t[:, drop_first:stop].float()
        out[name].append((x @ mats[name]).cpu().numpy())

    with ActivationRecorder(lm.model, lm.modules(list(projections)), on_output=on_output), torch.no_grad():
        for batch in tqdm(windows.batches(batch_size, lm.device), total=-(-len(windows) // batch_size),
                          desc="direction traces", disable=not progress):
            lm.model(**batch)
    return {h: np.concatenate(v, axis=0) for h, v in out.items()}


def make_records(
    trace: np.ndarray,
    token_ids: np.ndarray,
    to_strings: Callable[[Sequence[int]], list[str]],
    n_top: int = 20,
    n_random: int = 20,
    seed: int = 0,
) -> RecordSet:
    """Records of one direction (docs/paper_guide.md §7): the ``n_top`` windows with the largest maximum
    activation, interleaved into explain (even ranks) and score (odd ranks), and ``n_random``
    other windows split half and half.

    trace: (N, T) activations; token_ids: (N, T) ids of the same positions.
    """
    n = trace.shape[0]
    if trace.shape != token_ids.shape:
        raise ValueError(f"trace {trace.shape} and token_ids {token_ids.shape} differ in shape.")
    if n < n_top + n_random:
        raise ValueError(f"{n} windows are too few for {n_top} top + {n_random} random records.")
    order = np.argsort(-trace.max(axis=1), kind="stable")
    top = order[:n_top]
    rest = np.random.default_rng(seed).permutation(order[n_top:])[:n_random]

    def rec(i: int) -> ActivationRecord:
        return ActivationRecord(tuple(to_strings(token_ids[i])), token_ids[i], trace[i].astype(np.float64))

    return RecordSet(tuple(rec(i) for i in top[0::2]), tuple(rec(i) for i in rest[0::2]),
                     tuple(rec(i) for i in top[1::2]), tuple(rec(i) for i in rest[1::2]))


# --------------------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------------------
def score_directions(
    hook: str,
    directions: Sequence[Direction],
    traces: np.ndarray,
    token_ids: np.ndarray,
    to_strings: Callable[[Sequence[int]], list[str]],
    simulators: Sequence[Simulator],
    n_top: int = 20,
    n_random: int = 20,
    seed: int = 0,
) -> "pd.DataFrame":
    """Explain and score every direction with every simulator.

    traces: (N, T, len(directions)) signed activations (sign already applied).
    Returns one row per (direction, simulator): hook, kind, index, sign, name, simulator,
    score (top-and-random), score_top (top-only), explanation, max_activation, action.
    NaN scores (a constant prediction) mean the simulator explained nothing.
    """
    import pandas as pd

    rows = []
    cache: dict[int, list[str]] = {}

    def strings(ids: Sequence[int]) -> list[str]:
        key = hash(np.asarray(ids).tobytes())
        if key not in cache:
            cache[key] = to_strings(ids)
        return cache[key]

    for j, d in enumerate(directions):
        recs = make_records(traces[:, :, j], token_ids, strings, n_top, n_random, seed=seed + j)
        for sim in simulators:
            expl = sim.explain(recs.explain)
            rows.append(dict(hook=hook, kind=d.kind, index=d.index, sign=d.sign, name=d.name,
                             simulator=sim.name, score=sim.score(expl, recs.score),
                             score_top=sim.score(expl, recs.score_top), explanation=expl.text,
                             max_activation=recs.max_activation, action=d.action))
    return pd.DataFrame(rows)


def compare_kinds(scores: "pd.DataFrame", value: str = "score", n_boot: int = 1000,
                  seed: int = 0) -> "pd.DataFrame":
    """Mean score per (hook, simulator, kind) with a 95% bootstrap CI over directions, and the
    difference to neurons. NaN scores count as 0 (nothing explained); ``n_nan`` says how many."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for (hook, sim), sub in scores.groupby(["hook", "simulator"], sort=False):
        neuron = np.nan_to_num(sub.loc[sub.kind == "neuron", value].to_numpy(), nan=0.0)
        for kind, part in sub.groupby("kind", sort=False):
            v = np.nan_to_num(part[value].to_numpy(), nan=0.0)
            boots = rng.choice(v, (n_boot, v.size)).mean(1)
            row = dict(hook=hook, simulator=sim, kind=kind, n=v.size, n_nan=int(part[value].isna().sum()),
                       mean=v.mean(), ci_low=np.quantile(boots, 0.025), ci_high=np.quantile(boots, 0.975))
            if kind != "neuron" and neuron.size:
                diff = boots - rng.choice(neuron, (n_boot, neuron.size)).mean(1)
                row.update(diff_vs_neuron=v.mean() - neuron.mean(), diff_ci_low=np.quantile(diff, 0.025),
                           diff_ci_high=np.quantile(diff, 0.975))
            rows.append(row)
    return pd.DataFrame(rows)


def comparison_claims(scores: "pd.DataFrame", simulator: str = "token lookup", seed: int = 0,
                      n_boot: int = 1000) -> list[dict[str, Any]]:
    """The pseudo-neuron claim of the paper, judged on ``scores`` (from :func:`run_comparison`)
    with ``simulator``'s explanations pooled over layers.

    Rule: "holds" if random directions score no worse than neurons (the 95% CI of random −
    neuron reaches 0 or above) or some non-neuron kind beats neurons in some layer (CI of the
    difference above 0); "partly" if random directions reach at least half the neurons' mean
    score; else "does not hold at this scale". Returns one dict for ``record_claim``."""
    per_layer = compare_kinds(scores, n_boot=n_boot, seed=seed)
    main = per_layer[per_layer.simulator == simulator]
    if main.empty:
        raise ValueError(f"simulator {simulator!r} is not in scores; it has "
                         f"{sorted(scores.simulator.unique())}.")
    overall = compare_kinds(scores.assign(hook="all layers"), n_boot=n_boot, seed=seed)
    ov = overall[overall.simulator == simulator].set_index("kind")
    r, n = ov.loc["random"], ov.loc["neuron"]
    comparable = bool(r.diff_ci_high >= 0)
    better_some = bool(((main.kind != "neuron") & (main.diff_ci_low > 0)).any())
    verdict = ("holds" if comparable or better_some else
               "partly" if r["mean"] > 0.5 * n["mean"] else "does not hold at this scale")
    kinds = list(ov.index)
    parts = [f"{k} {ov.loc[k, 'mean']:.3f} [{ov.loc[k, 'ci_low']:.3f}, {ov.loc[k, 'ci_high']:.3f}]"
             for k in kinds]
    sims = list(dict.fromkeys(overall.simulator))
    return [dict(
        claim=("Random-projection pseudo-neurons are explainable and give explanations "
               "complementary to single neurons"),
        expected="[S] qualitative; the paper's scores came from GPT-4 + text-davinci-003 (top-only protocol)",
        measured=(f"{simulator} score, all layers: " + ", ".join(parts)
                  + f"; random − neuron {r.diff_vs_neuron:+.3f} [{r.diff_ci_low:+.3f}, {r.diff_ci_high:+.3f}]"),
        verdict=verdict,
        values={k: dict(mean=float(ov.loc[k, "mean"]), ci=[float(ov.loc[k, "ci_low"]),
                                                           float(ov.loc[k, "ci_high"])])
                for k in kinds} | {"simulators": {
                    sim: {k: float(overall[(overall.simulator == sim) & (overall.kind == k)]["mean"].iloc[0])
                          for k in kinds if ((overall.simulator == sim) & (overall.kind == k)).any()}
                    for sim in sims}})]


def run_comparison(
    lm: "LanguageModel",
    windows: "TokenWindows",
    hooks: Sequence[str],
    simulators: Sequence[Simulator] | None = None,
    n_neurons: int = 16,
    n_random: int = 16,
    n_min_action: int = 8,
    pool_size: int = 32,
    n_top: int = 20,
    n_records_random: int = 20,
    drop_first: int = 4,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> "pd.DataFrame":
    """Neurons against random projections (unselected and minimum-action) at each hook.

    One forward pass records every direction's trace (plus the min-action candidates); each
    signed direction gets records, an explanation and scores from every simulator (default:
    token lookup, bigram, and a linear probe on the model's input embeddings). Returns the
    per-direction table of :func:`score_directions` for all hooks; summarise with
    :func:`compare_kinds`.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if simulators is None:
        simulators = [TokenLookupSimulator(), BigramSimulator(), LinearProbeSimulator(lm.input_embeddings())]
    plan, projections = {}, {}
    for i, h in enumerate(hooks):
        dirs, cands = make_directions(lm.width(h), n_neurons, n_random, n_min_action, pool_size,
                                      seed=seed + 1000 * i)
        rows = []
        for d in dirs:
            v = np.eye(1, lm.width(h), d.index)[0] if d.kind == "neuron" else d.vector
            rows.append(v)
        basis = np.vstack(rows + [cands]) if rows else cands
        plan[h] = (dirs, cands)
        projections[h] = basis
    traces = direction_traces(lm, windows, projections, drop_first, batch_size, progress)
    stop = windows.length - windows.n_suffix
    ids = windows.input_ids[:, drop_first:stop]
    tables = []
    for h in tqdm(hooks, desc="explaining and scoring", disable=not progress):
        dirs, cands = plan[h]
        tr = traces[h]
        base = tr[:, :, : len(dirs)] * np.asarray([d.sign for d in dirs], dtype=np.float32)
        all_dirs = list(dirs)
        if len(cands):
            ctr = tr[:, :, len(dirs):]
            pick, acts, _ = select_min_action(cands, ctr, n_min_action)
            extra = []
            for k, (p, a) in enumerate(zip(pick, acts)):
                for s in (1, -1):
                    all_dirs.append(Direction("min-action", k, s, cands[p], float(a)))
                    extra.append(s * ctr[:, :, p])
            unsel = path_action(tr[:, :, : len(dirs)])
            all_dirs[: len(dirs)] = [Direction(d.kind, d.index, d.sign, d.vector, float(u))
                                     for d, u in zip(dirs, unsel)]
            base = np.concatenate([base, np.stack(extra, axis=2)], axis=2)
        else:
            unsel = path_action(tr[:, :, : len(dirs)])
            all_dirs = [Direction(d.kind, d.index, d.sign, d.vector, float(u)) for d, u in zip(dirs, unsel)]
        tables.append(score_directions(h, all_dirs, base, ids, lm.token_strings, simulators,
                                       n_top, n_records_random, seed=seed))
    return pd.concat(tables, ignore_index=True)
