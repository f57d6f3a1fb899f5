"""Tests of the offline procedural shapes dataset."""

import numpy as np
import pytest

from polycode_lite.data.shapes import (
    FACTOR_NAMES,
    INTRINSIC_DIM,
    ShapesDataset,
    make_shapes,
    render_shapes,
)


def test_shapes_deterministic_and_in_range():
    a, fa = make_shapes(64, seed=3)
    b, fb = make_shapes(64, seed=3)
    c, _ = make_shapes(64, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (64, 3, 32, 32) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    assert set(fa) == set(FACTOR_NAMES)
    assert INTRINSIC_DIM == len(FACTOR_NAMES) - 1


def test_images_are_functions_of_factors():
    imgs, factors = make_shapes(10, seed=0)
    np.testing.assert_array_equal(render_shapes(factors), imgs)


def test_shape_is_where_the_factors_say():
    imgs, f = make_shapes(50, seed=1)
    for i in range(50):
        x, y = int(f["x"][i]), int(f["y"][i])
        # the shape centre is foreground-coloured: brighter than the darker background
        centre = imgs[i, :, y, x]
        assert centre.max() > 0.5


def test_dataset_wrapper():
    ds = ShapesDataset(n=20, seed=0, transform=lambda t: t * 2)
    img, fac = ds[3]
    assert len(ds) == 20 and img.shape == (3, 32, 32) and fac.shape == (len(FACTOR_NAMES),)
    assert float(img.max()) > 1.0  # transform applied


def test_bad_n():
    with pytest.raises(ValueError):
        make_shapes(0)
