"""Eigenspectra of activation covariances and their power-law exponent alpha.

Conventions (PAPER.md §2.3, §3 E2, §4):
  * alpha is the *rank* exponent, lambda_n ∝ n^-alpha (Stringer et al. 2019). It is not
    WeightWatcher's density exponent (alpha_density = 1 + 1/alpha_rank).
  * Activations are (n_samples, n_features) = (n, m). Covariances are centred, ddof=1.
  * Eigenvalues are returned in float64, descending, on the CPU.

Public API: CovarianceAccumulator, eigenspectrum, cv_pca, fit_power_law, PowerLawFit,
alpha_window_scan, bootstrap_alpha, default_fit_window, sample_powerlaw_spectrum,
powerlaw_gaussian, smoothness_threshold, participation_ratio, effective_rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "CovarianceAccumulator",
    "eigenspectrum",
    "topk_eigenvalues",
    "cv_pca",
    "PowerLawFit",
    "fit_power_law",
    "default_fit_window",
    "alpha_window_scan",
    "bootstrap_alpha",
    "sample_powerlaw_spectrum",
    "powerlaw_gaussian",
    "smoothness_threshold",
    "participation_ratio",
    "effective_rank",
]


# --------------------------------------------------------------------------------------
# input checks shared by everything below
# --------------------------------------------------------------------------------------
def _describe_nonfinite(bad: np.ndarray) -> str:
    """Describe where the True entries of a 2-D boolean mask are: count and first locations."""
    idx = np.argwhere(bad)
    where = ", ".join(f"(row {r}, col {c})" for r, c in idx[:5])
    more = f" and {len(idx) - 5} more" if len(idx) > 5 else ""
    return f"{len(idx)} NaN/inf value(s) at {where}{more}"


def _as_2d_float64(x: Any, name: str = "x") -> np.ndarray:
    """Convert an array-like or torch tensor to a finite 2-D float64 numpy array or raise."""
    if hasattr(x, "detach"):
        x = x.detach().to("cpu").double().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (n_samples, n_features) array, got shape {arr.shape}. "
            "Flatten extra axes first, e.g. acts.reshape(-1, acts.shape[-1])."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} contains {_describe_nonfinite(bad)}. Remove or impute them first.")
    return arr


# --------------------------------------------------------------------------------------
# streaming covariance
# --------------------------------------------------------------------------------------
class CovarianceAccumulator:
    """Streaming, mergeable mean and covariance of (n, dim) batches.

    Each batch is centred on its own mean in the accumulator's dtype (float64 by default)
    before its cross-product is formed, and batches are combined with the parallel-variance
    update of Chan, Golub & LeVeque (1979):

        n = n_a + n_b,  delta = mean_b - mean_a,
        M2 = M2_a + M2_b + delta deltaᵀ · n_a n_b / n,   cov = M2 / (n - 1).

    Memory is O(dim²) whatever the number of samples. Works on CPU or GPU tensors; numpy
    batches are moved to ``device``. A batch containing NaN/inf, of the wrong width or empty
    raises ``ValueError`` and leaves the accumulator unchanged.

    Args:
        dim: number of features m.
        dtype: torch dtype of the running sums (``torch.float64`` by default; float32 only to
            save GPU memory for very wide layers, at a cost in precision).
        device: torch device for the running sums (default CPU).
    """

    def __init__(self, dim: int, dtype: "torch.dtype | None" = None, device: Any = None) -> None:
        import torch

        if int(dim) < 1:
            raise ValueError(f"dim must be a positive integer, got {dim}.")
        self.dim = int(dim)
        self.dtype = torch.float64 if dtype is None else dtype
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._n = 0
        self._mean = torch.zeros(self.dim, dtype=self.dtype, device=self.device)
        self._m2 = torch.zeros(self.dim, self.dim, dtype=self.dtype, device=self.device)

    # -- state ----------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of samples seen."""
        return self._n

    @property
    def mean(self) -> np.ndarray:
        """Running mean, shape (dim,), float64 numpy."""
        return self._mean.detach().to("cpu").double().numpy()

    def covariance(self, ddof: int = 1) -> np.ndarray:
        """Sample covariance M2 / (n - ddof), shape (dim, dim), float64 numpy on the CPU."""
        if self._n - ddof <= 0:
            raise ValueError(
                f"Need at least {ddof + 1} samples for a covariance with ddof={ddof}; "
                f"the accumulator has seen {self._n}. Feed more batches with .update()."
            )
        m2 = self._m2.detach().to("cpu").double()
        return (m2 / (self._n - ddof)).numpy()

    def covariance_tensor(self, ddof: int = 1) -> "torch.Tensor":
        """Sample covariance as a tensor on the accumulator's device and dtype."""
        if self._n - ddof <= 0:
            raise ValueError(f"Need at least {ddof + 1} samples; have {self._n}.")
        return self._m2 / (self._n - ddof)

    # -- updates --------------------------------------------------------------------
    def _to_tensor(self, batch: Any) -> "torch.Tensor":
        import torch

        if isinstance(batch, torch.Tensor):
            t = batch.detach()
        else:
            t = torch.as_tensor(np.asarray(batch))
        if t.ndim != 2:
            raise ValueError(
                f"batch must be 2-D (n, {self.dim}), got shape {tuple(t.shape)}. "
                "Flatten token/spatial axes first, e.g. acts.reshape(-1, acts.shape[-1])."
            )
        if t.shape[1] != self.dim:
            raise ValueError(
                f"dimension mismatch: accumulator has dim={self.dim} but the batch has "
                f"{t.shape[1]} features (shape {tuple(t.shape)})."
            )
        if t.shape[0] == 0:
            raise ValueError("batch is empty (0 rows); nothing to accumulate.")
        if not torch.is_floating_point(t):
            t = t.to(torch.float64)
        # cast before the matmul: the cross-product is formed in the accumulator dtype
        return t.to(device=self.device, dtype=self.dtype)

    def update(self, batch: Any) -> "CovarianceAccumulator":
        """Add a (n, dim) numpy array or torch tensor. Returns self."""
        import torch

        x = self._to_tensor(batch)
        n_b = x.shape[0]
        with torch.autocast(device_type=self.device.type, enabled=False):
            mean_b = x.mean(dim=0)
            # any NaN/inf entry makes its column mean non-finite: a cheap O(dim) test first,
            # the full scan only to name the culprits (state is still untouched here)
            if not bool(torch.isfinite(mean_b).all()):
                bad = (~torch.isfinite(x)).to("cpu").numpy()
                where = _describe_nonfinite(bad) if bad.any() else "values so large the mean overflows"
                raise ValueError(
                    f"batch contains {where}; the accumulator was left unchanged. "
                    "Check the layer for overflow (e.g. fp16) or drop those rows."
                )
            xc = x - mean_b
            # between-batch term first, then the batch's centred cross-product added in place
            # by one GEMM (addmm_ avoids a temporary (dim, dim) matrix)
            self._combine(n_b, mean_b, None)
            self._m2.addmm_(xc.T, xc)
        return self

    def _combine(self, n_b: int, mean_b: "torch.Tensor", m2_b: "torch.Tensor | None") -> None:
        """Chan et al. update of n, mean and M2; ``m2_b`` None means the caller adds it."""
        n_a = self._n
        n = n_a + n_b
        delta = mean_b - self._mean
        if m2_b is not None:
            self._m2 += m2_b
        if n_a > 0:
            self._m2.addr_(delta, delta, alpha=n_a * n_b / n)
        self._mean += delta * (n_b / n)
        self._n = n

    def merge(self, other: "CovarianceAccumulator") -> "CovarianceAccumulator":
        """Fold another accumulator of the same dim into this one (in place). Returns self."""
        if not isinstance(other, CovarianceAccumulator):
            raise TypeError(f"can only merge a CovarianceAccumulator, got {type(other).__name__}")
        if other.dim != self.dim:
            raise ValueError(f"dimension mismatch: cannot merge dim={other.dim} into dim={self.dim}.")
        if other._n == 0:
            return self
        self._combine(
            other._n,
            other._mean.to(self.device, self.dtype),
            other._m2.to(self.device, self.dtype),
        )
        return self

    def all_reduce(self, group: Any = None) -> "CovarianceAccumulator":
        """Merge this accumulator across all ``torch.distributed`` ranks, in place.

        Uses the same Chan update: all-reduce n, then n·mean, then the centred cross-products
        shifted to the global mean, so every rank ends with the global state.
        """
        import torch
        import torch.distributed as dist

        n_local = torch.tensor([float(self._n)], dtype=torch.float64, device=self.device)
        n_total = n_local.clone()
        dist.all_reduce(n_total, group=group)
        weighted_mean = self._mean.to(torch.float64) * n_local
        dist.all_reduce(weighted_mean, group=group)
        global_mean = weighted_mean / n_total
        delta = (self._mean.to(torch.float64) - global_mean).to(self.dtype)
        m2 = self._m2 + torch_outer(delta, delta) * float(self._n)
        dist.all_reduce(m2, group=group)
        self._m2.copy_(m2)
        self._mean = global_mean.to(self.dtype)
        self._n = int(round(float(n_total.item())))
        return self

    # -- persistence ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Tensors and metadata to save (e.g. with safetensors) and restore with from_state_dict."""
        import torch

        return {
            "n": torch.tensor([self._n], dtype=torch.int64),
            "mean": self._mean.detach().cpu().clone(),
            "m2": self._m2.detach().cpu().clone().contiguous(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: Any = None) -> "CovarianceAccumulator":
        """Rebuild an accumulator saved with :meth:`state_dict`."""
        mean = state["mean"]
        acc = cls(int(mean.shape[0]), dtype=mean.dtype, device=device)
        acc._n = int(state["n"].reshape(-1)[0])
        acc._mean = mean.to(acc.device).clone()
        acc._m2.copy_(state["m2"].to(acc.device, acc.dtype))
        return acc

    def __repr__(self) -> str:
        return f"CovarianceAccumulator(dim={self.dim}, n={self._n}, dtype={self.dtype}, device={self.device})"


def torch_outer(a: "torch.Tensor", b: "torch.Tensor") -> "torch.Tensor":
    import torch

    return torch.outer(a, b)


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
) -> np.ndarray:
    """Eigenvalues of a covariance, descending, float64.

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
        cov = x.covariance()
        return _spectrum_of_covariance(cov, k, method, seed)
    arr = _as_2d_float64(x)
    if kind == "covariance" or (kind == "auto" and _looks_like_covariance(arr)):
        if arr.shape[0] != arr.shape[1]:
            raise ValueError(f"a covariance must be square, got shape {arr.shape}.")
        return _spectrum_of_covariance(0.5 * (arr + arr.T), k, method, seed)
    n, m = arr.shape
    if n < 2:
        raise ValueError(f"need at least 2 samples (rows) to estimate a covariance, got {n}.")
    if k is not None and not 1 <= k <= m:
        raise ValueError(f"k={k} is out of range: the activations have m={m} features.")
    xc = arr - arr.mean(axis=0)
    if n < m:
        gram = (xc @ xc.T) / (n - 1)
        vals = np.linalg.eigvalsh(gram)[::-1]
        return vals[: min(k, n)] if k is not None else vals
    return _spectrum_of_covariance((xc.T @ xc) / (n - 1), k, method, seed)


def _spectrum_of_covariance(cov: np.ndarray, k: int | None, method: str, seed: int) -> np.ndarray:
    m = cov.shape[0]
    if k is not None and not 1 <= k <= m:
        raise ValueError(f"k={k} is out of range: the covariance is {m} x {m}.")
    use_randomized = method == "randomized" or (
        method == "auto" and k is not None and m > 1000 and k < m / 3
    )
    if use_randomized and k is not None:
        return topk_eigenvalues(cov, k, seed=seed)
    vals = np.linalg.eigvalsh(cov)[::-1]
    return np.ascontiguousarray(vals[:k] if k is not None else vals)


def cv_pca(
    x1: Any,
    x2: Any,
    n_shuffles: int = 5,
    seed: int = 0,
    max_components: int = 1024,
) -> np.ndarray:
    """Cross-validated PCA spectrum of Stringer et al. (2019) from two repeats.

    x1, x2: (n_stimuli, m) responses to the same stimuli (two trials, or two dropout masks).
    For each shuffle, repeats are swapped at random per stimulus; principal axes u_k come from
    repeat 1 only; the cross-validated variance is λ̂_k = (x1 u_k)·(x2 u_k)/(n-1), which
    averages out noise that is independent between the repeats. Spectra are averaged over
    shuffles. Values can be negative in the tail (clip or exclude before a log fit).

    Returns:
        (min(n_stimuli - 1, m, max_components),) float64, ordered by repeat-1 variance.
    """
    a = _as_2d_float64(x1, "x1")
    b = _as_2d_float64(x2, "x2")
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
    return spectra.mean(axis=0)


# --------------------------------------------------------------------------------------
# power-law fit
# --------------------------------------------------------------------------------------
def smoothness_threshold(d: float) -> float:
    """Stringer et al. (2019): a smooth code of a d-dimensional input needs alpha > 1 + 2/d."""
    if d <= 0:
        raise ValueError(f"the input dimension d must be positive, got {d}.")
    return 1.0 + 2.0 / d


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


def default_fit_window(n_eigenvalues: int, n_samples: int | None = None) -> tuple[int, int]:
    """Stringer's rank window 11..500, capped at half of what the data supports.

    hi = min(500, floor(0.5 · min(number of eigenvalues, n_samples))). When that leaves fewer
    than 40 ranks above 10 (narrow layers or few samples) the window starts at rank 2 instead,
    lo = 2. Raises ValueError if fewer than 5 ranks remain.
    """
    support = n_eigenvalues if n_samples is None else min(n_eigenvalues, n_samples)
    hi = min(500, int(0.5 * support))
    lo = 11 if hi >= 50 else 2
    if hi - lo + 1 < 5:
        raise ValueError(
            f"too few eigenvalues/samples for a power-law fit: {n_eigenvalues} eigenvalues"
            + (f" from {n_samples} samples" if n_samples is not None else "")
            + f" support only ranks {lo}..{hi}. Collect more samples or pass ranks=(lo, hi)."
        )
    return lo, hi


def _wls_loglog(ranks: np.ndarray, lam: np.ndarray) -> tuple[float, float, float]:
    """Weighted least squares of log λ_n = c - α log n with weights 1/n. Returns (α, c, r²)."""
    lx = np.log(ranks)
    ly = np.log(lam)
    w = 1.0 / ranks
    sw = w.sum()
    mx = np.sum(w * lx) / sw
    my = np.sum(w * ly) / sw
    slope = np.sum(w * (lx - mx) * (ly - my)) / np.sum(w * (lx - mx) ** 2)
    intercept = my - slope * mx
    resid = ly - (intercept + slope * lx)
    ss_tot = np.sum((ly - ly.mean()) ** 2)
    r2 = 1.0 - np.sum(resid**2) / ss_tot if ss_tot > 0 else float("nan")
    return float(-slope), float(intercept), float(r2)


def _check_window(lam: np.ndarray, ranks: tuple[int, int]) -> tuple[int, int]:
    lo, hi = int(ranks[0]), int(ranks[1])
    if lo < 1 or hi <= lo:
        raise ValueError(f"fit window must satisfy 1 <= lo < hi, got ranks=({lo}, {hi}).")
    if hi > lam.size:
        raise ValueError(
            f"fit window ranks=({lo}, {hi}) is outside the spectrum, which has only {lam.size} "
            f"eigenvalues. Use hi <= {lam.size} (or default_fit_window)."
        )
    if hi - lo + 1 < 3:
        raise ValueError(f"fit window ranks=({lo}, {hi}) has fewer than 3 points.")
    window = lam[lo - 1 : hi]
    if np.any(window <= 0):
        bad = np.flatnonzero(window <= 0) + lo
        raise ValueError(
            f"fit window ranks=({lo}, {hi}) contains {bad.size} non-positive eigenvalue(s) "
            f"(first at rank {bad[0]}); the log is undefined there. Lower hi below {bad[0]}, "
            "or clip cvPCA negatives before fitting."
        )
    return lo, hi


def sample_powerlaw_spectrum(
    m: int, n_samples: int, alpha: float, rng: np.random.Generator
) -> np.ndarray:
    """Eigenvalues of the centred sample covariance of n Gaussian samples with population
    spectrum λ_i = i^-alpha (i = 1..m), drawn without forming the (n, m) data.

    For n - 1 >= m the scatter matrix is Wishart(Λ, n-1) = Λ^½ A Aᵀ Λ^½ with A the Bartlett
    factor (lower triangular, A_ii ~ chi(n-i), A_ij ~ N(0,1) below the diagonal), an
    O(m³) cost independent of n. For n - 1 < m we form the (n-1, n-1) Gram matrix.
    Returns min(m, n-1) values, descending.
    """
    dof = n_samples - 1
    lam = np.arange(1, m + 1, dtype=np.float64) ** (-alpha)
    if dof >= m:
        a = np.tril(rng.standard_normal((m, m)), -1)
        a[np.diag_indices(m)] = np.sqrt(rng.chisquare(dof - np.arange(m)))
        b = np.sqrt(lam)[:, None] * a
        vals = np.linalg.eigvalsh(b @ b.T)[::-1] / dof
    else:
        z = rng.standard_normal((dof, m)) * np.sqrt(lam)
        vals = np.linalg.eigvalsh(z @ z.T)[::-1] / dof
    return vals


def powerlaw_gaussian(
    n: int, m: int, alpha: float, seed: int = 0, rotate: bool = True, noise_std: float = 0.0
) -> np.ndarray:
    """(n, m) Gaussian samples whose population covariance has eigenvalues i^-alpha.

    With ``rotate`` the eigenbasis is a random orthogonal matrix (a dense code: no single
    feature is a principal axis). ``noise_std`` adds isotropic noise of that s.d. per feature.
    """
    rng = np.random.default_rng(seed)
    lam = np.arange(1, m + 1, dtype=np.float64) ** (-alpha)
    x = rng.standard_normal((n, m)) * np.sqrt(lam)
    if rotate:
        q, r = np.linalg.qr(rng.standard_normal((m, m)))
        x = x @ (q * np.sign(np.diag(r))).T
    if noise_std > 0:
        x = x + noise_std * rng.standard_normal((n, m))
    return x


@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_power_law`.

    alpha: rank exponent (λ_n ∝ n^-alpha), bias-corrected when method is "simulation-matched".
    ci: 95% interval for alpha. ranks: (lo, hi) window actually used (1-based, inclusive).
    r2: coefficient of determination of the log-log fit in the window. intercept: log λ at n=1.
    alpha_plain: the uncorrected weighted log-log slope. method, ci_method: how alpha and
    ci were obtained. n_samples: samples behind the spectrum, when known.
    """

    alpha: float
    ci: tuple[float, float]
    ranks: tuple[int, int]
    r2: float
    intercept: float
    alpha_plain: float
    method: str
    ci_method: str
    n_samples: int | None = None
    eigenvalues: np.ndarray = field(default=None, repr=False, compare=False)

    def plot(self, ax: Any = None, label: str | None = None, color: str | None = None) -> Any:
        """Log-log spectrum with the fitted line over the window. Returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 3.5))
        lam = np.asarray(self.eigenvalues)
        ranks = np.arange(1, lam.size + 1)
        pos = lam > 0
        line = ax.loglog(ranks[pos], lam[pos], ".", ms=3, color=color, label=label or "spectrum")
        lo, hi = self.ranks
        rr = np.arange(lo, hi + 1)
        # the plotted line uses the plain slope: it is the fit to these sample eigenvalues
        ax.loglog(
            rr,
            np.exp(self.intercept) * rr ** (-self.alpha_plain),
            "-",
            color="k" if color is None else line[0].get_color(),
            lw=1.5,
            label=f"fit n={lo}..{hi}: α={self.alpha:.2f} [{self.ci[0]:.2f}, {self.ci[1]:.2f}]",
        )
        ax.axvspan(lo, hi, color="0.9", zorder=0)
        ax.set_xlabel("rank n")
        ax.set_ylabel("eigenvalue λₙ (variance)")
        ax.set_title("Eigenspectrum and power-law fit")
        ax.legend(fontsize=8)
        return ax

    def __str__(self) -> str:
        return (
            f"alpha = {self.alpha:.3f} (95% CI {self.ci[0]:.3f}..{self.ci[1]:.3f}; "
            f"ranks {self.ranks[0]}..{self.ranks[1]}; r2 = {self.r2:.3f}; {self.method})"
        )


def fit_power_law(
    eigenvalues: Any,
    ranks: tuple[int, int] | None = None,
    n_samples: int | None = None,
    n_boot: int = 200,
    seed: int = 0,
    correct_bias: bool | None = None,
    n_sim: int = 6,
    n_features: int | None = None,
) -> PowerLawFit:
    """Fit λ_n ∝ n^-alpha by weighted log-log least squares (Stringer et al. 2019, weights 1/n).

    Args:
        eigenvalues: 1-D spectrum, descending (from :func:`eigenspectrum` or :func:`cv_pca`).
        ranks: (lo, hi) 1-based inclusive window; default :func:`default_fit_window`.
        n_samples: number of samples the spectrum was estimated from. When given (and
            ``correct_bias`` is not False) the finite-sample bias is removed by simulation
            matching: find the population alpha whose simulated Gaussian sample spectra, at the
            same n, m and window, give the observed plain fit (fixed-point iteration with common
            random numbers). The CI then comes from the spread of simulated fits (parametric
            bootstrap). Without n_samples, alpha is the plain fit and the CI a residual
            bootstrap of the log-log regression (which ignores the correlation of sample
            eigenvalues, so it is too narrow; prefer :func:`bootstrap_alpha` on raw data).
        n_boot: bootstrap replicates for the CI.
        seed: seed for all simulation/bootstrap randomness.
        n_sim: simulated spectra per fixed-point step of the bias correction.
        n_features: population dimension m for the simulation (default: the spectrum's
            length; pass it when n < m truncated the spectrum to n values).

    Raises:
        ValueError: NaN/inf, a window outside the spectrum or containing non-positive values.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    if lam.size < 3:
        raise ValueError(f"need at least 3 eigenvalues to fit a power law, got {lam.size}.")
    if not np.all(np.isfinite(lam)):
        raise ValueError(
            f"eigenvalues contain {int(np.sum(~np.isfinite(lam)))} NaN/inf value(s) "
            f"(first at rank {int(np.flatnonzero(~np.isfinite(lam))[0]) + 1})."
        )
    if n_samples is not None and n_samples < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples}.")
    if ranks is None:
        n_pos = int(np.argmax(lam <= 0)) if np.any(lam <= 0) else lam.size
        ranks = default_fit_window(n_pos, n_samples)
    lo, hi = _check_window(lam, ranks)
    rr = np.arange(lo, hi + 1, dtype=np.float64)
    alpha_plain, intercept, r2 = _wls_loglog(rr, lam[lo - 1 : hi])
    rng = np.random.default_rng(seed)
    do_correct = n_samples is not None if correct_bias is None else bool(correct_bias)
    if do_correct and n_samples is None:
        raise ValueError("correct_bias=True needs n_samples (the number of samples behind the spectrum).")

    if do_correct:
        m = lam.size if n_features is None else int(n_features)
        if m < hi:
            raise ValueError(f"n_features={m} is smaller than the window's upper rank {hi}.")

        def simulate(alpha_pop: float, reps: int, sim_seed: int) -> np.ndarray:
            g = np.random.default_rng(sim_seed)
            out = np.empty(reps)
            for i in range(reps):
                s = sample_powerlaw_spectrum(m, n_samples, alpha_pop, g)
                out[i] = _wls_loglog(rr, np.clip(s[lo - 1 : hi], 1e-300, None))[0]
            return out

        crn_seed = int(rng.integers(2**31))
        alpha_pop = alpha_plain
        for _ in range(4):
            bias = simulate(alpha_pop, n_sim, crn_seed).mean() - alpha_pop
            new = alpha_plain - bias
            if abs(new - alpha_pop) < 1e-3:
                alpha_pop = new
                break
            alpha_pop = new
        sims = simulate(alpha_pop, max(20, min(n_boot, 60)), int(rng.integers(2**31)))
        # parametric bootstrap: the corrected estimator's spread ≈ the plain fit's spread
        spread = sims - sims.mean()
        ci = (float(alpha_pop + np.quantile(spread, 0.025)), float(alpha_pop + np.quantile(spread, 0.975)))
        return PowerLawFit(
            alpha=float(alpha_pop), ci=ci, ranks=(lo, hi), r2=r2, intercept=intercept,
            alpha_plain=alpha_plain, method="simulation-matched", ci_method="parametric bootstrap",
            n_samples=n_samples, eigenvalues=lam,
        )

    # residual bootstrap of the weighted regression
    lx = np.log(rr)
    fitted = intercept - alpha_plain * lx
    resid = np.log(lam[lo - 1 : hi]) - fitted
    boots = np.empty(n_boot)
    for i in range(n_boot):
        ly = fitted + rng.choice(resid, size=resid.size, replace=True)
        boots[i] = _wls_loglog(rr, np.exp(ly))[0]
    ci = (float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)))
    return PowerLawFit(
        alpha=alpha_plain, ci=ci, ranks=(lo, hi), r2=r2, intercept=intercept,
        alpha_plain=alpha_plain, method="plain", ci_method="residual bootstrap",
        n_samples=n_samples, eigenvalues=lam,
    )


