"""Eigenspectra of activation covariances: full and top-k eigenvalues, cvPCA, participation ratio.

Eigenvalues are float64, descending, on the CPU (docs/paper_guide.md §3 E2, §4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polycode_lite._common import as_2d_float64
from polycode_lite.science.covariance import CovarianceAccumulator
from polycode_lite.science.spectrum import Spectrum
from polycode_lite import _checks as ck

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


def _orthonormal_f32(y: Any) -> Any:
    """Basis of span(y) by CholeskyQR with the Gram matrix in float64 (Yamamoto et al. 2015).

    The float64 Gram keeps the Cholesky factor valid for cond(y) up to ~1/sqrt(eps64); the
    shift m·eps64·max(diag G) (Fukaya et al. 2020) keeps it positive definite for rank-deficient y.
    The triangular solve runs in y's dtype; the result is orthonormal to about eps·cond(y),
    enough for a basis inside the filter (span, not orthonormality, is what is filtered).
    Householder QR if the factorisation still fails (y = 0).
    """
    import torch

    y64 = y.double()
    g = y64.T @ y64
    g.diagonal().add_(float(g.diagonal().max()) * y.shape[0] * torch.finfo(torch.float64).eps)
    r, info = torch.linalg.cholesky_ex(g, upper=True)
    if int(info) != 0:  # y == 0 or non-finite: Householder QR
        return torch.linalg.qr(y)[0]
    return torch.linalg.solve_triangular(r.to(y.dtype), y, upper=True, left=False)


def _orthonormal_f64(q: Any) -> Any:
    """Orthonormal float64 basis of span(q).

    One CholeskyQR pass, whose loss of orthogonality is O(eps64·cond(q)²) (Yamamoto et al.
    2015), when cond(R) ≥ max|r_ii|/min|r_ii| stays below eps64^(-1/4); Householder QR otherwise
    (q near rank-deficient).
    """
    import torch

    r, info = torch.linalg.cholesky_ex(q.T @ q, upper=True)
    if int(info) == 0:
        d = r.diagonal().abs()
        if float(d.max()) < float(d.min()) * torch.finfo(torch.float64).eps ** -0.25:
            return torch.linalg.solve_triangular(r, q, upper=True, left=False)
    return torch.linalg.qr(q)[0]


def _chebyshev_roots(degree: int, upper: float) -> np.ndarray:
    """Roots of the degree-d Chebyshev polynomial of the first kind mapped from [-1, 1] to
    [0, upper]: (upper/2)·(1 + cos((2i − 1)π/(2d))), i = 1..d."""
    i = np.arange(1, degree + 1)
    return 0.5 * upper * (1.0 + np.cos((2 * i - 1) * np.pi / (2 * degree)))


def _eigvalsh_desc(b: Any) -> Any:
    """Eigenvalues of the symmetric (l, l) tensor ``b``, descending, on one thread.

    LAPACK's tridiagonal reduction is l dependent matrix–vector steps; with two threads each
    step ends in a barrier, and on a loaded 2-core machine a barrier can wait a scheduler slice
    (measured: 800 × 800 in 3.4–8.8 s on two threads against 0.05–0.07 s on one).
    """
    import torch

    from polycode_lite._common import limit_threads

    with limit_threads(1, blas=False):
        return torch.linalg.eigvalsh(0.5 * (b + b.T)).flip(0)


def _ritz_and_nystrom(c64: Any, q: Any) -> tuple:
    """Rayleigh–Ritz and Nyström eigenvalues of C on span(q), float64, descending.

    Rayleigh–Ritz: eig(QᵀCQ). Nyström (Tropp, Yurtsever, Udell & Cevher 2017, Alg. 3):
    Y_ν = (C + νI)Q, ν = √m·eps64·‖Y‖_F, F = Y_ν R⁻¹ with RᵀR = QᵀY_ν, values eig(FᵀF) − ν;
    C_nys = Y (QᵀY)⁻¹ Yᵀ is the Rayleigh–Ritz projection onto span(C^{1/2}Q).
    Returns (ritz, nystrom, y) with y = CQ; nystrom is None when QᵀY_ν is not positive definite
    (C not PSD).
    """
    import torch

    m, l = q.shape
    y = c64 @ q
    b = q.T @ y
    b = 0.5 * (b + b.T)
    ritz = _eigvalsh_desc(b)
    nu = m**0.5 * torch.finfo(torch.float64).eps * float(torch.linalg.matrix_norm(y))
    if nu == 0.0:
        return ritz, ritz.clone(), y
    r, info = torch.linalg.cholesky_ex(b + nu * torch.eye(l, dtype=torch.float64), upper=True)
    if int(info) != 0:
        return ritz, None, y
    f = torch.linalg.solve_triangular(r, y + nu * q, upper=True, left=False)
    nys = torch.clamp(_eigvalsh_desc(f.T @ f) - nu, min=0.0)
    return ritz, nys, y


def topk_eigenvalues(
    cov: np.ndarray,
    k: int,
    n_oversamples: int | None = None,
    n_power_iter: int = 4,
    seed: int = 0,
    *,
    rtol: float = 5e-3,
    max_rounds: int = 3,
) -> np.ndarray:
    """Top-k eigenvalues of a symmetric PSD matrix by Chebyshev-filtered randomized subspace
    iteration, a Nyström final step and an a-posteriori convergence check.

    With l = k + n_oversamples sketch columns and d = ``n_power_iter``:

    1. Sketch Q₀ = orth(CΩ), Ω an (m, l) standard Gaussian (Halko, Martinsson & Tropp 2011).
    2. a = the smallest Rayleigh–Ritz value of span(Q₀), eig(Q₀ᵀCQ₀); a ≤ λ_l by Cauchy
       interlacing, so [0, a] holds no wanted eigenvalue.
    3. Filter: Q ← orth((C − r_i I)Q), i = 1..d, r_i the roots of the degree-d Chebyshev
       polynomial mapped to [0, a]; the result spans T_d((2C − aI)/a)·CΩ. T_d is bounded by 1
       on [0, a] and grows as cosh(d·arccosh(2λ/a − 1)) above it (Zhou & Saad 2007; Saad 2011,
       §7.4): for λ_k/λ_l = √2 (α = 0.5, l = 2k) that is 1.8^d against (√2)^d for C^d.
    4. In float64, from one product Y = CQ: Rayleigh–Ritz values θ = eig(QᵀY) and Nyström values
       μ (Tropp, Yurtsever, Udell & Cevher 2017, Alg. 3); μ is returned.
    5. Check: Nyström is Rayleigh–Ritz on span(C^{1/2}Q), which scales the first-order error that
       tail directions (eigenvalues ≤ λ_{l+1}) leave in rank i by ρ_i ≤ λ_{l+1}/λ_i, so
       err(μ_i) ≈ ρ_i/(1 − ρ_i)·(μ_i − θ_i)/μ_i, with ρ_i = μ_l/μ_i. While the largest estimate
       over ranks 1..k exceeds ``rtol``, another round of d filter steps runs from Q with
       a = μ_l (≤ λ_l), up to ``max_rounds`` rounds; a RuntimeWarning says if it still exceeds.

    The sketch and the filter run in float32 (only the subspace is needed); the last product
    and both projections run in float64, so small eigenvalues keep their relative precision.
    Products with C: 1 + d in float32 and 1 in float64 for the first round, d − 1 and 1 for each
    further round. The l × l eigensolvers run on one thread (:func:`_eigvalsh_desc`).

    Measured (benchmarks/bench_spectrum.py, defaults, one round everywhere): power-law spectra
    λ_i = i^-α, α ∈ {0.5, 1, 2}, under a random rotation and a Gaussian sample covariance
    (n = 2m, α = 1), m = 1600 (k = 400) and 6400 (k = 500, 1000): maximum relative error over
    ranks 1..k 0.23% (α = 0.5, m = 6400, k = 500, rank 497), ≤ 0.01% for α ≥ 1; the check's
    estimate was 0.6–1.7 times the actual error. Speed on 2 shared cores, m = 6400: 4.9–5.4×
    np.linalg.eigvalsh at k = 500 and 1.9–2.0× at k = 1000; at m = 1600, k = 400 (l = m/2) it
    is slower than eigvalsh.

    Args:
        cov: (m, m) symmetric positive semi-definite matrix.
        k: number of eigenvalues wanted, 1 <= k <= m.
        n_oversamples: extra sketch columns, l = min(m, k + n_oversamples); default max(k, 10)
            (l = 2k; HMT §4.2 advise at least 5–10). When l = m the subspace is the whole space
            and ``np.linalg.eigvalsh`` is used.
        n_power_iter: Chebyshev degree d, the float32 products per round after the sketch, >= 1.
        seed: seed of the Gaussian test matrix; the result is a deterministic function of it.
        rtol: bound on the estimated relative error that ends the iteration.
        max_rounds: most filter rounds, >= 1.

    Returns:
        (k,) float64 eigenvalues, descending.

    Raises:
        ValueError: cov not square, k out of range, n_oversamples < 0, n_power_iter < 1,
            rtol <= 0 or max_rounds < 1.
    """
    cov = ck.array("cov", cov, ndim=2, min_len=1)
    if cov.shape[0] != cov.shape[1]:
        raise ValueError(f"cov must be a square matrix, got shape {cov.shape}.")
    ck.optional(ck.integer, "n_oversamples", n_oversamples, minimum=0)
    ck.integer("n_power_iter", n_power_iter, minimum=0); ck.seed("seed", seed)
    ck.positive("rtol", rtol); ck.integer("max_rounds", max_rounds, minimum=1)
    import warnings

    import torch

    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"cov must be a square matrix, got shape {cov.shape}.")
    m = cov.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= m:
        raise ValueError(f"k must be between 1 and m={m}, got k={k}.")
    k = int(k)
    p = max(k, 10) if n_oversamples is None else int(n_oversamples)
    if p < 0:
        raise ValueError(f"n_oversamples must be >= 0, got {n_oversamples}.")
    if int(n_power_iter) < 1:
        raise ValueError(f"n_power_iter must be >= 1, got {n_power_iter}.")
    if not rtol > 0:
        raise ValueError(f"rtol must be > 0, got {rtol}.")
    if int(max_rounds) < 1:
        raise ValueError(f"max_rounds must be >= 1, got {max_rounds}.")
    l = min(m, k + p)
    if l == m:
        return np.ascontiguousarray(np.linalg.eigvalsh(cov)[::-1][:k])

    c64 = torch.as_tensor(np.ascontiguousarray(cov))
    c32 = c64.to(torch.float32)
    gen = torch.Generator().manual_seed(int(seed))
    q = _orthonormal_f32(c32 @ torch.randn(m, l, generator=gen, dtype=torch.float32))
    y = c32 @ q
    a = max(float(_eigvalsh_desc((q.T @ y).double())[-1]), 0.0)
    est = np.inf
    for _ in range(int(max_rounds)):
        for i, r in enumerate(_chebyshev_roots(int(n_power_iter), a)):
            if i > 0:
                y = c32 @ q
            q = _orthonormal_f32(y - float(r) * q)
        q64 = _orthonormal_f64(q.double())
        ritz, nys, y64 = _ritz_and_nystrom(c64, q64)
        if nys is None:
            vals = ritz
            break
        vals = nys
        mu = nys.numpy()
        th = ritz.numpy()
        # differences below the float64 round-off of the projections, √m·eps64·μ₁, count as 0
        diff = np.maximum(np.abs(mu[:k] - th[:k]) - m**0.5 * np.finfo(np.float64).eps * mu[0], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = mu[l - 1] / mu[:k]
            est = np.where(diff > 0, rho / (1 - rho) * diff / mu[:k], 0.0)
        est = float(np.max(np.where(rho < 1, est, np.where(diff > 0, np.inf, 0.0))))
        if est <= rtol:
            break
        a = float(mu[l - 1])
        q = q64.to(torch.float32)
        y = y64.to(torch.float32)
    else:
        warnings.warn(
            f"topk_eigenvalues: estimated relative error {est:.2g} > rtol={rtol:g} after "
            f"{max_rounds} rounds; raise n_power_iter or n_oversamples.",
            RuntimeWarning,
            stacklevel=2,
        )
    return np.ascontiguousarray(vals.numpy()[:k], dtype=np.float64)


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
    ck.optional(ck.integer, "k", k, minimum=1)
    ck.seed("seed", seed)
    ck.optional(ck.integer, "n_samples", n_samples, minimum=1)
    if not isinstance(x, CovarianceAccumulator):
        x = ck.array("x", x, ndim=2, keep_tensor=True)
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
        raise ValueError(f"x needs at least 2 samples (rows) to estimate a covariance, got {n}.")
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
    x1 = ck.array("x1", x1, ndim=2, min_len=3); x2 = ck.array("x2", x2, ndim=2, min_len=3)
    ck.integer("n_shuffles", n_shuffles, minimum=1); ck.seed("seed", seed)
    ck.integer("max_components", max_components, minimum=1)
    if x1.shape != x2.shape:
        raise ValueError(f"x1 and x2 (two repeats of the same stimuli) must have the same shape, got {x1.shape} and {x2.shape}.")
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
    lam = np.clip(ck.array("eigenvalues", eigenvalues, ndim=1), 0, None)
    if lam.size == 0 or lam.sum() <= 0:
        raise ValueError("eigenvalues must hold at least one positive value (participation_ratio of a spectrum).")
    return float(lam.sum() ** 2 / np.sum(lam**2))


def effective_rank(eigenvalues: Any) -> float:
    """Roy & Vetterli (2007) effective rank exp(H(p)), p_i = λ_i / Σλ (1..m)."""
    lam = np.clip(ck.array("eigenvalues", eigenvalues, ndim=1), 0, None)
    if lam.size == 0 or lam.sum() <= 0:
        raise ValueError("eigenvalues must hold at least one positive value (effective_rank of a spectrum).")
    p = lam[lam > 0] / lam.sum()
    return float(np.exp(-np.sum(p * np.log(p))))
