"""An eigenspectrum that remembers where it came from (docs/paper_guide.md §4, pitfall 2).

A bare array of eigenvalues hides two facts a power-law fit needs: how many samples stand behind
it (the finite-sample bias depends on n) and how many features the layer has (for n < m the
sample spectrum has only n values, so ``len(spectrum)`` is not m). :class:`Spectrum` is a 1-D
float64 ndarray that carries ``n_samples``, ``n_features`` and ``estimator``; every function of
the package that makes a spectrum returns one, and
:func:`~polycode_lite.science.powerlaw.fit_power_law` reads them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from polycode_lite import _checks as ck

__all__ = ["ESTIMATORS", "Spectrum", "as_spectrum", "check_spectrum", "n_leading_positive"]

# how a spectrum was estimated: PCA of the samples (eigenvalues of the sample covariance, exact or
# the top-k of it), cvPCA (Stringer et al. 2019), or the eigenvalues of a covariance built from
# stochastic repeats (symmetrised cross-covariance, or the denoised covariance)
ESTIMATORS = ("pca", "topk", "cvpca", "cross-covariance", "denoised", "population", "unknown")


class Spectrum(np.ndarray):
    """1-D float64 eigenvalues with ``n_samples``, ``n_features`` (m) and ``estimator``.

    Behaves as an ndarray; slices keep the metadata (a slice of a spectrum is a spectrum of the
    same data). ``np.asarray(spectrum)`` gives the bare values.
    """

    n_samples: int | None
    n_features: int | None
    estimator: str

    def __new__(cls, values: Any, n_samples: int | None = None, n_features: int | None = None,
                estimator: str = "unknown") -> Spectrum:
        arr = np.ascontiguousarray(ck.array("values", values, finite=False), dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"values must be 1-D (a spectrum is 1-D), got shape {arr.shape}.")
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
        ck.optional(ck.integer, "n_samples", n_samples, minimum=2)
        ck.optional(ck.integer, "n_features", n_features, minimum=1)
        if n_features is not None and int(n_features) < arr.size and estimator != "unknown":
            raise ValueError(f"n_features={n_features} is smaller than the {arr.size} eigenvalues.")
        obj = arr.view(cls)
        obj.n_samples = None if n_samples is None else int(n_samples)
        obj.n_features = None if n_features is None else int(n_features)
        obj.estimator = estimator
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.n_samples = getattr(obj, "n_samples", None)
        self.n_features = getattr(obj, "n_features", None)
        self.estimator = getattr(obj, "estimator", "unknown")

    def __reduce__(self) -> Any:
        return (Spectrum, (np.asarray(self), self.n_samples, self.n_features, self.estimator))

    def __repr__(self) -> str:
        return (f"Spectrum({np.array2string(np.asarray(self), threshold=8, precision=4)}, "
                f"n_samples={self.n_samples}, n_features={self.n_features}, "
                f"estimator={self.estimator!r})")


def as_spectrum(values: Any, n_samples: int | None = None, n_features: int | None = None,
                estimator: str | None = None) -> Spectrum:
    """``values`` as a :class:`Spectrum`; metadata given here must agree with what it carries."""
    known = values if isinstance(values, Spectrum) else None
    out = {}
    for name, given in (("n_samples", n_samples), ("n_features", n_features),
                        ("estimator", estimator)):
        carried = getattr(known, name, None) if known is not None else None
        if name == "estimator" and carried == "unknown":
            carried = None
        if given is not None and carried is not None and given != carried:
            raise ValueError(f"{name}={given!r} disagrees with the spectrum, which came from "
                             f"{name}={carried!r}; drop the argument or pass matching data.")
        out[name] = given if given is not None else carried
    return Spectrum(np.asarray(values), out["n_samples"], out["n_features"],
                    out["estimator"] or "unknown")


def n_leading_positive(values: Any) -> int:
    """The number of values before the first non-positive one."""
    lam = ck.array("values", values, ndim=1)
    nonpos = np.flatnonzero(lam <= 0)
    return int(nonpos[0]) if nonpos.size else int(lam.size)


def check_spectrum(values: Any, what: str = "eigenvalues") -> Spectrum:
    """Validate a spectrum for a fit: 1-D, finite, at least 3 values, not ascending.

    A PCA spectrum must be descending; one that is ascending (what ``np.linalg.eigvalsh``
    returns) is an error, never fitted. A PCA spectrum with small out-of-order steps (round-off)
    is sorted with a warning. cvPCA and repeats spectra are ordered by their estimator and may
    be non-monotone.
    """
    if isinstance(values, np.ndarray) and values.ndim != 1 or (
            not isinstance(values, np.ndarray) and np.ndim(values) != 1):
        raise ValueError(
            f"{what} must be a 1-D spectrum, got shape {np.shape(values)}. For (n, m) activations "
            "use estimate_alpha(x) or eigenspectrum(x) first; for a stack of spectra fit each row.")
    ck.array(what, values, finite=False)  # its own NaN message below names the rank
    lam = as_spectrum(values)
    if lam.size < 3:
        raise ValueError(f"need at least 3 eigenvalues to fit a power law, got {lam.size}.")
    bad = ~np.isfinite(lam)
    if bad.any():
        raise ValueError(f"{what} contain {int(bad.sum())} NaN/inf value(s) (first at rank "
                         f"{int(np.flatnonzero(bad)[0]) + 1}).")
    steps = np.diff(np.asarray(lam))
    if lam[0] < lam[-1] and np.all(steps >= 0):
        raise ValueError(
            f"{what} are ascending ({lam[0]:.3g} ... {lam[-1]:.3g}), the order np.linalg.eigvalsh "
            "returns; a power law is fitted to a descending spectrum. Pass values[::-1] or use "
            "polycode_lite.science.eigen.eigenspectrum.")
    if lam.estimator in ("pca", "topk", "population") and np.any(steps > 0):
        scale = float(np.max(np.abs(lam)))
        if np.max(steps) > 1e-8 * scale:
            raise ValueError(f"{what}: a {lam.estimator} spectrum must be descending; rank "
                             f"{int(np.argmax(steps)) + 2} is larger than the rank before it.")
        warnings.warn(f"{what}: sorted {int(np.sum(steps > 0))} round-off inversions.", stacklevel=3)
        lam = Spectrum(np.sort(np.asarray(lam))[::-1], lam.n_samples, lam.n_features, lam.estimator)
    return lam
