"""Table-driven fuzz of the public API (issue 16): each row a callable, a valid baseline call and
the kind of each argument; from the kind the runner derives inputs that are invalid by
construction (NaN, ±inf, zero/negative sizes, "4" or True where an int goes, None where nothing
is optional, probabilities outside [0, 1], arrays with NaN/inf, empty, one sample, the wrong
ndim, complex/object/string dtype, ...). Each bad call is classified:

* ``clear``: ValueError/TypeError whose message names the argument;
* ``obscure``: any other exception, or a ValueError/TypeError that does not name it, or a call
  that hangs past :data:`CALL_TIMEOUT_S`, or a rejected call that changed the object's state;
* ``silent``: returned without an error.

The baseline of every row is run too (outcome ``baseline``, or ``broken`` when it fails), so no
row passes vacuously. ``run_api_fuzz()`` returns the outcomes; ``summary(outcomes)`` counts them.
Importable with only ``sys.path.insert(0, "tests")``; not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import copy
import importlib
import math
import re
import signal
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "Outcome", "all_cases", "classify", "run_api_fuzz", "summary"]

CALL_TIMEOUT_S = 10.0
_WARM_IMPORTS = ("scipy.stats", "scipy.special", "scipy.spatial.distance", "scipy.linalg", "pandas",
                 "tqdm.auto", "torch.nn", "polycode_lite.experiments.alpha")
NAN, INF = float("nan"), float("inf")


@dataclass(frozen=True)
class Outcome:
    callable: str
    argument: str
    variant: str
    outcome: str  # "clear" | "obscure" | "silent" | "baseline" | "broken"
    message: str


@dataclass
class Case:
    """One callable: ``target`` is "module:attr" under polycode_lite (or a zero-argument factory
    returning ``(function, state_object)``); ``base`` the valid keyword arguments (a dict or a
    factory); ``args`` maps an argument to its list of (description, bad value); ``extra`` holds
    (argument, description, keyword overrides) for bad combinations; ``state`` snapshots the
    state object so a rejected call can be shown to leave it unchanged."""

    name: str
    target: str | Callable[[], tuple[Callable, Any]]
    base: dict | Callable[[], dict]
    args: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    extra: list[tuple[str, str, dict]] = field(default_factory=list)
    state: Callable[[Any], Any] | None = None
    names: dict[str, str] = field(default_factory=dict)  # argument -> name its message may use


# --------------------------------------------------------------------------------------
# bad values by kind
# --------------------------------------------------------------------------------------
def count(minimum: int = 1, maximum: int | None = None, optional: bool = False,
          huge: bool = False) -> list[tuple[str, Any]]:
    """An integer size or count >= minimum (<= maximum)."""
    out = [(f"{minimum - 1} (below {minimum})", minimum - 1)]
    out += [("2.5", 2.5), ("'4' (str)", "4"), ("True (bool)", True)]
    if not optional:
        out.append(("None", None))
    if maximum is not None:
        out.append((f"{maximum + 1} (above {maximum})", maximum + 1))
    if huge:
        out.append(("10**12", 10**12))
    return out


def seed(optional: bool = False) -> list[tuple[str, Any]]:
    out = [("-1", -1), ("'0' (str)", "0")]
    return out + ([] if optional else [("None", None)])


def real(optional: bool = False) -> list[tuple[str, Any]]:
    out = [("nan", NAN), ("inf", INF), ("'1' (str)", "1")]
    return out + ([] if optional else [("None", None)])


def positive(optional: bool = False, allow_zero: bool = False) -> list[tuple[str, Any]]:
    out = real(optional) + [("-1", -1.0)]
    return out + ([] if allow_zero else [("0", 0.0)])


def probability(optional: bool = False, open_low: bool = False, open_high: bool = False) -> list[tuple[str, Any]]:
    out = [("-0.1", -0.1), ("1.5", 1.5), ("nan", NAN), ("'0.5' (str)", "0.5")]
    out += [("0 (excluded)", 0.0)] if open_low else []
    out += [("1 (excluded)", 1.0)] if open_high else []
    return out + ([] if optional else [("None", None)])


def choice(optional: bool = False) -> list[tuple[str, Any]]:
    out = [("'bogus'", "bogus"), ("3 (int)", 3)]
    return out + ([] if optional else [("None", None)])


def array(base: Any, min_len: int = 1, ndim: int | None = None, optional: bool = False,
          empty: bool = True, wrong_ndim: bool = True) -> list[tuple[str, Any]]:
    """A real array like ``base``: NaN/inf inside, complex/object/str dtype, empty, one sample
    (if min_len > 1), the wrong number of dimensions, None."""
    b = np.asarray(base, dtype=np.float64)
    nd = b.ndim if ndim is None else ndim

    def with_(v):
        c = b.copy()
        c.flat[0] = v
        return c

    out = [("NaN inside", with_(NAN)), ("inf inside", with_(INF)), ("complex dtype", b.astype(complex) * (1 + 1j)),
           ("str dtype", b.astype(str))]
    if empty:
        out.append(("empty", b[:0]))
    if min_len > 1:
        out.append(("one sample", b[:1]))
    if wrong_ndim:
        out.append((f"{nd + 2}-D", b.reshape(b.shape + (1, 1))))
    if not optional:
        out.append(("None", None))
    return out


def values(base: Any, low: float | None = None, high: float | None = None, what: str = "") -> list[tuple[str, Any]]:
    """Elementwise (broadcast) numbers: NaN, inf, complex, str, None, and outside [low, high]."""
    b = np.asarray(base, dtype=np.float64)

    def with_(v):
        c = np.atleast_1d(b.copy())
        c.flat[0] = v
        return c

    out = [("NaN inside", with_(NAN)), ("complex", b.astype(complex) * (1 + 1j)), ("str", "1"), ("None", None)]
    if low is not None:
        out.append((f"below {low}{what}", with_(low - 0.5)))
    if high is not None:
        out.append((f"above {high}{what}", with_(high + 0.5)))
    return out


def window(hi_max: int | None = None) -> list[tuple[str, Any]]:
    """A fit window (lo, hi); one beyond ``hi_max`` ranks only when the callable does not
    document capping hi at what the data supports (pass None then)."""
    out = [("(0, 5)", (0, 5)), ("(5, 2) reversed", (5, 2)), ("(2.5, 6)", (2.5, 6)), ("'2..6' (str)", "2..6")]
    return out + ([(f"(2, {10**9}) beyond the {hi_max} ranks", (2, 10**9))] if hi_max else [])


def text(optional: bool = False) -> list[tuple[str, Any]]:
    return [("3 (int)", 3)] + ([] if optional else [("None", None)])


# --------------------------------------------------------------------------------------
# runner and classifier
# --------------------------------------------------------------------------------------
class _Hang(Exception):
    pass


def _resolve(target: str | Callable) -> tuple[Callable, Any]:
    if callable(target):
        return target()
    module, attr = target.split(":")
    obj: Any = importlib.import_module(f"polycode_lite.{module}")
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj, None


def _names_argument(message: str, argument: str, alias: str | None) -> bool:
    for name in {argument, alias} - {None}:
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message):
            return True
    return False


def classify(exc: BaseException | None, argument: str, alias: str | None = None) -> str:
    """clear / obscure / silent for a bad call's exception (None: it returned)."""
    if exc is None:
        return "silent"
    if isinstance(exc, (ValueError, TypeError)) and _names_argument(str(exc), argument, alias):
        return "clear"
    return "obscure"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if hasattr(a, "detach"):
        a, b = a.detach().cpu().numpy(), b.detach().cpu().numpy()
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _call(case: Case, kwargs: dict) -> tuple[BaseException | None, bool]:
    """Call ``case`` with ``kwargs``; (exception or None, state unchanged)."""
    fn, obj = _resolve(case.target)
    before = case.state(obj) if case.state else None

    def _alarm(*_):
        raise _Hang(f"no answer within {CALL_TIMEOUT_S:g} s")

    use_alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, CALL_TIMEOUT_S)
    exc: BaseException | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(**kwargs)
    except Exception as e:  # noqa: BLE001 (the point is to classify it)
        exc = e
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    unchanged = True if case.state is None else _same(before, case.state(obj))
    return exc, unchanged


