"""plots.dropout: the α-against-dropout figure draws the fits the trend leaves out apart, so that one
failed fit (α ≈ 40) does not set the scale, and lists them for the caption."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from polycode_lite.course.claims import check_figure  # noqa: E402
from polycode_lite.experiments.alpha_dropout_rules import alpha_trend, trend_exclusions  # noqa: E402
from polycode_lite.plots.dropout import alpha_dropout_caption, plot_alpha_vs_dropout  # noqa: E402


def _sweep() -> pd.DataFrame:
    rows = []
    for method in ("eval_pca", "dropout_repeats"):
        for depth in (1, 2):
            for p in (0.0, 0.2, 0.4, 0.6, 0.8):
                a = 1.5 + 0.2 * p + 0.1 * depth
                rows.append(dict(method=method, depth=depth, dropout=p, seed=0, alpha=a, ci_low=a - 0.03,
                                 ci_high=a + 0.03, r2=0.99, flags=""))
    df = pd.DataFrame(rows)
    bad = (df.method == "eval_pca") & (df.depth == 2) & (df.dropout == 0.8)
    df.loc[bad, ["alpha", "ci_low", "ci_high", "r2"]] = [40.0, 35.0, 45.0, 0.6]  # the failed fit
    curved = (df.method == "dropout_repeats") & (df.depth == 1) & (df.dropout == 0.4)
    df.loc[curved, "flags"] = "curved"
    nan = (df.method == "dropout_repeats") & (df.depth == 2) & (df.dropout == 0.8)
    df.loc[nan, ["alpha", "ci_low", "ci_high", "r2"]] = np.nan
    return df


def test_exclusions_are_the_trends():
    df = _sweep()
    why = trend_exclusions(df)
    assert (why != "").sum() == 3 and set(why[why != ""]) == {"r² 0.60", "curved", "no fit"}
    n_excluded = alpha_trend(df, n_boot=50).set_index(["method", "depth"])["n_excluded"]
    assert n_excluded.sum() == 3


def test_an_outlier_does_not_set_the_scale_and_is_listed():
    df = _sweep()
    fig, notes = plot_alpha_vs_dropout(df, "synthetic sweep", trend_exclusions(df))
    eval_ax, rep_ax = fig.axes[:2]
    lo, hi = eval_ax.get_ylim()
    assert hi < 3.0 and lo > 1.0, (lo, hi)  # set by the usable fits' CIs (1.57..1.93), not α = 40
    assert not check_figure(fig)
    width, height = fig.get_size_inches()
    assert width / height <= 4.0
    assert notes["unusable"] == ["eval L2 D=0.8 (r² 0.60): α = 40.00, flagged, drawn at the top edge",
                                 "8-mask L2 D=0.8 (no fit): no fit"]
    assert notes["flagged"] == ["8-mask L1 D=0.4 (curved): α = 1.68 [1.65, 1.71]"]
    cap = alpha_dropout_caption("α of a synthetic sweep against D", notes)
    assert "α = 40.00" in cap and "Squares, 1 flagged" in cap and "Hollow markers, 2" in cap
    plt.close(fig)


def test_without_exclusions_everything_joins_and_bad_input_is_named():
    df = _sweep().assign(alpha=1.5, ci_low=1.4, ci_high=1.6, r2=0.99, flags="")
    fig, notes = plot_alpha_vs_dropout(df, "clean")
    assert notes == {"flagged": [], "unusable": []}
    assert "Every fit is used" in alpha_dropout_caption("clean", notes)
    plt.close(fig)
    with pytest.raises(ValueError, match="missing"):
        plot_alpha_vs_dropout(df.drop(columns="ci_low"), "x")
    with pytest.raises(ValueError, match="one string per row"):
        plot_alpha_vs_dropout(df, "x", excluded=["" for _ in range(3)])
    with pytest.raises(ValueError, match="title"):
        plot_alpha_vs_dropout(df, " ")
