"""Verdict rules of the information-through-depth experiment: nulls and controls do not pass."""

from __future__ import annotations

import math

from polycode_lite.experiments.mi_depth import NECESSARY_INFORMATION_NATS as H
from polycode_lite.experiments.mi_depth import DepthResult
from polycode_lite.experiments.mi_depth_result import (
    dropout_effect_verdict,
    keeps_information_verdict,
)

LAYERS = (3, 12, 24, 60)


def _result(trained: dict[int, float], no_dropout: dict[int, float], untrained: dict[int, float],
            decoder_shift: float = -0.03) -> DepthResult:
    rows = []
    for model, mi in (("trained", trained), ("no_dropout", no_dropout), ("untrained", untrained)):
        for trial, jitter in enumerate((-0.02, 0.02)):
            for layer in LAYERS:
                rows.append(dict(model=model, trial=trial, layer=layer, mi=mi[layer] + jitter,
                                 decoder_mi=mi[layer] + decoder_shift, kind="dense", diverged=False,
                                 deterministic=layer < 6, ceiling=H))
    return DepthResult(rows=rows, history={}, config={"inputs": "codebook"})


TRAINED = {3: 2.07, 12: 2.05, 24: 2.0, 60: 1.95}
NO_DROPOUT = {3: 2.07, 12: 1.6, 24: 1.3, 60: 1.1}
UNTRAINED = {3: 2.07, 12: 1.9, 24: 1.2, 60: 0.07}


def test_keeps_information_rule_and_its_nulls():
    assert keeps_information_verdict(1.95, 0.07, H) == "holds"
    assert keeps_information_verdict(1.95, 1.95, H) == "does not hold at this scale"  # null: control = subject
    assert keeps_information_verdict(1.2, 0.07, H) == "partly"  # beats the control, keeps < 90% of 3 bits
    assert keeps_information_verdict(math.nan, 0.07, H) == "does not hold at this scale"


def test_dropout_effect_rule_and_its_nulls():
    assert dropout_effect_verdict(TRAINED, NO_DROPOUT) == "holds"
    assert dropout_effect_verdict(TRAINED, TRAINED) == "does not hold at this scale"  # same network twice
    close = {**NO_DROPOUT, 12: 2.0}
    assert dropout_effect_verdict(TRAINED, close) == "partly"  # only at depth
    assert dropout_effect_verdict({60: 2.0}, {3: 1.0}) == "does not hold at this scale"  # nothing to compare


def test_claims_carry_their_controls_and_verdicts():
    c1, c2 = _result(TRAINED, NO_DROPOUT, UNTRAINED).claims()
    assert c1["verdict"] == "holds" and c2["verdict"] == "holds"
    for c in (c1, c2):
        assert "untrained (random init): MINE 0.07" in c["control"]
        assert "trained without dropout: MINE 1.10" in c["control"]


def test_null_same_network_three_times_does_not_hold():
    c1, c2 = _result(UNTRAINED, UNTRAINED, UNTRAINED).claims()
    assert c1["verdict"] == c2["verdict"] == "does not hold at this scale"


def test_training_alone_explains_it_is_caught():
    """The issue's case: the no-dropout control keeps as much as the dropout-trained net."""
    c1, c2 = _result(TRAINED, TRAINED, UNTRAINED).claims()
    assert c1["verdict"] == "holds" and c2["verdict"] == "does not hold at this scale"


def test_estimators_disagreeing_make_the_rule_conservative():
    # the decoder reads the trained net 0.8 nats lower: the subject is read by the lower estimator
    res = _result(TRAINED, NO_DROPOUT, UNTRAINED, decoder_shift=-0.8)
    chk = res.checks()
    assert chk["max_disagreement"] > 0.7 and ("trained", 60) in chk["disagreeing"]
    assert res.claims()[1]["verdict"] != "holds"


def test_every_outcome_says_why_in_its_numbers():
    """record_claim needs why= for a verdict other than holds: the claims give one for any outcome."""
    partly = _result({**TRAINED, 60: 1.2}, {**NO_DROPOUT, 12: 2.0, 60: 0.5}, UNTRAINED).claims()
    assert [c["verdict"] for c in partly] == ["partly", "partly"]
    keep, drop = partly
    assert "keeps 1.17 nats at l=60" in keep["why"] and "56% of the 2.08-nat ceiling" in keep["why"] and "short of the 90%" in keep["why"]
    assert "l=12" in drop["why"] and "but not at" in drop["why"]
    for res in (_result(UNTRAINED, UNTRAINED, UNTRAINED), _result(TRAINED, NO_DROPOUT, UNTRAINED)):
        for c in res.claims():
            assert c["why"].strip() and c["why"] != partly[0]["why"]
    null = _result(UNTRAINED, UNTRAINED, UNTRAINED).claims()
    assert "within the 0.3-nat margin" in null[0]["why"] and "training alone" in null[1]["why"]
