"""Notebook 04's probe-CNN figures (plots.smoothness): readable, labelled, one scale, captions from numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from polycode_lite.course.claims import check_figure
from polycode_lite.plots import smoothness as ps

LAYERS = ["input", "stem", "layer1", "layer2", "layer3", "pool"]
T = 32


def _table(shift: float, bad_pool: bool = False) -> pd.DataFrame:
    a = np.array([0.3, 0.5, 0.6, 0.7, 1.0, 2.2]) + shift
    return pd.DataFrame(dict(layer=LAYERS, alpha_traj=a, energy_norm=np.exp(3 - a),
                             rsa_mean=np.linspace(0.2, 0.05, 6), rsa_sd=np.full(6, 0.02),
                             alpha_shapes=[np.nan, 1.9, 2.4, 2.3, 1.4, 40.0 if bad_pool else 2.3],
                             alpha_shapes_lo=[np.nan, 1.8, 2.3, 2.2, 1.3, 39.0 if bad_pool else 2.2],
                             alpha_shapes_hi=[np.nan, 2.0, 2.5, 2.4, 1.5, 41.0 if bad_pool else 2.4],
                             shapes_usable=[False, True, True, True, True, not bad_pool]))


@pytest.fixture()
def tables():
    return {"random init": _table(0.4), "trained": _table(0.0, bad_pool=True)}


def _ticklabels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def test_layer_figure_has_the_threshold_no_empty_tick_and_flags_apart(tables) -> None:
    import matplotlib.pyplot as plt

    fig, notes = ps.plot_layer_smoothness(tables, circle_energy=4 * np.pi ** 2 / T)
    assert not check_figure(fig)
    a, b, c = fig.axes[:3]
    # the α = 3 threshold (d = 1) is drawn on both loop panels, 1 + 2/9 on the shapes panel
    for ax in (a, b):
        assert any(np.allclose(ln.get_xdata(), 3.0) for ln in ax.get_lines()) and ax.get_xlim()[1] > 3.0
    assert any(np.allclose(ln.get_ydata(), 1 + 2 / 9) for ln in c.get_lines())
    assert "input" not in _ticklabels(c) and _ticklabels(c) == LAYERS[1:]
    assert a.get_yscale() == "log"
    assert len(notes) == 1 and "trained pool" in notes[0]        # the α = 40 fit is drawn apart
    assert c.get_ylim()[1] < 5                                    # and does not set the scale
    assert not any(t.get_text() in LAYERS for ax in (a, b) for t in ax.texts)   # no point labels to overlap
    cap = ps.caption_layer_smoothness(tables, notes)
    assert "5 of 10 layer loops" not in cap and "10 of 10" in cap and "left out" in cap and "trained pool" in cap
    plt.close("all")


def test_projected_loops_share_one_scale_with_equal_aspect() -> None:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    theta = np.linspace(0, 2 * np.pi, T, endpoint=False)
    # layers whose activations differ by 1000x still land on one scale
    trajs = {m: {"input": np.column_stack([np.cos(theta), np.sin(theta)]) @ rng.standard_normal((2, 50)),
                 "pool": 1e-3 * rng.standard_normal((T, 40))} for m in ("random init", "trained")}
    fig = ps.plot_projected_loops(trajs, theta, energies={"trained": {"pool": 63.0}})
    assert any("E/trΣ = 63" in ax.get_title() for ax in fig.axes)
    assert not check_figure(fig)
    grid = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"][:4]
    assert len({ax.get_xlim() for ax in grid}) == 1 and len({ax.get_ylim() for ax in grid}) == 1
    assert all(ax.get_aspect() == 1.0 for ax in grid)
    w, h = fig.get_size_inches()
    assert w <= 4 * h
    p = ps.normalised_projection(trajs["trained"]["pool"], seed=0)
    assert p.shape == (T, 2) and 0.3 < p.std() < 3
    with pytest.raises(ValueError, match="constant"):
        ps.normalised_projection(np.ones((T, 5)))
    with pytest.raises(ValueError, match="theta"):
        ps.plot_projected_loops(trajs, theta[:-1])
    plt.close("all")


def test_vs_null_figure_and_captions_from_numbers(tables) -> None:
    import matplotlib.pyplot as plt

    from polycode_lite.experiments.smoothness import random_loop_null, smoothness_vs_null

    null = random_loop_null(T, (2, 8), n_loops=12, n_dims=128, seed=0)
    fig = ps.plot_layers_vs_null(null, tables)
    assert not check_figure(fig) and fig.axes[0].get_yscale() == "log"
    assert any(np.allclose(ln.get_xdata(), 3.0) for ln in fig.axes[0].get_lines())
    lay = tables["trained"][tables["trained"].layer != "input"]
    test = smoothness_vs_null(lay.alpha_traj, lay.energy_norm, null)
    cap = ps.caption_vs_null(test, test)
    assert f"{test.resid_slope:+.2f}" in cap and f"{null.rho:+.2f}" in cap
    loops = ps.caption_projected_loops(tables)
    e_max = max(float(t.energy_norm[t.layer != "input"].max()) for t in tables.values())
    assert f"{e_max:.3g}" in loops
    plt.close("all")


def test_bad_input_is_refused_with_a_clear_message(tables) -> None:
    with pytest.raises(TypeError, match="tables"):
        ps.plot_layer_smoothness([])
    with pytest.raises(ValueError, match="lacks the columns"):
        ps.plot_layer_smoothness({"x": pd.DataFrame(dict(layer=["a"]))})
    with pytest.raises(ValueError, match="layers"):
        ps.layer_colors([])
