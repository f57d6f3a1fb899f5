"""Mutual-information tools besides MINE: channels with known MI, a code-book input with a known
ceiling, a decoder (Barber–Agakov) lower bound, an exact plug-in for discrete pairs, and the
verdict rules that use them.

Why a second estimator (docs/paper_guide.md §6, issue 13): MINE is a neural lower bound that only
reflects how far its optimiser got. When X is *discrete* (a code book of K equiprobable words),
I(X; Z) = H(X) − H(X | Z) ≤ H(X) = ln K, and any classifier q(x | z) gives

    I(X; Z) ≥ H(X) − E[−ln q(X | Z)]           (Barber & Agakov 2003)

on held-out pairs: a second lower bound, from a different optimiser, against which MINE's number
can be checked, and both are capped by the known ceiling ln K (data processing holds for every
layer of a network fed X).

Public API: channels (``gaussian_mi``, ``sample_correlated_gaussian``, ``dropout_channel_mi``,
``sample_dropout_channel``, ``bsc_mi``, ``sample_bsc``; re-exported by
:mod:`polycode_lite.science.mine`), ``CodeBook``, ``DecoderEstimate``, ``decoder_lower_bound``,
``plugin_mutual_information``, ``divergence_reason`` (used by MINE), ``calibration_verdict``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from polycode_lite import _checks as ck

from polycode_lite.science import capacity

__all__ = [
    "CodeBook",
    "DecoderEstimate",
    "bsc_mi",
    "calibration_verdict",
    "decoder_lower_bound",
    "divergence_reason",
    "dropout_channel_mi",
    "gaussian_mi",
    "plugin_mutual_information",
    "sample_bsc",
    "sample_correlated_gaussian",
    "sample_dropout_channel",
]


# --------------------------------------------------------------------------------------
# calibration channels with analytic MI (docs/paper_guide.md §2.2; values in nats)
# --------------------------------------------------------------------------------------
def _check_sample(n: Any, dim: Any, seed: Any) -> None:
    n = ck.integer("n", n, minimum=1); dim = ck.integer("dim", dim, minimum=1); ck.seed("seed", seed)
    ck.memory("n, dim", (n, dim))


def gaussian_mi(rho: float, dim: int = 1) -> float:
    """I(X; Z) = −½ · dim · log(1 − ρ²) nats for dim independent pairs of unit Gaussians with
    correlation ρ. Raises ValueError unless −1 < ρ < 1 and dim >= 1."""
    rho = ck.real("rho", rho); dim = ck.integer("dim", dim, minimum=1)
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must lie strictly between -1 and 1 (|rho|=1 has infinite MI), got {rho}.")
    if int(dim) < 1:
        raise ValueError(f"dim must be a positive integer, got {dim}.")
    # a correlated pair is a Gaussian channel with SNR = ρ²/(1 − ρ²): ½ ln(1 + SNR) = −½ ln(1 − ρ²)
    return int(dim) * float(capacity.gaussian_channel_mi(rho**2 / (1.0 - rho**2)))


def sample_correlated_gaussian(
    n: int, rho: float, dim: int = 1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """n samples of (X, Z), each (n, dim) float32, with Z = ρX + √(1−ρ²)·ε per coordinate."""
    gaussian_mi(rho, dim)  # validates rho and dim
    _check_sample(n, dim, seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    z = rho * x + math.sqrt(1.0 - rho**2) * rng.standard_normal((n, dim))
    return x.astype(np.float32), z.astype(np.float32)


def dropout_channel_mi(p: float) -> float:
    """±1 input through a dropout channel (the symbol is replaced by 0 with probability p):
    I = (1 − p) · ln 2 nats (an erasure channel; docs/paper_guide.md §2.2, Theorem 3)."""
    p = ck.probability("p", p, fix="p is the dropout probability.")
    return float(capacity.erasure_channel_mi(p, input_entropy=math.log(2.0)))


def sample_dropout_channel(n: int, p: float, dim: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n samples: X uniform on {−1, +1}^dim, Z = X · m with m ~ Bernoulli(1 − p) per
    coordinate (no rescaling). Returns (x, z), each (n, dim) float32."""
    dropout_channel_mi(p)
    _check_sample(n, dim, seed)
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1.0, 1.0]), size=(n, dim))
    z = x * (rng.random((n, dim)) >= p)
    return x.astype(np.float32), z.astype(np.float32)


