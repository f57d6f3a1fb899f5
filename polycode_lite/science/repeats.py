"""Spectra of a code seen through noise: K >= 2 stochastic repeats of the same n inputs.

Repeats are (n, m) responses to the same inputs with independent noise (dropout masks, noisy
trials): X_k = H + E_k with E[E_k | H] = 0 and E_k independent across k. The signal covariance
C = Cov(H) is what α should describe. Dropout makes the noise multiplicative and uneven:
Var(E_k,ij | H) = p/(1-p)·H_ij², largest on the most active units.

Estimators of C's spectrum (compared in ``benchmarks/bench_repeats.py``; docs/paper_guide.md
pitfall 5):

* ``"cvpca"`` (Stringer et al. 2019): axes from repeat 1, variance from the cross-product of
  repeats 1 and 2 along them (averaged over the disjoint pairs (1, 2), (3, 4), ...). Unbiased for a fixed axis, but the axes come from C + noise, so
  uneven noise tilts them and the spectrum is wrong.
* ``"split-half cvpca"``: cvPCA between the means of two halves of the K repeats.
* ``"split-inputs"``: axes from the cross-covariance of half the inputs, variance from the
  cross-products of the other half (and the swap, averaged).
* ``"cross-covariance"``: eigenvalues of the symmetrised all-pairs cross-covariance
  Ĉ× = (SᵀS − Σ_k X_kᵀX_k) / (K(K−1)(n−1)), S = Σ_k X_k (centred); E[Ĉ×] = C for any noise
  independent across repeats.
* ``"denoised"``: the covariance of the mean repeat X̄, whose off-diagonal is unbiased when the
  noise is uncorrelated across units (dropout applied at the measured layer), with its diagonal
  replaced by the all-pairs cross-products (unbiased for C_ii for any noise). It averages the
  noise K-fold instead of multiplying repeats pairwise, so its off-diagonal is less noisy than
  Ĉ×'s. When noise is correlated across units (dropout upstream, then a linear layer), its
  off-diagonal is biased: use ``"cross-covariance"``.

All return a :class:`~polycode_lite.science.spectrum.Spectrum` of length min(m, n − 1) ordered
by the estimator (descending eigenvalues for the covariance estimators); tail values can be
negative (noise), and a fit window must end before the first non-positive one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polycode_lite.science.spectrum import Spectrum
from polycode_lite import _checks as ck

__all__ = ["REPEATS_METHODS", "as_repeats", "cross_covariance", "denoised_covariance",
           "dropout_passes", "repeats_spectrum"]

REPEATS_METHODS = ("denoised", "cross-covariance", "cvpca", "split-half cvpca", "split-inputs")


def as_repeats(reps: Any, what: str = "reps") -> np.ndarray:
    """A (K, n, m) float64 stack of K >= 2 repeats, validated (finite, same shape, n >= 3)."""
    if isinstance(reps, np.ndarray) and reps.ndim == 3:
        stack = ck.array(what, reps)
    else:
        try:
            items = list(reps)
        except TypeError:
            raise ValueError(f"{what} must be a (K, n, m) array or a sequence of K (n, m) "
                             f"arrays, got {type(reps).__name__}.") from None
        mats = [ck.array(f"{what}[{i}]", r, ndim=2) for i, r in enumerate(items)]
        if len({a.shape for a in mats}) > 1:
            raise ValueError(f"{what} must all have one shape (the same inputs), got "
                             f"{sorted({a.shape for a in mats})}.")
        stack = np.stack(mats) if mats else np.empty((0, 0, 0))
    if stack.shape[0] < 2:
        raise ValueError(f"{what}: need K >= 2 repeats of the same inputs, got {stack.shape[0]}; "
                         "for one pass use PCA (eigenspectrum).")
    if stack.shape[1] < 3 or stack.shape[2] < 2:
        raise ValueError(f"{what}: need n >= 3 inputs and m >= 2 units, got shape {stack.shape[1:]}.")
    bad = ~np.isfinite(stack)
    if bad.any():
        raise ValueError(f"{what} contain {int(bad.sum())} NaN/inf value(s).")
    return stack


def dropout_passes(h: np.ndarray, p: float, k: int, rng: np.random.Generator) -> np.ndarray:
    """K inverted-dropout passes of a fixed code h (n, m): X_k = h ∘ M_k / (1 − p), M_k ~ Bernoulli(1 − p)
    per entry. Returns (K, n, m)."""
    h = ck.array("h", h, ndim=2); ck.probability("p", p); k = ck.integer("k", k, minimum=1)
    ck.memory("k", (k,) + h.shape)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}.")
    if not 0 <= p < 1:
        raise ValueError(f"the dropout rate p must lie in [0, 1), got {p}.")
    return np.stack([h * (rng.random(h.shape) >= p) / (1.0 - p) for _ in range(int(k))])


def _centred(stack: np.ndarray) -> np.ndarray:
    return stack - stack.mean(axis=1, keepdims=True)


def _pair_diagonal(xc: np.ndarray) -> np.ndarray:
    """Σ_{k≠l} Σ_i X_k,ij X_l,ij / (K(K−1)(n−1)): the all-pairs cross-variances, (m,)."""
    k, n, _ = xc.shape
    total = xc.sum(axis=0)
    return (np.einsum("ij,ij->j", total, total) - np.einsum("kij,kij->j", xc, xc)) / (k * (k - 1) * (n - 1))


def cross_covariance(reps: Any) -> np.ndarray:
    """Symmetrised all-pairs cross-covariance of K repeats, (m, m); E = Cov(signal)."""
    xc = _centred(as_repeats(reps))
    k, n, _ = xc.shape
    total = xc.sum(axis=0)
    c = total.T @ total - np.einsum("kia,kib->ab", xc, xc)
    c /= k * (k - 1) * (n - 1)
    return 0.5 * (c + c.T)


def denoised_covariance(reps: Any) -> np.ndarray:
    """Covariance of the mean repeat with the diagonal from all-pairs cross-products, (m, m).

    Off-diagonal: Cov(X̄)_ab, unbiased for C_ab when the noise is uncorrelated across units.
    Diagonal: the all-pairs cross-variance, unbiased for C_aa for any independent noise.
    """
    xc = _centred(as_repeats(reps))
    mean = xc.mean(axis=0)
    c = mean.T @ mean / (xc.shape[1] - 1)
    c[np.diag_indices_from(c)] = _pair_diagonal(xc)
    return c


def _cvpca_pair(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_shuffles: int,
                n_comp: int) -> np.ndarray:
    out = np.zeros(n_comp)
    for _ in range(n_shuffles):
        swap = rng.random(a.shape[0]) < 0.5
        r1 = np.where(swap[:, None], b, a)
        r2 = np.where(swap[:, None], a, b)
        r1 = r1 - r1.mean(axis=0)
        r2 = r2 - r2.mean(axis=0)
        u = np.linalg.svd(r1, full_matrices=False)[2][:n_comp].T
        out += np.sum((r1 @ u) * (r2 @ u), axis=0) / (a.shape[0] - 1)
    return out / n_shuffles


def repeats_spectrum(reps: Any, method: str = "denoised", seed: int = 0,
                     n_shuffles: int = 5) -> Spectrum:
    """Spectrum of the signal covariance from K >= 2 repeats (see the module docstring).

    Args:
        reps: (K, n, m) array or a sequence of K (n, m) arrays of the same inputs.
        method: one of :data:`REPEATS_METHODS`.
        seed: seed of the cvPCA repeat swaps and the input split.
        n_shuffles: cvPCA repeat swaps averaged ("cvpca", "split-half cvpca").

    Returns:
        (min(m, n − 1),) :class:`Spectrum` with n_samples = n, n_features = m and ``estimator``
        "denoised", "cross-covariance" or "cvpca".
    """
    ck.seed("seed", seed); ck.integer("n_shuffles", n_shuffles, minimum=1)
    if method not in REPEATS_METHODS:
        raise ValueError(f"method must be one of {REPEATS_METHODS}, got {method!r}.")
    stack = as_repeats(reps)
    k, n, m = stack.shape
    n_comp = min(m, n - 1)
    rng = np.random.default_rng(seed)
    if method in ("denoised", "cross-covariance"):
        c = denoised_covariance(stack) if method == "denoised" else cross_covariance(stack)
        vals = np.linalg.eigvalsh(c)[::-1][:n_comp]
        return Spectrum(vals, n, m, method)
    if method == "cvpca":
        pairs = [(i, i + 1) for i in range(0, k - 1, 2)]
        vals = np.mean([_cvpca_pair(stack[i], stack[j], rng, n_shuffles, n_comp)
                        for i, j in pairs], axis=0)
        return Spectrum(vals, n, m, "cvpca")
    if method == "split-half cvpca":
        half = k // 2
        vals = _cvpca_pair(stack[:half].mean(axis=0), stack[half:].mean(axis=0), rng,
                           n_shuffles, n_comp)
        return Spectrum(vals, n, m, "cvpca")
    # split-inputs: axes from one half of the inputs, cross-variances on the other half
    if n < 8:
        raise ValueError(f"method='split-inputs' needs n >= 8 inputs, got {n}.")
    order = rng.permutation(n)
    halves = (order[: n // 2], order[n // 2:])
    n_comp = min(m, n // 2 - 1)
    vals = np.zeros(n_comp)
    for fit_idx, eval_idx in (halves, halves[::-1]):
        axes = np.linalg.eigh(cross_covariance(stack[:, fit_idx]))[1][:, ::-1][:, :n_comp]
        proj = _centred(stack[:, eval_idx]) @ axes
        vals += _pair_diagonal(proj) / 2
    return Spectrum(vals, n, m, "cvpca")
