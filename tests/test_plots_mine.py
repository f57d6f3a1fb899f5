"""plots.mine: the widgets' figure of a MINE run (estimate against steps, the truth as a line)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from polycode_lite.course.claims import check_figure  # noqa: E402
from polycode_lite.plots.mine import FLOOR_NATS, plot_mine_training  # noqa: E402
from polycode_lite.science import mine  # noqa: E402


def test_a_real_run_is_drawn_against_its_truth():
    x, z = mine.sample_dropout_channel(3000, 0.5, seed=0)
    est = mine.estimate_mutual_information(x, z, steps=150, batch_size=256, eval_every=25, progress=False)
    true = mine.dropout_channel_mi(0.5)
    ax = plot_mine_training(est.curve, est.mi, true_mi=true, title="±1 dropout channel, p = 0.5")
    labels = ax.get_legend_handles_labels()[1]
    assert any(lab.startswith(f"true MI {true:.3f}") for lab in labels)
    assert any(lab.startswith(f"estimate {est.mi:.3f}") for lab in labels)
    lo, hi = ax.get_ylim()
    assert lo <= min(est.curve["heldout"]) and hi >= true
    assert not check_figure(ax.figure)
    plt.close(ax.figure)


def test_a_diverging_curve_is_cut_and_references_are_drawn():
    curve = {"step": [50, 100, 150], "heldout": [1.0, 2.5, -40.0], "train": [1.0, 3.0, 8.0]}
    ax = plot_mine_training(curve, -40.0, references={"decoder bound": 1.9, "ceiling H(x)": 2.079},
                            diverged=True)
    labels = ax.get_legend_handles_labels()[1]
    assert "decoder bound 1.900 nats" in labels and "ceiling H(x) 2.079 nats" in labels
    assert any("diverged" in lab for lab in labels)
    assert ax.get_ylim()[0] >= FLOOR_NATS - 0.5  # the dive to -40 does not set the scale
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="heldout"):
        plot_mine_training({"step": [1]}, 0.0)
    with pytest.raises(ValueError, match="same, non-zero length"):
        plot_mine_training({"step": [1, 2], "heldout": [0.1]}, 0.0)