def bsc_mi(p: float) -> float:
    """±1 input through a binary symmetric channel flipping the sign with probability p:
    I = ln 2 + p ln p + (1 − p) ln(1 − p) nats."""
    p = ck.probability("p", p, fix="p is the flip probability.")
    return float(capacity.bsc_mi(p))


def sample_bsc(n: int, p: float, dim: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n samples: X uniform on {−1, +1}^dim, Z = X with each sign flipped with probability p."""
    bsc_mi(p)
    _check_sample(n, dim, seed)
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1.0, 1.0]), size=(n, dim))
    z = np.where(rng.random((n, dim)) < p, -x, x)
    return x.astype(np.float32), z.astype(np.float32)


# --------------------------------------------------------------------------------------
# a discrete input with a known ceiling
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CodeBook:
    """K = 2^bits equiprobable codewords in ``dim`` dimensions: the corners of the cube
    {−amplitude, +amplitude}^bits, mapped to ``dim`` dimensions by a fixed random orthonormal
    embedding drawn from ``seed`` (the identity when dim == bits). H(X) = bits·ln 2 nats, so
    I(X; f(X, noise)) ≤ bits·ln 2 for every f (data processing): a finite, known ceiling."""

    bits: int = 3
    dim: int = 3
    amplitude: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        ck.integer("bits", self.bits); ck.integer("dim", self.dim, minimum=1); ck.seed("seed", self.seed)
        ck.positive("amplitude", self.amplitude); ck.memory("dim", (self.dim, self.bits))
        if not 1 <= int(self.bits) <= 12:
            raise ValueError(f"bits must lie in 1..12 (K = 2^bits codewords), got {self.bits}.")
        if int(self.dim) < int(self.bits):
            raise ValueError(f"dim must be >= bits ({self.bits}) for an injective embedding, got {self.dim}.")
        if not self.amplitude > 0:
            raise ValueError(f"amplitude must be positive, got {self.amplitude}.")

    @property
    def entropy_nats(self) -> float:
        """H(X) = bits · ln 2, the ceiling on I(X; anything computed from X)."""
        return int(self.bits) * math.log(2.0)

    def words(self) -> np.ndarray:
        """The K codewords, (K, dim) float32; row k has the sign pattern of k's binary digits."""
        k = np.arange(2 ** int(self.bits))
        signs = ((k[:, None] >> np.arange(int(self.bits))) & 1) * 2.0 - 1.0
        cube = self.amplitude * signs
        if int(self.dim) == int(self.bits):
            return cube.astype(np.float32)
        q, _ = np.linalg.qr(np.random.default_rng(self.seed).standard_normal((self.dim, self.bits)))
        return (cube @ q.T).astype(np.float32)

    def sample(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """n uniform draws: (labels (n,) int64 in 0..K−1, x (n, dim) float32)."""
        if int(n) < 1:
            raise ValueError(f"n must be >= 1, got {n}.")
        labels = np.random.default_rng(seed).integers(0, 2 ** int(self.bits), int(n))
        return labels.astype(np.int64), self.words()[labels]


# --------------------------------------------------------------------------------------
# decoder (Barber–Agakov) lower bound and the exact plug-in
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecoderEstimate:
    """I(X; Z) ≥ H(X) − CE: ``mi`` (nats, on the test split), ``cross_entropy`` (nats),
    ``entropy`` (H(X), nats), ``accuracy`` (test), ``n_train``/``n_test``."""

    mi: float
    cross_entropy: float
    entropy: float
    accuracy: float
    n_train: int
    n_test: int


def decoder_lower_bound(
    labels: Any, z: Any, n_classes: int | None = None, hidden: int = 64, epochs: int = 60,
    lr: float = 3e-3, weight_decay: float = 1e-4, test_fraction: float = 0.25, seed: int = 0,
) -> DecoderEstimate:
    """Variational lower bound on I(X; Z) for a discrete, *uniform* X (labels) and any Z.

    A classifier q(x | z) (one hidden ReLU layer of ``hidden`` units, or multinomial logistic
    regression when ``hidden=0``; Adam, full batch, inputs z-scored) is trained on part of the
    pairs; 20% of that part picks the epoch with the lowest cross-entropy (early stopping), and
    the bound H(X) − CE is evaluated on the ``test_fraction`` never used for either. H(X) = ln K
    (K = ``n_classes``, default max label + 1) assumes uniform labels. Args: labels (n,) ints in
    0..K−1; z (n,) or (n, d). Returns a :class:`DecoderEstimate`. Seeded by ``seed``."""
    import torch

    y = np.asarray(labels)
    zz = np.asarray(z, dtype=np.float32)
    zz = zz[:, None] if zz.ndim == 1 else zz.reshape(len(zz), -1)
    if y.ndim != 1 or len(y) != len(zz):
        raise ValueError(f"labels must be (n,) with n = len(z) = {len(zz)}, got shape {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
        raise ValueError("labels must be non-negative integers (codeword indices).")
    k = int(n_classes) if n_classes is not None else int(y.max()) + 1
    if k < 2 or y.max() >= k:
        raise ValueError(f"n_classes must be >= 2 and above every label, got {k}.")
    if not 0.05 <= test_fraction <= 0.5 or len(y) < 40:
        raise ValueError("need test_fraction in [0.05, 0.5] and at least 40 pairs.")
    if not np.isfinite(zz).all():
        raise ValueError("z contains NaN/inf values; remove them first.")
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(len(y), generator=gen).numpy()
    n_test = int(round(test_fraction * len(y)))
    n_val = max(1, int(round(0.2 * (len(y) - n_test))))
    te, va, tr = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    mu, sd = zz[tr].mean(0), zz[tr].std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    Z = torch.from_numpy((zz - mu) / sd)
    Y = torch.from_numpy(y.astype(np.int64))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        layers = ([torch.nn.Linear(Z.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, k)]
                  if hidden > 0 else [torch.nn.Linear(Z.shape[1], k)])
        net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    ce = torch.nn.functional.cross_entropy
    best, best_state = math.inf, None
    for _ in range(int(epochs)):
        for s in range(0, len(tr), 1024):
            b = torch.from_numpy(tr[s:s + 1024])
            loss = ce(net(Z[b]), Y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            v = float(ce(net(Z[va]), Y[va]))
        if v < best:
            best, best_state = v, {n: p.clone() for n, p in net.state_dict().items()}
    net.load_state_dict(best_state)
    with torch.no_grad():
        logits = net(Z[te])
        test_ce = float(ce(logits, Y[te]))
        acc = float((logits.argmax(1) == Y[te]).float().mean())
    h = math.log(k)
    return DecoderEstimate(mi=h - test_ce, cross_entropy=test_ce, entropy=h, accuracy=acc,
                           n_train=len(tr), n_test=n_test)


def plugin_mutual_information(x: Any, z: Any) -> float:
    """Exact plug-in I(X; Z) in nats for *discrete* X and Z (rows compared exactly):
    H(X) + H(Z) − H(X, Z) from the empirical frequencies. Biased upwards by about
    (|X|−1)(|Z|−1)/(2n); use it where both alphabets are small against n."""
    def rows(a: Any, name: str) -> np.ndarray:
        a = ck.array(name, a)
        if a.ndim == 0 or len(a) == 0:
            raise ValueError(f"{name} must hold at least one sample (row), got shape {a.shape}.")
        a = a[:, None] if a.ndim == 1 else a.reshape(len(a), -1)
        return np.unique(a, axis=0, return_inverse=True)[1].reshape(-1)

    ix, iz = rows(x, "x"), rows(z, "z")
    if len(ix) != len(iz):
        raise ValueError(f"x and z must have the same number of rows, got {len(ix)} and {len(iz)}.")

    def entropy(codes: np.ndarray) -> float:
        p = np.bincount(codes) / len(codes)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    joint = ix.astype(np.int64) * (int(iz.max()) + 1) + iz
    return entropy(ix) + entropy(iz) - entropy(np.unique(joint, return_inverse=True)[1].reshape(-1))


# --------------------------------------------------------------------------------------
# rules: MINE's divergence, an estimator's calibration
# --------------------------------------------------------------------------------------
def divergence_reason(heldout: Any, estimate: float, floor: float = -0.5, max_drop: float = 1.0) -> str:
    """Why a MINE run counts as diverged, or "" if it does not.

    heldout: the held-out DV curve (sequence of nats); estimate: the reported value (mean of its
    tail). Diverged when a value is not finite, when ``estimate`` < ``floor`` (MI is >= 0, so a
    lower bound far below 0 means T blew up on the marginal pairs), or when the estimate or the
    last value lies more than max(``max_drop``, |best|/4) below the best held-out value (the bound
    falls without bound as T overfits the training pairs)."""
    h = np.asarray(heldout, dtype=float)
    if not isinstance(estimate, (int, float, np.floating, np.integer)) or isinstance(estimate, bool):
        raise TypeError(f"estimate must be a number (NaN allowed: it counts as diverged), got {estimate!r}.")
    floor = ck.real("floor", floor); max_drop = ck.positive("max_drop", max_drop)
    if h.size == 0:
        raise ValueError("heldout must hold at least one value.")
    if not np.all(np.isfinite(h)) or not math.isfinite(estimate):
        return "non-finite held-out bound"
    if estimate < floor:
        return f"held-out estimate {estimate:.4g} nats is below the sanity floor {floor:g}"
    best = float(h.max())
    gap = max(float(max_drop), abs(best) / 4.0)
    low = min(float(estimate), float(h[-1]))
    if best - low > gap:
        return f"held-out bound fell from its best {best:.3g} to {low:.4g} nats (more than {gap:.3g})"
    return ""


def calibration_verdict(
    estimates: Mapping[str, float], truths: Mapping[str, float], null_estimate: float,
    rel_tol: float = 0.10, null_tol: float = 0.05,
) -> dict[str, Any]:
    """Does an estimator recover known MI? "holds" if every channel's estimate is within
    ``rel_tol`` of its true value AND the control (the same estimator on independent pairs,
    true MI 0) finds less than ``null_tol`` nats (one-sided: a held-out lower bound may dip
    below 0 by noise; far below 0 is MINE's divergence, flagged separately); "partly" if the control passes and at least one
    channel does; else "does not hold at this scale" (an estimator that reports information
    where there is none is not calibrated, whatever else it gets right). Returns verdict, why (a
    sentence from the numbers, for any outcome), per-channel relative errors, and which passed."""
    missing = sorted(set(truths) - set(estimates))
    if missing or not truths:
        raise ValueError(f"estimates must cover every channel in truths; missing {missing}.")
    rel = {c: float(estimates[c]) / float(truths[c]) - 1.0 for c in truths}
    ok = {c: bool(abs(r) < rel_tol) for c, r in rel.items()}
    null_ok = bool(float(null_estimate) < null_tol)
    verdict = ("holds" if null_ok and all(ok.values()) else
               "partly" if null_ok and any(ok.values()) else "does not hold at this scale")
    missed = ", ".join(f"{c} {r:+.1%}" for c, r in rel.items() if not ok[c])
    worst = max(rel, key=lambda c: abs(rel[c]))
    null = f"{float(null_estimate):+.3f} nats on independent pairs (true 0; the bar is {null_tol:g})"
    if verdict == "holds":
        why = (f"Every channel is within {rel_tol:.0%} of its true MI (worst {worst} {rel[worst]:+.1%}) and "
               f"the control reads {null}.")
    elif not null_ok:
        why = (f"The control fails: the estimator reads {null}, information where there is none"
               + (f"; off by more than {rel_tol:.0%} on {missed}." if missed else "."))
    else:
        why = f"Off by more than {rel_tol:.0%} on {missed}; the control reads {null}."
    return dict(verdict=verdict, why=why, rel_error=rel, within_tol=ok, null_ok=null_ok,
                null_estimate=float(null_estimate))
