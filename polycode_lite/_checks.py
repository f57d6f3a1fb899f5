"""One set of argument checks for the public API: each raises ValueError/TypeError naming the
argument, what it must be and what was passed (and leaves the caller's state untouched, since
it runs before any work)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["real", "positive", "integer", "probability", "real_array"]


def _fix(fix: str) -> str:
    return f" {fix}" if fix else ""


def real(name: str, value: Any, fix: str = "") -> float:
    """A finite real number (bool, str, complex and None refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}.{_fix(fix)}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}.{_fix(fix)}")
    return v


def positive(name: str, value: Any, fix: str = "", allow_zero: bool = False) -> float:
    """A finite real number > 0 (>= 0 with ``allow_zero``)."""
    v = real(name, value, fix)
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}.{_fix(fix)}")
    return v


def integer(name: str, value: Any, minimum: int | None = None, maximum: int | None = None,
            fix: str = "") -> int:
    """An int (numpy ints too; bool, float and str refused) within [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.{_fix(fix)}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}.{_fix(fix)}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}.{_fix(fix)}")
    return v


def probability(name: str, value: Any, fix: str = "") -> float:
    """A number in [0, 1]."""
    v = real(name, value, fix)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}.{_fix(fix)}")
    return v


def real_array(name: str, value: Any, ndim: int | None = None, fix: str = "") -> np.ndarray:
    """A finite float64 array (complex, object and string arrays refused), of ``ndim`` if given."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}.{_fix(fix)}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}.{_fix(fix)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(arr)).sum())} NaN/inf value(s).{_fix(fix)}")
    return arr
