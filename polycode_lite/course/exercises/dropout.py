"""Exercises for notebook 05 (dropout, capacity and error correction).

* ``dropout.dv_bound``            the Donsker–Varadhan lower bound from T values (docs/paper_guide.md §6)
* ``dropout.erasure_mi``          MI of the ±1 dropout channel (docs/paper_guide.md §2.2)
* ``dropout.capacity_bounds``     Theorem 3's lower and upper bounds on the dropout capacity
"""

from __future__ import annotations

import math

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register

_rng = np.random.default_rng(5)
_TJ = _rng.normal(0.5, 1.0, 64)
_TM = _rng.normal(0.0, 1.5, 64)


def _dv_reference(t_joint, t_marginal):
    tj = np.asarray(t_joint, dtype=np.float64)
    tm = np.asarray(t_marginal, dtype=np.float64)
    m = tm.max()
    return float(tj.mean() - (m + np.log(np.mean(np.exp(tm - m)))))


def _dv_diagnose(got, expected, case):
    if case is None:
        return None
    tj, tm = (np.asarray(a, dtype=np.float64) for a in case.args)
    try:
        g = float(got)
    except (TypeError, ValueError):
        return "Return a single float (nats)."
    if not np.isfinite(g):
        return "Overflow: subtract max(T_marginal) before exponentiating (log-sum-exp trick)."
    lse = tm.max() + np.log(np.sum(np.exp(tm - tm.max())))  # log Σ exp(T_marginal)
    with np.errstate(over="ignore"):
        mean_exp = np.mean(np.exp(tm))
    if np.isclose(g, tj.mean() - mean_exp):
        return "You dropped the log: DV uses log E_Q[e^T], not E_Q[e^T]."
    if np.isclose(g, tj.mean() - tm.mean()):
        return "You dropped the exponential: the second term is log mean exp(T_marginal)."
    if np.isclose(g, tj.mean() - lse):
        return "Log of the mean, not of the sum: log mean exp(T) = logsumexp(T) − log N."
    if np.isclose(g, tj.mean() - np.mean(np.exp(tm - 1))):
        return "That is the MINE-f bound E_P[T] − E_Q[e^(T−1)]; the DV bound takes a log instead."
    return None


def _dv_naive(tj, tm):
    with np.errstate(over="ignore"):
        return float(np.mean(tj) - np.log(np.mean(np.exp(np.asarray(tm, dtype=np.float64)))))


register(Exercise(
    id="dropout.dv_bound",
    title="The Donsker–Varadhan bound",
    difficulty=1, importance=3, minutes=5, kind="function",
    reference=_dv_reference,
    hint="DV = mean(T_joint) − log(mean(exp(T_marginal))); use the log-sum-exp trick for large T.",
    cases=(
        Case("random T values", (_TJ, _TM)),
        Case("constant T (bound is 0)", (np.full(8, 3.0), np.full(8, 3.0))),
        Case("large T (overflow check)", (np.array([800.0, 801.0]), np.array([800.0, 790.0]))),
    ),
    rtol=1e-6, atol=1e-8,
    diagnose=_dv_diagnose,
    wrong_answer=lambda tj, tm: float(np.mean(tj) - np.mean(np.exp(tm))),
    mistakes=(
        (lambda tj, tm: float(np.mean(tj) - np.mean(np.exp(tm))), "dropped the log"),
        (lambda tj, tm: float(np.mean(tj) - np.mean(tm)), "dropped the exponential"),
        (lambda tj, tm: float(np.mean(tj) - np.logaddexp.reduce(np.asarray(tm, dtype=float))),
         "not of the sum"),
        (_dv_naive, "Overflow"),
    ),
))


def _erasure_reference(p):
    return (1.0 - p) * math.log(2.0)


