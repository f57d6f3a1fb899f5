"""Small helpers shared by every wing: array conversion, thread limits, file digests, crash-safe
writes, device choice, and where the package and its repository live.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "COURSE_NOTEBOOK_DIR",
    "NonFiniteLossError",
    "atomic_replace",
    "atomic_write",
    "atomic_write_text",
    "fsync_dir",
    "refuse_output_inside",
    "PACKAGE_DIR",
    "REPO_ROOT",
    "SHIPPED_DATA_DIR",
    "as_2d_float64",
    "choose_device",
    "default_output_root",
    "describe_nonfinite",
    "limit_threads",
    "set_threads",
    "sha256_file",
    "to_numpy",
]

#: The installed package folder (``.../polycode_lite``).
PACKAGE_DIR = Path(__file__).resolve().parent
#: The folder above the package: the repository root in a source checkout (``site-packages``
#: for an installed wheel, so nothing may be written there).
REPO_ROOT = PACKAGE_DIR.parent


def _package_path(*parts: str) -> Path:
    """A folder shipped inside the installed package, found with ``importlib.resources``."""
    from importlib.resources import files

    return Path(str(files("polycode_lite").joinpath(*parts)))


#: The course notebooks (package data; ``notebooks/`` in a checkout links here).
COURSE_NOTEBOOK_DIR = _package_path("course", "notebooks")
#: Shipped results: ``resnet_ae/`` (five checkpoints + MANIFEST.json), ``dropout/`` (json).
SHIPPED_DATA_DIR = _package_path("data", "shipped")


def is_source_checkout() -> bool:
    """Whether the package runs from a source checkout (``pyproject.toml`` beside it)."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "polycode_lite").is_dir()


def default_output_root() -> Path:
    """Where outputs go when no ``--out`` is given: ``./build`` under the current folder.

    A kernel started inside the package folder (a notebook opened in place) would write next to
    the installed code, so then the root is the checkout's ``build/`` or ``~/polycode_lite/build``.
    """
    cwd = Path.cwd().resolve()
    if cwd.is_relative_to(PACKAGE_DIR):
        return (REPO_ROOT if is_source_checkout() else Path.home() / "polycode_lite") / "build"
    return cwd / "build"


def describe_nonfinite(bad: np.ndarray) -> str:
    """Describe where the True entries of a 2-D boolean mask are: count and first locations."""
    idx = np.argwhere(bad)
    where = ", ".join(f"(row {r}, col {c})" for r, c in idx[:5])
    more = f" and {len(idx) - 5} more" if len(idx) > 5 else ""
    return f"{len(idx)} NaN/inf value(s) at {where}{more}"


def to_numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """An array-like or torch tensor (any device, with or without grad) as a numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().to("cpu")
        if dtype is not None and x.is_floating_point():
            x = x.double()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def as_2d_float64(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a finite 2-D float64 (n_samples, n_features) array; raise naming ``name`` if not."""
    arr = to_numpy(x)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (n_samples, n_features) array, got shape {arr.shape}. "
            "Flatten extra axes first, e.g. acts.reshape(-1, acts.shape[-1])."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} contains {describe_nonfinite(bad)}. Remove or impute them first.")
    return arr


def _blas_limiter(n: int) -> Any:
    """threadpoolctl's limiter at ``n`` BLAS/OpenMP threads (already applied), or None without it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its defaults
        return None
    return threadpool_limits(limits=n)


def _checked_threads(n: Any) -> int:
    from polycode_lite import _checks

    return _checks.integer("n (threads)", n, minimum=1, fix="Pass a whole number of threads, e.g. 1.")


@contextmanager
def limit_threads(n: int | None = 1, blas: bool = True) -> Iterator[None]:
    """Run the block with ``n`` torch threads (and ``n`` BLAS/OpenMP threads when ``blas``).

    The previous settings are restored afterwards; ``n=None`` changes nothing. Multi-threaded
    OpenBLAS busy-waits: on a loaded 2-core machine an SVD of a 1500 × 128 matrix took 1 s of CPU
    with the default threads against 0.015 s with one thread."""
    if n is None:
        yield
        return
    n = _checked_threads(n)
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    limiter = _blas_limiter(n) if blas else None
    try:
        yield
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        torch.set_num_threads(old)


def set_threads(n: int, blas: bool = True) -> None:
    """Use ``n`` torch threads (and ``n`` BLAS/OpenMP threads) from now on, e.g. for a whole
    notebook; :func:`limit_threads` does the same for one block and restores the settings."""
    n = _checked_threads(n)
    import torch

    torch.set_num_threads(n)
    if blas:
        _blas_limiter(n)  # the limiter is dropped unrestored: the limit stays


def refuse_output_inside(out: str | Path, source: str | Path, out_option: str = "--out",
                         source_option: str = "--notebooks") -> None:
    """Raise ValueError when the output folder ``out`` is the source folder or inside it
    (writing there would overwrite or mix with the inputs)."""
    out_r, src_r = Path(out).expanduser().resolve(), Path(source).expanduser().resolve()
    if out_r == src_r or out_r.is_relative_to(src_r):
        raise ValueError(f"{out_option} {out} is {'the' if out_r == src_r else 'inside the'} "
                         f"{source_option} folder {source}: writing there would overwrite the "
                         f"inputs. Pick an {out_option} outside it.")


def fsync_dir(folder: str | Path) -> None:
    """fsync a folder, so a rename inside it survives a crash (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_replace(tmp: str | Path, path: str | Path) -> None:
    """fsync ``tmp``, rename it onto ``path`` and fsync the folder: a crash leaves the old file
    or the new one, never a mix."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` fills a temporary file beside ``path`` (``.NAME.PID.tmp``); it is then
    fsynced and renamed onto ``path``. A failure removes the temporary file and leaves ``path``
    as it was. Every file the package writes for later reuse goes through here."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        atomic_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (``hashlib.file_digest``)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class NonFiniteLossError(FloatingPointError):
    """A training loop's loss became NaN or inf: it stops before saving the bad state."""


def choose_device(requested: Any = None) -> "torch.device":
    """``requested`` as a torch.device; ``None`` or ``"auto"`` picks CUDA when available.

    An unknown name ("gpu") or a device this machine lacks ("cuda" without CUDA, "cuda:3" on
    a 1-GPU machine, "mps" off a Mac) is refused with a ValueError naming ``device``.
    """
    import torch

    if requested is None or requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {requested!r} is not a torch device name ({exc}); use 'cpu', "
                         "'cuda', 'cuda:1' or 'auto'.") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(f"device {requested!r} is not available here ({count} CUDA device(s)); "
                             "use 'cpu' or 'auto'.")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {requested!r} is not available here; use 'cpu' or 'auto'.")
    elif device.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"device {requested!r} is not supported; use 'cpu', 'cuda' or 'auto'.")
    return device