def alpha_window_scan(
    eigenvalues: Any,
    los: Sequence[int] = (2, 6, 11, 21),
    his: Sequence[int] | None = None,
    n_samples: int | None = None,
    seed: int = 0,
) -> "Any":
    """Fit alpha over a grid of windows to show how it moves. Returns a pandas DataFrame with
    one row per valid (lo, hi): lo, hi, alpha, ci_low, ci_high, r2. Invalid windows are skipped."""
    import pandas as pd

    lam = np.asarray(eigenvalues, dtype=np.float64)
    n_pos = int(np.argmax(lam <= 0)) if np.any(lam <= 0) else lam.size
    if his is None:
        cap = n_pos if n_samples is None else min(n_pos, n_samples)
        his = sorted({h for h in (20, 50, 100, 200, 500, 1000) if h <= cap} | {max(10, cap // 2)})
    rows = []
    for lo in los:
        for hi in his:
            if hi - lo + 1 < 5 or hi > n_pos:
                continue
            f = fit_power_law(lam, ranks=(lo, hi), n_samples=n_samples, n_boot=50, seed=seed)
            rows.append(dict(lo=lo, hi=hi, alpha=f.alpha, ci_low=f.ci[0], ci_high=f.ci[1], r2=f.r2))
    if not rows:
        raise ValueError(f"no valid window: the spectrum has only {n_pos} positive eigenvalues.")
    return pd.DataFrame(rows)


def bootstrap_alpha(
    x: Any,
    groups: Any = None,
    n_boot: int = 100,
    ranks: tuple[int, int] | None = None,
    seed: int = 0,
    correct_bias: bool = False,
) -> PowerLawFit:
    """Alpha of raw (n, m) activations with a CI from resampling rows (or whole groups).

    ``groups`` is a length-n array of group ids (e.g. document index for tokens, which are
    correlated within a document, PAPER.md pitfall 8); groups are resampled with replacement.
    The point estimate is the fit on all data (bias-corrected if ``correct_bias``); the CI is
    the percentile interval of the bootstrap fits, shifted by the same bias correction.
    """
    arr = _as_2d_float64(x)
    n = arr.shape[0]
    lam = eigenspectrum(arr, kind="activations")
    base = fit_power_law(lam, ranks=ranks, n_samples=n if correct_bias else None, seed=seed,
                         n_boot=50)
    lo, hi = base.ranks
    rng = np.random.default_rng(seed)
    if groups is None:
        groups = np.arange(n)
    groups = np.asarray(groups)
    if groups.shape[0] != n:
        raise ValueError(f"groups has length {groups.shape[0]} but x has {n} rows.")
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(uniq.size)]
    if uniq.size < 2:
        raise ValueError("bootstrap_alpha needs at least 2 groups to resample.")
    boots = []
    for _ in range(n_boot):
        pick = rng.integers(0, uniq.size, uniq.size)
        idx = np.concatenate([members[g] for g in pick])
        lam_b = eigenspectrum(arr[idx], kind="activations")
        if lam_b.size < hi or np.any(lam_b[lo - 1 : hi] <= 0):
            continue
        boots.append(_wls_loglog(np.arange(lo, hi + 1.0), lam_b[lo - 1 : hi])[0])
    if len(boots) < max(10, n_boot // 2):
        raise ValueError("too many bootstrap resamples had a degenerate spectrum; collect more data.")
    shift = base.alpha - base.alpha_plain
    boots = np.asarray(boots) + shift
    ci = (float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)))
    return PowerLawFit(
        alpha=base.alpha, ci=ci, ranks=base.ranks, r2=base.r2, intercept=base.intercept,
        alpha_plain=base.alpha_plain, method=base.method,
        ci_method=f"bootstrap over {uniq.size} {'groups' if uniq.size < n else 'rows'}",
        n_samples=n, eigenvalues=lam,
    )
