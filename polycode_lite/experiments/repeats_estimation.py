"""Break cvPCA with dropout noise, and repair it (notebook 03 §3e; docs/paper_guide.md pitfall 5).

A fixed non-negative code H (ReLU of a rotated power-law Gaussian) is seen through K independent
inverted-dropout masks, X_k = H ∘ M_k / (1 − p): noise of variance p/(1−p)·H², multiplicative and
uneven across units. Estimators of H's α, each fitted in the window the α pipeline chooses for it
and compared with H's own plain fit in that window:

* PCA of one noisy pass (what a train-mode network gives);
* Stringer's cvPCA across two masks (axes from one noisy pass);
* the all-pairs cross-covariance of K masks (``estimate_alpha`` on a (K, n, m) stack).

:class:`DropoutNoiseConfig` → :func:`run` → :class:`DropoutNoiseResult` (``.table()``, ``.plot()``,
``.claims()``). ``isotropic=True`` replaces the dropout noise by additive Gaussian noise of the
same total variance, even across units: at high rates it breaks cvPCA too, because the axes come
from one pass that is mostly noise. The claim's null is a low rate (p = 0.05), where cvPCA holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polycode_lite import _checks as ck
from polycode_lite.science.eigen import eigenspectrum
from polycode_lite.science.powerlaw import fit_power_law, powerlaw_gaussian
from polycode_lite.science.repeats import dropout_passes, repeats_spectrum

__all__ = ["BROKEN_ERROR", "REPAIRED_ERROR", "DropoutNoiseConfig", "DropoutNoiseResult", "run"]

#: |cvPCA error| at the highest rate beyond which cvPCA is "broken" by the noise
BROKEN_ERROR = 0.1
#: |cross-covariance error| at the highest rate within which it is "repaired"
REPAIRED_ERROR = 0.05

METHODS = ("pca of one pass", "cvpca, 2 masks", "cross-covariance, 2 masks", "cross-covariance, K masks")


@dataclass(frozen=True)
class DropoutNoiseConfig:
    """m units, n = n_over_m·m inputs, generating exponent ``alpha_gen`` (ReLU flattens it: the
    signal's own α is measured), dropout rates ``dropouts``, K = ``n_repeats`` masks, seed.
    :meth:`fast`: two rates."""

    m: int = 200
    n_over_m: int = 4
    alpha_gen: float = 1.0
    dropouts: tuple[float, ...] = (0.2, 0.5, 0.8)
    n_repeats: int = 8
    seed: int = 0
    isotropic: bool = False

    def __post_init__(self) -> None:
        m = ck.integer("m", self.m, minimum=2); n_over_m = ck.integer("n_over_m", self.n_over_m, minimum=1)
        k = ck.integer("n_repeats", self.n_repeats, minimum=2); ck.memory("m, n_over_m, n_repeats", (k + 2, n_over_m * m, m))
        ck.positive("alpha_gen", self.alpha_gen); ck.seed("seed", self.seed); ck.boolean("isotropic", self.isotropic)
        for i, p in enumerate(ck.sequence_of("dropouts", self.dropouts, ck.probability)):
            if p >= 1.0:
                raise ValueError(f"dropouts[{i}] must be below 1 (a rate of 1 drops every unit), got {p}.")

    @classmethod
    def fast(cls, **overrides: Any) -> DropoutNoiseConfig:
        return cls(**{**dict(dropouts=(0.5, 0.8)), **overrides})

    @classmethod
    def full(cls, **overrides: Any) -> DropoutNoiseConfig:
        return cls(**overrides)


@dataclass(frozen=True)
class DropoutNoiseResult:
    """α̂ − α_signal per (dropout rate, method): ``errors`` (P, 4) in the order of ``METHODS``,
    ``alphas`` the estimates, ``signal_alpha`` (P, 4) H's plain fit in each estimate's window."""

    dropouts: np.ndarray
    alphas: np.ndarray
    signal_alpha: np.ndarray
    n_repeats: int
    isotropic: bool

    @property
    def errors(self) -> np.ndarray:
        return self.alphas - self.signal_alpha

    def table(self) -> Any:
        """One row per (dropout, method): dropout, method, alpha, alpha_signal, error."""
        import pandas as pd

        rows = [dict(dropout=p, method=name.replace("K masks", f"{self.n_repeats} masks"),
                     alpha=self.alphas[i, j], alpha_signal=self.signal_alpha[i, j],
                     error=self.errors[i, j])
                for i, p in enumerate(self.dropouts) for j, name in enumerate(METHODS)]
        return pd.DataFrame(rows)

    def plot(self, ax: Any = None) -> Any:
        """Error of each estimator against the dropout rate, with the ±0.05 band. Returns the figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.8))
        for j, (name, marker) in enumerate(zip(METHODS, "ovs^")):
            ax.plot(self.dropouts, self.errors[:, j], marker + "-",
                    label=name.replace("K masks", f"{self.n_repeats} masks"))
        ax.axhspan(-REPAIRED_ERROR, REPAIRED_ERROR, color="0.9", zorder=0, label="±0.05")
        ax.axhline(0, color="k", lw=0.8)
        noise = "isotropic noise of the same variance" if self.isotropic else "dropout masks"
        ax.set(xlabel="dropout rate p", ylabel="α̂ − α of the noise-free code",
               title=f"Estimating α through {noise}")
        ax.legend(fontsize=8)
        return ax.figure

    def claims(self) -> list[dict[str, Any]]:
        """"Plain cvPCA is biased by dropout noise; the cross-covariance of K masks is not",
        judged at the highest rate:

        * "holds": |cvPCA error| > ``BROKEN_ERROR`` (0.1) and |K-mask error| < ``REPAIRED_ERROR`` (0.05);
        * "partly": the K-mask estimate is closer to the signal than cvPCA, one threshold fails;
        * "does not hold at this scale": cvPCA is as close as the K-mask estimate (as at
          p = 0.05, the null).
        """
        i, j = int(np.argmax(self.dropouts)), int(np.argmin(self.dropouts))
        cv, rep = float(self.errors[i, 1]), float(self.errors[i, 3])
        verdict = ("holds" if abs(cv) > BROKEN_ERROR and abs(rep) < REPAIRED_ERROR else
                   "partly" if abs(rep) < abs(cv) else "does not hold at this scale")
        why = (f"At p = {self.dropouts[i]:g} cvPCA's error is {cv:+.3f} ({'broken: beyond' if abs(cv) > BROKEN_ERROR else 'not broken: within'} "
               f"±{BROKEN_ERROR:g}) and the {self.n_repeats}-mask cross-covariance's {rep:+.3f} "
               f"({'repaired: within' if abs(rep) < REPAIRED_ERROR else 'not repaired: beyond'} ±{REPAIRED_ERROR:g}); "
               f"the {self.n_repeats}-mask estimate is {'closer to' if abs(rep) < abs(cv) else 'no closer to'} the "
               f"noise-free code's α than cvPCA.")
        return [dict(
            claim="Dropout noise biases plain cvPCA; the cross-covariance of several masks repairs it",
            expected=(f"at p = {self.dropouts[i]:g}: |cvPCA error| > {BROKEN_ERROR}, "
                      f"|{self.n_repeats}-mask cross-covariance error| < {REPAIRED_ERROR}"),
            measured=(f"p = {self.dropouts[i]:g}: α̂ − α_signal = {self.errors[i, 0]:+.2f} (PCA of one "
                      f"pass), {cv:+.2f} (cvPCA, 2 masks), {self.errors[i, 2]:+.2f} (cross-covariance, "
                      f"2 masks), {rep:+.2f} ({self.n_repeats} masks)"),
            control=(f"the noise-free code's own α in the same window (the truth the errors are "
                     f"measured against); lowest rate p = {self.dropouts[j]:g}: cvPCA error "
                     f"{self.errors[j, 1]:+.2f}, {self.n_repeats}-mask error {self.errors[j, 3]:+.2f}"),
            verdict=verdict, why=why, values=dict(cvpca_error=cv, repeats_error=rep))]


