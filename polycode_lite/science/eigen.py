"""Eigenspectra of activation covariances: full and top-k eigenvalues, cvPCA, participation ratio.

Eigenvalues are float64, descending, on the CPU (docs/paper_guide.md §3 E2, §4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polycode_lite._common import as_2d_float64
from polycode_lite.science.covariance import CovarianceAccumulator
from polycode_lite.science.spectrum import Spectrum

__all__ = [
    "cv_pca", "effective_rank", "eigenspectrum", "participation_ratio", "topk_eigenvalues"
]


# --------------------------------------------------------------------------------------
# eigenspectra
# --------------------------------------------------------------------------------------
def _looks_like_covariance(a: np.ndarray) -> bool:
    if a.shape[0] != a.shape[1]:
        return False
    scale = np.max(np.abs(a)) or 1.0
    return bool(np.allclose(a, a.T, atol=1e-10 * scale, rtol=0)) and bool(np.all(np.diag(a) >= 0))


def topk_eigenvalues(
    cov: np.ndarray,
    k: int,
    n_oversamples: int | None = None,
    n_power_iter: int = 2,
    seed: int = 0,
) -> np.ndarray:
    """Top-k eigenvalues of a symmetric PSD matrix by randomized subspace iteration.

    Halko, Martinsson & Tropp (2011), Alg. 4.4 with a final Rayleigh–Ritz step. The sketch and
    power iterations run in float32 (the subspace only needs to be close), the Rayleigh–Ritz
    projection QᵀCQ in float64, so eigenvalues far below λ₁ keep full relative precision.

    Args:
        cov: (m, m) symmetric positive semi-definite matrix.
        k: number of eigenvalues wanted, 1 <= k <= m.
        n_oversamples: extra sketch columns (default max(20, k // 10)).
        n_power_iter: subspace iterations; 2 gives <1% error on ranks <= k/2 for power laws.
        seed: seed of the Gaussian test matrix.

    Returns:
        (k,) float64 eigenvalues, descending.
    """
    import torch

    m = cov.shape[0]
    if not 1 <= k <= m:
        raise ValueError(f"k must be between 1 and m={m}, got k={k}.")
    p = max(20, k // 10) if n_oversamples is None else int(n_oversamples)
    l = min(m, k + p)
    c64 = torch.as_tensor(cov, dtype=torch.float64)
    c32 = c64.to(torch.float32)
    gen = torch.Generator().manual_seed(int(seed))
    q = torch.randn(m, l, generator=gen, dtype=torch.float32)
    q, _ = torch.linalg.qr(c32 @ q)
    for _ in range(n_power_iter):
        q, _ = torch.linalg.qr(c32 @ q)
    q64 = q.to(torch.float64)
    # re-orthonormalise in float64 so QᵀCQ is an exact Rayleigh–Ritz projection
    q64, _ = torch.linalg.qr(q64)
    b = q64.T @ (c64 @ q64)
    b = 0.5 * (b + b.T)
    vals = torch.linalg.eigvalsh(b).numpy()[::-1]
    return np.ascontiguousarray(vals[:k])


def eigenspectrum(
    x: Any,
    k: int | None = None,
    kind: str = "auto",
    method: str = "auto",
    seed: int = 0,
    n_samples: int | None = None,
) -> Spectrum:
    """Eigenvalues of a covariance, descending, float64, as a :class:`Spectrum` that carries
    ``n_samples`` and ``n_features`` (so a later fit knows n and m even when n < m).

    Args:
        x: a :class:`CovarianceAccumulator`; an (m, m) covariance matrix; or an (n, m)
            activation matrix (centred here, ddof=1). With ``kind="auto"`` a square symmetric
            matrix with a non-negative diagonal is read as a covariance; pass
            ``kind="activations"`` or ``kind="covariance"`` to force either reading.
        k: return only the top k (1 <= k <= m). For m > 1000 and k < m/3 this uses
            :func:`topk_eigenvalues` (randomized), unless ``method="exact"``.
        kind: "auto", "covariance" or "activations".
        method: "auto", "exact" or "randomized".
        seed: seed of the randomized method.
        n_samples: for a bare covariance matrix, the number of samples behind it (an
            accumulator and activations know theirs).

    For activations with n < m, the non-zero spectrum comes from the (n, n) Gram matrix
    Xc Xcᵀ/(n-1) (same non-zero eigenvalues as XcᵀXc/(n-1)); the result then has n values
    (the last is ~0 because centring removes one dimension).

    Raises:
        ValueError: NaN/inf, fewer than 2 samples, not 2-D, or k out of range.
    """
    if kind not in {"auto", "covariance", "activations"}:
        raise ValueError(f"kind must be 'auto', 'covariance' or 'activations', got {kind!r}.")
    if method not in {"auto", "exact", "randomized"}:
        raise ValueError(f"method must be 'auto', 'exact' or 'randomized', got {method!r}.")
    if isinstance(x, CovarianceAccumulator):
        if n_samples is not None and n_samples != x.n:
            raise ValueError(f"n_samples={n_samples} disagrees with the accumulator's n={x.n}.")
        return _spectrum_of_covariance(x.covariance(), k, method, seed, x.n)
    arr = as_2d_float64(x)
    if kind == "covariance" or (kind == "auto" and _looks_like_covariance(arr)):
        if arr.shape[0] != arr.shape[1]:
            raise ValueError(f"a covariance must be square, got shape {arr.shape}.")
        return _spectrum_of_covariance(0.5 * (arr + arr.T), k, method, seed, n_samples)
    n, m = arr.shape
    if n_samples is not None and n_samples != n:
        raise ValueError(f"n_samples={n_samples} disagrees with the {n} rows of the activations.")
    if n < 2:
        raise ValueError(f"need at least 2 samples (rows) to estimate a covariance, got {n}.")
    if k is not None and not 1 <= k <= m:
        raise ValueError(f"k={k} is out of range: the activations have m={m} features.")
    xc = arr - arr.mean(axis=0)
    if n < m:
        gram = (xc @ xc.T) / (n - 1)
        vals = np.linalg.eigvalsh(gram)[::-1]
        return Spectrum(vals[: min(k, n)] if k is not None else vals, n, m, "pca")
    return _spectrum_of_covariance((xc.T @ xc) / (n - 1), k, method, seed, n)


def _spectrum_of_covariance(cov: np.ndarray, k: int | None, method: str, seed: int,
                            n_samples: int | None) -> Spectrum:
    m = cov.shape[0]
    if k is not None and not 1 <= k <= m:
        raise ValueError(f"k={k} is out of range: the covariance is {m} x {m}.")
    use_randomized = method == "randomized" or (
        method == "auto" and k is not None and m > 1000 and k < m / 3
    )
    if use_randomized and k is not None:
        return Spectrum(topk_eigenvalues(cov, k, seed=seed), n_samples, m, "topk")
    vals = np.linalg.eigvalsh(cov)[::-1]
    return Spectrum(vals[:k] if k is not None else vals, n_samples, m, "pca")


def cv_pca(
    x1: Any,
    x2: Any,
    n_shuffles: int = 5,
    seed: int = 0,
    max_components: int = 1024,
) -> Spectrum:
    """Cross-validated PCA spectrum of Stringer et al. (2019) from two repeats.

    x1, x2: (n_stimuli, m) responses to the same stimuli (two trials, or two dropout masks).
    For each shuffle, repeats are swapped at random per stimulus; principal axes u_k come from
    repeat 1 only; the cross-validated variance is λ̂_k = (x1 u_k)·(x2 u_k)/(n-1), which
    averages out noise that is independent between the repeats. Spectra are averaged over
    shuffles. Values can be negative in the tail (clip or exclude before a log fit).

    Axes from one noisy repeat are wrong when the noise is uneven across units (dropout noise
    has variance p/(1-p)·h², largest on the most active units): the spectrum is then too steep
    or too flat. For dropout masks prefer
    :func:`polycode_lite.science.repeats.repeats_spectrum` (docs/paper_guide.md pitfall 5).

    Returns:
        (min(n_stimuli - 1, m, max_components),) :class:`Spectrum` (estimator "cvpca"), ordered
        by repeat-1 variance.
    """
    a = as_2d_float64(x1, "x1")
    b = as_2d_float64(x2, "x2")
    if a.shape != b.shape:
        raise ValueError(f"the two repeats must have the same shape, got {a.shape} and {b.shape}.")
    n, m = a.shape
    if n < 3:
        raise ValueError(f"cv_pca needs at least 3 stimuli, got {n}.")
    if n_shuffles < 1:
        raise ValueError("n_shuffles must be >= 1.")
    rng = np.random.default_rng(seed)
    n_comp = min(n - 1, m, max_components)
    spectra = np.zeros((n_shuffles, n_comp))
    for s in range(n_shuffles):
        swap = rng.random(n) < 0.5
        r1 = np.where(swap[:, None], b, a)
        r2 = np.where(swap[:, None], a, b)
        r1 = r1 - r1.mean(axis=0)
        r2 = r2 - r2.mean(axis=0)
        _, _, vt = np.linalg.svd(r1, full_matrices=False)
        u = vt[:n_comp].T
        spectra[s] = np.sum((r1 @ u) * (r2 @ u), axis=0) / (n - 1)
    return Spectrum(spectra.mean(axis=0), n, m, "cvpca")


def participation_ratio(eigenvalues: Any) -> float:
    """PR = (Σλ)² / Σλ²: the number of dimensions that carry the variance (1..m)."""
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0, None)
    if lam.size == 0 or lam.sum() <= 0:
        raise ValueError("participation_ratio needs at least one positive eigenvalue.")
    return float(lam.sum() ** 2 / np.sum(lam**2))


def effective_rank(eigenvalues: Any) -> float:
    """Roy & Vetterli (2007) effective rank exp(H(p)), p_i = λ_i / Σλ (1..m)."""
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0, None)
    if lam.size == 0 or lam.sum() <= 0:
        raise ValueError("effective_rank needs at least one positive eigenvalue.")
    p = lam[lam > 0] / lam.sum()
    return float(np.exp(-np.sum(p * np.log(p))))