def _base(case: Case) -> dict:
    return case.base() if callable(case.base) else copy.deepcopy(case.base)


def run_case(case: Case) -> list[Outcome]:
    """The baseline and every bad variant of one row."""
    exc, _ = _call(case, _base(case))
    out = [Outcome(case.name, "", "baseline", "broken" if exc else "baseline",
                   f"{type(exc).__name__}: {exc}" if exc else "")]
    variants = [(a, d, {a: v}) for a, vs in case.args.items() for d, v in vs] + list(case.extra)
    for arg, desc, override in variants:
        kwargs = {**_base(case), **copy.deepcopy(override)}
        exc, unchanged = _call(case, kwargs)
        verdict = classify(exc, arg, case.names.get(arg))
        msg = f"{type(exc).__name__}: {exc}" if exc is not None else "returned"
        if verdict == "clear" and not unchanged:
            verdict, msg = "obscure", f"state changed by a rejected call; {msg}"
        out.append(Outcome(case.name, arg, desc, verdict, msg.splitlines()[0][:300] if msg else ""))
    return out


def run_api_fuzz(cases: list[Case] | None = None) -> list[Outcome]:
    """Every row of the table (or ``cases``); single-threaded torch while it runs."""
    import torch

    for heavy in _WARM_IMPORTS:  # imported before any alarm can interrupt an import half-way
        importlib.import_module(heavy)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [o for c in (all_cases() if cases is None else cases) for o in run_case(c)]
    finally:
        torch.set_num_threads(threads)


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    """tried (bad inputs), clear, obscure, silent, callables, broken baselines."""
    bad = [o for o in outcomes if o.outcome in ("clear", "obscure", "silent")]
    return {"callables": len({o.callable for o in outcomes}), "tried": len(bad),
            **{k: sum(o.outcome == k for o in bad) for k in ("clear", "obscure", "silent")},
            "broken baselines": sum(o.outcome == "broken" for o in outcomes)}


def all_cases() -> list[Case]:
    """The table (tests/fuzz_api_table.py, which builds its rows from the kinds above)."""
    from fuzz_api_table import CASES

    return CASES
