"""Notebook 01's geometry rules: each passes Elhage's configuration and fails a null."""

import numpy as np
import torch

from polycode_lite.experiments.toy_claims import (more_features_verdict, orthogonal_pair_verdict, pentagon_verdict,
                                                  polysemanticity_verdict)
from polycode_lite.models.toy import ToyModel, importance_decay
from polycode_lite.science.superposition import (dimensions_per_feature, feature_dimensionality,
                                                 features_represented, neuron_polysemanticity)


def test_orthogonal_pair_rule():
    assert orthogonal_pair_verdict(2, 1.0, 0.0) == "holds"
    assert orthogonal_pair_verdict(2, 1.0, 0.5) == "partly"
    assert orthogonal_pair_verdict(5, 0.4, 0.8) == "does not hold at this scale"


def test_pentagon_rule():
    angles = 2 * np.pi * np.arange(5) / 5
    W = np.stack([np.cos(angles), np.sin(angles)])[None]          # a regular pentagon, (1, 2, 5)
    model = ToyModel(5, 2, n_instances=1, feature_probability=0.05, seed=0)
    with torch.no_grad():
        model.W.copy_(torch.as_tensor(W, dtype=model.W.dtype))
    d = feature_dimensionality(model)[0]
    assert pentagon_verdict(int(features_represented(model)[0]), d) == "holds"
    assert pentagon_verdict(2, [1.0, 1.0, 0, 0, 0]) == "does not hold at this scale"
    assert pentagon_verdict(4, [0.5, 0.5, 0.5, 0.5, 0]) == "partly"


def test_rules_fail_on_the_untrained_model():
    """The null: the same models before training do not pass the rules."""
    geo = ToyModel(5, 2, n_instances=2, feature_probability=np.array([1.0, 0.05]),
                   importance=importance_decay(5, 0.9), seed=0)
    n_rep = features_represented(geo)
    d = feature_dimensionality(geo)
    W0 = geo.W.detach().numpy()[0]
    cos = abs(W0[:, 0] @ W0[:, 1]) / (np.linalg.norm(W0[:, 0]) * np.linalg.norm(W0[:, 1]))
    assert orthogonal_pair_verdict(int(n_rep[0]), float(dimensions_per_feature(geo)[0]), cos) != "holds"
    assert pentagon_verdict(int(n_rep[1]), d[1]) != "holds"
    priv = ToyModel(10, 5, n_instances=2, feature_probability=np.array([1.0, 0.02]), variant="hidden_relu", seed=0)
    pr = neuron_polysemanticity(priv).mean(axis=1)
    assert polysemanticity_verdict(pr[0], pr[1]) != "holds"


def test_polysemanticity_rule():
    assert polysemanticity_verdict(1.0, 3.2) == "holds"
    assert polysemanticity_verdict(1.0, 1.1) == "partly"
    assert polysemanticity_verdict(2.0, 2.0) == "does not hold at this scale"


def test_more_features_rule_and_its_untrained_null():
    assert more_features_verdict(5, 11, 5) == "holds"
    assert more_features_verdict(5, 5, 5) == "does not hold at this scale"
    demo = ToyModel(20, 5, n_instances=2, feature_probability=np.array([1.0, 0.01]), seed=0)  # untrained
    n_rep = features_represented(demo)
    assert more_features_verdict(int(n_rep[0]), int(n_rep[1]), 5) != "holds", n_rep


def test_sticky_half_rule_fails_on_the_untrained_flat_curve():
    from polycode_lite.experiments.toy_dimensionality import DimensionalityResult

    x = np.geomspace(1, 20, 20)
    flat = DimensionalityResult(inverse_density=x, dims_per_feature=np.full(20, 0.56),
                                feature_dims=np.full((20, 10), 0.56), final_loss=np.zeros(20),
                                n_features=200, n_hidden=20, steps=0, seconds=0.0)
    sticky = [c for c in flat.claims() if "sticky" in c["claim"]][0]
    assert sticky["verdict"] == "does not hold at this scale"
    falling = np.concatenate([np.linspace(1.0, 0.52, 8), np.full(5, 0.5), np.linspace(0.45, 0.14, 7)])
    real = DimensionalityResult(inverse_density=x, dims_per_feature=falling, feature_dims=np.full((20, 10), 0.5),
                                final_loss=np.zeros(20), n_features=200, n_hidden=20, steps=0, seconds=0.0)
    assert [c for c in real.claims() if "sticky" in c["claim"]][0]["verdict"] == "holds"


def test_every_rule_says_why_when_it_does_not_hold():
    from polycode_lite.experiments.toy_claims import (more_features_why, orthogonal_pair_why, pentagon_why,
                                                      polysemanticity_why)

    assert orthogonal_pair_why(2, 1.0, 0.0) == ""
    assert "|cos| = 0.50" in orthogonal_pair_why(2, 1.0, 0.5)
    assert "represents 5 features" in orthogonal_pair_why(5, 0.4, 0.8)
    assert pentagon_why(5, [0.4] * 5) == ""
    assert "4 of 5" in pentagon_why(4, [0.5, 0.5, 0.5, 0.5, 0])
    assert "0.30–0.50" in pentagon_why(5, [0.3, 0.4, 0.4, 0.4, 0.5])
    assert polysemanticity_why(1.0, 3.2) == ""
    assert "+0.10" in polysemanticity_why(1.0, 1.1)
    assert more_features_why(5, 11, 5) == ""
    assert "no more than the dense" in more_features_why(5, 5, 5)
    assert "already stores 7" in more_features_why(7, 10, 5)
