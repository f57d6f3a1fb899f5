"""Single neurons against random-projection "pseudo-neurons" (docs/paper_guide.md §3 E6, §7).

The paper compares how well OpenAI's automated-interpretability pipeline explains single MLP
neurons of GPT-2 XL and random projections of the same layer. The LLMs it used are retired, so
the explainer and simulator are offline ones (:mod:`polycode_lite.experiments.explanation_scoring`).

Kinds of direction, all scored by the same pipeline: single neurons (basis vectors), unselected
random unit directions, "best-of-N" (the smoothest of N random directions, what the authors'
description of their missing script suggests) and "min-action" (the exact minimum-action
directions, :func:`~polycode_lite.science.action.minimum_action_directions`); pseudo-neurons
with both signs, because the 0-10 scale sets negatives to 0 (docs/paper_guide.md pitfall 14).
Every direction is also scored on a window-shuffled control (its trace paired with the tokens
of other windows). Summaries and verdict rules: :mod:`polycode_lite.experiments.pseudo_neuron_claims`.
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
    normalize_activations,
)
from polycode_lite.experiments.pseudo_neuron_claims import (
    compare_kinds,
    comparison_claims,
    selection_claims,
)
from polycode_lite.science.action import (
    ActionMoments,
    energy_minimiser_variance_ratio,
    minimum_action_directions,
    path_action,
    random_unit_directions,
    select_min_action,
)

__all__ = [
    "Direction", "compare_kinds", "comparison_claims", "direction_traces", "make_directions",
    "make_records", "minimum_action_directions", "path_action", "random_unit_directions",
    "run_comparison", "score_directions", "select_min_action", "selection_claims"
]

KINDS = ("neuron", "random", "best-of-N", "min-action")


# --------------------------------------------------------------------------------------
# directions: neurons, random projections, minimum action
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Direction:
    """A unit direction in a layer's activation space, with a sign.

    kind: one of :data:`KINDS`: "neuron" (basis vector ``index``), "random" (unselected random
    unit vector), "best-of-N" (the smoothest of a pool of N random vectors) or "min-action" (the
    ``index``-th exact minimum-action direction). vector: (width,) unit vector (None for
    neurons). action: normalised path action of its trace (see :func:`path_action`).
    """

    kind: str
    index: int
    sign: int
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    action: float = float("nan")

    @property
    def name(self) -> str:
        return f"{self.kind}#{self.index}{'+' if self.sign > 0 else '−'}"

    def direction_id(self, hook: str) -> str:
        """The unsigned direction (+r and −r are one pseudo-neuron): ``hook/kind#index``."""
        return f"{hook}/{self.kind}#{self.index}"


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
    """Neuron and random directions of one layer (best-of-N candidates returned separately).

    Returns (directions, candidates) where candidates is (n_min_action · pool_size, width) for
    :func:`select_min_action` (n_min_action pools of pool_size); neurons are a seeded random subset of the width. Neurons get
    ``neuron_signs`` (OpenAI explains the positive side of GELU neurons), random directions
    both signs by default because the 0-10 scale drops the negative half (pitfall 14).
    """
    rng = np.random.default_rng(seed)
    if min(n_neurons, n_random, n_min_action, pool_size) < 0:
        raise ValueError("n_neurons, n_random, n_min_action and pool_size must be >= 0.")
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
    moments: Mapping[str, ActionMoments] | None = None,
) -> dict[str, np.ndarray]:
    """Project each hook's activations on the rows of ``projections[hook]`` (K, width) in one
    pass over ``windows``. Returns {hook: (N, T', K) float32}, T' = positions kept (the first
    ``drop_first`` and BERT's [SEP] dropped). Uses :class:`~polycode_lite.models.hooks.ActivationRecorder`.

    moments: optional {hook: ActionMoments}; the same positions of every such hook are streamed
    into it (covariance and successive differences, for :func:`minimum_action_directions`)."""
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
    moments = dict(moments or {})
    out: dict[str, list] = {h: [] for h in projections}

    def on_output(name: str, t: "torch.Tensor") -> None:
        x = t[:, drop_first:stop].float()
        if name in mats:
            out[name].append((x @ mats[name]).cpu().numpy())
        if name in moments:
            moments[name].update(x)

    hooked = list(dict.fromkeys([*projections, *moments]))
    with ActivationRecorder(lm.model, lm.modules(hooked), on_output=on_output), torch.no_grad():
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
    control_simulators: Sequence[str] | None = None,
) -> "pd.DataFrame":
    """Explain and score every direction with every simulator.

    traces: (N, T, len(directions)) signed activations (sign already applied).
    control_simulators: names of the simulators that also score the window-shuffled control
    (default: the first simulator): the direction's trace is paired with the tokens of other
    windows (a seeded permutation of the N windows) and run through the same records,
    explanation and scoring, so ``score_shuffled`` is what the pipeline gives when the
    activations carry no information about the tokens.
    Returns one row per (direction, simulator): hook, kind, index, sign, name, direction (the
    unsigned ``hook/kind#index``), simulator, score (top-and-random), score_top (top-only),
    score_shuffled (NaN where not computed), explanation, max_activation, action, top_window
    (the top-activating explain window as (token, 0-10 value) pairs).
    NaN scores (a constant prediction) mean the simulator explained nothing.
    """
    import pandas as pd

    if traces.ndim != 3 or traces.shape[2] != len(directions):
        raise ValueError(f"traces must be (N, T, {len(directions)}) for {len(directions)} directions, "
                         f"got {traces.shape}.")
    names = [s.name for s in simulators]
    control = set(names[:1] if control_simulators is None else control_simulators)
    unknown = control - set(names)
    if unknown:
        raise ValueError(f"control_simulators {sorted(unknown)} are not among the simulators {names}.")
    perm = np.random.default_rng([seed, 17]).permutation(traces.shape[0])

    rows = []
    cache: dict[int, list[str]] = {}

    def strings(ids: Sequence[int]) -> list[str]:
        key = hash(np.asarray(ids).tobytes())
        if key not in cache:
            cache[key] = to_strings(ids)
        return cache[key]

    for j, d in enumerate(directions):
        recs = make_records(traces[:, :, j], token_ids, strings, n_top, n_random, seed=seed + j)
        shuffled = make_records(traces[perm, :, j], token_ids, strings, n_top, n_random, seed=seed + j) \
            if control else None
        for sim in simulators:
            expl = sim.explain(recs.explain)
            ctl = np.nan
            if sim.name in control:
                ctl = sim.score(sim.explain(shuffled.explain), shuffled.score)
            rows.append(dict(hook=hook, kind=d.kind, index=d.index, sign=d.sign, name=d.name,
                             direction=d.direction_id(hook), simulator=sim.name,
                             score=sim.score(expl, recs.score), score_top=sim.score(expl, recs.score_top),
                             score_shuffled=ctl, explanation=expl.text,
                             max_activation=recs.max_activation, action=d.action,
                             top_window=top_window(recs)))
    return pd.DataFrame(rows)


