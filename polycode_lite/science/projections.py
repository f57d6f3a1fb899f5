"""Random projections and the path energy of a code: is it smooth (interpretable) or fractal?

docs/paper_guide.md §2.4, §3 E3 and §4. A trajectory is a (T, m) array: the activations a_t of a layer (m
units) for T stimuli along a closed 1-D loop (a dot moving round a circle, points of a circle
code). Tensors of shape (T, ...) are flattened to (T, m); torch tensors are accepted.

  * ``random_projection(m, k)`` draws R ∈ R^{m×k} with i.i.d. N(0, 1/m) entries; ``project``
    gives p_t = a_t R, shape (T, k).
  * ``path_energy`` E = Σ_t ‖a_{t+1} − a_t‖² (closing segment a_T = a_0 included when
    ``closed``), in full space or on projections. ``normalised_path_energy`` divides by the
    total variance tr Σ of the trajectory so that layers and models are comparable.
  * Corrections to the supplement (docs/paper_guide.md §2.4): E_R‖a R‖² = (k/m)‖a‖², so the expected
    projected energy is (k/m)·E_full (the PDF drops k/m), and a projection only adds χ²-type
    noise to it; a power-law trace is the finite sum H_m^(α) = Σ_{i≤m} i^-α, not ζ(−α).
  * ``energy_scaling_slope`` fits d log E / d log T: ≈ −1 for a smooth code, 2 − α for a
    circle code with 1 < α < 3 (generally 1 − d(α − 1) below α = 1 + 2/d).
  * ``input_projection_correlation``: RSA between input geometry and projected points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polycode_lite import _checks as ck

__all__ = [
    "EnergyScaling", "ProjectedEnergy", "energy_scaling_slope", "expected_projected_action",
    "expected_projected_energy", "normalised_path_energy", "path_energy", "powerlaw_trace",
    "project", "projected_energy", "random_projection", "theoretical_energy_slope"
]


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------
def _as_trajectory(x: Any, name: str = "traj") -> np.ndarray:
    """(T, ...) array or tensor -> finite (T, m) float64; (T,) becomes (T, 1). Needs T >= 2."""
    arr = ck.array(name, x)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a (T, m) trajectory, got a scalar.")
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[0] < 2:
        raise ValueError(
            f"{name} has {arr.shape[0]} point(s); a trajectory needs at least 2 points (T >= 2) "
            "to have a step. Pass the activations of every frame, shape (T, m)."
        )
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no features (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {n_bad} NaN/inf value(s); remove or impute them first.")
    return arr


def _increments(a: np.ndarray, closed: bool) -> np.ndarray:
    """Successive differences a_{t+1} − a_t, (T−1, m), plus a_0 − a_{T−1} when closed."""
    d = np.diff(a, axis=0)
    if closed:
        d = np.concatenate([d, (a[0] - a[-1])[None]], axis=0)
    return d


# --------------------------------------------------------------------------------------
# projections and energies
# --------------------------------------------------------------------------------------
def random_projection(m: int, k: int = 3, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Random projection matrix R, shape (m, k), i.i.d. N(0, 1/m) entries (docs/paper_guide.md §2.4).

    With this scaling E_R ‖a R‖² = (k/m)‖a‖² for any a ∈ R^m. ``seed`` is an int or a numpy
    Generator. Raises ValueError for m < 1 or k < 1.
    """
    fix = "m and k must be positive integers."
    m = ck.integer("m", m, minimum=1, fix=fix); k = ck.integer("k", k, minimum=1, fix=fix); ck.memory("m, k", (m, k))
    if not isinstance(seed, np.random.Generator):
        ck.seed("seed", seed)
    if int(m) < 1 or int(k) < 1:
        raise ValueError(f"m and k must be positive integers, got m={m}, k={k}.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.normal(0.0, 1.0 / np.sqrt(m), size=(int(m), int(k)))


def project(acts: Any, R: Any) -> np.ndarray:
    """Project activations onto the columns of R: p = acts @ R.

    Args:
        acts: (T, m) activations, or one (m,) vector, or (T, ...) flattened to (T, m); torch
            tensors accepted.
        R: (m, k) projection matrix from :func:`random_projection`.

    Returns:
        (T, k) float64 ((1, k) for a single vector).

    Raises:
        ValueError: non-finite acts, R not 2-D, or its m differs from the activations' feature count.
    """
    a = ck.array("acts", acts)
    if a.ndim == 1:  # a single activation vector
        a = a[None]
    elif a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    if a.ndim != 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"acts must be a finite (T, m) array, got shape {a.shape}.")
    r = ck.array("R", R)
    if r.ndim != 2:
        raise ValueError(f"R must be a 2-D (m, k) matrix, got shape {r.shape}.")
    if r.shape[0] != a.shape[1]:
        raise ValueError(
            f"projection dimension mismatch: the activations have m={a.shape[1]} features but R "
            f"has {r.shape[0]} rows (shape {r.shape}). Draw R with random_projection(m={a.shape[1]}, k)."
        )
    return a @ r


