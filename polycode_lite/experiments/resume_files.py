"""Resumable result files: each written atomically, with a sha256 of its content and the
settings that produced it, and trusted on reuse only when both check out.

Two kinds of file, one rule: a JSON record (:func:`write_record` / :func:`read_record`) and a
safetensors file of tensors (:func:`save_tensors` / :func:`load_tensors`). A reader gets the
content back only if the file parses, its hash matches and its settings equal the caller's;
otherwise it gets ``None`` and a :class:`ResumeWarning` (one line naming the file and why: missing
files are silent), and the caller recomputes. Writes go to a temporary name in the same folder,
are fsynced and renamed (``_common.atomic_write``), so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite._common import atomic_write, atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["FORMAT", "ResumeWarning", "atomic_write", "atomic_write_text", "canonical_json", "differing",
           "jsonable", "load_tensors", "read_record", "save_tensors", "tensors_digest", "write_record"]

#: version of the file layout; a file of another version is recomputed
FORMAT = 1


class ResumeWarning(UserWarning):
    """A saved file was not reused (unreadable, failed its hash, or other settings); it is recomputed."""


def jsonable(obj: Any) -> Any:
    """``json.dumps`` default: numpy scalars and arrays as Python numbers and lists."""
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} {obj!r} cannot be written to JSON.")


def canonical_json(obj: Any) -> str:
    """One text per value (sorted keys, no spaces, NaN/inf allowed): what hashes and comparisons see."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=jsonable)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def differing(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """The keys whose values differ between two settings dicts (compared as canonical JSON)."""
    return sorted(k for k in set(saved) | set(wanted)
                  if canonical_json(saved.get(k, "<absent>")) != canonical_json(wanted.get(k, "<absent>")))


def _skip(path: Path, what: str, why: str) -> None:
    warnings.warn(f"{what} {path}: {why}; recomputing it.", ResumeWarning, stacklevel=3)


def _settings_problem(saved: Any, settings: Mapping[str, Any]) -> str | None:
    if not isinstance(saved, Mapping):
        return "it records no settings"
    diff = differing(saved, settings)
    return f"saved with other settings (differing: {', '.join(diff)})" if diff else None


# ------------------------------------------------------------------------------------------
# JSON records
# ------------------------------------------------------------------------------------------
def write_record(path: str | Path, payload: Any, settings: Mapping[str, Any]) -> Any:
    """Write ``payload`` (JSON-able) with its sha256 and ``settings``, atomically. Returns the
    payload as it reads back (numpy values as Python ones), so fresh and reused results are the
    same objects."""
    body = canonical_json(payload)
    record = {"format": FORMAT, "settings": dict(settings), "sha256": _sha256_text(body), "payload": payload}
    atomic_write_text(path, canonical_json(record))
    return json.loads(body)


def read_record(path: str | Path, settings: Mapping[str, Any], what: str = "saved result") -> Any:
    """The payload of a :func:`write_record` file, or None (missing: silently; unreadable, a
    failed hash or other settings: with a :class:`ResumeWarning`)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format") != FORMAT or "payload" not in record:
            _skip(path, what, f"not a result file of format {FORMAT}")
            return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _skip(path, what, f"unreadable ({type(exc).__name__}: {exc})")
        return None
    body = canonical_json(record["payload"])
    if record.get("sha256") != _sha256_text(body):
        _skip(path, what, "its content does not match its sha256 (damaged or edited)")
        return None
    problem = _settings_problem(record.get("settings"), settings)
    if problem:
        _skip(path, what, problem)
        return None
    return json.loads(body)


# ------------------------------------------------------------------------------------------
# tensors (safetensors, hash and settings in the header)
# ------------------------------------------------------------------------------------------
def tensors_digest(tensors: Mapping[str, "torch.Tensor"]) -> str:
    """sha256 of named tensors: each name, dtype, shape and raw bytes, in sorted name order."""
    import torch

    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: hash its bits
            t = t.view(torch.int16)
        h.update(t.numpy())  # the buffer itself: no copy of a large accumulator
    return h.hexdigest()


def save_tensors(path: str | Path, tensors: Mapping[str, "torch.Tensor"], settings: Mapping[str, Any],
                 extra: Any = None) -> None:
    """Write ``tensors`` (kept in their own dtypes) to a safetensors file with their sha256,
    ``settings`` and a JSON-able ``extra`` in its header, atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    extra_text = canonical_json(extra)
    meta = {"format": str(FORMAT), "settings": canonical_json(dict(settings)), "extra": extra_text,
            "sha256": _sha256_text(tensors_digest(tensors) + extra_text)}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def load_tensors(path: str | Path, settings: Mapping[str, Any], what: str = "saved state"
                 ) -> tuple[dict[str, "torch.Tensor"], Any] | None:
    """(tensors, extra) of a :func:`save_tensors` file, or None (missing: silently; unreadable,
    a failed hash or other settings: with a :class:`ResumeWarning`)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if meta.get("format") != str(FORMAT):
            _skip(path, what, f"not a state file of format {FORMAT}")
            return None
        saved = json.loads(meta.get("settings", "null"))
        extra_text = meta.get("extra", "null")
        extra = json.loads(extra_text)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for a damaged header
        _skip(path, what, f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        return None
    if meta.get("sha256") != _sha256_text(tensors_digest(tensors) + extra_text):
        _skip(path, what, "its content does not match its sha256 (damaged or edited)")
        return None
    problem = _settings_problem(saved, settings)
    if problem:
        _skip(path, what, problem)
        return None
    return tensors, extra

