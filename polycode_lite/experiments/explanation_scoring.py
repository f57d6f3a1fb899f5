"""OpenAI-style explanation scoring, offline (Bills et al. 2023; docs/paper_guide.md §7).

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

    pass

__all__ = [
    "ActivationRecord", "BigramSimulator", "Explanation", "LinearProbeSimulator",
    "PromptSimulator", "RecordSet", "Simulator", "TokenLookupSimulator", "correlation_score",
    "expected_value_from_logprobs", "normalize_activations", "score_simulation"
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

    Raises:
        ValueError: NaN/inf in ``activations`` or ``max_activation``; TypeError: non-numbers.
    """
    from polycode_lite._checks import real, real_array

    a = real_array("activations", activations)
    if real("max_activation", max_activation) <= 0:
        return np.zeros(a.shape, dtype=np.int64)
    return np.minimum(10, np.floor(10.0 * np.clip(a, 0, None) / max_activation)).astype(np.int64)


def correlation_score(true: Any, predicted: Any) -> float:
    """Pearson correlation of two equally long 1-D arrays; NaN if either is constant.

    Raises:
        ValueError: different lengths, fewer than 2 values, or NaN/inf inputs.
    """
    from polycode_lite._checks import array

    t, p = array("true", true).ravel(), array("predicted", predicted).ravel()
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

    Unseen tokens get the global mean (docs/paper_guide.md §7, offline design 1). The explanation lists
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
    activation (docs/paper_guide.md §7, offline design 3)."""

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
        for r, a in zip(records, norm):
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