def path_energy(traj: Any, closed: bool = True) -> float:
    """Energy of a trajectory, E = Σ_t ‖p_{t+1} − p_t‖² (docs/paper_guide.md §2.4; authors' README).

    Args:
        traj: (T, m) points (full activations or projections; (T, ...) is flattened).
        closed: include the closing step ‖p_0 − p_{T−1}‖² (a loop such as a dot on a circle).

    Returns:
        E >= 0 (float). For a smooth loop E·T tends to ∫‖ṗ‖² dt, so E ∝ 1/T.

    Raises:
        ValueError: fewer than 2 points, NaN/inf.
    """
    a = _as_trajectory(traj)
    d = _increments(a, closed)
    return float(np.sum(d * d))


def normalised_path_energy(traj: Any, closed: bool = True) -> float:
    """Path energy divided by the trajectory's total variance: E / tr Σ.

    tr Σ = (1/T) Σ_t ‖p_t − p̄‖² (ddof 0). This removes the activation scale (docs/paper_guide.md pitfall
    9), so layers and models can be compared at the same T. Reference values: a circle traced
    at T points gives 4T·sin²(π/T) ≈ 4π²/T (smooth); T i.i.d. points give ≈ 2T (no continuity).

    Raises:
        ValueError: fewer than 2 points, NaN/inf, or a constant trajectory (tr Σ = 0).
    """
    a = _as_trajectory(traj)
    total_var = float(np.sum((a - a.mean(axis=0)) ** 2) / a.shape[0])
    if total_var <= 0.0:
        raise ValueError(
            "the trajectory is constant (total variance 0), so its normalised energy is "
            "undefined; check that the layer responds to the stimulus."
        )
    return path_energy(a, closed) / total_var


def expected_projected_energy(acts: Any, k: int = 3, closed: bool = True) -> float:
    """E_R[E(acts R)] = (k/m)·E_full for R with N(0, 1/m) entries (docs/paper_guide.md §2.4, correction 1).

    ``acts`` is the (T, m) full-space trajectory.
    """
    ck.integer("k", k, minimum=1)
    a = _as_trajectory(acts, "acts")
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    return int(k) / a.shape[1] * path_energy(a, closed)


@dataclass(frozen=True)
class ProjectedEnergy:
    """Result of :func:`projected_energy`.

    mean, sd, sem: of the energies of the n_projections random k-D projections (``values``).
    expected: (k/m)·e_full, the exact expectation. predicted_sd: the exact s.d. of one
    projection's energy, √(2k)·‖H‖_F / m with H = D Dᵀ the Gram matrix of the increments D
    (≈ √(2/k)·expected when one direction of motion dominates: χ²_k noise).
    """

    mean: float
    sd: float
    sem: float
    expected: float
    e_full: float
    predicted_sd: float
    k: int
    m: int
    values: np.ndarray = field(repr=False, compare=False)

    @property
    def ratio(self) -> float:
        """mean / expected (≈ 1 within a few sem/expected)."""
        return self.mean / self.expected if self.expected > 0 else float("nan")