def _masks(h: np.ndarray, p: float, k: int, rng: np.random.Generator, isotropic: bool) -> np.ndarray:
    if isotropic:  # same total noise variance p/(1-p)·mean(H²), spread evenly over units
        sd = np.sqrt(p / (1 - p) * np.mean(h * h))
        return np.stack([h + sd * rng.standard_normal(h.shape) for _ in range(k)])
    return dropout_passes(h, p, k, rng)


def run(config: DropoutNoiseConfig = DropoutNoiseConfig()) -> DropoutNoiseResult:
    """Every estimator at every dropout rate of ``config`` (see the module docstring)."""
    ck.instance("config", config, DropoutNoiseConfig, "DropoutNoiseConfig.fast()")
    from polycode_lite.experiments.alpha import estimate_alpha

    if not all(0 < p < 1 for p in config.dropouts):
        raise ValueError(f"dropouts must lie in (0, 1), got {config.dropouts}.")
    if int(config.n_repeats) < 2:
        raise ValueError(f"n_repeats must be >= 2, got {config.n_repeats}.")
    m = int(config.m)
    h = np.maximum(powerlaw_gaussian(int(config.n_over_m) * m, m, config.alpha_gen, seed=config.seed), 0)
    lam_signal = np.asarray(eigenspectrum(h))
    alphas, signal = [], []
    for p in config.dropouts:
        reps = _masks(h, p, int(config.n_repeats), np.random.default_rng([config.seed, int(1000 * p)]),
                      config.isotropic)
        fits = [estimate_alpha(reps[0], correct_bias=False, ci="none", seed=config.seed),
                fit_power_law(repeats_spectrum(reps[:2], "cvpca", seed=config.seed),
                              ranks=None, n_boot=0),
                estimate_alpha(reps[:2], ci="none", seed=config.seed),
                estimate_alpha(reps, ci="none", seed=config.seed)]
        alphas.append([f.alpha for f in fits])
        signal.append([fit_power_law(lam_signal, ranks=f.ranks, correct_bias=False, n_boot=0).alpha
                       for f in fits])
    return DropoutNoiseResult(np.asarray(config.dropouts, float), np.asarray(alphas),
                              np.asarray(signal), int(config.n_repeats), bool(config.isotropic))
