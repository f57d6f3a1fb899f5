"""The paper's information-theory results as code (docs/paper_guide.md §2.1–2.3).

* Lemma 2 — entropy of S-sparse inputs, and the predicted dimensions per feature
  D*_pred(S) = (1−S) + H_b(S)/H_elem obtained by equating it with the capacity m·H_elem of m units.
* Theorem 3 — capacity of m units behind a dropout layer of rate D:
  (1−ε)(1−D)·C_base·m ≤ C_dropout ≤ (1−D)·C_base·m, ε = −log2(1 − 2^−C_base)/C_base.
* Theorem 4 — entropy cost of a power-law spectrum σ_i ∝ i^−α_σ (the PDF's i^α is a sign typo):
  H ≤ Σ_i max(0, n_bits − α_σ log2 i) ≈ m·n_bits − α_σ·m·log2(m/e). The theorem's exponent α_σ is on
  standard deviations; the α fitted to eigenvalues (variances) is α = 2·α_σ, so per unit of the
  *fitted* α the cost is ½·log2(m/e) bits per neuron (4.28 at m = 1024), checked by
  :func:`simulate_quantised_gaussian_loss` (quantised Gaussian units, plug-in entropies).
* Mutual information of the reference channels used to calibrate estimators (MINE):
  erasure/dropout, binary symmetric, Gaussian (incl. uniform input with wrap-around), quantiser;
  and a plug-in estimator for discrete samples.

Units: entropies and capacities are in **bits** unless a function says otherwise; the channel
mutual informations take ``base`` ("nats" by default, matching the MINE sanity values of
docs/paper_guide.md §2.2). Everything is numpy and vectorised over array inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from polycode_lite import _checks as ck

__all__ = [
    "binary_entropy",
    "bits_lost_per_unit_alpha",
    "bits_lost_per_unit_sigma_exponent",
    "bsc_mi",
    "dropout_capacity_bounds",
    "dropout_epsilon",
    "erasure_channel_mi",
    "gaussian_channel_mi",
    "plugin_mutual_information",
    "powerlaw_entropy_bound",
    "powerlaw_entropy_stirling",
    "predicted_dims_per_feature",
    "quantiser_mi",
    "simulate_quantised_gaussian_loss",
    "sparse_entropy",
    "uniform_wraparound_gaussian_mi",
    "units_capacity",
]

_LN2 = math.log(2.0)
_LOG_BASE = {"bits": _LN2, "nats": 1.0}


def _log_unit(base: str) -> float:
    if base not in _LOG_BASE:
        raise ValueError(f"base must be 'bits' or 'nats', got {base!r}.")
    return _LOG_BASE[base]


def _probability(p: Any, name: str) -> np.ndarray:
    arr = ck.array(name, p)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{name} must be a probability in [0, 1]; got {p!r}.")
    return arr


def _positive(x: Any, name: str, allow_zero: bool = False) -> np.ndarray:
    arr = ck.array(name, x)
    bad = (arr < 0) if allow_zero else (arr <= 0)
    if np.any(~np.isfinite(arr)) or np.any(bad):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} and finite; got {x!r}.")
    return arr


def _units(m: Any) -> np.ndarray:
    arr = _positive(m, "m")
    if np.any(arr < 1):
        raise ValueError(f"m (the number of units) must be >= 1; got {m!r}.")
    return arr


def _out(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def binary_entropy(p: Any, base: str = "bits") -> Any:
    """H_b(p) = −p log p − (1−p) log(1−p), with H_b(0) = H_b(1) = 0.

    Args: p probability (scalar or array); base "bits" or "nats".
    Returns: float or array like p. Raises ValueError for p outside [0, 1]."""
    p = _probability(p, "p")
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        h = 0.0 - (np.where(p > 0, p * np.log(p), 0.0) + np.where(q > 0, q * np.log(q), 0.0))
    return _out(h / _log_unit(base))


def sparse_entropy(n: Any, S: Any, h_elem: Any) -> Any:
    """Lemma 2 (docs/paper_guide.md §2.1): entropy in bits of an n-vector whose i.i.d. entries are zeroed
    with probability S, each un-zeroed entry carrying h_elem bits:
    H(X^S) = n·[H_b(S) + (1−S)·h_elem]."""
    n = _positive(n, "n", allow_zero=True)
    S = _probability(S, "S (sparsity)")
    h = _positive(h_elem, "h_elem", allow_zero=True)
    return _out(n * (np.asarray(binary_entropy(S)) + (1.0 - S) * h))


def units_capacity(m: Any, h_elem: Any) -> Any:
    """Capacity in bits of m hidden units that each carry the precision of one input element:
    m·h_elem (docs/paper_guide.md §2.1)."""
    return _out(_positive(m, "m", allow_zero=True) * _positive(h_elem, "h_elem", allow_zero=True))


def predicted_dims_per_feature(
    S: Any,
    h_elem: Any,
    n_features: int | None = None,
    n_hidden: int | None = None,
    clip: bool = True,
) -> Any:
    """Predicted dimensions per feature D*_pred(S) = (1−S) + H_b(S)/h_elem (docs/paper_guide.md §2.1):
    the ratio m/n at which the capacity m·h_elem of m units equals the input entropy.

    With ``clip`` the value is clipped to at most 1 (a feature never needs more than one
    dimension) and, when ``n_features`` and ``n_hidden`` are given, to at least m/n: the
    measured D* = m/‖W‖²_F cannot go below m/n once every feature is represented.

    Args:
        S: sparsity in [0, 1] (scalar or array).
        h_elem: bits per un-zeroed element (> 0), e.g. 8 or 23 (float32 mantissa).
        n_features, n_hidden: toy-model sizes for the m/n floor (both or neither).
        clip: apply the clipping.
    Raises: ValueError for S outside [0, 1], h_elem <= 0, or only one of n_features/n_hidden.
    """
    S = _probability(S, "S (sparsity)")
    h = _positive(h_elem, "h_elem")
    d = (1.0 - S) + np.asarray(binary_entropy(S)) / h
    if (n_features is None) != (n_hidden is None):
        raise ValueError("give both n_features and n_hidden (for the m/n floor) or neither.")
    if clip:
        d = np.minimum(d, 1.0)
        if n_features is not None:
            ck.integer("n_features", n_features, minimum=1); ck.integer("n_hidden", n_hidden, minimum=1)
            d = np.maximum(d, min(1.0, n_hidden / n_features))
    return _out(d)


def dropout_epsilon(c_base: Any) -> Any:
    """ε(C) = −log2(1 − 2^−C)/C of Theorem 3 (docs/paper_guide.md §2.2): the relative capacity lost by
    the lower-bound code (uniform over the 2^C − 1 non-zero symbols). → 0 as C grows."""
    c = _positive(c_base, "c_base")
    return _out(-np.log2(1.0 - 2.0 ** (-c)) / c)


def dropout_capacity_bounds(D: Any, c_base: Any, m: Any = 1) -> tuple[Any, Any]:
    """Theorem 3 (docs/paper_guide.md §2.2): bounds on the capacity in bits of m independent units of
    capacity c_base each behind dropout with rate D:
    (1−ε)(1−D)·c_base·m ≤ C_dropout ≤ (1−D)·c_base·m.

    Returns: (lower, upper). Raises ValueError for D outside [0, 1] or c_base <= 0."""
    D = _probability(D, "D (dropout rate)")
    c = _positive(c_base, "c_base")
    m = _positive(m, "m", allow_zero=True)
    upper = (1.0 - D) * c * m
    lower = (1.0 - np.asarray(dropout_epsilon(c))) * upper
    return _out(lower), _out(upper)


_EXPONENTS = {"sigma": 1.0, "eigenvalue": 0.5}


def _sigma_exponent(alpha: np.ndarray, exponent: str) -> np.ndarray:
    """α_σ (the exponent on standard deviations) from an α of kind ``exponent``."""
    if exponent not in _EXPONENTS:
        raise ValueError(f"exponent must be 'sigma' (σ_i ∝ i^−α, the theorem's) or 'eigenvalue' "
                         f"(λ_i ∝ i^−α, the fitted α = 2·α_σ); got {exponent!r}.")
    return alpha * _EXPONENTS[exponent]


def powerlaw_entropy_bound(m: int, n_bits: float, alpha: Any, clip: bool = True,
                           exponent: str = "sigma") -> Any:
    """Theorem 4 (docs/paper_guide.md §2.3): upper bound in bits on the entropy of m units with n_bits of
    precision whose scales decay as σ_i = i^−α_σ (σ_1 = 1; the PDF's i^α is a sign typo):
    H ≤ Σ_{i=1}^{m} max(0, n_bits − α_σ·log2 i) (without the max when clip=False).

    Args: m >= 1 units; n_bits > 0; alpha >= 0 (scalar or array); exponent "sigma" (default: alpha
    is α_σ, the theorem's) or "eigenvalue" (alpha is the fitted α on λ_i = σ_i², so α_σ = α/2).
    Raises: ValueError for m < 1, n_bits <= 0, alpha < 0 or an unknown exponent."""
    m = ck.integer("m", m, minimum=1); ck.memory("m", (m,))
    n_bits = float(_positive(n_bits, "n_bits"))
    a = _sigma_exponent(_positive(alpha, "alpha", allow_zero=True), exponent)
    log_i = np.log2(np.arange(1, int(m) + 1, dtype=np.float64))
    per_unit = n_bits - np.multiply.outer(a, log_i)
    if clip:
        per_unit = np.maximum(per_unit, 0.0)
    return _out(per_unit.sum(axis=-1))


def powerlaw_entropy_stirling(m: Any, n_bits: float, alpha: Any, exponent: str = "sigma") -> Any:
    """Stirling form of Theorem 4: m·n_bits − α_σ·m·log2(m/e) (no clipping; docs/paper_guide.md §2.3).
    ``exponent`` as in :func:`powerlaw_entropy_bound` ("eigenvalue": α_σ = α/2)."""
    m = _units(m)
    n_bits = float(_positive(n_bits, "n_bits"))
    a = _sigma_exponent(_positive(alpha, "alpha", allow_zero=True), exponent)
    return _out(m * n_bits - a * m * np.log2(m / math.e))


def bits_lost_per_unit_sigma_exponent(m: Any) -> Any:
    """Bits of entropy lost per neuron per unit of the theorem's σ exponent (σ_i ∝ i^−α_σ):
    log2(m/e) (m = 256 → 6.56, 1024 → 8.56, 1600 → 9.20, 6400 → 11.20)."""
    return _out(np.log2(_units(m) / math.e))


def bits_lost_per_unit_alpha(m: Any, exponent: str = "eigenvalue") -> Any:
    """Bits of entropy lost per neuron per unit of the **fitted** α (the eigenvalue exponent,
    λ_i ∝ i^−α, so σ_i ∝ i^−α/2): ½·log2(m/e) (docs/paper_guide.md §2.3: m = 256 → 3.28,
    1024 → 4.28, 1600 → 4.60, 6400 → 5.60). ``exponent="sigma"`` gives the theorem's own
    log2(m/e) (:func:`bits_lost_per_unit_sigma_exponent`).

    Raises: ValueError for m <= 0 or an unknown exponent."""
    return _out(_sigma_exponent(np.asarray(bits_lost_per_unit_sigma_exponent(m), dtype=float), exponent))


def simulate_quantised_gaussian_loss(m: int, alpha: float = 1.0, step: float | None = None,
                                     n_samples: int = 20_000, exponent: str = "eigenvalue",
                                     seed: int = 0) -> float:
    """Measure Theorem 4's cost by simulation: bits lost per neuron per unit of α.

    Draws ``n_samples`` values of m independent Gaussian units with σ_i = 1 (flat) and with
    σ_i = i^−α_σ (α_σ = α/2 for ``exponent="eigenvalue"``, α for "sigma"), quantises them to a
    grid of width ``step`` (default σ_m/4, a quarter of the smallest scale), and takes the plug-in entropy (Miller–Madow corrected) of each unit.
    Returns (H_flat − H_powerlaw) / (m·α) in bits. No formula of Theorem 4 is used, so it checks
    :func:`bits_lost_per_unit_alpha` (≈ 4.28 at m = 1024, eigenvalue α). Needs the smallest σ
    well above ``step`` (σ_m ≥ 4·step), or the units saturate (the clipped regime).

    Raises: ValueError for m < 2, alpha <= 0, step <= 0, n_samples < 100, or σ_m < 4·step."""
    m = ck.integer("m", m, minimum=2); alpha = ck.positive("alpha", alpha); ck.optional(ck.positive, "step", step)
    n_samples = ck.integer("n_samples", n_samples, minimum=100); ck.seed("seed", seed)
    ck.memory("n_samples, m", (n_samples, m))
    a_sigma = float(_sigma_exponent(np.asarray(float(alpha)), exponent))
    sigma = np.arange(1, int(m) + 1, dtype=float) ** -a_sigma
    step = float(sigma[-1] / 4) if step is None else step
    if not (alpha > 0 and step > 0):
        raise ValueError(f"alpha and step must be > 0, got alpha={alpha!r}, step={step!r}.")
    if int(n_samples) < 100:
        raise ValueError(f"n_samples must be >= 100 for plug-in entropies, got {n_samples!r}.")
    if sigma[-1] < 4 * step:
        raise ValueError(f"sigma_m = {sigma[-1]:.3g} < 4·step: lower step (e.g. {sigma[-1] / 8:.2g}) or alpha.")
    rng = np.random.default_rng(seed)
    n = int(n_samples)

    def entropies(scales: np.ndarray) -> np.ndarray:
        out = np.empty(scales.size)
        for j0 in range(0, scales.size, 256):                 # blocks of units keep memory small
            sc = scales[j0:j0 + 256]
            q = np.sort(np.floor(rng.standard_normal((n, sc.size)) * sc / step), axis=0)
            new = np.vstack([np.ones((1, sc.size), bool), q[1:] != q[:-1]])   # start of each run
            for j in range(sc.size):
                counts = np.diff(np.append(np.flatnonzero(new[:, j]), n))
                p = counts / n
                out[j0 + j] = -(p * np.log2(p)).sum() + (counts.size - 1) / (2 * n * _LN2)
        return out

    h_flat = entropies(np.ones(int(m)))
    h_pow = entropies(sigma)
    return float((h_flat.sum() - h_pow.sum()) / (int(m) * float(alpha)))


# --------------------------------------------------------------------------------------
# reference channels (analytic mutual information)
# --------------------------------------------------------------------------------------
def erasure_channel_mi(p_erase: Any, input_entropy: Any = _LN2, base: str = "nats") -> Any:
    """I(X;Y) = (1 − p)·H(X) of an erasure channel. Dropout of a unit whose input never takes
    the value 0 (e.g. ±1) is an erasure channel (docs/paper_guide.md §2.2): ±1 input, p = 0.5 → 0.347 nats.

    Args: p_erase in [0, 1]; input_entropy H(X) in nats; base of the result."""
    p = _probability(p_erase, "p_erase")
    h = _positive(input_entropy, "input_entropy", allow_zero=True)
    return _out((1.0 - p) * h / _log_unit(base))


def bsc_mi(flip: Any, p_one: Any = 0.5, base: str = "nats") -> Any:
    """Binary symmetric channel with flip probability f and P(X=1) = p_one:
    I = H_b(p_one(1−f) + (1−p_one)f) − H_b(f). Uniform input, f = 0.2 → 0.193 nats."""
    f = _probability(flip, "flip")
    q = _probability(p_one, "p_one")
    out_p = q * (1 - f) + (1 - q) * f
    return _out((np.asarray(binary_entropy(out_p, "nats")) - np.asarray(binary_entropy(f, "nats")))
                / _log_unit(base))


def gaussian_channel_mi(snr: Any, base: str = "nats") -> Any:
    """Gaussian input through additive Gaussian noise: I = ½ ln(1 + SNR), SNR = P/σ²."""
    snr = _positive(snr, "snr", allow_zero=True)
    return _out(0.5 * np.log1p(snr) / _log_unit(base))


def uniform_wraparound_gaussian_mi(width: Any, sigma: Any, base: str = "nats") -> Any:
    """x ~ U on a circle of length ``width`` plus Gaussian noise σ with wrap-around:
    I = ln(width) − ½ ln(2πeσ²) (exact up to the wrapping of the noise, σ ≪ width).
    The MINE sanity case x~U[−10, 10], σ = 0.01 gives 6.18 nats (docs/paper_guide.md §2.2).

    Raises ValueError when σ is not small against width (σ > width/10)."""
    w = _positive(width, "width")
    s = _positive(sigma, "sigma")
    if np.any(s > w / 10):
        raise ValueError("the closed form needs sigma << width (sigma <= width/10); "
                         f"got sigma={sigma}, width={width}.")
    return _out((np.log(w) - 0.5 * np.log(2 * math.pi * math.e * s ** 2)) / _log_unit(base))


def quantiser_mi(bits: Any, base: str = "nats") -> Any:
    """A deterministic quantiser of a uniform input onto 2^bits levels: I = bits·ln 2
    (10 bits → 6.93 nats)."""
    b = _positive(bits, "bits", allow_zero=True)
    return _out(b * math.log(2.0) / _log_unit(base))


def plugin_mutual_information(x: Any, y: Any, base: str = "bits") -> float:
    """Plug-in estimate of I(X;Y) from paired discrete samples (counts → empirical joint):
    Σ p(x,y) log[p(x,y)/(p(x)p(y))]. Biased upwards by about (|X|−1)(|Y|−1)/(2N ln 2) bits.

    Args: x, y 1-D arrays of equal length with discrete (hashable numeric) values.
    Raises: ValueError for mismatched lengths or empty input."""
    x = ck.array("x", x).ravel()
    y = ck.array("y", y).ravel()
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"x and y must be non-empty and equally long; got {x.size} and {y.size}.")
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    joint = np.zeros((xi.max() + 1, yi.max() + 1))
    np.add.at(joint, (xi, yi), 1.0)
    joint /= joint.sum()
    px = joint.sum(1, keepdims=True)
    py = joint.sum(0, keepdims=True)
    nz = joint > 0
    mi = float((joint[nz] * np.log(joint[nz] / (px @ py)[nz])).sum())
    return mi / _log_unit(base)
