"""The API fuzz (tests/fuzz_api.py) in CI: every baseline call works, every bad input gets a
ValueError/TypeError naming its argument (0 obscure, 0 silent) and rejected calls leave state
unchanged. Also shows the classifier is not vacuous: unchecked stand-ins are caught."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_api


@pytest.fixture(scope="module")
def outcomes() -> list[fuzz_api.Outcome]:
    return fuzz_api.run_api_fuzz()


def _lines(outcomes, kinds) -> str:
    return "\n".join(f"{o.outcome}: {o.callable}({o.argument}={o.variant}) -> {o.message}"
                     for o in outcomes if o.outcome in kinds)


def test_every_baseline_call_succeeds(outcomes) -> None:
    assert not [o for o in outcomes if o.outcome == "broken"], _lines(outcomes, ("broken",))
    assert sum(o.outcome == "baseline" for o in outcomes) >= 100


def test_every_bad_input_is_refused_clearly(outcomes) -> None:
    """0 obscure and 0 silent over every row of the table."""
    counts = fuzz_api.summary(outcomes)
    assert counts["tried"] >= 1000, counts
    assert counts["obscure"] == 0 and counts["silent"] == 0, _lines(outcomes, ("obscure", "silent"))


def _unchecked(n: int, p: float = 0.5) -> float:
    return float(np.ones(n).sum() * p)


def _counter_factory():
    state = {"calls": 0}

    def bump(k: int) -> None:
        if not isinstance(k, int):
            state["calls"] += 1  # changes state before it fails
            raise ValueError(f"k must be an int, got {k!r}.")

    return bump, state


def test_the_classifier_catches_obscure_silent_and_state_changes() -> None:
    """The null: an unchecked function gives silent and obscure outcomes, a message that does not
    name the argument is obscure, and a rejected call that changed state is obscure."""
    case = fuzz_api.Case("unchecked", lambda: (_unchecked, None), {"n": 3},
                         {"n": fuzz_api.count(), "p": fuzz_api.probability()})
    got = {(o.argument, o.variant): o.outcome for o in fuzz_api.run_case(case)}
    assert got[("", "baseline")] == "baseline"
    assert got[("n", "0 (below 1)")] == "silent" and got[("p", "1.5")] == "silent"
    assert got[("n", "'4' (str)")] == "obscure"  # numpy's own TypeError does not name n
    assert fuzz_api.classify(ValueError("bad value"), "n") == "obscure"
    assert fuzz_api.classify(ValueError("n must be >= 1"), "n") == "clear"
    assert fuzz_api.classify(ValueError("n_samples must be >= 1"), "n") == "obscure"
    assert fuzz_api.classify(IndexError("n"), "n") == "obscure"
    case = fuzz_api.Case("stateful", _counter_factory, {"k": 1}, {"k": [("'1' (str)", "1")]},
                         state=lambda s: dict(s))
    bad = [o for o in fuzz_api.run_case(case) if o.argument == "k"]
    assert bad[0].outcome == "obscure" and "state changed" in bad[0].message
