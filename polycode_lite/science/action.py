"""Action (smoothness along a trajectory) of 1-D projections, and its exact minimisers
(docs/paper_guide.md §2.4, §3 E6, pitfall 9).

For activations x_t along a trajectory (tokens of a text window, frames of a moving dot) and a
direction v, the *normalised action* of the projected trace p_t = x_t·v is

    A(v) = mean_t (p_{t+1} − p_t)² / (2·var(p)) = vᵀ D v / vᵀ C v,

with D = ½·E[Δx Δxᵀ] (successive differences, taken within each window only) and C the
activation covariance. A = 1 − lag-1 autocorrelation: near 0 for a slowly varying trace,
1 for white noise.

* :func:`path_action` measures A of given traces.
* :func:`select_min_action` is what the authors' description suggests ("try several random
  projections, keep the lowest-energy one"): the best of N random directions.
* :func:`minimum_action_directions` is the exact minimiser: the generalised eigenproblem
  D v = λ C v (``scipy.linalg.eigh(D, C)``), smallest eigenvalues first. **Departure from the
  authors:** they minimise the unnormalised energy Σ‖Δp‖², whose minimiser over unit vectors is
  the smallest eigenvector of D alone: a direction of almost no variance (a near-constant
  projection), not a smooth feature. Dividing by the variance (action per unit of variance),
  within the directions that carry variance at all, removes that degenerate solution; :func:`energy_minimiser_variance_ratio` measures how
  degenerate the unnormalised choice is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from polycode_lite import _checks as ck

__all__ = ["ActionMoments", "energy_minimiser_variance_ratio", "minimum_action_directions",
           "path_action", "random_unit_directions", "select_min_action"]


def random_unit_directions(width: int, n: int, seed: int = 0) -> np.ndarray:
    """(n, width) Gaussian vectors normalised to unit length (uniform on the sphere)."""
    width = ck.integer("width", width, minimum=1); n = ck.integer("n", n, minimum=0); ck.seed("seed", seed)
    ck.memory("n, width", (n, width))
    v = np.random.default_rng(seed).standard_normal((n, width))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def path_action(traces: Any) -> np.ndarray:
    """Normalised action of 1-D traces (see the module docstring).

    traces: (N windows, T positions, K directions). Returns (K,): mean over windows and t of
    (p_{t+1} − p_t)² / (2·var(p_k)), the variance pooled over all positions. Small = smooth.
    """
    p = ck.array("traces", traces, min_len=1)
    if p.ndim != 3 or p.shape[1] < 2:
        raise ValueError(f"traces must be (windows, positions >= 2, directions), got {p.shape}.")
    diff = np.diff(p, axis=1)
    var = p.reshape(-1, p.shape[2]).var(axis=0)
    return np.mean(diff**2, axis=(0, 1)) / (2.0 * np.where(var > 0, var, np.nan))


def select_min_action(candidates: np.ndarray, traces: np.ndarray, n_select: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best-of-N selection: split ``candidates`` (K, width) into ``n_select`` pools and keep
    the smoothest direction of each pool.

    traces: (N, T, K) activations of the candidates. Returns (indices into candidates,
    their actions, actions of all candidates).
    """
    candidates = ck.array("candidates", candidates, ndim=2, min_len=1)
    k = candidates.shape[0]
    ck.integer("n_select", n_select, minimum=1)
    traces = ck.array("traces", traces, ndim=3)
    if traces.shape[2] != k:
        raise ValueError(f"traces must be (N, T, K) with K = {k} candidates, got shape {traces.shape}.")
    if k < n_select:
        raise ValueError(f"n_select = {n_select}: cannot select more directions than the {k} candidates.")
    act = path_action(traces)
    pools = np.array_split(np.arange(k), n_select)
    pick = np.array([pool[np.nanargmin(act[pool])] for pool in pools])
    return pick, act[pick], act


