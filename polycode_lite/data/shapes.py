"""Offline image data: procedural shapes with known generative factors.

``make_shapes(n, seed)`` draws n RGB images (default 32×32) of one anti-aliased shape (circle,
square or triangle) over a coloured sinusoidal-grating background. The same (n, seed, config) always gives the same
images, and every image is a deterministic function of the factors below, returned with it
(``render_shapes`` redraws any image from its factors):

    continuous factors (9):  x, y (centre, px), scale (px), rotation (rad), fg_hue,
                             bg_hue, bg_contrast, grating_freq (cycles/image),
                             grating_angle (rad)
    discrete factor (1):     shape ∈ {0: circle, 1: square, 2: triangle}

So the image set is a union of 3 smooth 9-dimensional manifolds: intrinsic dimension d = 9,
and Stringer's smoothness threshold for a code of it is 1 + 2/9 ≈ 1.22 (docs/paper_guide.md §4). The
grating phase is fixed at 0, and the rotation of a circle is not visible, so for circles the
effective dimension is 8.

``ShapesDataset`` wraps the arrays as a ``torch.utils.data.Dataset`` of (image, factors).

``cifar10(root)`` loads CIFAR-10 from local files with the paper's transforms (no download
unless ``download=True``).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Any

import numpy as np

from polycode_lite import _checks as ck

__all__ = [
    "FACTOR_NAMES", "INTRINSIC_DIM", "SHAPE_NAMES", "ShapesConfig", "ShapesDataset", "make_shapes",
    "render_shapes"
]

SHAPE_NAMES = ("circle", "square", "triangle")

FACTOR_NAMES = (
    "x", "y", "scale", "rotation", "fg_hue", "bg_hue", "bg_contrast", "grating_freq",
    "grating_angle", "shape",
)

INTRINSIC_DIM = 9


@dataclass(frozen=True)
class ShapesConfig:
    """Ranges of the generative factors (all drawn uniformly)."""

    size: int = 32
    scale: tuple[float, float] = (4.0, 9.0)
    margin: float = 4.0
    bg_contrast: tuple[float, float] = (0.1, 0.35)
    grating_freq: tuple[float, float] = (1.0, 4.0)
    fg_value: float = 0.95
    bg_value: float = 0.45
    aa_width: float = 0.75

    def __post_init__(self) -> None:
        ck.integer("size", self.size, minimum=4); ck.memory("size", (self.size, self.size, 16))
        ck.positive("margin", self.margin, allow_zero=True)
        if self.margin >= self.size / 2:
            raise ValueError(f"margin must be below size/2 = {self.size / 2}, got {self.margin}.")
        _range("scale", self.scale, positive=True)
        _range("bg_contrast", self.bg_contrast, top=1.0)
        _range("grating_freq", self.grating_freq)
        ck.probability("fg_value", self.fg_value); ck.probability("bg_value", self.bg_value)
        ck.positive("aa_width", self.aa_width)


def _range(name: str, value: Any, positive: bool = False, top: float | None = None) -> None:
    """A (low, high) pair of finite numbers with 0 <= low <= high (0 < low if ``positive``)."""
    vals = ck.sequence_of(name, value, ck.real, min_len=2)
    if len(vals) != 2:
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}.")
    lo, hi = vals
    if lo > hi or lo < 0 or (positive and lo == 0) or (top is not None and hi > top):
        raise ValueError(f"{name} must be a range (low, high) with {'0 <' if positive else '0 <='} low <= high"
                         f"{f' <= {top:g}' if top is not None else ''}, got {value!r}.")


def _hsv_to_rgb(h: np.ndarray, s: float, v: float) -> np.ndarray:
    """Vectorised HSV -> RGB for hues in [0, 1); returns (n, 3)."""
    return np.array([colorsys.hsv_to_rgb(float(hh), s, v) for hh in h]).reshape(-1, 3)


def _draw_factors(n: int, seed: int, cfg: ShapesConfig) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lo, hi = cfg.margin, cfg.size - cfg.margin
    return {
        "x": rng.uniform(lo, hi, n),
        "y": rng.uniform(lo, hi, n),
        "scale": rng.uniform(*cfg.scale, n),
        "rotation": rng.uniform(0, 2 * np.pi, n),
        "fg_hue": rng.uniform(0, 1, n),
        "bg_hue": rng.uniform(0, 1, n),
        "bg_contrast": rng.uniform(*cfg.bg_contrast, n),
        "grating_freq": rng.uniform(*cfg.grating_freq, n),
        "grating_angle": rng.uniform(0, np.pi, n),
        "shape": rng.integers(0, len(SHAPE_NAMES), n),
    }


def render_shapes(factors: dict[str, np.ndarray], cfg: ShapesConfig = ShapesConfig()) -> np.ndarray:
    """Render images from factor arrays (each of length n). Returns (n, 3, size, size) float32
    in [0, 1]. Edges are anti-aliased with a signed-distance ramp of width ``cfg.aa_width``."""
    n = len(factors["x"])
    s = cfg.size
    grid = np.arange(s, dtype=np.float64) + 0.5
    py, px = np.meshgrid(grid, grid, indexing="ij")  # (s, s)
    dx = px[None] - factors["x"][:, None, None]
    dy = py[None] - factors["y"][:, None, None]
    c, si = np.cos(factors["rotation"])[:, None, None], np.sin(factors["rotation"])[:, None, None]
    u, v = c * dx + si * dy, -si * dx + c * dy  # shape frame
    r = factors["scale"][:, None, None]
    sdf_circle = np.hypot(u, v) - r
    sdf_square = np.maximum(np.abs(u), np.abs(v)) - 0.85 * r
    # equilateral triangle: max of three half-plane distances, inradius r/2
    angles = np.array([np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3])
    sdf_tri = np.max(
        np.stack([u * np.cos(a) + v * np.sin(a) for a in angles]), axis=0
    ) - 0.6 * r
    shape = factors["shape"][:, None, None]
    sdf = np.where(shape == 0, sdf_circle, np.where(shape == 1, sdf_square, sdf_tri))
    alpha = np.clip(0.5 - sdf / (2 * cfg.aa_width), 0.0, 1.0)[:, None]  # (n, 1, s, s)

    phase = (
        np.cos(factors["grating_angle"])[:, None, None] * px[None]
        + np.sin(factors["grating_angle"])[:, None, None] * py[None]
    ) * (2 * np.pi * factors["grating_freq"][:, None, None] / s)
    grating = factors["bg_contrast"][:, None, None] * np.sin(phase)  # (n, s, s)
    bg_rgb = _hsv_to_rgb(factors["bg_hue"], 0.6, cfg.bg_value)[:, :, None, None]
    fg_rgb = _hsv_to_rgb(factors["fg_hue"], 0.9, cfg.fg_value)[:, :, None, None]
    background = np.clip(bg_rgb * (1.0 + grating[:, None]), 0.0, 1.0)
    img = alpha * fg_rgb + (1.0 - alpha) * background
    assert img.shape == (n, 3, s, s)
    return img.astype(np.float32)


def make_shapes(
    n: int, seed: int = 0, cfg: ShapesConfig = ShapesConfig(), chunk: int = 2048
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw n images and their factors. Returns (images (n, 3, H, W) float32 in [0, 1], factors).

    The same (n, seed, cfg) always gives the same arrays."""
    n = ck.integer("n", n, minimum=1); ck.seed("seed", seed); chunk = ck.integer("chunk", chunk, minimum=1)
    if not isinstance(cfg, ShapesConfig):
        raise TypeError(f"cfg must be a ShapesConfig (e.g. ShapesConfig(size=32)), got {type(cfg).__name__}.")
    ck.memory("n", (n, 3, cfg.size, cfg.size), itemsize=4 * 4)  # the images and the float64 renderer
    factors = _draw_factors(n, seed, cfg)
    images = np.empty((n, 3, cfg.size, cfg.size), dtype=np.float32)
    for start in range(0, n, chunk):
        part = {k: v[start : start + chunk] for k, v in factors.items()}
        images[start : start + chunk] = render_shapes(part, cfg)
    return images, factors


class ShapesDataset:
    """``torch.utils.data.Dataset`` of (image tensor (3, H, W), factor vector (10,)).

    Images are generated once at construction (n=10,000 at 32×32 takes ~1 s and 120 MB).
    ``transform`` is applied to each image tensor (e.g. a resize for the paper's 224×224).
    """

    def __init__(self, n: int = 10_000, seed: int = 0, cfg: ShapesConfig = ShapesConfig(),
                 transform: Any = None) -> None:
        import torch

        images, factors = make_shapes(n, seed, cfg)
        self.images = torch.from_numpy(images)
        self.factors = torch.from_numpy(
            np.stack([factors[k].astype(np.float32) for k in FACTOR_NAMES], axis=1)
        )
        self.factor_names = FACTOR_NAMES
        self.transform = transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        img = self.images[i]
        if self.transform is not None:
            img = self.transform(img)
        return img, self.factors[i]
