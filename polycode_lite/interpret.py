"""Explaining single neurons against random-projection "pseudo-neurons", offline (PAPER.md §3 E6, §7).

The paper compares how well OpenAI's automated-interpretability pipeline (Bills et al. 2023)
explains single MLP neurons of GPT-2 XL and random projections of the same layer. The LLMs it
used are retired, so this module keeps the pipeline and its scoring but swaps the explainer and
simulator for offline ones behind a small :class:`Simulator` interface:

  directions  single neurons (basis vectors), random unit directions, and the paper's
              "minimum-action" variant (the smoothest of many random directions);
              random ones with both signs, because the 0-10 scale sets negatives to 0
              (PAPER.md pitfall 14).
  records     per direction, top-activating and random 64-token windows, split into an
              explain set and a score set (top records interleaved, as OpenAI does).
  explain     a simulator's ``explain(records)`` turns the explain set into an Explanation.
  simulate    ``simulate(explanation, tokens)`` predicts per-token activations (0-10 scale).
  score       Pearson correlation between true and simulated activations, pooled over all
              tokens of all scoring records (OpenAI's ``ev_correlation_score``).

Offline simulators: :class:`TokenLookupSimulator` (mean activation per token type),
:class:`BigramSimulator` ((previous, current) token pairs, backing off to tokens) and
:class:`LinearProbeSimulator` (ridge regression from the model's own token embeddings).
:class:`PromptSimulator` plugs in any LLM (e.g. an OpenAI-compatible endpoint with logprobs)
through two callables, with OpenAI's prompt layout and expected-value readout.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .language import LanguageModel, TokenWindows

__all__ = [
    "ActivationRecord",
    "RecordSet",
    "Direction",
    "Explanation",
    "Simulator",
    "TokenLookupSimulator",
    "BigramSimulator",
    "LinearProbeSimulator",
    "PromptSimulator",
    "normalize_activations",
    "correlation_score",
    "score_simulation",
    "expected_value_from_logprobs",
    "random_unit_directions",
    "path_action",
    "select_min_action",
    "make_directions",
    "direction_traces",
    "make_records",
    "score_directions",
    "compare_kinds",
    "run_comparison",
]


# --------------------------------------------------------------------------------------
# records, normalisation, scoring (pure functions, no model)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActivationRecord:
    """One text window and a direction's activation on each of its tokens.

    tokens: (T,) token strings. token_ids: (T,) int ids. activations: (T,) float (raw units).
    """

    tokens: tuple[str, ...]
    token_ids: np.ndarray
    activations: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(str(t) for t in self.tokens))
        if not (len(self.tokens) == len(self.token_ids) == len(self.activations)):
            raise ValueError(f"record lengths differ: {len(self.tokens)} tokens, {len(self.token_ids)} "
                             f"ids, {len(self.activations)} activations.")


@dataclass(frozen=True)
class RecordSet:
    """Records of one direction: explain (top + random) and score (top + random) splits."""

    explain_top: tuple[ActivationRecord, ...]
    explain_random: tuple[ActivationRecord, ...]
    score_top: tuple[ActivationRecord, ...]
    score_random: tuple[ActivationRecord, ...]

    @property
    def explain(self) -> tuple[ActivationRecord, ...]:
        return self.explain_top + self.explain_random

    @property
    def score(self) -> tuple[ActivationRecord, ...]:
        return self.score_top + self.score_random

    @property
    def max_activation(self) -> float:
        """Largest activation of the explain records: the "10" of the 0-10 scale."""
        return float(max(np.max(r.activations) for r in self.explain))


def normalize_activations(activations: Any, max_activation: float) -> np.ndarray:
    """OpenAI's 0-10 scale: ``min(10, floor(10 · max(a, 0) / max_activation))`` (negatives -> 0).

    Returns an int64 array of the input's shape; all zeros if ``max_activation <= 0``.
    """
    a = np.asarray(activations, dtype=np.float64)
    if not np.isfinite(max_activation) or max_activation <= 0:
        return np.zeros(a.shape, dtype=np.int64)
    return np.minimum(10, np.floor(10.0 * np.clip(a, 0, None) / max_activation)).astype(np.int64)


def correlation_score(true: Any, predicted: Any) -> float:
    """Pearson correlation of two equally long 1-D arrays; NaN if either is constant.

    Raises:
        ValueError: different lengths, fewer than 2 values, or NaN/inf inputs.
    """
    t = np.asarray(true, dtype=np.float64).ravel()
    p = np.asarray(predicted, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"true and predicted activations differ in length: {t.size} vs {p.size}.")
    if t.size < 2:
        raise ValueError("need at least 2 activations to correlate.")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise ValueError("activations contain NaN/inf; a simulator must return finite values.")
    tc, pc = t - t.mean(), p - p.mean()
    denom = np.sqrt(np.sum(tc * tc) * np.sum(pc * pc))
    return float(np.sum(tc * pc) / denom) if denom > 0 else float("nan")


def score_simulation(records: Sequence[ActivationRecord], simulated: Sequence[Any]) -> float:
    """OpenAI's preferred score: correlation pooled over all tokens of all records (not a mean
    of per-record correlations). ``simulated[i]`` are the predictions for ``records[i]``."""
    if len(records) != len(simulated):
        raise ValueError(f"{len(records)} records but {len(simulated)} simulations.")
    true = np.concatenate([np.asarray(r.activations, dtype=np.float64) for r in records])
    pred = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in simulated])
    return correlation_score(true, pred)


def expected_value_from_logprobs(top_logprobs: Mapping[str, float]) -> float:
    """OpenAI's simulator readout for one token: keep the candidates "0".."10" among the top
    log-probabilities, renormalise, return the expected value (0 if none is present)."""
    vals, probs = [], []
    for tok, lp in top_logprobs.items():
        s = tok.strip()
        if s.isdigit() and 0 <= int(s) <= 10:
            vals.append(int(s))
            probs.append(np.exp(lp))
    if not probs:
        return 0.0
    p = np.asarray(probs) / np.sum(probs)
    return float(np.dot(p, vals))


# --------------------------------------------------------------------------------------
# the Simulator interface and the offline simulators
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Explanation:
    """What an explainer produced: human-readable ``text`` and optional machine ``data``."""

    text: str
    data: Any = field(default=None, repr=False, compare=False)


class Simulator(ABC):
    """Explain a direction from records, then predict its activations on new text.

    Implement ``explain`` and ``simulate`` to plug in any explainer/simulator, e.g. an LLM.
    Predictions are on OpenAI's 0-10 scale (any affine scale gives the same correlation score).
    """

    name: str = "simulator"

    @abstractmethod
    def explain(self, records: Sequence[ActivationRecord]) -> Explanation:
        """Build an explanation from the explain records."""

    @abstractmethod
    def simulate(self, explanation: Explanation, tokens: Sequence[str],
                 token_ids: Sequence[int] | None = None) -> np.ndarray:
        """Predicted activation (0-10) of every token, shape (len(tokens),)."""

    def score(self, explanation: Explanation, records: Sequence[ActivationRecord]) -> float:
        """Pooled correlation of this simulator's predictions with the records' activations."""
        sims = [self.simulate(explanation, r.tokens, r.token_ids) for r in records]
        return score_simulation(records, sims)


def _normalised(records: Sequence[ActivationRecord]) -> list[np.ndarray]:
    max_act = float(max(np.max(r.activations) for r in records))
    return [normalize_activations(r.activations, max_act).astype(np.float64) for r in records]


def _describe_table(table: Mapping[Any, float], counts: Mapping[Any, int], k: int, fmt) -> str:
    ranked = sorted(table, key=lambda key: (-table[key], -counts[key]))[:k]
    return ", ".join(f"{fmt(key)} ({table[key]:.1f})" for key in ranked)


class TokenLookupSimulator(Simulator):
    """Predict the mean 0-10 activation of each token type seen in the explain records.

    Unseen tokens get the global mean (PAPER.md §7, offline design 1). The explanation lists
    the ``n_show`` tokens with the highest mean activation.
    """

    name = "token lookup"

    def __init__(self, n_show: int = 8, min_count: int = 1) -> None:
        self.n_show, self.min_count = n_show, min_count

    def explain(self, records: Sequence[ActivationRecord]) -> Explanation:
        if not records:
            raise ValueError("explain needs at least one record.")
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        norm = _normalised(records)
        for r, a in zip(records, norm):
            for tok, v in zip(r.tokens, a):
                sums[tok] += v
                counts[tok] += 1
        table = {t: sums[t] / counts[t] for t in sums if counts[t] >= self.min_count}
        default = float(np.mean(np.concatenate(norm)))
        text = "tokens: " + _describe_table(table, counts, self.n_show, repr)
        return Explanation(text, {"table": table, "default": default})

    def simulate(self, explanation: Explanation, tokens: Sequence[str],
                 token_ids: Sequence[int] | None = None) -> np.ndarray:
        table, default = explanation.data["table"], explanation.data["default"]
        return np.asarray([table.get(t, default) for t in tokens], dtype=np.float64)


class BigramSimulator(Simulator):
    """Predict from (previous, current) token pairs, backing off to the token, then the mean."""

    name = "bigram"

    def __init__(self, n_show: int = 6) -> None:
        self.n_show = n_show
        self._unigram = TokenLookupSimulator()

    def explain(self, records: Sequence[ActivationRecord]) -> Explanation:
        uni = self._unigram.explain(records)
        sums: dict[tuple[str, str], float] = defaultdict(float)
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for r, a in zip(records, _normalised(records)):
            prev = ("<start>",) + tuple(r.tokens[:-1])
            for key, v in zip(zip(prev, r.tokens), a):
                sums[key] += v
                counts[key] += 1
        table = {k: sums[k] / counts[k] for k in sums}
        text = "pairs: " + _describe_table(table, counts, self.n_show, lambda k: f"{k[0]!r}→{k[1]!r}")
        return Explanation(text, {"bigram": table, "unigram": uni})

    def simulate(self, explanation: Explanation, tokens: Sequence[str],
                 token_ids: Sequence[int] | None = None) -> np.ndarray:
        big, uni = explanation.data["bigram"], explanation.data["unigram"]
        backoff = self._unigram.simulate(uni, tokens)
        prev = ("<start>",) + tuple(tokens[:-1])
        return np.asarray([big.get((p, t), b) for p, t, b in zip(prev, tokens, backoff)], dtype=np.float64)


class LinearProbeSimulator(Simulator):
    """Ridge regression from fixed token embeddings (e.g. the model's own input embeddings,
    ``LanguageModel.input_embeddings()``) of the current and previous token to the 0-10
    activation (PAPER.md §7, offline design 3)."""

    name = "linear probe"

    def __init__(self, embeddings: Any, ridge: float = 10.0, use_previous: bool = True) -> None:
        self.embeddings = np.asarray(embeddings, dtype=np.float32)
        if self.embeddings.ndim != 2:
            raise ValueError(f"embeddings must be (vocab, d), got shape {self.embeddings.shape}.")
        self.ridge, self.use_previous = float(ridge), use_previous

    def _design(self, token_ids: Sequence[int]) -> np.ndarray:
        ids = np.asarray(token_ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.embeddings.shape[0]):
            raise ValueError(f"token id out of range for embeddings of vocab {self.embeddings.shape[0]}.")
        x = self.embeddings[ids]
        if self.use_previous:
            prev = np.vstack([np.zeros((1, x.shape[1]), np.float32), x[:-1]])
            x = np.hstack([x, prev])
        return x.astype(np.float64)

    def explain(self, records: Sequence[ActivationRecord]) -> Explanation:
        if any(r.token_ids is None for r in records):
            raise ValueError("LinearProbeSimulator needs token ids in the records.")
        x = np.vstack([self._design(r.token_ids) for r in records])
        y = np.concatenate(_normalised(records))
        mx, my = x.mean(0), y.mean()
        xc = x - mx
        w = np.linalg.solve(xc.T @ xc + self.ridge * np.eye(x.shape[1]), xc.T @ (y - my))
        return Explanation(f"ridge probe on token embeddings (λ={self.ridge:g})",
                           {"w": w, "mx": mx, "my": my})

    def simulate(self, explanation: Explanation, tokens: Sequence[str],
                 token_ids: Sequence[int] | None = None) -> np.ndarray:
        if token_ids is None:
            raise ValueError("LinearProbeSimulator.simulate needs token_ids.")
        d = explanation.data
        return (self._design(token_ids) - d["mx"]) @ d["w"] + d["my"]


class PromptSimulator(Simulator):
    """Plug an LLM in through two callables, with OpenAI's prompt layout (Bills et al. 2023).

    Args:
        complete: ``complete(prompt) -> str``: the explainer LLM's completion of
            :meth:`explain_prompt` (the text after "the main thing this neuron does is find").
        token_logprobs: ``token_logprobs(prompt, tokens) -> list of {candidate: logprob}``,
            one dict per token: the simulator LLM's top log-probabilities at the position
            after each "token<TAB>" line of :meth:`simulate_prompt` (OpenAI-compatible
            endpoints give these with ``echo=True, logprobs=15, max_tokens=0``).
    """

    name = "llm"

    def __init__(self, complete: Callable[[str], str],
                 token_logprobs: Callable[[str, Sequence[str]], Sequence[Mapping[str, float]]]) -> None:
        self.complete, self.token_logprobs = complete, token_logprobs

    @staticmethod
    def explain_prompt(records: Sequence[ActivationRecord]) -> str:
        """Explainer prompt: (token, 0-10 activation) pairs of every record."""
        norm = _normalised(records)
        blocks = []
        for i, (r, a) in enumerate(zip(records, norm)):
            lines = "\n".join(f"{t}\t{int(v)}" for t, v in zip(r.tokens, a))
            blocks.append(f"<start>\n{lines}\n<end>")
        return ("We're studying neurons in a neural network. Each neuron looks for some particular "
                "thing in a short document. Look at the parts of the document the neuron activates "
                "for and summarize in a single sentence what the neuron is looking for.\n\n"
                "Activations:\n" + "\n\n".join(blocks) +
                "\n\nExplanation of neuron behavior: the main thing this neuron does is find")

    @staticmethod
    def simulate_prompt(explanation: Explanation, tokens: Sequence[str]) -> str:
        """Simulator prompt: the explanation, then every token with an unknown activation."""
        lines = "\n".join(f"{t}\tunknown" for t in tokens)
        return (f"Neuron explanation: the main thing this neuron does is find {explanation.text}\n"
                f"Activations (0-10):\n<start>\n{lines}\n<end>")

    def explain(self, records: Sequence[ActivationRecord]) -> Explanation:
        return Explanation(str(self.complete(self.explain_prompt(records))).strip())

    def simulate(self, explanation: Explanation, tokens: Sequence[str],
                 token_ids: Sequence[int] | None = None) -> np.ndarray:
        lps = self.token_logprobs(self.simulate_prompt(explanation, tokens), tokens)
        if len(lps) != len(tokens):
            raise ValueError(f"token_logprobs returned {len(lps)} positions for {len(tokens)} tokens.")
        return np.asarray([expected_value_from_logprobs(lp) for lp in lps], dtype=np.float64)


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
    """Normalised action of 1-D activation traces over text (PAPER.md §2.4, pitfall 9).

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
    ``drop_first`` and BERT's [SEP] dropped). Uses :class:`~polycode_lite.activations.ActivationRecorder`."""
    import torch
    from tqdm.auto import tqdm

    from .activations import ActivationRecorder

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
    """Records of one direction (PAPER.md §7): the ``n_top`` windows with the largest maximum
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
        basis = np.zeros((0, lm.width(h)))
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
