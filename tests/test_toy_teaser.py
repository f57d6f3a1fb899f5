"""Verdict rule of the orientation teaser (5 features in 2 dimensions): superposition passes, nulls fail."""

from __future__ import annotations

import numpy as np
import pytest

from polycode_lite.experiments.toy_teaser import (
    TeaserConfig,
    TeaserResult,
    run,
    superposition_verdict,
)


def _result(n_repr, norms_scale=1.0) -> TeaserResult:
    k = len(n_repr)
    W = np.zeros((k, 2, 5))
    for i, n in enumerate(n_repr):
        W[i, 0, :n] = norms_scale
    return TeaserResult(feature_probability=np.geomspace(1, 1 / 20, k), W=W, n_represented=np.asarray(n_repr),
                        dims_per_feature=2.0 / np.maximum((W ** 2).sum(axis=(1, 2)), 1e-9),
                        final_loss=np.zeros(k), steps=1)


def test_two_dense_five_sparse_holds() -> None:
    res = _result([2, 2, 3, 4, 5, 5])
    (claim,) = res.claims()
    assert claim["verdict"] == "holds"
    assert claim["values"]["dense_features"] == 2 and claim["values"]["sparse_features"] == 5
    assert list(res.table().columns[:3]) == ["sparsity", "inverse_density", "n_represented"]


def test_null_without_superposition_fails() -> None:
    # a PCA-like (linear) model keeps 2 features at every sparsity
    assert _result([2] * 6).claims()[0]["verdict"] == "does not hold at this scale"
    # more stored when dense than when sparse is not superposition appearing with sparsity either
    assert superposition_verdict(4, 3) == "does not hold at this scale"


def test_incomplete_superposition_is_partly() -> None:
    assert superposition_verdict(2, 4) == "partly"
    assert superposition_verdict(3, 5) == "partly"


def test_trained_teaser_shows_superposition_and_untrained_does_not() -> None:
    res = run(TeaserConfig.fast(steps=1500, n_levels=4), progress=False)
    assert res.claims()[0]["verdict"] in {"holds", "partly"}
    assert res.n_represented[-1] > 2
    # null: a model trained so briefly it has not learnt to drop or pack features
    untrained = run(TeaserConfig.fast(steps=1, n_levels=4, lr=1e-6), progress=False)
    assert untrained.claims()[0]["verdict"] != "holds"


def test_why_is_given_for_every_outcome_but_holds() -> None:
    from polycode_lite.experiments.toy_teaser import superposition_why

    assert superposition_why(2, 5) == ""
    assert "4 of 5" in superposition_why(2, 4)
    assert "already stores 3" in superposition_why(3, 5)
    assert "no superposition" in superposition_why(2, 2)
    assert "no more than the dense" in superposition_why(4, 3)
    (claim,) = _result([2] * 6).claims()
    assert claim["verdict"] != "holds" and claim["why"].strip()
    assert _result([2, 3, 5]).claims()[0]["why"] == ""


def test_the_stored_count_cannot_exceed_the_features() -> None:
    from polycode_lite.experiments.toy_teaser import capped_feature_count

    res = _result([2, 5], norms_scale=1.6)         # columns longer than 1, as a sparse model's are
    assert (res.W ** 2).sum(axis=(1, 2))[-1] > 5    # ‖W‖²_F is not a count
    assert np.allclose(res.capped_count, [2, 5]) and np.all(res.capped_count <= res.n_features)
    assert float(capped_feature_count(np.full((2, 5), 0.1))) == pytest.approx(5 * 0.02)
    with pytest.raises(ValueError, match="W must be"):
        capped_feature_count(np.ones(3))
    fig = res.plot()
    assert fig.axes[0].get_ylim()[1] <= res.n_features + 0.5
    assert "5 at S" in res.caption() and "Σ min" in res.caption()
    assert "capped_count" in res.table().columns


def test_caption_follows_a_count_that_drops_back() -> None:
    assert "from 1/(1−S)" in _result([2, 3, 5, 5]).caption()
    assert "not at every sparser level" in _result([2, 5, 4, 5]).caption()
    assert "at no sparsity level" in _result([2, 3, 4, 4]).caption()
