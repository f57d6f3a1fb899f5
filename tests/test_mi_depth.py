"""Verdict rule of the error-correction-through-depth experiment: nulls do not hold."""

from __future__ import annotations

from polycode_lite.experiments.mi_depth import NECESSARY_INFORMATION_NATS, DepthResult

LAYERS = (3, 6, 9, 12, 18, 24, 60)
STOCHASTIC = {6, 9, 12, 18, 24, 60}


def _result(trained: dict[int, float], untrained: dict[int, float]) -> DepthResult:
    rows = []
    for model, mi in (("trained", trained), ("untrained", untrained)):
        for trial, jitter in enumerate((-0.05, 0.05)):
            for layer in LAYERS:
                rows.append(dict(model=model, trial=trial, layer=layer, mi=mi[layer] + jitter,
                                 kind="dense", deterministic=layer not in STOCHASTIC))
    return DepthResult(rows=rows, history={}, config={})


def test_authors_pattern_holds() -> None:
    trained = {3: 4.0, 6: 3.0, 9: 3.0, 12: 2.9, 18: 2.8, 24: 2.6, 60: 2.4}
    untrained = {3: 4.0, 6: 3.2, 9: 3.1, 12: 2.8, 18: 1.5, 24: 1.0, 60: 0.2}
    (claim,) = _result(trained, untrained).claims()
    assert claim["verdict"] == "holds", claim["measured"]
    assert _result(trained, untrained).table().shape[0] == 2 * len(LAYERS)


def test_null_same_network_twice_does_not_hold() -> None:
    same = {3: 4.0, 6: 3.0, 9: 2.5, 12: 2.0, 18: 1.5, 24: 1.0, 60: 0.5}
    (claim,) = _result(same, same).claims()
    assert claim["verdict"] == "does not hold at this scale"


def test_trained_below_the_necessary_line_is_only_partly() -> None:
    trained = {3: 4.0, 6: 3.0, 9: 3.0, 12: 2.9, 18: 2.0, 24: 1.9, 60: NECESSARY_INFORMATION_NATS - 0.5}
    untrained = {3: 4.0, 6: 3.2, 9: 3.1, 12: 2.8, 18: 1.0, 24: 0.8, 60: 0.2}
    (claim,) = _result(trained, untrained).claims()
    assert claim["verdict"] == "partly"
