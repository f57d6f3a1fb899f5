"""Integrity of shipped files: sha256 against a folder's ``MANIFEST.json``, JSON read with clear errors.

Each folder of ``data/shipped/`` holds a ``MANIFEST.json`` ``{"files": {name: {"sha256", "bytes"}}}``
(``resnet_ae/`` also names the command that made its files). :func:`verify_shipped_file` checks one
file against it before it is read; a mismatch raises :class:`IntegrityError` naming the file, both
digests and how to restore it (``git checkout -- <path>`` in a clone, a forced reinstall otherwise).

After regenerating a shipped file on purpose, record its new digest::

    python -m polycode_lite.data.integrity polycode_lite/data/shipped/dropout

(:func:`update_manifest`; it rewrites the entries of the files present and keeps other keys).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polycode_lite._common import REPO_ROOT, SHIPPED_DATA_DIR, atomic_write_text, is_source_checkout, sha256_file

__all__ = ["MANIFEST_NAME", "IntegrityError", "read_json", "restore_hint", "update_manifest",
           "verify_file", "verify_shipped_file"]

MANIFEST_NAME = "MANIFEST.json"

#: the package's name on pip (pyproject.toml ``name``)
PIP_NAME = "polycode-lite"


class IntegrityError(ValueError):
    """A file is damaged: its sha256 differs from the recorded one, or its JSON cannot be read."""


def _is_shipped(path: Path) -> bool:
    return path.resolve().is_relative_to(SHIPPED_DATA_DIR.resolve())


def restore_hint(path: str | Path) -> str:
    """How to get an intact copy of ``path``: for a shipped file ``git checkout -- <path>`` in a
    source checkout, ``pip install --force-reinstall polycode-lite`` in an install; for any other
    file, to recreate it with the command that made it."""
    path = Path(path)
    if not _is_shipped(path):
        return f"recreate {path.name} with the command that made it, or restore it from a backup."
    if is_source_checkout() and path.resolve().is_relative_to(REPO_ROOT.resolve()):
        rel = path.resolve().relative_to(REPO_ROOT.resolve())
        return (f"restore the shipped copy with `git checkout -- {rel.as_posix()}` (in the clone at "
                f"{REPO_ROOT}), or reinstall with `pip install --force-reinstall {PIP_NAME}`.")
    return f"restore the shipped copy by reinstalling: `pip install --force-reinstall {PIP_NAME}`."


def read_json(path: str | Path, fix: str | None = None) -> Any:
    """The parsed JSON in ``path``; a truncated, garbled or non-UTF-8 file raises
    :class:`IntegrityError` naming the file and ``fix`` (default :func:`restore_hint`), never a
    raw ``JSONDecodeError``. A missing file raises FileNotFoundError naming it and ``fix``."""
    path = Path(path)
    fix = fix or restore_hint(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing; {fix}") from None
    except UnicodeDecodeError as exc:
        raise IntegrityError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): the file "
                             f"is damaged. {fix}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise IntegrityError(f"{path} is not valid JSON, truncated or garbled ({exc.msg} at line "
                             f"{exc.lineno}, column {exc.colno}; a crash while writing it, or an "
                             f"edit). {fix}") from None


def _manifest_entries(folder: Path) -> dict[str, Any]:
    mpath = folder / MANIFEST_NAME
    manifest = read_json(mpath)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise IntegrityError(f"{mpath} has no 'files' table of sha256 digests: the file is damaged. "
                             f"{restore_hint(mpath)}")
    return files


def verify_file(path: str | Path, expected_sha256: str, fix: str) -> None:
    """Raise :class:`IntegrityError` unless ``path``'s sha256 is ``expected_sha256``; the
    message names the file, both digests and ``fix``. A missing file raises FileNotFoundError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; {fix}")
    digest = sha256_file(path)
    if digest != expected_sha256:
        raise IntegrityError(f"{path} was altered or truncated: its sha256 is {digest}, expected "
                             f"{expected_sha256}. {fix}")


def verify_shipped_file(path: str | Path) -> None:
    """Check ``path`` against the ``MANIFEST.json`` in its folder before it is read.

    Raises:
        IntegrityError (a ValueError): the digest differs, the file is not listed, or the
            manifest is unreadable; the message names the file, the expected digest and how to
            restore it, and how to record a new digest after a deliberate regeneration.
        FileNotFoundError: the file or the manifest is missing.
    """
    path = Path(path)
    folder = path.parent
    entries = _manifest_entries(folder)
    regen = (f"If you regenerated {path.name} on purpose, record its digest with "
             f"`python -m polycode_lite.data.integrity {folder}`.")
    entry = entries.get(path.name)
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise IntegrityError(f"{path} is not listed with a sha256 in {folder / MANIFEST_NAME}. {regen}")
    remake = f" It is made by `{entry['command']}`." if isinstance(entry.get("command"), str) else ""
    verify_file(path, entry["sha256"], f"{restore_hint(path)}{remake} {regen}")


def update_manifest(folder: str | Path, names: Sequence[str] | None = None) -> Path:
    """Record the sha256 and size of files in ``folder/MANIFEST.json`` (after a deliberate
    regeneration). ``names`` default: every ``*.json`` and ``*.safetensors`` file there except
    the manifest. Other keys (a ``command``) are kept; a manifest that cannot be read is
    started afresh. Returns the manifest's path."""
    folder = Path(folder)
    mpath = folder / MANIFEST_NAME
    if names is None:
        names = sorted(p.name for p in folder.iterdir()
                       if p.suffix in {".json", ".safetensors"} and p.name != MANIFEST_NAME)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing or not names:
        raise FileNotFoundError(f"no file to record in {folder}" if not names
                                else f"{', '.join(missing)} not found in {folder}.")
    try:
        manifest = read_json(mpath) if mpath.exists() else {}
    except IntegrityError:
        manifest = {}
    manifest = manifest if isinstance(manifest, dict) else {}
    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    for n in names:
        entry = files.get(n) if isinstance(files.get(n), dict) else {}
        files[n] = {**entry, "sha256": sha256_file(folder / n), "bytes": (folder / n).stat().st_size}
    manifest["files"] = dict(sorted(files.items()))
    atomic_write_text(mpath, json.dumps(manifest, indent=2) + "\n")
    return mpath


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m polycode_lite.data.integrity FOLDER [FILE ...]``: :func:`update_manifest`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m polycode_lite.data.integrity FOLDER [FILE ...]", file=sys.stderr)
        return 2
    path = update_manifest(args[0], args[1:] or None)
    print(f"recorded sha256 digests in {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
