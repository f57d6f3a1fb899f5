"""One set of argument checks for the public API: each raises ValueError/TypeError naming the
argument, what it must be and what was passed (and leaves the caller's state untouched, since
it runs before any work)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["MAX_BYTES", "UnknownName", "array", "boolean", "choice", "function", "instance", "integer", "memory",
           "optional", "positive", "probability", "real", "real_array", "seed", "sequence_of", "text", "window"]


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


def _tensor(name: str, t: Any, ndim: Any, min_len: int, min_cols: int, fix: str, finite: bool) -> None:
    import torch

    if t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}.{_fix(fix)}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and t.ndim not in dims:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in dims)}, got shape {tuple(t.shape)}.{_fix(fix)}")
    if t.ndim >= 1 and t.shape[0] < min_len:
        raise ValueError(f"{name} needs at least {min_len} rows (samples), got shape {tuple(t.shape)}.{_fix(fix)}")
    if t.ndim >= 2 and t.shape[1] < min_cols:
        raise ValueError(f"{name} needs at least {min_cols} columns, got shape {tuple(t.shape)}.{_fix(fix)}")
    if finite and t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} holds {int((~torch.isfinite(t)).sum())} NaN/inf value(s).{_fix(fix)}")


def array(name: str, value: Any, ndim: int | tuple[int, ...] | None = None, min_len: int = 0,
          min_cols: int = 0, fix: str = "", keep_tensor: bool = False, finite: bool = True) -> Any:
    """:func:`real_array` (torch tensors too, checked on their device) with ``ndim`` one of the
    allowed numbers of dimensions, at least ``min_len`` rows (samples) and, for 2-D,
    ``min_cols`` columns; NaN/inf refused unless ``finite=False`` (where NaN has a documented
    meaning). Returns a float64 numpy array (a tensor itself with ``keep_tensor``)."""
    if value is None:
        raise TypeError(f"{name} must be an array of real numbers, got None.{_fix(fix)}")
    if hasattr(value, "detach") and hasattr(value, "is_complex"):  # a torch tensor: checked where it lies
        _tensor(name, value, ndim, min_len, min_cols, fix, finite)
        return value.detach().cpu().double().numpy() if not keep_tensor else value
    try:
        raw = np.asarray(value)
    except ValueError:  # ragged nested sequences
        raise ValueError(f"{name} must be a rectangular array, got ragged rows.{_fix(fix)}") from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {raw.dtype}.{_fix(fix)}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and raw.ndim not in dims:
        want = " or ".join(f"{d}-D" for d in dims)
        raise ValueError(f"{name} must be {want}, got shape {raw.shape}.{_fix(fix)}")
    arr = raw.astype(np.float64, copy=False)
    if arr.ndim >= 1 and arr.shape[0] < min_len:
        raise ValueError(f"{name} needs at least {min_len} rows (samples), got shape {arr.shape}.{_fix(fix)}")
    if arr.ndim >= 2 and arr.shape[1] < min_cols:
        raise ValueError(f"{name} needs at least {min_cols} columns, got shape {arr.shape}.{_fix(fix)}")
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(arr)).sum())} NaN/inf value(s).{_fix(fix)}")
    return arr


def choice(name: str, value: Any, options: Any, fix: str = "") -> Any:
    """One of ``options`` (compared with ==; an unhashable value is refused too)."""
    opts = tuple(options)
    if isinstance(value, (str, int, float, type(None))) and any(
            type(value) is type(o) and value == o for o in opts):
        return value
    raise ValueError(f"{name} must be one of {', '.join(map(repr, opts))}; got {value!r}.{_fix(fix)}")


def boolean(name: str, value: Any, fix: str = "") -> bool:
    """A bool (numpy bool too); 0/1, strings and None refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}.{_fix(fix)}")
    return bool(value)


def sequence_of(name: str, value: Any, check: Any, min_len: int = 1, fix: str = "") -> tuple:
    """A non-string sequence of at least ``min_len`` items, each passed through
    ``check(f"{name}[i]", item)``; returns them as a tuple."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence (tuple or list), got {type(value).__name__} {value!r}.{_fix(fix)}")
    items = tuple(value)
    if len(items) < min_len:
        raise ValueError(f"{name} needs at least {min_len} item(s), got {len(items)}.{_fix(fix)}")
    return tuple(check(f"{name}[{i}]", v) for i, v in enumerate(items))


def window(name: str, value: Any, hi_max: int | None = None, fix: str = "") -> tuple[int, int]:
    """A fit window (lo, hi) of 1-based ranks with 1 <= lo < hi (<= ``hi_max`` if given)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name} must be a pair (lo, hi) of ranks, got {value!r}.{_fix(fix)}")
    lo = integer(f"{name}[0] (lo)", value[0], minimum=1, fix=fix)
    hi = integer(f"{name}[1] (hi)", value[1], minimum=1, fix=fix)
    if lo >= hi:
        raise ValueError(f"{name} must have 1 <= lo < hi, got {tuple(value)}.{_fix(fix)}")
    if hi_max is not None and hi > hi_max:
        raise ValueError(f"{name}: hi = {hi} exceeds the {hi_max} ranks available.{_fix(fix)}")
    return lo, hi


#: the largest array a public function may be asked to allocate (bytes); above it the request
#: is refused before any work (a size typed with too many zeros, not a real job on this toolkit)
MAX_BYTES = 64 * 2**30


def seed(name: str, value: Any, fix: str = "") -> int:
    """A random seed: an int in [0, 2**63)."""
    return integer(name, value, minimum=0, maximum=2**63 - 1,
                   fix=fix or "Pass a non-negative int (every random step takes a seed).")


def memory(name: str, shape: tuple, itemsize: int = 8, fix: str = "") -> None:
    """Refuse ``name`` when it asks for an array of ``shape`` larger than :data:`MAX_BYTES`."""
    n_bytes = float(itemsize)
    for s in shape:
        n_bytes *= max(float(s), 0.0)
    if n_bytes > MAX_BYTES:
        raise ValueError(f"{name} asks for an array of shape {tuple(int(s) for s in shape)} "
                         f"({n_bytes / 2**30:.3g} GiB; the limit is {MAX_BYTES / 2**30:.0f} GiB). "
                         f"Use a smaller {name}.{_fix(fix)}")


def function(name: str, value: Any, optional: bool = False, fix: str = "") -> Any:
    """A callable (or None when ``optional``)."""
    if value is None and optional:
        return None
    if not callable(value):
        raise TypeError(f"{name} must be a function, got {type(value).__name__} {value!r}.{_fix(fix)}")
    return value


def text(name: str, value: Any, nonempty: bool = True, fix: str = "") -> str:
    """A str (non-empty unless told)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}.{_fix(fix)}")
    if nonempty and not value:
        raise ValueError(f"{name} must not be empty.{_fix(fix)}")
    return value


def optional(check: Any, name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
    """``None``, or ``check(name, value, *args, **kwargs)``."""
    return None if value is None else check(name, value, *args, **kwargs)


class UnknownName(KeyError, ValueError):
    """A name (a layer, an exercise) that is not there: a KeyError for look-ups and a ValueError
    for argument checks, with the message printed as is (KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def instance(name: str, value: Any, cls: type, example: str = "") -> Any:
    """An instance of ``cls`` (e.g. an experiment's Config)."""
    if not isinstance(value, cls):
        hint = f" (e.g. {example})" if example else ""
        raise TypeError(f"{name} must be a {cls.__name__}{hint}, got {type(value).__name__} {value!r}.")
    return value