@dataclass
class ActionMoments:
    """Streaming sums for C (activation covariance) and D (half the second moment of
    successive differences) of one layer; feed (N, T, m) batches with :meth:`update`.

    Sums are float64; positions are shifted by the first batch's mean before squaring, which
    keeps the centred covariance accurate.
    """

    width: int
    n: int = 0
    n_diff: int = 0

    def __post_init__(self) -> None:
        m = ck.integer("width", self.width, minimum=1)
        ck.integer("n", self.n, minimum=0); ck.integer("n_diff", self.n_diff, minimum=0); ck.memory("width", (3, m, m))
        self._shift: np.ndarray | None = None
        self._s1 = np.zeros(m)
        self._s2 = np.zeros((m, m))
        self._d2 = np.zeros((m, m))

    def update(self, x: Any) -> None:
        """Add a batch of trajectories x: (N, T, width) (numpy or torch; T >= 2)."""
        try:
            import torch
        except ImportError:  # pragma: no cover
            torch = None
        x = ck.array("x", x, min_len=1, keep_tensor=True)
        if torch is not None and isinstance(x, torch.Tensor):
            t = x.detach().float()
        else:
            t = None
            x = np.asarray(x, dtype=np.float32)
        shape = tuple(t.shape if t is not None else x.shape)
        if len(shape) != 3 or shape[2] != self.width or shape[1] < 2:
            raise ValueError(f"x must be (N, T >= 2, {self.width}), got {shape}.")
        flat = t.reshape(-1, self.width) if t is not None else x.reshape(-1, self.width)
        if self._shift is None:
            self._shift = np.asarray(flat.mean(0).cpu().numpy() if t is not None else flat.mean(0),
                                     dtype=np.float32)
        if t is not None:
            c = flat - torch.as_tensor(self._shift, device=flat.device)
            d = (t[:, 1:] - t[:, :-1]).reshape(-1, self.width)
            s2, d2 = (c.T @ c).double().cpu().numpy(), (d.T @ d).double().cpu().numpy()
            s1 = c.double().sum(0).cpu().numpy()
        else:
            c = flat - self._shift
            d = np.diff(x, axis=1).reshape(-1, self.width)
            s2, d2, s1 = (c.T @ c).astype(np.float64), (d.T @ d).astype(np.float64), c.sum(0, dtype=np.float64)
        self._s1 += s1
        self._s2 += s2
        self._d2 += d2
        self.n += flat.shape[0]
        self.n_diff += d.shape[0]

    def covariance(self) -> np.ndarray:
        """(width, width) activation covariance C (population normalisation, like np.var)."""
        if self.n < 2:
            raise ValueError("ActionMoments needs at least 2 positions; call update first.")
        mu = self._s1 / self.n
        return self._s2 / self.n - np.outer(mu, mu)

    def difference_moment(self) -> np.ndarray:
        """(width, width) D = ½·mean(Δx Δxᵀ) over within-window successive differences."""
        if self.n_diff < 1:
            raise ValueError("ActionMoments has no successive differences; call update first.")
        return self._d2 / (2.0 * self.n_diff)


def _moments(trajectory: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(trajectory, ActionMoments):
        return trajectory.covariance(), trajectory.difference_moment()
    x = ck.array("trajectory", trajectory)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"trajectory must be (T, m), (N, T, m) with T >= 2, or ActionMoments; "
                         f"got shape {x.shape}.")
    acc = ActionMoments(x.shape[2])
    acc.update(x)
    return acc.covariance(), acc.difference_moment()


def minimum_action_directions(trajectory: Any, k: int, min_variance: float = 1e-3
                              ) -> tuple[np.ndarray, np.ndarray]:
    """The k exact minimum-action directions: the smallest generalised eigenpairs of D v = λ C v.

    The problem is solved in the span of C's eigenvectors whose variance is at least
    ``min_variance`` times the mean variance per direction, tr(C)/m (``scipy.linalg.eigh(a, b)``
    with a = UᵀDU and b = UᵀCU there): directions of (near) zero variance, such as dead units,
    have a ratio 0/0 and would otherwise be picked for it.

    Args:
        trajectory: (T, m) or (N, T, m) activations along trajectories (differences are taken
            within each of the N windows), or an :class:`ActionMoments` filled by streaming.
        k: number of directions (1 <= k <= the number of retained directions).
        min_variance: variance floor, relative to tr(C)/m, of the retained subspace.

    Returns:
        (directions, actions): (k, m) unit vectors (rows, sign fixed so the largest |entry|
        is positive) and (k,) normalised actions vᵀDv / vᵀCv (ascending), the same quantity
        :func:`path_action` measures on the projected traces.
    """
    c, d = _moments(trajectory)
    m = c.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= m:
        raise ValueError(f"k must be an integer in 1..{m} (the width), got {k!r}.")
    if not 0 <= ck.real("min_variance", min_variance) < 1:
        raise ValueError(f"min_variance must be in [0, 1), got {min_variance!r}.")
    scale = np.trace(c) / m
    if not scale > 0:
        raise ValueError("the trajectory has no variance: every position is the same.")
    lam, u = scipy.linalg.eigh(c)
    keep = lam > max(min_variance, 1e-12) * scale
    if keep.sum() < k:
        raise ValueError(f"only {int(keep.sum())} directions have variance above min_variance={min_variance} "
                         f"x the mean; ask for k <= {int(keep.sum())} or lower min_variance.")
    u = u[:, keep]
    _, y = scipy.linalg.eigh(u.T @ d @ u, np.diag(lam[keep]), subset_by_index=[0, int(k) - 1])
    vecs = (u @ y).T
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    signs = np.sign(vecs[np.arange(len(vecs)), np.argmax(np.abs(vecs), axis=1)])
    vecs = vecs * signs[:, None]
    actions = np.einsum("ij,jk,ik->i", vecs, d, vecs) / np.einsum("ij,jk,ik->i", vecs, c, vecs)
    return vecs, actions


def energy_minimiser_variance_ratio(trajectory: Any) -> tuple[float, float]:
    """What the unnormalised energy would pick: the unit v minimising vᵀDv (smallest
    eigenvector of D). Returns (its variance vᵀCv relative to the mean variance tr(C)/m,
    its normalised action). A ratio far below 1 means a near-null, near-constant direction."""
    c, d = _moments(trajectory)
    m = c.shape[0]
    _, vec = scipy.linalg.eigh(d, subset_by_index=[0, 0])
    v = vec[:, 0]
    var = float(v @ c @ v)
    return var / float(np.trace(c) / m), float(v @ d @ v) / max(var, 1e-300)
