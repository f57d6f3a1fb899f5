"""Verdict rules of notebook 07: α across depth against the untrained control, pseudo-neurons
against neurons and a window-shuffled control, smooth against unselected directions. In each
test a null input (an untrained model, a flat profile, random scores, shuffled data) does not pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polycode_lite.experiments.depth_rules import layer_pair_tests
from polycode_lite.experiments.language_depth import depth_claims
from polycode_lite.experiments.pseudo_neurons import comparison_claims, selection_claims

FLAT = [1.50, 1.51, 1.50, 1.52, 1.51, 1.50]


def _depth_table(alpha, half_width):
    n = len(alpha)
    a = np.asarray(alpha, float)
    return pd.DataFrame(dict(kind="mlp.post", layer=np.arange(n), alpha=a, ci_low=a - half_width,
                             ci_high=a + half_width, window_lo=11, window_hi=500))


def test_trained_depth_trend_against_a_flat_untrained_control_holds() -> None:
    (c,) = depth_claims(_depth_table([1.27, 1.10, 1.06, 1.09, 1.16, 1.13], 0.02), "tiny",
                        control=_depth_table(FLAT, 0.02))
    assert c["verdict"] == "holds" and c["values"]["n_holm_pairs"] >= 5
    assert c["values"]["n_untrained_holm_pairs"] == 0 and c["values"]["n_effect_holm_pairs"] >= 5
    assert "random initialisation" in c["control"] and "1.50–1.52" in c["control"]


def test_depth_null_untrained_model_does_not_hold() -> None:
    # the untrained network fed in as the "trained" one: a flat profile
    (c,) = depth_claims(_depth_table(FLAT, 0.02), "tiny", control=_depth_table(FLAT, 0.02))
    assert c["verdict"] == "does not hold at this scale"
    (c,) = depth_claims(_depth_table([1.2, np.nan, 1.5], 0.01).assign(ci_low=np.nan), "tiny",
                        control=_depth_table([1.5, 1.5, 1.5], 0.01))
    assert c["verdict"] == "does not hold at this scale"


def test_depth_trend_shared_by_the_untrained_architecture_is_only_partly() -> None:
    trend = [1.3, 1.1, 1.05, 1.1]
    (c,) = depth_claims(_depth_table(trend, 0.02), "tiny", control=_depth_table(np.add(trend, 0.4), 0.02))
    assert c["verdict"] == "partly" and c["values"]["n_effect_holm_pairs"] == 0


def test_holm_removes_a_trend_that_only_uncorrected_tests_see() -> None:
    # neighbouring layers 0.06 apart with s.e. ~0.02 each: p ~ 0.03 per pair, above Holm's thresholds
    alpha = [1.20, 1.26, 1.20, 1.26, 1.20, 1.26]
    (c,) = depth_claims(_depth_table(alpha, 0.0392), "tiny", control=_depth_table(FLAT, 0.0392))
    assert c["values"]["n_uncorrected_pairs"] >= 9
    assert c["values"]["n_holm_pairs"] == 0 and c["verdict"] == "does not hold at this scale"


def test_depth_difference_reversed_by_a_window_of_the_grid_does_not_count() -> None:
    table, ctl = _depth_table([1.3, 1.0], 0.03), _depth_table([1.5, 1.5], 0.03)
    table["window_grid"] = [{"2-50": 1.3, "5-50": 1.3}, {"2-50": 1.0, "5-50": 1.0}]
    (c,) = depth_claims(table, "tiny", control=ctl)
    assert c["verdict"] == "holds"
    table["window_grid"] = [{"2-50": 1.3, "5-50": 0.9}, {"2-50": 1.0, "5-50": 1.0}]
    (c,) = depth_claims(table, "tiny", control=ctl)
    assert c["verdict"] == "does not hold at this scale" and "1 more reversed" in c["measured"]


def test_depth_rule_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="no 'resid_post' rows"):
        depth_claims(_depth_table([1.0, 2.0], 0.1), "tiny", control=_depth_table([1.0, 2.0], 0.1),
                     kind="resid_post")
    with pytest.raises(ValueError, match="different windows"):
        depth_claims(_depth_table([1.0, 2.0], 0.1), "tiny",
                     control=_depth_table([1.0, 2.0], 0.1).assign(window_hi=200))
    with pytest.raises(ValueError, match="same layers"):
        depth_claims(_depth_table([1.0, 2.0], 0.1), "tiny", control=_depth_table([1.0, 2.0, 3.0], 0.1))


def test_layer_pair_tests_counts_pairs() -> None:
    out = layer_pair_tests([1.0, 1.0, 2.0], [0.01, 0.01, 0.01])
    assert out["n_pairs"] == 3 and out["n_significant"] == 2 and out["pairs"][2] == (1, 2)


# -- pseudo-neurons ------------------------------------------------------------------------------
def _scores(means: dict[str, float], shuffled: float = 0.0, n: int = 12, noise: float = 0.05,
            seed: int = 0) -> pd.DataFrame:
    """Two layers; every pseudo-neuron with both signs (the same direction), neurons with one."""
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(2):
        for kind, mu in means.items():
            for i in range(n):
                base = mu + noise * rng.standard_normal()
                for sign in ((1,) if kind == "neuron" else (1, -1)):
                    rows.append(dict(hook=f"blocks.{h}.mlp.post", simulator="token lookup", kind=kind, index=i,
                                     sign=sign, direction=f"blocks.{h}.mlp.post/{kind}#{i}",
                                     score=float(base + 0.01 * rng.standard_normal()),
                                     score_shuffled=float(shuffled + noise * rng.standard_normal()),
                                     action=0.5))
    return pd.DataFrame(rows)


def test_random_directions_as_good_as_neurons_hold() -> None:
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.6, "min-action": 0.58}))
    assert c["verdict"] == "holds" and "window-shuffled" in c["control"]


def test_null_random_scores_do_not_pass() -> None:
    # random directions score what the window-shuffled control scores (a positive bias of the
    # pipeline itself): as good as neurons would be no evidence at all
    (c,) = comparison_claims(_scores({"neuron": 0.3, "random": 0.3}, shuffled=0.3))
    assert c["verdict"] == "does not hold at this scale" and not c["values"]["explainable"]
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.0, "min-action": 0.0}))
    assert c["verdict"] == "does not hold at this scale"


def test_clearly_worse_but_explainable_is_partly() -> None:
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.4, "min-action": 0.4}))
    assert c["verdict"] == "partly"
    with pytest.raises(ValueError, match="simulator 'bigram'"):
        comparison_claims(_scores({"neuron": 0.6, "random": 0.4}), simulator="bigram")
    with pytest.raises(ValueError, match="window-shuffled control"):
        comparison_claims(_scores({"neuron": 0.6, "random": 0.4}).drop(columns="score_shuffled"))


def test_selection_claim_holds_only_when_smooth_directions_beat_random() -> None:
    best, exact = selection_claims(_scores({"neuron": 0.6, "random": 0.45, "best-of-N": 0.45, "min-action": 0.6}))
    assert exact["verdict"] == "holds" and exact["values"]["kind"] == "min-action"
    # null: as good as unselected random directions
    assert best["verdict"] == "does not hold at this scale" and "no significant" in best["measured"]
    # significantly worse than random is not a pass either, and says so
    best, exact = selection_claims(_scores({"random": 0.5, "best-of-N": 0.55, "min-action": 0.3}))
    assert best["verdict"] == "holds"
    assert exact["verdict"] == "does not hold at this scale" and "(worse)" in exact["measured"]
    # null: better than random, but random and selected alike are at the shuffled control's level
    (c,) = selection_claims(_scores({"random": 0.0, "min-action": 0.05}, shuffled=0.2))
    assert c["verdict"] == "does not hold at this scale"


# --- why: every verdict other than "holds" says why, in the run's numbers -------------------
def test_depth_why_for_partly_and_not_holding() -> None:
    (c,) = depth_claims(_depth_table([1.27, 1.10, 1.06, 1.09, 1.16, 1.13], 0.02), "tiny",
                        control=_depth_table(FLAT, 0.02))
    assert c["verdict"] == "holds" and c["why"] == ""
    trend = [1.3, 1.1, 1.05, 1.1]
    (c,) = depth_claims(_depth_table(trend, 0.02), "tiny", control=_depth_table(np.add(trend, 0.4), 0.02))
    assert c["verdict"] == "partly" and "the untrained architecture has the same profile" in c["why"]
    assert "-0.40 to -0.40" in c["why"]
    (c,) = depth_claims(_depth_table(FLAT, 0.02), "tiny", control=_depth_table(FLAT, 0.02))
    assert c["verdict"] == "does not hold at this scale"
    assert c["why"].startswith("no pair of layers differs after Holm's correction") and "1.50–1.52" in c["why"]


def test_pseudo_neuron_whys() -> None:
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.6, "min-action": 0.58}))
    assert c["why"] == ""
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.4, "min-action": 0.4}))
    assert c["verdict"] == "partly" and "score below neurons" in c["why"] and "of the neurons' mean" in c["why"]
    (c,) = comparison_claims(_scores({"neuron": 0.3, "random": 0.3}, shuffled=0.3))
    assert c["verdict"] == "does not hold at this scale" and "window-shuffled control" in c["why"]
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.1, "min-action": 0.1}))
    assert c["verdict"] == "does not hold at this scale" and "needs half" in c["why"]

    best, exact = selection_claims(_scores({"neuron": 0.6, "random": 0.45, "best-of-N": 0.45, "min-action": 0.6}))
    assert exact["why"] == "" and "no differently from unselected random ones" in best["why"]
    best, exact = selection_claims(_scores({"random": 0.5, "best-of-N": 0.55, "min-action": 0.3}))
    assert exact["verdict"] == "does not hold at this scale"
    assert exact["why"].startswith("min-action directions score below unselected random ones (min-action − random -0.")
    (c,) = selection_claims(_scores({"random": 0.0, "min-action": 0.05}, shuffled=0.2))
    assert c["verdict"] == "does not hold at this scale" and c["why"]
