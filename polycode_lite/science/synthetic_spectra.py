"""Synthetic spectra with a known power law: sample eigenvalues of Gaussian data with population
spectrum i^-alpha, and the data itself (used by the finite-sample correction, the calibration
benchmark and notebook 03)."""

from __future__ import annotations

import numpy as np
from polycode_lite import _checks as ck

__all__ = ["powerlaw_gaussian", "sample_powerlaw_spectrum"]


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
    m = ck.integer("m", m, minimum=1); n_samples = ck.integer("n_samples", n_samples, minimum=2)
    ck.real("alpha", alpha); ck.memory("m", (m, m)); ck.memory("n_samples", (min(n_samples, m + 1),) * 2)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}.")
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
    n = ck.integer("n", n, minimum=1); m = ck.integer("m", m, minimum=1)
    ck.real("alpha", alpha); ck.seed("seed", seed); ck.positive("noise_std", noise_std, allow_zero=True)
    ck.memory("n, m", (n, m)); ck.memory("m", (m, m))
    rng = np.random.default_rng(seed)
    lam = np.arange(1, m + 1, dtype=np.float64) ** (-alpha)
    x = rng.standard_normal((n, m)) * np.sqrt(lam)
    if rotate:
        q, r = np.linalg.qr(rng.standard_normal((m, m)))
        x = x @ (q * np.sign(np.diag(r))).T
    if noise_std > 0:
        x = x + noise_std * rng.standard_normal((n, m))
    return x