def _erasure_diagnose(got, expected, case):
    p = case.args[0] if case is not None else None
    try:
        g = float(got)
    except (TypeError, ValueError):
        return "Return a single float (nats)."
    if p is not None and np.isclose(g, 1.0 - p):
        return "That is the answer in bits; the notebook works in nats (multiply by ln 2)."
    if p is not None and np.isclose(g, p * math.log(2.0)):
        return "You used the drop probability p where the keep probability 1 − p belongs."
    if p is not None and np.isclose(g, math.log(2.0) - _hb_nats(p)):
        return ("ln 2 − H(p) is the binary symmetric channel. Here 0 is never sent, so the receiver "
                "knows which symbols were dropped: an erasure channel, I = (1 − p)·ln 2.")
    return None


def _hb_nats(p):
    return 0.0 if p in (0.0, 1.0) else -(p * math.log(p) + (1 - p) * math.log(1 - p))


register(Exercise(
    id="dropout.erasure_mi",
    title="Mutual information of the ±1 dropout channel",
    difficulty=1, importance=2, minutes=5, kind="function",
    reference=_erasure_reference,
    hint="A dropped symbol (0) tells nothing about the sign; a kept one tells all of its 1 bit.",
    cases=tuple(Case(f"p={p}", (p,)) for p in (0.2, 0.0, 0.5, 0.9)),  # at p = 0 all agree on ln 2
    diagnose=_erasure_diagnose,
    wrong_answer=lambda p: 1.0 - p,
    mistakes=((lambda p: 1.0 - p, "in bits"), (lambda p: p * math.log(2.0), "drop probability p"),
              (lambda p: math.log(2.0) - _hb_nats(p), "binary symmetric channel")),
))


def _capacity_reference(c_base, dropout, m):
    eps = -math.log2(1.0 - 2.0 ** (-c_base)) / c_base
    upper = (1.0 - dropout) * c_base * m
    return np.array([(1.0 - eps) * upper, upper])


def _capacity_diagnose(got, expected, case):
    g = np.asarray(got, dtype=np.float64).ravel()
    if g.size != 2:
        return "Return two numbers: (lower, upper), in bits."
    c, d, m = case.args
    if np.allclose(g, expected[::-1]) and not np.isclose(expected[0], expected[1]):
        return "Order: return (lower, upper), the lower bound first."
    if np.isclose(g[1], d * c * m):
        return "The capacity keeps the fraction 1 − D of the units, not D."
    if np.isclose(g[1], c * m * (1 - d)) and np.isclose(g[0], (1 + math.log(1 - 2.0 ** -c) / c) * g[1]):
        return "ε is in bits: ε = −log2(1 − 2^−C)/C, with log2, not the natural log."
    if np.isclose(g[1], c * m * (1 - d)) and not np.isclose(g[0], expected[0]):
        return ("Upper bound right; for the lower bound use ε = −log2(1 − 2^−C)/C "
                "(a symbol with no mass at 0 loses log2(1 − 2^−C) bits of its entropy).")
    return None


register(Exercise(
    id="dropout.capacity_bounds",
    title="Theorem 3: bounds on the capacity of a dropout layer",
    difficulty=2, importance=2, minutes=10, kind="function",
    reference=_capacity_reference,
    hint="upper = (1 − D)·C·m; lower = (1 − ε)·upper with ε = −log2(1 − 2^−C)/C (bits).",
    cases=(Case("C=1, D=0.2, m=32", (1.0, 0.2, 32)), Case("C=8, D=0.5, m=100", (8.0, 0.5, 100)),
           Case("C=23, D=0.8, m=10", (23.0, 0.8, 10))),
    diagnose=_capacity_diagnose,
    wrong_answer=lambda c, d, m: np.array([d * c * m, d * c * m]),
    mistakes=(
        (lambda c, d, m: _capacity_reference(c, 1 - d, m), "not D"),
        (lambda c, d, m: _capacity_reference(c, d, m)[::-1], "lower bound first"),
        (lambda c, d, m: np.array([(1 + math.log(1 - 2.0 ** -c) / c) * (1 - d) * c * m,
                                   (1 - d) * c * m]), "not the natural log"),
    ),
))