def projected_energy(
    acts: Any, k: int = 3, n_projections: int = 50, seed: int = 0, closed: bool = True
) -> ProjectedEnergy:
    """Path energy of the trajectory after each of ``n_projections`` random (m, k) projections.

    The i-th projection is the i-th draw of one Generator seeded with ``seed`` (the first one
    equals ``random_projection(m, k, seed)``). Because E(acts R) = ‖D R‖_F² with D the
    increments, projections only add noise around (k/m)·E_full: average over many (≥ 50) or
    use the full-space energy for statistics, projections for pictures.

    Args:
        acts: (T, m) trajectory (T >= 2).
        k: projection dimension (3 in the paper).
        n_projections: number of random matrices.
        seed: seed of the projections.
        closed: include the closing step.

    Raises:
        ValueError: T < 2, k < 1, n_projections < 1.
    """
    ck.integer("k", k, minimum=1); ck.integer("n_projections", n_projections, minimum=1); ck.seed("seed", seed)
    ck.memory("n_projections", (n_projections,))
    a = _as_trajectory(acts, "acts")
    if int(k) < 1 or int(n_projections) < 1:
        raise ValueError(f"k and n_projections must be >= 1, got k={k}, n_projections={n_projections}.")
    k, n_projections = int(k), int(n_projections)
    _t, m = a.shape
    d = _increments(a, closed)
    rng = np.random.default_rng(seed)
    values = np.empty(n_projections)
    for i in range(n_projections):
        p = d @ random_projection(m, k, rng)
        values[i] = float(np.sum(p * p))
    e_full = float(np.sum(d * d))
    gram = d @ d.T
    predicted_sd = float(np.sqrt(2.0 * k) * np.linalg.norm(gram) / m)
    sd = float(values.std(ddof=1)) if n_projections > 1 else float("nan")
    return ProjectedEnergy(
        mean=float(values.mean()), sd=sd, sem=sd / np.sqrt(n_projections),
        expected=k / m * e_full, e_full=e_full, predicted_sd=predicted_sd, k=k, m=m,
        values=values,
    )


def powerlaw_trace(alpha: float, m: int | None = None) -> float:
    """Σ_i λ_i for λ_i = i^-alpha: the finite sum H_m^(α) = Σ_{i=1}^m i^-α, or ζ(α) when m is None.

    ζ(α) (not ζ(−α) as printed in the supplement) converges only for α > 1 and is a poor
    stand-in for the finite sum near α ≈ 1 (α = 1.05: ζ = 20.6, H_1000 = 6.4). Raises
    ValueError for m is None with alpha <= 1, or m < 1.
    """
    alpha = ck.real("alpha", alpha)
    ck.optional(ck.integer, "m", m, minimum=1)
    if m is None:
        if alpha <= 1:
            raise ValueError(f"ζ(α) diverges for α <= 1 (got {alpha}); pass the number of units m.")
        from scipy.special import zeta

        return float(zeta(alpha))
    if int(m) < 1:
        raise ValueError(f"m must be >= 1, got {m}.")
    return float(np.sum(np.arange(1, int(m) + 1, dtype=np.float64) ** (-float(alpha))))


def expected_projected_action(
    eigenvalues: Any | None = None,
    k: int = 3,
    alpha: float | None = None,
    m: int | None = None,
    lambda_1: float = 1.0,
) -> float:
    """Expected projected action ⟨½‖a R‖²⟩ = (k / 2m)·tr Σ for centred a (docs/paper_guide.md §2.4).

    Give either the covariance ``eigenvalues`` (m = their number), or a power law
    (``alpha``, ``m``, ``lambda_1``) for which tr Σ = λ_1·H_m^(α) (:func:`powerlaw_trace`).
    """
    lambda_1 = ck.positive("lambda_1", lambda_1)
    from polycode_lite._checks import integer, real

    k = integer("k", k, minimum=1, fix="k is the number of random projection directions.")
    if eigenvalues is not None:
        lam = ck.array("eigenvalues", eigenvalues, ndim=1)
        if lam.size < 1:
            raise ValueError("eigenvalues is empty.")
        if lam.min() < -1e-12 * max(float(np.abs(lam).max()), 1.0):
            raise ValueError(f"eigenvalues of a covariance are >= 0, got a minimum of {lam.min():.3g}.")
        if k > lam.size:
            raise ValueError(f"k = {k} projections cannot exceed the m = {lam.size} units.")
        return float(k) / (2.0 * lam.size) * float(lam.sum())
    if alpha is None or m is None:
        raise ValueError("pass either eigenvalues, or both alpha and m (number of units).")
    m = integer("m", m, minimum=1)
    alpha = real("alpha", alpha)
    if k > m:
        raise ValueError(f"k = {k} projections cannot exceed the m = {m} units.")
    return float(k) / (2.0 * m) * lambda_1 * powerlaw_trace(alpha, m)


