"""The WᵀW caption of notebook 01 is built from the numbers the figure shows (plots.toy.wtw_summary)."""

from __future__ import annotations

import numpy as np
import pytest

from polycode_lite.plots.toy import wtw_caption, wtw_summary


def _dense_model() -> tuple[np.ndarray, np.ndarray]:
    # 2 orthogonal represented features, 2 dropped ones with the constant-guess bias 0.5
    W = np.array([[1.0, 0.0, 0.01, 0.0], [0.0, 1.0, 0.0, 0.02]])
    b = np.array([0.0, -0.2, 0.5, 0.49])
    return W, b


def test_summary_separates_represented_and_dropped_features() -> None:
    W, b = _dense_model()
    (s,) = wtw_summary(W, b)
    assert s["n_represented"] == 2 and s["interference"] == pytest.approx(0, abs=1e-3)
    assert s["bias_dropped"] == pytest.approx((0.49, 0.495, 0.5)) and s["n_negative_bias"] == 1
    # an antipodal pair: each represented feature has interference 1 with its partner
    (pair,) = wtw_summary(np.array([[1.0, -1.0]]), np.array([-0.1, -0.1]))
    assert pair["interference"] == pytest.approx(1.0) and pair["bias_dropped"] is None
    with pytest.raises(ValueError, match="bias"):
        wtw_summary(W)


def test_caption_states_the_numbers_of_first_and_last_panel() -> None:
    W, b = _dense_model()
    pair_W, pair_b = np.array([[1.0, -1.0, 0.0, 0.0]]), np.array([-0.1, -0.1, 0.0, 0.0])
    summary = wtw_summary(np.stack([W, np.vstack([pair_W, np.zeros((1, 4))])]), np.stack([b, pair_b]))
    text = wtw_caption(summary, ["S = 0.00", "S = 0.99"], feature_probability=[1.0, 0.01])
    assert "S = 0.00: 2 of 4 features represented" in text and "interference among them 0.0002" in text
    assert "dropped features' bias 0.49 to 0.50 (mean 0.49)" in text or "(mean 0.50)" in text
    assert "p/2 = 0.50" in text and "interference among them 1.00" in text
    assert "bias ≈ 0" not in text
    with pytest.raises(ValueError, match="one label"):
        wtw_caption(summary, ["only one"])


def test_draw_feature_arrows_labels_a_square_panel() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from polycode_lite.plots.toy import draw_feature_arrows

    fig, ax = plt.subplots()
    angles = 2 * np.pi * np.arange(5) / 5
    draw_feature_arrows(ax, 1.5 * np.stack([np.cos(angles), np.sin(angles)]), "pentagon")
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "pentagon"
    assert ax.get_xlim()[1] >= 1.5 and ax.get_xlim() == ax.get_ylim()
    with pytest.raises(ValueError, match="W2 must be"):
        draw_feature_arrows(ax, np.ones((3, 5)), "bad")
    plt.close(fig)


def test_one_panel_is_described_once() -> None:
    W, b = _dense_model()
    text = wtw_caption(wtw_summary(W, b), ["S = 0.90"])
    assert text.count("S = 0.90") == 1
