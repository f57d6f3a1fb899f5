"""Self-checking exercises: specific feedback, hints, and reference solutions.

Each topic module (``polycode_lite.course.exercises.<topic>``) registers its exercises on import.
An exercise id is ``"<topic>.<name>"``; :func:`check` imports the topic module on demand.

The notebook pattern (one source for the instructor and the student version)::

    # Exercise spectrum.participation_ratio  ★★☆ difficulty · ●●● importance · ~10 min
    def participation_ratio(eigenvalues):
        ### BEGIN SOLUTION
        lam = np.asarray(eigenvalues)
        return lam.sum() ** 2 / (lam ** 2).sum()
        ### END SOLUTION
    check("spectrum.participation_ratio", participation_ratio)

The code cell carries ``"jupyter": {"source_hidden": true}`` metadata, so JupyterLab shows it
collapsed. ``polycode-lite student-notebooks`` writes copies in which every region between the
(nbgrader-compatible) ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers is replaced by
``raise NotImplementedError``; :func:`check` then answers "not attempted yet" with the hint,
without stopping the notebook.

Checkers never just say "wrong": they name the failing case, show expected against got, and
give a hint (a diagnosis when the mistake is a known one, e.g. "did you forget to centre?").
Where a number is expected, a string, bytes, a bool or None fails with a hint naming the type
("you gave the string '2'; give a number: 2, not '2'"), before any numeric comparison.
Each exercise lists its common mistakes (``Exercise.mistakes``); the tests prove that each one
gets its own diagnosis.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from polycode_lite._common import to_numpy

__all__ = ["Case", "Exercise", "CheckResult", "register", "get", "all_exercises", "check", "stars"]


@dataclass(frozen=True)
class Case:
    """One test input for a function exercise: ``answer(*args, **kwargs)``."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Exercise:
    """A checked exercise.

    kind "function": the learner writes a function; it is called on every case and compared
    with ``reference`` called on the same case. kind "value": the learner gives a number (or
    array); ``reference()`` returns the expected value.

    diagnose(got, expected, case) may return a specific hint for a known mistake, else None.
    wrong_answer is a deliberately wrong answer used by the tests to prove the checker fails.
    mistakes: the common mistakes, each (a wrong answer: a function for a function exercise, a
    value for a value exercise; a substring that the hint printed for it must contain). The
    first case of a function exercise should tell them apart (check stops at the first
    failing case).
    """

    id: str
    title: str
    difficulty: int
    importance: int
    minutes: int
    kind: str
    reference: Callable[..., Any]
    hint: str
    cases: Sequence[Case] = ()
    rtol: float = 1e-6
    atol: float = 1e-9
    diagnose: Callable[[Any, Any, Case | None], str | None] | None = None
    wrong_answer: Any = None
    compare: Callable[[Any, Any], bool] | None = None
    mistakes: tuple[tuple[Any, str], ...] = ()

    def header(self) -> str:
        return (f"Exercise {self.id}: {self.title}  {stars(self.difficulty, '★', '☆')} difficulty · "
                f"{stars(self.importance, '●', '○')} importance · ~{self.minutes} min")


@dataclass(frozen=True)
class CheckResult:
    """Outcome of :func:`check`: passed, attempted, and the feedback lines that were printed."""

    exercise_id: str
    passed: bool
    attempted: bool
    messages: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return "\n".join(self.messages)


_REGISTRY: dict[str, Exercise] = {}


def stars(n: int, on: str, off: str, out_of: int = 3) -> str:
    return on * n + off * (out_of - n)


def register(ex: Exercise) -> Exercise:
    """Add an exercise to the registry (topic modules call this at import)."""
    if ex.kind not in {"function", "value"}:
        raise ValueError(f"exercise kind must be 'function' or 'value', got {ex.kind!r}")
    if ex.kind == "function" and not ex.cases:
        raise ValueError(f"function exercise {ex.id} needs at least one Case")
    _REGISTRY[ex.id] = ex
    return ex