def top_window(recs: Any) -> tuple[tuple[str, int], ...]:
    """The top-activating explain window as (token, activation on the 0-10 scale) pairs."""
    best = max(recs.explain_top or recs.explain, key=lambda r: float(np.max(r.activations)))
    values = normalize_activations(best.activations, recs.max_activation)
    return tuple(zip(best.tokens, (int(v) for v in values)))


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
    n_exact: int | None = None,
    control_simulators: Sequence[str] | None = None,
    min_variance: float = 1e-3,
) -> "pd.DataFrame":
    """Neurons against random projections (unselected, best-of-N and exact minimum action).

    Per hook: ``n_neurons`` neurons, ``n_random`` random directions, ``n_min_action`` best-of-N
    directions (the smoothest of each pool of ``pool_size`` random candidates) and ``n_exact``
    (default ``n_min_action``) exact minimum-action directions from the covariance and
    successive differences of these windows (:func:`minimum_action_directions`, among directions
    with at least ``min_variance`` times the mean variance); pseudo-neurons
    with both signs. One forward pass records the traces and the moments, a second one the
    traces of the exact directions. Every signed direction gets records, an explanation and
    scores from every simulator (default: token lookup, bigram, and a linear probe on the
    model's input embeddings) plus the window-shuffled control (``control_simulators``, default
    the first). Returns the table of :func:`score_directions` for all hooks; summarise with
    :func:`compare_kinds`. With exact directions, ``table.attrs["exact"]`` holds per hook the
    variance of the exact directions relative to the mean variance per direction
    (``exact_variance_ratio``, the smallest of them) and what the authors' unnormalised energy
    would pick instead (``energy_variance_ratio``, ``energy_action``; see
    :func:`~polycode_lite.science.action.energy_minimiser_variance_ratio`).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    n_exact = n_min_action if n_exact is None else int(n_exact)
    if n_exact < 0:
        raise ValueError(f"n_exact must be >= 0, got {n_exact}.")
    if simulators is None:
        simulators = [TokenLookupSimulator(), BigramSimulator(), LinearProbeSimulator(lm.input_embeddings())]
    plan, projections = {}, {}
    for i, h in enumerate(hooks):
        dirs, cands = make_directions(lm.width(h), n_neurons, n_random, n_min_action, pool_size,
                                      seed=seed + 1000 * i)
        rows = [np.eye(1, lm.width(h), d.index)[0] if d.kind == "neuron" else d.vector for d in dirs]
        plan[h] = (dirs, cands)
        projections[h] = np.vstack(rows + [cands]) if rows else cands
    moments = {h: ActionMoments(lm.width(h)) for h in hooks} if n_exact else None
    traces = direction_traces(lm, windows, projections, drop_first, batch_size, progress, moments=moments)
    exact = {h: minimum_action_directions(moments[h], n_exact, min_variance=min_variance) for h in hooks} if n_exact else {}
    diagnostics = {}
    for h, (vecs, _) in exact.items():
        cov = moments[h].covariance()
        mean_var = float(np.trace(cov)) / cov.shape[0]
        ratio, energy_action = energy_minimiser_variance_ratio(moments[h])
        diagnostics[h] = dict(exact_variance_ratio=float(np.min(np.einsum("ij,jk,ik->i", vecs, cov, vecs))) / mean_var,
                              energy_variance_ratio=ratio, energy_action=energy_action)
    if exact:
        exact_traces = direction_traces(lm, windows, {h: v for h, (v, _) in exact.items()}, drop_first,
                                        batch_size, progress)
    stop = windows.length - windows.n_suffix
    ids = windows.input_ids[:, drop_first:stop]
    tables = []
    for h in tqdm(hooks, desc="explaining and scoring", disable=not progress):
        dirs, cands = plan[h]
        tr = traces[h]
        unsel = path_action(tr[:, :, : len(dirs)]) if dirs else []
        all_dirs = [Direction(d.kind, d.index, d.sign, d.vector, float(u)) for d, u in zip(dirs, unsel)]
        parts = [tr[:, :, : len(dirs)] * np.asarray([d.sign for d in dirs], dtype=np.float32)]
        chosen = []
        if len(cands):
            ctr = tr[:, :, len(dirs):]
            pick, acts, _ = select_min_action(cands, ctr, n_min_action)
            chosen += [("best-of-N", cands[p], float(a), ctr[:, :, p]) for p, a in zip(pick, acts)]
        if h in exact:
            vecs, acts = exact[h]
            chosen += [("min-action", vecs[k], float(acts[k]), exact_traces[h][:, :, k]) for k in range(len(vecs))]
        counters: dict[str, int] = {}
        for kind, vec, act, trace in chosen:
            k = counters.setdefault(kind, 0)
            counters[kind] += 1
            for sgn in (1, -1):
                all_dirs.append(Direction(kind, k, sgn, vec, act))
                parts.append(sgn * trace[:, :, None])
        tables.append(score_directions(h, all_dirs, np.concatenate(parts, axis=2), ids, lm.token_strings,
                                       simulators, n_top, n_records_random, seed=seed,
                                       control_simulators=control_simulators))
    out = pd.concat(tables, ignore_index=True)
    out.attrs["exact"] = diagnostics
    return out
