"""plots.alpha: a failed or flagged fit never sets the scale of an α figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from polycode_lite.plots.alpha import AlphaSeries, plot_alpha_series


def _series(alpha, usable=None):
    a = np.asarray(alpha, float)
    return AlphaSeries(x=np.arange(len(a)), alpha=a, ci_low=a - 0.1, ci_high=a + 0.1, usable=usable,
                       label="layer", names=[f"p{i}" for i in range(len(a))])


def test_a_flagged_outlier_does_not_set_the_scale() -> None:
    fig, ax = plt.subplots()
    notes = plot_alpha_series(ax, [_series([2.0, 2.5, 40.0, 3.0], usable=[True, True, False, True])],
                              references=[1 + 2 / 9])
    lo, hi = ax.get_ylim()
    assert hi < 4 and lo < 1 + 2 / 9 < hi
    assert notes == ["p2: α = 40.00, flagged, drawn at the top edge"]
    plt.close(fig)


def test_without_the_flag_the_outlier_would_flatten_the_axis() -> None:
    # the null: the same numbers all marked usable stretch the axis to 40
    fig, ax = plt.subplots()
    plot_alpha_series(ax, [_series([2.0, 2.5, 40.0, 3.0])])
    assert ax.get_ylim()[1] > 40
    plt.close(fig)


def test_nan_fits_are_listed_and_mismatched_lengths_refused() -> None:
    fig, ax = plt.subplots()
    notes = plot_alpha_series(ax, [_series([2.0, np.nan, 3.0])])
    assert notes == ["p1: no fit"]
    with pytest.raises(ValueError, match="one value per point"):
        plot_alpha_series(ax, [AlphaSeries(x=[0, 1], alpha=[1.0], ci_low=[0.9], ci_high=[1.1])])
    plt.close(fig)


def test_fit_label_shows_one_ci_and_the_flags() -> None:
    from types import SimpleNamespace as Fit

    from polycode_lite.plots.alpha import fit_label

    assert fit_label("PCA", Fit(alpha=1.0234, ci=(0.98, 1.05), flags=())) == "PCA: α = 1.02 [0.98, 1.05]"
    assert fit_label("cvPCA", Fit(alpha=0.9, ci=(0.8, 1.0), flags=("curved",))).endswith("flagged: curved")
    assert fit_label("PCA", Fit(alpha=np.nan, ci=(np.nan, np.nan), flags=("flat",))) == "PCA: no α (flat)"