# --------------------------------------------------------------------------------------
# energy scaling with the number of points
# --------------------------------------------------------------------------------------
def theoretical_energy_slope(alpha: float, d: int = 1) -> float:
    """d log E / d log T for a power-law code on a d-torus walked along a closed loop.

    −1 for a smooth code (alpha > 1 + 2/d, Stringer's threshold); 1 − d·(alpha − 1) below it
    (= 2 − alpha for d = 1, docs/paper_guide.md §2.4). Valid for alpha > 1. Derivation: along the loop the
    code's effective 1-D spectrum decays as n^-(d(α−1)+1), and a 1-D spectrum n^-β with
    1 < β < 3 gives E(T) ∝ T^(2−β).
    """
    from polycode_lite._checks import integer, real

    d = integer("d", d, minimum=1)
    alpha = real("alpha", alpha)
    if alpha <= 1:
        raise ValueError(f"the scaling law needs alpha > 1 (finite total variance), got {alpha}.")
    return float(max(-1.0, 1.0 - d * (alpha - 1.0)))


@dataclass(frozen=True)
class EnergyScaling:
    """Result of :func:`energy_scaling_slope`: log E = intercept + slope·log T.

    slope_se is the ordinary least-squares standard error of the slope (nan for 2 points).
    """

    slope: float
    slope_se: float
    intercept: float
    Ts: np.ndarray = field(repr=False)
    energies: np.ndarray = field(repr=False)

    def plot(self, ax: Any = None, label: str | None = None, color: Any = None) -> Any:
        """Log-log E(T) with the fitted line. Returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 3.5))
        line = ax.loglog(self.Ts, self.energies, "o", color=color, label=label)
        tt = np.geomspace(self.Ts.min(), self.Ts.max(), 20)
        ax.loglog(tt, np.exp(self.intercept) * tt**self.slope, "-", color=line[0].get_color(), lw=1)
        ax.set_xlabel("number of points T on the loop")
        ax.set_ylabel("path energy E(T)")
        ax.set_title("Energy scaling")
        return ax


def energy_scaling_slope(
    code_fn: Callable[[int], Any],
    Ts: Sequence[int] = (64, 128, 256, 512, 1024),
    closed: bool = True,
    progress: bool = False,
) -> EnergyScaling:
    """Fit d log E / d log T of the full-space path energy of ``code_fn(T)`` over ``Ts``.

    Args:
        code_fn: T -> (T, m) trajectory of T equally spaced points on the same closed loop,
            e.g. ``lambda T: power_law_circle_code(alpha, T, 4000)``.
        Ts: at least 2 distinct point counts (each >= 2).
        closed: include the closing step.
        progress: show a tqdm bar.

    Returns:
        :class:`EnergyScaling`. Smooth code ≈ −1; circle code with 1 < α < 3 ≈ 2 − α (finite
        m pulls it toward −1 once T approaches m/2; docs/paper_guide.md [O] values with m = 4000 and these
        Ts: +0.43 (α=1.5), −0.01 (2), −0.46 (2.5), −0.80 (3), −0.95 (3.5), −0.99 (4)).

    Raises:
        ValueError: fewer than 2 distinct Ts, a T < 2, or a zero energy.
    """
    ck.function("code_fn", code_fn)
    ck.sequence_of("Ts", Ts, lambda name, t: ck.integer(name, t, minimum=2))
    from tqdm.auto import tqdm

    ts = np.asarray(sorted({int(t) for t in Ts}), dtype=np.float64)
    if ts.size < 2:
        raise ValueError(f"need at least 2 distinct values in Ts to fit a slope, got {list(Ts)}.")
    if ts[0] < 2:
        raise ValueError(f"every T must be >= 2, got {list(Ts)}.")
    energies = np.array([path_energy(code_fn(int(t)), closed) for t in tqdm(ts, disable=not progress, desc="E(T)")])
    if np.any(energies <= 0):
        raise ValueError("a trajectory has zero energy (constant code); its log-log slope is undefined.")
    lx, ly = np.log(ts), np.log(energies)
    slope, intercept = np.polyfit(lx, ly, 1)
    if ts.size > 2:
        resid = ly - (intercept + slope * lx)
        se = float(np.sqrt(np.sum(resid**2) / (ts.size - 2) / np.sum((lx - lx.mean()) ** 2)))
    else:
        se = float("nan")
    return EnergyScaling(float(slope), se, float(intercept), ts, energies)
