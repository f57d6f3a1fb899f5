"""Stimuli with a known geometry for the smoothness probes of docs/paper_guide.md §2.4, §3 E3 and §4.

Two kinds:
  * synthetic codes: ``power_law_circle_code`` (d = 1) and ``power_law_torus_code`` (any d,
    used with d = 2) build population responses to points on a circle / d-torus whose
    covariance spectrum is a power law λ_n ∝ n^-alpha, as in Stringer et al. (2019)'s
    simulations (``sims/randproj.m``: features cos(nθ), sin(nθ) with amplitude n^(-α/2));
  * images: ``moving_dot_images`` renders an anti-aliased Gaussian dot moving once around a
    circle, the probe input of the paper's ResNet experiment (docs/paper_guide.md §3 E3).

Shapes: codes are (n_points, n_dims) float64; images are (n_frames, channels, size, size)
float32 in [0, 1]. Angles are ``circle_angles(T) = 2π t / T``, t = 0..T-1 (a closed loop: the
point after the last one is the first one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from polycode_lite import _checks as ck

__all__ = [
    "circle_angles",
    "dot_centres",
    "moving_dot_images",
    "power_law_circle_code",
    "power_law_torus_code",
    "torus_frequencies",
    "torus_loop_angles",
]


def circle_angles(n_points: int, phase: float = 0.0) -> np.ndarray:
    """Equally spaced angles θ_t = phase + 2π t / T, t = 0..T-1, shape (T,). Raises if T < 2."""
    n_points = ck.integer("n_points", n_points, minimum=2, fix="A closed loop needs at least 2 points.")
    phase = ck.real("phase", phase); ck.memory("n_points", (n_points,))
    return phase + 2.0 * np.pi * np.arange(int(n_points)) / int(n_points)


def torus_loop_angles(n_points: int, winding: Sequence[int] = (1, 1)) -> np.ndarray:
    """A closed loop on the d-torus, θ_t = winding · 2π t / T, shape (T, d) with d = len(winding).

    With integer windings the loop closes after T points. (1, 1) runs diagonally, (1, 0) along
    the first angle only.
    """
    w = np.asarray(ck.sequence_of("winding", winding, ck.integer), dtype=np.float64)
    if w.ndim != 1 or w.size < 1 or not np.all(w == np.round(w)) or not np.any(w != 0):
        raise ValueError(f"winding must be a non-zero sequence of integers, got {winding!r}.")
    return circle_angles(n_points)[:, None] * w[None, :]


def torus_frequencies(n_pairs: int, d: int) -> np.ndarray:
    """The first ``n_pairs`` integer frequency vectors of the d-torus, shape (n_pairs, d).

    One vector per ± pair (its first non-zero coordinate is positive), zero excluded, sorted by
    Euclidean norm (ties broken lexicographically). For d = 1 this is 1, 2, 3, ...
    """
    n_pairs = ck.integer("n_pairs", n_pairs, minimum=1); ck.memory("n_pairs", (n_pairs, 4))
    if ck.integer("d", d) not in (1, 2, 3):
        raise ValueError(f"d must be 1, 2 or 3 (the torus dimension), got {d}.")
    if d == 1:
        return np.arange(1, n_pairs + 1, dtype=np.int64)[:, None]
    # half of the lattice points inside a d-ball of radius R: n ≈ V_d R^d / 2
    unit_ball = math.pi ** (d / 2) / math.gamma(d / 2 + 1)
    radius = math.ceil((2.0 * n_pairs / unit_ball) ** (1.0 / d)) + 2
    axis = np.arange(-radius, radius + 1)
    grid = np.stack(np.meshgrid(*([axis] * d), indexing="ij"), axis=-1).reshape(-1, d)
    first_nz = np.argmax(grid != 0, axis=1)
    lead = grid[np.arange(grid.shape[0]), first_nz]
    grid = grid[lead > 0]
    norms = np.sqrt(np.sum(grid.astype(np.float64) ** 2, axis=1))
    order = np.lexsort(tuple(grid[:, j] for j in range(d - 1, -1, -1)) + (norms,))
    return grid[order[:n_pairs]].astype(np.int64)


def power_law_torus_code(
    alpha: float,
    angles: np.ndarray,
    n_dims: int,
    seed: int = 0,
    rotate: bool = False,
) -> np.ndarray:
    """Population code of points on a d-torus with a power-law spectrum (Stringer et al. 2019).

    Feature pair j (frequency vector n_j from :func:`torus_frequencies`, sorted by |n|) is
    ``a_j · (cos(n_j·θ + φ_j), sin(n_j·θ + φ_j))`` with a_j² = j^-alpha / Σ_i i^-alpha, so the
    code has unit total variance over the torus and its covariance eigenvalues are a_j²/2 (each
    twice): a rank power law with exponent alpha. Because rank j grows like |n_j|^d, a
    gradient of the code has finite energy iff Σ_j j^(2/d) a_j² < ∞, i.e. alpha > 1 + 2/d
    (docs/paper_guide.md §4).

    Args:
        alpha: power-law exponent of the spectrum (> 0).
        angles: (T, d) angles θ_t of the stimuli (or (T,) for d = 1).
        n_dims: number of features m (even: cos/sin pairs).
        seed: seed of the random phases φ_j (and of the rotation).
        rotate: mix the features by a random orthogonal (m, m) matrix, making a dense code in
            which no neuron is a single harmonic (O(m³): keep m ≲ 2000).

    Returns:
        (T, n_dims) float64 activations.

    Raises:
        ValueError: odd or too small n_dims, non-positive alpha, angles of the wrong shape.
    """
    ck.positive("alpha", alpha); ck.seed("seed", seed)
    n_dims = ck.integer("n_dims", n_dims)
    if n_dims < 2 or n_dims % 2:
        raise ValueError(f"n_dims must be an even number >= 2 (cos/sin pairs), got {n_dims}.")
    theta = ck.array("angles", angles)
    ck.memory("n_dims", (max(len(theta), n_dims if rotate else 1), n_dims) if theta.ndim else (n_dims,))
    if theta.ndim == 1:
        theta = theta[:, None]
    if theta.ndim != 2 or theta.shape[0] < 1:
        raise ValueError(f"angles must have shape (T, d) or (T,), got {np.shape(angles)}.")
    d = theta.shape[1]
    n_pairs = n_dims // 2
    freqs = torus_frequencies(n_pairs, d).astype(np.float64)  # (P, d)
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0.0, 2.0 * np.pi, n_pairs)
    lam = np.arange(1, n_pairs + 1, dtype=np.float64) ** (-float(alpha))
    amp = np.sqrt(lam / lam.sum())
    arg = theta @ freqs.T + phases  # (T, P)
    code = np.empty((theta.shape[0], n_dims))
    code[:, 0::2] = amp * np.cos(arg)
    code[:, 1::2] = amp * np.sin(arg)
    if rotate:
        q, r = np.linalg.qr(rng.standard_normal((n_dims, n_dims)))
        code = code @ (q * np.sign(np.diag(r))).T
    return code


def power_law_circle_code(
    alpha: float, n_points: int, n_dims: int, seed: int = 0, rotate: bool = False
) -> np.ndarray:
    """Stringer's 1-D circle code: T equally spaced angles, features cos(nθ+φ_n), sin(nθ+φ_n).

    Pair n has amplitude ∝ n^(-alpha/2) (variance ∝ n^-alpha), normalised to unit total
    variance; see :func:`power_law_torus_code` (this is its d = 1 case at
    ``circle_angles(n_points)``). Smooth iff alpha > 3 = 1 + 2/1.

    Returns (n_points, n_dims) float64. Raises ValueError for n_points < 2 or odd n_dims.
    """
    return power_law_torus_code(alpha, circle_angles(n_points), n_dims, seed=seed, rotate=rotate)


# --------------------------------------------------------------------------------------
# moving-dot images
# --------------------------------------------------------------------------------------
def dot_centres(
    n_frames: int, size: int = 32, radius: float | None = None, phase: float = 0.0
) -> np.ndarray:
    """Dot centres (x, y) in pixel coordinates, shape (T, 2): (c + R cos θ_t, c + R sin θ_t)
    with c = size / 2 (pixel i covers [i, i+1), so the image centre is size/2)."""
    ck.integer("n_frames", n_frames, minimum=2, fix="A closed loop needs at least 2 frames.")
    ck.memory("n_frames", (n_frames, 2)); size = ck.integer("size", size, minimum=2)
    r = 0.28 * size if radius is None else ck.positive("radius", radius, allow_zero=True)
    theta = circle_angles(n_frames, phase)
    c = size / 2.0
    return np.stack([c + r * np.cos(theta), c + r * np.sin(theta)], axis=1)


def moving_dot_images(
    n_frames: int,
    size: int = 32,
    radius: float | None = None,
    sigma: float = 1.25,
    channels: int = 3,
    phase: float = 0.0,
    color: Sequence[float] | None = None,
    background: float = 0.0,
) -> np.ndarray:
    """Frames of an anti-aliased Gaussian dot moving once around a circle (docs/paper_guide.md §3 E3).

    Frame t shows a dot centred at :func:`dot_centres` (θ_t = phase + 2πt/T) on a uniform
    background. Each pixel holds the Gaussian's integral over the pixel's area (separable erf
    differences), so the image changes smoothly with θ: a hard one-pixel dot would make the
    *input* path itself non-smooth (docs/paper_guide.md pitfall 10). The peak is scaled so a dot centred
    on a pixel centre has value 1 (times ``color``).

    Args:
        n_frames: T >= 2 (closed loop: frame T would equal frame 0).
        size: image height = width in pixels.
        radius: circle radius in px (default 0.28·size ≈ 9 px at 32); the dot must stay inside.
        sigma: Gaussian s.d. in px (1–1.5 recommended).
        channels: number of colour channels (3 for RGB models, 1 for grey).
        phase: angle of the first frame (rad).
        color: per-channel peak values in [0, 1] (default white).
        background: background value in [0, 1].

    Returns:
        (T, channels, size, size) float32 in [0, 1].

    Raises:
        ValueError: T < 2, sigma <= 0, a dot that leaves the image, wrong ``color`` length.
    """
    from scipy.special import erf

    from polycode_lite._checks import integer, positive, probability, real, real_array

    n_frames = integer("n_frames", n_frames, minimum=2, fix="A closed dot trajectory needs at least 2 frames.")
    size = integer("size", size, minimum=4, fix="It is the image side in pixels (e.g. 32).")
    sigma = positive("sigma", sigma, fix="It is the dot's s.d. in pixels (1-1.5 recommended).")
    channels = integer("channels", channels, minimum=1)
    phase = real("phase", phase)
    background = probability("background", background)
    if color is not None:
        real_array("color", color)
    ck.memory("n_frames, channels, size", (n_frames, channels, size, size), itemsize=4)
    r = 0.28 * size if radius is None else positive("radius", radius, allow_zero=True)
    if r < 0 or r + 2.5 * sigma > size / 2.0:
        raise ValueError(
            f"radius={r} with sigma={sigma} puts the dot outside the {size}x{size} image "
            f"(need radius + 2.5·sigma <= size/2 = {size / 2}). Use a smaller radius."
        )
    col = np.ones(channels) if color is None else np.asarray(color, dtype=np.float64)
    if col.shape != (channels,):
        raise ValueError(f"color must have {channels} values (one per channel), got {np.shape(color)}.")
    if not 0.0 <= background <= 1.0 or np.any(col < 0) or np.any(col > 1):
        raise ValueError("background and color values must lie in [0, 1].")
    centres = dot_centres(n_frames, size, r, phase)  # (T, 2) = (x, y)
    edges = np.arange(size + 1, dtype=np.float64)  # pixel boundaries
    s = sigma * math.sqrt(2.0)

    def pixel_mass(c: np.ndarray) -> np.ndarray:  # (T,) -> (T, size): 1-D Gaussian mass per pixel
        cdf = 0.5 * (1.0 + erf((edges[None, :] - c[:, None]) / s))
        return np.diff(cdf, axis=1)

    peak = float(erf(0.5 / s)) ** 2  # mass of a pixel whose centre is the dot's centre
    mx = pixel_mass(centres[:, 0])  # columns
    my = pixel_mass(centres[:, 1])  # rows
    dot = my[:, :, None] * mx[:, None, :] / peak  # (T, size, size), rows = y
    dot = np.clip(dot, 0.0, 1.0)
    img = background + dot[:, None] * (col[None, :, None, None] - background)
    return img.astype(np.float32)
