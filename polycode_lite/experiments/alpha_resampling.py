"""Site data of the α pipeline (:mod:`polycode_lite.experiments.alpha`) and their resampling.

Three kinds of data can stand behind one site (a layer, a hook), each with its own resampling
unit for the bootstrap CI:

* :class:`Activations` ``x`` (n, m): the spectrum is PCA of the rows; replicates resample rows
  (or whole groups of rows when ``groups`` is given, e.g. the document of each token).
* :class:`Accumulators`: one or more :class:`~polycode_lite.science.covariance.CovarianceAccumulator`
  of the same width. Their merge gives the spectrum; with two or more, replicates merge the
  accumulators drawn with replacement (e.g. document groups). A lone accumulator cannot be
  resampled: the CI is then the fit's own (parametric when bias-corrected).
* :class:`Repeats`: K >= 2 (n, m) responses to the same n inputs (e.g. dropout masks); the
  spectrum is :func:`~polycode_lite.science.repeats.repeats_spectrum` with ``method`` (default
  "cross-covariance"); replicates resample inputs, keeping their repeats together.

:func:`as_site_data` turns a plain value into one of these (dispatch on type).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from polycode_lite import _checks as ck
from polycode_lite.science.covariance import CovarianceAccumulator

__all__ = ["Accumulators", "Activations", "Repeats", "as_site_data"]


def _as_matrix(x: Any, what: str) -> np.ndarray:
    arr = ck.array(what, x)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D (n_samples, n_features) array, got shape {arr.shape}.")
    if arr.shape[0] < 3 or arr.shape[1] < 2:
        raise ValueError(f"{what} needs at least 3 samples and 2 features, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains {int(np.sum(~np.isfinite(arr)))} NaN/inf value(s).")
    return arr


@dataclass(frozen=True)
class Activations:
    """(n, m) activations of one site; ``groups`` (length n) makes groups the resampling unit."""

    x: Any
    groups: Any = None
    unit: str | None = None

    def prepared(self, what: str) -> Activations:
        arr = _as_matrix(self.x, what)
        groups = None if self.groups is None else np.asarray(self.groups)
        if groups is not None and groups.shape != (arr.shape[0],):
            raise ValueError(f"{what}: groups has shape {groups.shape}, expected ({arr.shape[0]},).")
        return Activations(arr, groups, self.unit or ("groups" if groups is not None else "samples"))


@dataclass(frozen=True)
class Accumulators:
    """Covariance accumulators of one site (one, or several groups to resample)."""

    accs: tuple
    unit: str = "groups"

    def prepared(self, what: str) -> Accumulators:
        accs = tuple(self.accs)
        if not accs or not all(isinstance(a, CovarianceAccumulator) for a in accs):
            raise ValueError(f"{what} must hold one or more CovarianceAccumulator.")
        if len({a.dim for a in accs}) != 1:
            raise ValueError(f"{what}: accumulators have different widths {sorted({a.dim for a in accs})}.")
        if sum(a.n for a in accs) < 3:
            raise ValueError(f"{what}: only {sum(a.n for a in accs)} samples were accumulated; need >= 3.")
        return Accumulators(accs, self.unit)


@dataclass(frozen=True)
class Repeats:
    """K >= 2 (n, m) responses to the same inputs; ``method`` one of
    :data:`~polycode_lite.science.repeats.REPEATS_METHODS`."""

    reps: tuple
    unit: str = "samples"
    method: str = "cross-covariance"

    def prepared(self, what: str) -> Repeats:
        from polycode_lite.science.repeats import REPEATS_METHODS

        reps = tuple(_as_matrix(r, f"{what}[{i}]") for i, r in enumerate(self.reps))
        if len(reps) < 2:
            raise ValueError(f"{what}: repeats need at least 2 arrays, got {len(reps)}.")
        if len({r.shape for r in reps}) != 1:
            raise ValueError(f"{what}: repeats must have the same shape, got {[r.shape for r in reps]}.")
        if self.method not in REPEATS_METHODS:
            raise ValueError(f"{what}: method must be one of {REPEATS_METHODS}, got {self.method!r}.")
        return Repeats(reps, self.unit, self.method)


def as_site_data(value: Any, what: str) -> Activations | Accumulators | Repeats:
    """Wrap ``value`` (see the module docstring) and validate it; ``what`` names it in errors."""
    if isinstance(value, (Activations, Accumulators, Repeats)):
        return value.prepared(what)
    if isinstance(value, CovarianceAccumulator):
        return Accumulators((value,)).prepared(what)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, CovarianceAccumulator) for v in value):
            return Accumulators(tuple(value)).prepared(what)
        if len(value) >= 2 and all(hasattr(v, "shape") for v in value):
            return Repeats(tuple(value)).prepared(what)
        raise ValueError(f"{what} must be an (n, m) array, a CovarianceAccumulator, a list of "
                         "accumulators or a tuple of two or more (n, m) repeats; got a "
                         f"{type(value).__name__} of {len(value)} item(s).")
    if hasattr(value, "shape"):
        return Activations(value).prepared(what)
    raise ValueError(f"{what} has unsupported type {type(value).__name__}.")


# ------------------------------------------------------------------------------------------
# spectra and replicate spectra
# ------------------------------------------------------------------------------------------
def merged(accs: tuple, counts: Any = None) -> CovarianceAccumulator:
    """Chan merge of the accumulators, accumulator g taken ``counts[g]`` times (default once)."""
    counts = np.ones(len(accs), dtype=int) if counts is None else counts
    out = CovarianceAccumulator(accs[0].dim, dtype=accs[0].dtype, device=accs[0].device)
    for acc, c in zip(accs, counts):
        for _ in range(int(c)):
            out.merge(acc)
    return out


def cv_spectrum(reps: tuple, method: str, n_shuffles: int, seed: int) -> np.ndarray:
    """The repeats spectrum (``repeats_spectrum``) of a tuple of (n, m) repeats."""
    from polycode_lite.science.repeats import repeats_spectrum

    return repeats_spectrum(np.stack(reps), method, seed=seed, n_shuffles=n_shuffles)


def spectrum(data: Any, k_top: int | None, seed: int) -> tuple[np.ndarray, int, int, float]:
    """(eigenvalues, n, m, participation ratio) of the whole site."""
    from polycode_lite.science.eigen import eigenspectrum, participation_ratio

    if isinstance(data, Activations):
        lam = eigenspectrum(data.x, kind="activations")
        n, m = data.x.shape
    elif isinstance(data, Accumulators):
        acc = merged(data.accs)
        n, m = acc.n, acc.dim
        cov = acc.covariance()
        pr = float(np.trace(cov) ** 2 / np.sum(cov * cov)) if np.any(cov) else float("nan")
        return eigenspectrum(cov, k=k_top, kind="covariance", seed=seed, n_samples=n), n, m, pr
    else:
        lam = cv_spectrum(data.reps, data.method, 5, seed)
        n, m = data.reps[0].shape
    try:
        pr = participation_ratio(lam)
    except ValueError:
        pr = float("nan")
    return lam, n, m, pr


def replicate_spectra(data: Any, hi: int, k_top: int | None, full_spectrum_max: int,
                      rng: np.random.Generator) -> tuple[Callable[[], np.ndarray | None], int] | None:
    """A function drawing one bootstrap replicate's spectrum, and the number of units, or None
    when ``data`` has no resampling unit (a lone accumulator)."""
    from polycode_lite.science.eigen import eigenspectrum

    if isinstance(data, Activations):
        x = data.x
        if data.groups is None:
            n = x.shape[0]
            return (lambda: eigenspectrum(x[rng.integers(0, n, n)], kind="activations")), n
        _, inv = np.unique(data.groups, return_inverse=True)
        members = [np.flatnonzero(inv == g) for g in range(inv.max() + 1)]
        if len(members) < 2:
            return None
        pick = lambda: np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
        return (lambda: eigenspectrum(x[pick()], kind="activations")), len(members)
    if isinstance(data, Repeats):
        n = data.reps[0].shape[0]

        def draw_cv() -> np.ndarray:
            idx = rng.integers(0, n, n)
            return cv_spectrum(tuple(r[idx] for r in data.reps), data.method, 1,
                               int(rng.integers(2**31)))
        return draw_cv, n
    g = len(data.accs)
    if g < 2:
        return None
    m = data.accs[0].dim
    basis = None
    if m <= full_spectrum_max:
        # Rayleigh–Ritz in the fixed subspace of the full data's top K eigenvectors: one K×K
        # eigenproblem per replicate (exact when K = m); it slightly underestimates a
        # replicate's tail, which the centred interval absorbs
        import scipy.linalg

        k_sub = min(m, hi + max(100, hi // 2))
        cov = merged(data.accs).covariance()
        basis = scipy.linalg.eigh(cov, subset_by_index=[m - k_sub, m - 1], driver="evr")[1]

    def draw_acc() -> np.ndarray | None:
        acc_b = merged(data.accs, rng.multinomial(g, np.full(g, 1.0 / g)))
        if acc_b.n < hi + 2:
            return None
        if basis is not None:
            return np.linalg.eigvalsh(basis.T @ acc_b.covariance() @ basis)[::-1]
        return eigenspectrum(acc_b, k=k_top, seed=int(rng.integers(2**31)))
    return draw_acc, g
