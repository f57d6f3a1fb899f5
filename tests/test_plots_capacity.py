"""Notebook 02's figures and their captions (polycode_lite.plots.capacity): labelled, readable,
and captions that follow the numbers they describe."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from polycode_lite.course.claims import check_figure
from polycode_lite.plots.capacity import (channel_caption, entropy_crossover, plot_sparse_entropy,
                                          plot_theorem4, prediction_caption, prediction_position,
                                          sparse_entropy_caption, theorem4_caption)
from polycode_lite.science import capacity as cap

X = np.geomspace(1, 20, 12)
N, M = 80, 8


def test_sparse_entropy_figure_and_its_crossovers() -> None:
    assert not check_figure(plot_sparse_entropy())
    x4 = entropy_crossover(4)
    S = 1 - 1 / x4
    assert cap.binary_entropy(S) > (1 - S) * 4 and 5 < x4 < 7        # log2 x + 1.44 ≈ 4
    assert entropy_crossover(23, x_max=1e3) is None                    # needs 1/(1−S) of millions
    text = sparse_entropy_caption((4, 23))
    assert f"{x4:.3g} for H_elem = 4" in text and "not within 1/(1−S) ≤ 1000 for H_elem = 23" in text
    with pytest.raises(ValueError, match="h_elems"):
        plot_sparse_entropy(())


def test_prediction_position_counts_points_above_and_below() -> None:
    pred8 = np.asarray(cap.predicted_dims_per_feature(1 - 1 / X, 8.0, n_features=N, n_hidden=M))
    measured = pred8 + np.where(np.arange(X.size) < 4, 0.1, -0.1)      # 4 points above the curve, 8 below
    (r,) = prediction_position(X, measured, N, M, [8.0])
    assert r["below"] == pytest.approx(4 / 12) and r["above"] == pytest.approx(8 / 12) and r["within"] == 0
    text = prediction_caption([r], X.size)
    assert "below the toy model at 33%" in text and "above at 67%" in text and "loses information" in text
    (on,) = prediction_position(X, pred8, N, M, [8.0])
    assert on["within"] == 1.0
    assert "at least as many dimensions" in prediction_caption([dict(on, above=0.0)], X.size)
    with pytest.raises(ValueError, match="equally long"):
        prediction_position(X, pred8[:3], N, M, [8.0])


def test_channel_caption_follows_its_numbers() -> None:
    from polycode_lite.experiments.superposition_capacity import ChannelConfig, run

    res = run(ChannelConfig(n_samples=20_000))
    text = channel_caption(res)
    worst = float(np.max(res.lower - res.simulated_with_zero))
    assert f"{worst:.3g} bits" in text and "±2 s.e." in text


def test_theorem4_figure_and_caption() -> None:
    assert not check_figure(plot_theorem4((256, 1024)))
    text = theorem4_caption((256,))
    assert "½·log₂(m/e) = 3.28" in text and "m = 256: 3.2" in text
