"""Stimulus generators: circle/torus power-law codes and moving-dot images."""

import numpy as np
import pytest

from polycode_lite.data.stimuli import (
    circle_angles,
    dot_centres,
    moving_dot_images,
    power_law_circle_code,
    power_law_torus_code,
    torus_frequencies,
    torus_loop_angles,
)
from polycode_lite.science.eigen import eigenspectrum
from polycode_lite.science.powerlaw import fit_power_law


def _centroids(frames: np.ndarray) -> np.ndarray:
    """Intensity-weighted centre (x, y) of each (T, H, W) frame, pixel i covering [i, i+1)."""
    h, w = frames.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    mass = frames.sum(axis=(1, 2))
    return np.stack([(frames * xs).sum(axis=(1, 2)) / mass, (frames * ys).sum(axis=(1, 2)) / mass], 1)


@pytest.mark.parametrize("size,radius,sigma", [(32, 9.0, 1.25), (48, 14.0, 1.0), (32, 6.0, 2.0)])
def test_moving_dot_is_centred_on_circle_with_right_radius(size, radius, sigma):
    frames = moving_dot_images(40, size=size, radius=radius, sigma=sigma, channels=3)
    assert frames.shape == (40, 3, size, size) and frames.dtype == np.float32
    assert 0.0 <= frames.min() and frames.max() <= 1.0
    c = _centroids(frames[:, 0].astype(np.float64))
    np.testing.assert_allclose(c, dot_centres(40, size, radius), atol=1e-3)
    r = np.hypot(c[:, 0] - size / 2, c[:, 1] - size / 2)
    np.testing.assert_allclose(r, radius, atol=1e-3)
    # the dot moves counter-clockwise in (x, y) starting at angle 0 (to the right of centre)
    assert c[0, 0] > size / 2 + radius - 1e-3
    # every channel carries the same white dot
    np.testing.assert_array_equal(frames[:, 0], frames[:, 2])


def test_moving_dot_colour_background_and_peak():
    frames = moving_dot_images(8, color=(1.0, 0.5, 0.0), background=0.2)
    assert np.isclose(frames[:, 2].max(), 0.2, atol=1e-6)  # channel 2 dot colour 0 < background
    assert frames[:, 0].max() > 0.8
    assert np.isclose(frames[0, 1, 0, 0], 0.2, atol=1e-4)


def test_moving_dot_anti_aliased_path_is_smooth():
    """Sub-pixel motion changes the image continuously: consecutive frames stay close."""
    frames = moving_dot_images(512).reshape(512, -1).astype(np.float64)
    steps = np.linalg.norm(np.diff(frames, axis=0), axis=1)
    frames2 = moving_dot_images(1024).reshape(1024, -1).astype(np.float64)
    steps2 = np.linalg.norm(np.diff(frames2, axis=0), axis=1)
    assert steps2.mean() == pytest.approx(steps.mean() / 2, rel=0.05)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n_frames": 1}, "n_frames must be >= 2"),
        ({"n_frames": 10, "radius": 15.0}, "outside"),
        ({"n_frames": 10, "sigma": 0.0}, "sigma"),
        ({"n_frames": 10, "color": (1.0, 1.0)}, "color"),
    ],
)
def test_moving_dot_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        moving_dot_images(**kwargs)


def test_circle_code_spectrum_and_unit_variance():
    code = power_law_circle_code(2.0, 1024, 200, seed=3)
    assert code.shape == (1024, 200)
    total_var = np.sum(code.var(axis=0))
    assert total_var == pytest.approx(1.0, rel=1e-6)
    lam = eigenspectrum(code, kind="activations")
    # pair j has variance a_j^2 / 2 per feature: eigenvalues come in equal pairs ∝ j^-2
    np.testing.assert_allclose(lam[0:2], lam[0], rtol=1e-6)
    fit = fit_power_law(lam[::2], ranks=(2, 60))
    assert fit.alpha == pytest.approx(2.0, abs=0.02)


def test_circle_code_seed_changes_phases_not_energy_and_rotation_keeps_geometry():
    a = power_law_circle_code(3.0, 64, 50, seed=0)
    b = power_law_circle_code(3.0, 64, 50, seed=1)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(np.sum(a**2, 1), np.sum(b**2, 1), rtol=1e-10)
    r = power_law_circle_code(3.0, 64, 50, seed=0, rotate=True)
    np.testing.assert_allclose(np.linalg.norm(r[1:] - r[0], axis=1), np.linalg.norm(a[1:] - a[0], axis=1), rtol=1e-8)


def test_torus_frequencies_sorted_unique_half_lattice():
    f = torus_frequencies(200, 2)
    assert f.shape == (200, 2)
    norms = np.linalg.norm(f, axis=1)
    assert np.all(np.diff(norms) >= -1e-12)
    keys = {tuple(v) for v in f}
    assert len(keys) == 200
    assert not any(tuple(-np.asarray(v)) in keys for v in keys)  # one of each ± pair
    np.testing.assert_array_equal(torus_frequencies(5, 1).ravel(), [1, 2, 3, 4, 5])


def test_torus_code_d2_shape_and_loop_closes():
    ang = torus_loop_angles(32, (1, 1))
    assert ang.shape == (32, 2)
    code = power_law_torus_code(2.5, ang, 400, seed=0)
    assert code.shape == (32, 400)
    # the point after the last one is the first one
    nxt = power_law_torus_code(2.5, ang[-1:] + 2 * np.pi / 32, 400, seed=0)
    np.testing.assert_allclose(nxt[0], code[0], atol=1e-10)


@pytest.mark.parametrize("bad", [{"n_dims": 7}, {"n_dims": 0}, {"alpha": -1.0}])
def test_code_bad_inputs(bad):
    kw = {"alpha": 2.0, "n_points": 16, "n_dims": 10} | bad
    with pytest.raises(ValueError):
        power_law_circle_code(**kw)
    with pytest.raises(ValueError, match="at least 2 points"):
        circle_angles(1)
