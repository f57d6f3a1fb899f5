"""plots.autoencoder: notebook 06's α figures are scaled by usable fits; a dead or flagged fit is
drawn apart and listed, never setting the scale."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from polycode_lite.course.claims import check_figure
from polycode_lite.plots import autoencoder as P

LAYERS = ["encoder.layer1", "encoder.layer2", "fc5"]


def _table(dead_alpha: float = 27.0) -> pd.DataFrame:
    """Two rates × two modes × three layers; at p = 0.8 fc5 is dead (λ ~ 1e-12, α = dead_alpha),
    layer2 is flagged curved in eval mode and has no fit in repeats mode."""
    rows = []
    for mode in ("eval", "repeats"):
        for p in (0.0, 0.8):
            for i, layer in enumerate(LAYERS):
                a, flags, note = 2.5 + 0.3 * i + p, "", ""
                lam = np.arange(1, 33, dtype=float) ** -a
                if layer == "fc5" and p == 0.8:
                    a, lam = dead_alpha, 1e-12 * lam
                if layer == "encoder.layer2" and p == 0.8:
                    if mode == "eval":
                        flags, note = "curved", "slopes differ; no single α"
                    else:
                        a, note = np.nan, "no fit: the spectrum supports ranks up to 3 only"
                rows.append(dict(dropout=p, mode=mode, site=layer, alpha=a, ci_low=a - 0.05,
                                 ci_high=a + 0.05, flags=flags, note=note, eigenvalues=lam))
    return pd.DataFrame(rows)


def test_fit_problems_names_dead_flagged_and_failed_fits() -> None:
    t = _table()
    why = P.fit_problems(t)
    bad = t[why != ""].assign(why=why[why != ""])
    got = {(r.mode, r.dropout, r.site): r.why.split(" ")[0] for r in bad.itertuples()}
    assert got == {("eval", 0.8, "encoder.layer2"): "flagged:", ("repeats", 0.8, "encoder.layer2"): "no",
                   ("eval", 0.8, "fc5"): "dead", ("repeats", 0.8, "fc5"): "dead"}
    assert "eval-mode variance 9e-13 of the p = 0 model" in why[(t["mode"] == "eval") & (t.site == "fc5") & (t.dropout == 0.8)].iloc[0]
    # a repeats spectrum that died (mask noise left no shared variance) while eval mode lives
    alive = t.copy()
    i = alive.index[(alive["mode"] == "eval") & (alive.site == "fc5") & (alive.dropout == 0.8)][0]
    alive.at[i, "eigenvalues"] = np.arange(1, 33.0) ** -2
    why = P.fit_problems(alive)
    assert why[i] == "" or why[i].startswith("flagged")
    j = alive.index[(alive["mode"] == "repeats") & (alive.site == "fc5") & (alive.dropout == 0.8)][0]
    assert why[j].startswith("dead layer (repeats-mode variance")
    with pytest.raises(ValueError, match="lacks the columns"):
        P.fit_problems(t.drop(columns="ci_low"))
    with pytest.raises(TypeError, match="DataFrame"):
        P.fit_problems(t.to_dict())


def test_a_dead_outlier_does_not_set_the_scale_of_the_depth_figure() -> None:
    t = _table()
    fig, notes = P.plot_alpha_vs_depth(t, t[t.dropout == 0.0], LAYERS, threshold=1 + 2 / 9, n_encoder=2)
    assert not check_figure(fig)
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        assert hi < 5 and lo < 1 + 2 / 9, (lo, hi)   # the usable 2.5–3.9 and the threshold set it
    assert any(n.startswith("fc5, p = 0.8, eval (dead layer") and "top edge" in n for n in notes)
    assert any("layer2, p = 0.8, repeats (no fit" in n for n in notes)
    plt.close(fig)
    # the null: every fit marked usable, the dead one stretches the axis past 27
    ok = t.assign(flags="", note="", eigenvalues=[np.arange(1, 33.0) ** -2] * len(t))
    fig, notes = P.plot_alpha_vs_depth(ok, None, LAYERS)
    assert fig.axes[0].get_ylim()[1] > 27
    plt.close(fig)


def test_the_dropout_figure_lists_what_it_leaves_out() -> None:
    fig, notes = P.plot_alpha_vs_dropout(_table(), LAYERS)
    assert not check_figure(fig)
    assert all(ax.get_ylim()[1] < 5 for ax in fig.axes)
    assert len(notes) == 4
    sentence = P.excluded_sentence(notes)
    assert sentence.startswith("Drawn hollow") and "4 fits" in sentence and "fc5, p = 0.8" in sentence
    assert P.excluded_sentence([]) == "Every fit is usable: none is drawn apart."
    assert "and 2 more" in P.excluded_sentence(notes, limit=2)
    # a line never bridges an excluded fit: only layer1 (both rates usable) gets a line
    for ax in fig.axes:
        drawn = [ln for ln in ax.get_lines() if len(ln.get_xdata()) >= 2 and ln.get_linestyle() != "None"]
        assert len(drawn) == 1 and list(drawn[0].get_ydata()) == [2.5, 3.3]
    plt.close(fig)
    with pytest.raises(ValueError, match="modes"):
        P.plot_alpha_vs_dropout(_table(), LAYERS, modes=("cvpca",))


def test_energy_scatter_scales_alpha_by_usable_fits() -> None:
    t = _table()
    ev = t[t["mode"] == "eval"].reset_index(drop=True)
    traj = pd.DataFrame(dict(dropout=ev.dropout, layer=ev.site, alpha=ev.alpha,
                             energy_rel_input=np.linspace(0.5, 2, len(ev)), rsa_mean=np.linspace(0.1, 0.6, len(ev))))
    fig, notes = P.plot_alpha_vs_energy(traj, t)
    assert not check_figure(fig)
    assert fig.axes[0].get_xlim()[1] < 5 and fig.axes[0].get_yscale() == "log"
    assert len(notes) == 2 and any("fc5, p = 0.8: α = 27.00 (dead layer" in n for n in notes)
    plt.close(fig)
    # the null: without the pipeline's judgement the dead α = 27 sets the axis
    fig, notes = P.plot_alpha_vs_energy(traj)
    assert fig.axes[0].get_xlim()[1] > 27 and notes == []
    plt.close(fig)
    with pytest.raises(ValueError, match="rsa_mean"):
        P.plot_alpha_vs_energy(traj.drop(columns="rsa_mean"))


def test_usable_summary_reads_only_usable_fits() -> None:
    s = P.usable_summary(_table(), "eval")
    assert s["n"] == 6 and s["n_usable"] == 4 and s["hi"] < 5 and s["ci_width"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="mode 'cvpca'"):
        P.usable_summary(_table(), "cvpca")


# --- notebook 07: α across depth ------------------------------------------------------------
def _depth_table() -> pd.DataFrame:
    rows = []
    for series, base in (("mlp.post", 1.2), ("mlp.post, untrained", 0.9)):
        for layer in range(4):
            a = base + 0.02 * layer
            flags = "curved" if (series, layer) == ("mlp.post, untrained", 2) else ""
            if flags:
                a = 9.0
            rows.append(dict(series=series, layer=layer, alpha=a, ci_low=a - 0.02, ci_high=a + 0.02,
                             participation_ratio=20.0 + layer, flags=flags))
    return pd.DataFrame(rows)


def test_language_depth_profile_draws_a_flagged_fit_apart() -> None:
    from polycode_lite.plots.language import plot_depth_profile, usable_fit

    t = _depth_table()
    assert usable_fit(t).sum() == 7
    fig, notes = plot_depth_profile(t, title="tiny")
    assert not check_figure(fig)
    assert fig.axes[0].get_ylim()[1] < 2 and fig.axes[1].get_yscale() == "log"
    t2 = t.copy()
    t2.loc[(t2.series == "mlp.post") & (t2.layer == 1), ["flags", "ci_low", "ci_high"]] = ["curved", 0.0, 5.0]
    fig2, _ = plot_depth_profile(t2)
    assert fig2.axes[0].get_ylim()[1] < 2   # a flagged fit's wide CI, drawn faint, sets no scale either
    plt.close(fig2)
    assert notes == ["mlp.post, untrained, layer 2 (curved): α = 9.00, flagged, drawn at the top edge"]
    plt.close(fig)
    with pytest.raises(ValueError, match="series"):
        plot_depth_profile(t.drop(columns="series"))


def test_dot_loops_share_one_scale_and_carry_their_numbers() -> None:
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    circle = np.c_[np.cos(angles), np.sin(angles)]
    trajectories = {p: (angles, {"input": circle @ rng.normal(size=(2, 50)),
                                 "encoder.layer2": circle @ rng.normal(size=(2, 40)) + p * rng.normal(size=(16, 40)),
                                 "fc2": circle @ rng.normal(size=(2, 30))}) for p in (0.0, 0.8)}
    traj = pd.DataFrame([dict(dropout=p, layer=l, energy_rel_input=e, rsa_mean=0.3)
                         for p in (0.0, 0.8) for l, e in (("input", 1.0), ("encoder.layer2", 1.5), ("fc2", 0.4 + p))])
    fig, table = P.plot_dot_loops(trajectories, traj)
    assert not check_figure(fig)
    w, h = fig.get_size_inches()
    assert w <= 4 * h
    loops = [ax for ax in fig.axes if hasattr(ax, "get_zlim")]
    assert len(loops) == 5 and len({ax.get_xlim() for ax in loops}) == 1   # one common scale
    np.testing.assert_allclose(table.energy_rel_input, [1.0, 1.5, 0.4, 1.5, 1.2])
    assert "E / E_input = 1.20" in loops[-1].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        P.plot_dot_loops({}, traj)
    with pytest.raises(ValueError, match="no rows"):
        P.plot_dot_loops(trajectories, traj[traj.layer != "fc2"])
    with pytest.raises(ValueError, match="no trajectories"):
        P.plot_dot_loops(trajectories, traj, layers=("mu",))