def get(exercise_id: str) -> Exercise:
    """Look up an exercise, importing its topic module if needed. An unknown id raises
    :class:`~polycode_lite._checks.UnknownName` (a KeyError and a ValueError)."""
    from polycode_lite import _checks as ck

    ck.text("exercise_id", exercise_id, fix='It looks like "spectrum.participation_ratio".')
    if exercise_id not in _REGISTRY:
        topic = exercise_id.split(".")[0]
        try:
            importlib.import_module(f"{__name__}.{topic}")
        except ModuleNotFoundError as exc:
            raise ck.UnknownName(f"exercise_id {exercise_id!r}: no exercise topic {topic!r} "
                                 f"(looked for {__name__}.{topic})") from exc
    if exercise_id not in _REGISTRY:
        raise ck.UnknownName(f"unknown exercise_id {exercise_id!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[exercise_id]


def all_exercises(topics: Sequence[str] | None = None) -> list[Exercise]:
    """Every registered exercise, after importing the given (default: all) topic modules."""
    import pkgutil

    names = topics or [m.name for m in pkgutil.iter_modules(__path__)]
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return [ex for ex in _REGISTRY.values() if ex.id.split(".")[0] in names]


def _close(ex: Exercise, got: Any, expected: Any) -> bool:
    if ex.compare is not None:
        return bool(ex.compare(got, expected))
    try:
        g = np.asarray(got, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return got == expected
    if g.shape != e.shape:
        return False
    return bool(np.allclose(g, e, rtol=ex.rtol, atol=ex.atol, equal_nan=True))


def _is_numeric(x: Any) -> bool:
    """A number or an array of numbers (bool, str and bytes are not)."""
    if isinstance(x, (str, bytes, bool, np.bool_)) or x is None:
        return False
    try:
        return to_numpy(x, dtype=None).dtype.kind in "iufc"
    except (TypeError, ValueError, RuntimeError):
        return False


_NUMBERS = object()  # _first_non_number found nothing wrong


def _first_non_number(x: Any, depth: int = 0) -> Any:
    """The first str, bytes, bool or None inside x (nested lists, tuples, object arrays)."""
    if x is None or isinstance(x, (str, bytes, bool, np.bool_)):
        return x
    if depth > 3:
        return _NUMBERS
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "USb":
            return x
        items = x.ravel()[:1000] if x.dtype.kind == "O" else ()
    elif isinstance(x, (list, tuple)):
        items = x[:1000]
    else:
        return _NUMBERS
    for item in items:
        bad = _first_non_number(item, depth + 1)
        if bad is not _NUMBERS:
            return bad
    return _NUMBERS


def _type_problem(got: Any, expected: Any, returned: bool) -> str | None:
    """A hint naming the wrong type when a number (array) is expected, else None."""
    if not _is_numeric(expected):
        return None
    you, verb = ("your function returned", "return") if returned else ("you gave", "give")
    want = "a number" if np.ndim(expected) == 0 else f"an array of numbers of shape {np.shape(expected)}"
    if callable(got) and not returned:
        return f"{you} a function; {verb} its value: call it, check(..., f(...)), not check(..., f)."
    bad = _first_non_number(got)
    if bad is _NUMBERS:
        return None
    inside = "" if bad is got else f"a {type(got).__name__} containing "
    if isinstance(bad, (str, bytes)):
        bad = str(bad) if isinstance(bad, str) else bytes(bad)  # np.str_ → str, for its repr
    if bad is None:
        tail = " (is a `return` statement missing?)" if returned and bad is got else ""
        return f"{you} {inside}None; {verb} {want}{tail}."
    if isinstance(bad, np.ndarray):
        if bad.dtype.kind == "b":
            return (f"{you} {inside}a boolean array (a mask); {verb} {want}: count or convert it, "
                    "e.g. mask.sum(axis=...) or mask.astype(float).")
        return (f"{you} {inside}an array of strings (dtype {bad.dtype}); {verb} {want}: compute it "
                "with numbers, not text.")
    if isinstance(bad, (bool, np.bool_)):
        return (f"{you} {inside}the bool {bool(bad)}; {verb} {want}, not True/False "
                "(a comparison gives a bool: compute the quantity itself).")
    kind = "string" if isinstance(bad, str) else "bytes"
    text = bad if isinstance(bad, str) else bad.decode("utf-8", "replace")
    try:
        float(text)
        as_number = text.strip()
    except ValueError:
        return f"{you} {inside}the {kind} {bad!r}; {verb} {want}, not text."
    return f"{you} {inside}the {kind} {bad!r}; {verb} {want}: {as_number}, not {bad!r}."


def _diagnosis(ex: Exercise, got: Any, expected: Any, case: Case | None) -> str | None:
    if ex.diagnose is None:
        return None
    try:
        return ex.diagnose(got, expected, case)
    except Exception:  # noqa: BLE001 (a diagnosis must not hide the feedback it sharpens)
        return None


def _fmt(x: Any) -> str:
    if hasattr(x, "detach"):
        x = to_numpy(x, dtype=None)
    if isinstance(x, np.ndarray):
        s = np.array2string(x, precision=4, threshold=8, edgeitems=3)
        return f"array shape {x.shape}: {s}"
    if isinstance(x, float):
        return f"{x:.6g}"
    return repr(x)


def _shape_of(x: Any) -> tuple | None:
    try:
        return to_numpy(x, dtype=None).shape
    except Exception:
        return None


#: ``polycode-lite grade`` sets this to a JSON-lines file; every check appends its outcome there
GRADE_LOG_ENV = "POLYCODE_GRADE_LOG"


def _log_for_grading(result: CheckResult) -> None:
    path = os.environ.get(GRADE_LOG_ENV)
    if not path:
        return
    import json

    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"exercise": result.exercise_id, "passed": result.passed,
                            "attempted": result.attempted, "messages": list(result.messages)},
                           ensure_ascii=False) + "\n")


