"""Verdict rules of notebook 07: α across depth, and pseudo-neurons against neurons. Nulls fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polycode_lite.experiments.language_depth import depth_claims
from polycode_lite.experiments.pseudo_neurons import comparison_claims


def _depth_table(alpha, half_width):
    n = len(alpha)
    a = np.asarray(alpha, float)
    return pd.DataFrame(dict(kind="mlp.post", layer=np.arange(n), alpha=a, ci_low=a - half_width,
                             ci_high=a + half_width))


def test_depth_trend_with_separated_cis_holds() -> None:
    (c,) = depth_claims(_depth_table([1.3, 1.1, 1.05, 1.1], 0.03), "tiny")
    assert c["verdict"] == "holds" and c["values"]["n_disjoint_pairs"] >= 2


def test_depth_null_flat_alpha_does_not_hold() -> None:
    (c,) = depth_claims(_depth_table([1.2, 1.21, 1.19, 1.2], 0.05), "tiny")
    assert c["verdict"] == "does not hold at this scale"
    (c,) = depth_claims(_depth_table([1.2, np.nan, 1.5], 0.01).assign(ci_low=np.nan), "tiny")
    assert c["verdict"] == "does not hold at this scale"


def test_depth_difference_reversed_by_a_window_of_the_grid_does_not_count() -> None:
    table = _depth_table([1.3, 1.0], 0.03)
    table["window_grid"] = [{"2-50": 1.3, "5-50": 1.3}, {"2-50": 1.0, "5-50": 1.0}]
    (c,) = depth_claims(table, "tiny")
    assert c["verdict"] == "holds"
    table["window_grid"] = [{"2-50": 1.3, "5-50": 0.9}, {"2-50": 1.0, "5-50": 1.0}]
    (c,) = depth_claims(table, "tiny")
    assert c["verdict"] == "does not hold at this scale" and "1 more reversed" in c["measured"]


def test_depth_rule_names_a_missing_kind() -> None:
    with pytest.raises(ValueError, match="no 'resid_post' rows"):
        depth_claims(_depth_table([1.0, 2.0], 0.1), "tiny", kind="resid_post")


def _scores(means: dict[str, float], n: int = 12, noise: float = 0.05, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [dict(hook=f"blocks.{h}.mlp.post", simulator="token lookup", kind=kind,
                 score=float(mu + noise * rng.standard_normal()))
            for h in range(2) for kind, mu in means.items() for _ in range(n)]
    return pd.DataFrame(rows)


def test_random_directions_as_good_as_neurons_hold() -> None:
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.6, "min-action": 0.58}))
    assert c["verdict"] == "holds"


def test_null_random_directions_explain_nothing() -> None:
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.0, "min-action": 0.0}))
    assert c["verdict"] == "does not hold at this scale"


def test_clearly_worse_but_explainable_is_partly() -> None:
    (c,) = comparison_claims(_scores({"neuron": 0.6, "random": 0.4, "min-action": 0.4}))
    assert c["verdict"] == "partly"
    with pytest.raises(ValueError, match="simulator 'bigram'"):
        comparison_claims(_scores({"neuron": 0.6, "random": 0.4}), simulator="bigram")
