"""Tests of polycode_lite.science.action (exact minimum-action directions) and
polycode_lite.science.multiple_comparisons (Holm)."""

from __future__ import annotations

import numpy as np
import pytest

from polycode_lite.science.action import (
    ActionMoments,
    energy_minimiser_variance_ratio,
    minimum_action_directions,
    path_action,
    random_unit_directions,
    select_min_action,
)
from polycode_lite.science.multiple_comparisons import holm, se_from_ci, z_pvalues


def _planted(seed: int = 0, n: int = 200, t: int = 64, m: int = 50, amplitude: float = 2.0):
    """White noise in m dimensions plus one slowly varying signal along a random unit u."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(m)
    u /= np.linalg.norm(u)
    phase = rng.uniform(0, 2 * np.pi, n)
    s = np.sin(2 * np.pi * 1.5 * np.arange(t)[None] / t + phase[:, None])
    x = rng.standard_normal((n, t, m)) + amplitude * s[:, :, None] * u
    return x, u


def test_planted_smooth_direction_is_recovered_exactly() -> None:
    x, u = _planted()
    v, actions = minimum_action_directions(x, 3)
    assert abs(v[0] @ u) > 0.99
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0)
    assert np.all(np.diff(actions) >= 0)
    # the action is the same quantity path_action measures on the projected traces
    np.testing.assert_allclose(path_action(x @ v.T), actions, rtol=1e-4)
    # best of 32 random directions does not find it, and unselected random traces are white
    cands = random_unit_directions(x.shape[2], 32, seed=1)
    pick, best, allact = select_min_action(cands, x @ cands.T, 1)
    assert abs(cands[pick[0]] @ u) < 0.5 and best[0] > actions[0] + 0.3
    assert np.mean(allact) == pytest.approx(1.0, abs=0.05)


def test_null_white_noise_has_no_smooth_direction() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 64, 50))
    _, actions = minimum_action_directions(x, 1)
    assert actions[0] > 0.85   # nothing planted: the minimum is only the sampling edge of ~1


def test_streamed_moments_equal_the_batch_ones() -> None:
    x, _ = _planted(n=60)
    acc = ActionMoments(x.shape[2])
    for chunk in np.array_split(x, 4):
        acc.update(chunk)
    v1, a1 = minimum_action_directions(acc, 2)
    v2, a2 = minimum_action_directions(x, 2)
    np.testing.assert_allclose(a1, a2, rtol=1e-5)
    np.testing.assert_allclose(np.abs(v1 @ v2.T).diagonal(), 1.0, atol=1e-5)
    np.testing.assert_allclose(acc.covariance(), np.cov(x.reshape(-1, x.shape[2]).T, bias=True), atol=1e-5)
    torch = pytest.importorskip("torch")
    acc_t = ActionMoments(x.shape[2])
    acc_t.update(torch.as_tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(acc_t.difference_moment(), acc.difference_moment(), rtol=1e-4, atol=1e-6)


def test_unnormalised_energy_picks_a_near_null_direction() -> None:
    # one direction with almost no variance: the unnormalised energy picks it, the action does not
    x, u = _planted()
    x = x.copy()
    x[:, :, 0] *= 0.01
    ratio, _ = energy_minimiser_variance_ratio(x)
    assert ratio < 0.01
    v, _ = minimum_action_directions(x, 1)
    assert abs(v[0] @ u) > 0.95
    # a dead unit (constant) has no variance and no motion: 0/0, never chosen
    x[:, :, 1] = 0.5
    v, actions = minimum_action_directions(x, 1)
    assert abs(v[0] @ u) > 0.95 and abs(v[0, 1]) < 1e-6


def test_minimum_action_checks_arguments() -> None:
    x, _ = _planted(n=5, m=6)
    with pytest.raises(ValueError, match="k must be"):
        minimum_action_directions(x, 7)
    with pytest.raises(ValueError, match="trajectory must be"):
        minimum_action_directions(np.zeros((3, 1, 6)), 1)
    with pytest.raises(ValueError, match="min_variance"):
        minimum_action_directions(x, 2, min_variance=0.999)
    with pytest.raises(ValueError, match="no variance"):
        minimum_action_directions(np.ones((3, 5, 6)), 1)
    with pytest.raises(ValueError, match=r"x must be \(N, T >= 2, 6\)"):
        ActionMoments(6).update(np.zeros((2, 5, 4)))


def test_holm_matches_the_step_down_definition() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    reject, adj = holm(p, 0.05)
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.06 (monotone)
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02])
    assert reject.tolist() == [True, False, False, True]
    assert holm([np.nan, 0.001])[0].tolist() == [False, True]
    with pytest.raises(ValueError, match="pvalues must lie"):
        holm([1.2])
    # null: 15 uniform p-values rarely reject anything
    rng = np.random.default_rng(0)
    rejections = [holm(rng.uniform(size=15))[0].any() for _ in range(400)]
    assert np.mean(rejections) < 0.08


def test_z_pvalues_and_se_from_ci() -> None:
    se = se_from_ci(0.9, 1.1)
    assert se == pytest.approx(0.1 / 1.959964, rel=1e-6)
    assert z_pvalues(1.959964 * 0.05, 0.05) == pytest.approx(0.05, rel=1e-4)
    assert z_pvalues(1.0, np.nan) == 1.0