def check(
    exercise_id: str, answer: Any, verbose: bool = True, strict: bool | None = None
) -> CheckResult:
    """Check a learner's answer (a function or a value); print and return specific feedback.

    Never raises for a wrong or unattempted answer, so a notebook keeps running, unless
    ``strict`` (default: the environment variable ``POLYCODE_STRICT_CHECKS`` is set to a
    non-empty value other than "0"), when a failed check raises AssertionError with the same
    feedback: that is what nbgrader/otter autograding needs.
    """
    ex = get(exercise_id)
    msgs: list[str] = [ex.header()]
    passed, attempted = True, True
    if ex.kind == "value":
        expected = ex.reference()
        if answer is None or answer is Ellipsis:
            attempted, passed = False, False
            msgs.append(f"Not attempted yet. Hint: {ex.hint}")
        elif (problem := _type_problem(answer, expected, returned=False)) is not None:
            passed = False
            msgs.append(f"✘ expected {_fmt(expected)}, got {_fmt(answer)} "
                        f"(type {type(answer).__name__}).")
            msgs.append(f"Hint: {problem}")
        elif not _close(ex, answer, expected):
            passed = False
            msgs.append(f"✘ expected {_fmt(expected)}, got {_fmt(answer)} "
                        f"(tolerance rtol={ex.rtol:g}, atol={ex.atol:g}).")
            d = _diagnosis(ex, answer, expected, None)
            msgs.append(f"Hint: {d or ex.hint}")
    elif not callable(answer) and answer is not None and answer is not Ellipsis:
        passed = False
        msgs.append(f"✘ expected a function, got {_fmt(answer)} (type {type(answer).__name__}).")
        msgs.append(f"Hint: give the function itself, check({ex.id!r}, my_function), not a value "
                    f"it returned. {ex.hint}")
    else:
        n_ok = 0
        for case in ex.cases:
            expected = ex.reference(*case.args, **case.kwargs)
            try:
                got = answer(*case.args, **case.kwargs)
            except NotImplementedError:
                attempted, passed = False, False
                msgs.append(f"Not attempted yet: replace the NotImplementedError with your code. "
                            f"Hint: {ex.hint}")
                break
            except Exception as exc:  # the learner's bug: report it, don't crash the notebook
                passed = False
                msgs.append(f"✘ case '{case.name}' raised {type(exc).__name__}: {exc}")
                msgs.append(f"Hint: {ex.hint}")
                break
            problem = _type_problem(got, expected, returned=True)
            if problem is not None:
                passed = False
                msgs.append(f"✘ case '{case.name}': expected {_fmt(expected)}, got {_fmt(got)} "
                            f"(type {type(got).__name__}).")
                msgs.append(f"Hint: {problem}")
                break
            if not _close(ex, got, expected):
                passed = False
                gs, es = _shape_of(got), _shape_of(expected)
                if gs is not None and es is not None and gs != es:
                    msgs.append(f"✘ case '{case.name}': wrong shape, expected {es}, got {gs}.")
                else:
                    msgs.append(f"✘ case '{case.name}': expected {_fmt(expected)}, got {_fmt(got)}.")
                d = _diagnosis(ex, got, expected, case)
                msgs.append(f"Hint: {d or ex.hint}")
                break
            n_ok += 1
        if passed:
            msgs.append(f"✔ all {n_ok} cases passed.")
    if ex.kind == "value" and passed:
        msgs.append("✔ correct.")
    result = CheckResult(ex.id, passed, attempted, tuple(msgs))
    if verbose:
        print(result)
    _log_for_grading(result)
    if strict is None:
        strict = os.environ.get("POLYCODE_STRICT_CHECKS", "0") not in {"", "0"}
    if strict and not passed:
        raise AssertionError(str(result))
    return result
