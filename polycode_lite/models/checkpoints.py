"""Saving and loading autoencoder weights: atomic checkpoints, exported models, sha256 manifests.

Weights are safetensors files (nothing is unpickled); every exported file is listed with its
sha256 in ``MANIFEST.json`` beside the exact command that made it, and loading checks it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polycode_lite._common import SHIPPED_DATA_DIR, atomic_write_text, choose_device, sha256_file
from polycode_lite._common import atomic_replace as _atomic_replace
from polycode_lite.data.integrity import IntegrityError, read_json, restore_hint

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = [
    "export_model", "load_autoencoder", "load_checkpoint", "save_checkpoint", "shipped_dir",
    "shipped_models", "verify_manifest", "write_manifest"
]


def _package_version() -> str:
    from polycode_lite import __version__

    return __version__


# ------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------
#: a run folder keeps this many checkpoint versions (the newest and the one before it)
KEEP_CHECKPOINTS = 2


def _version_name(epoch: int) -> str:
    return f"checkpoint-{int(epoch):05d}"


def save_checkpoint(run_dir: str | Path, model: nn.Module, optimizer: Any,
                    meta: dict[str, Any]) -> Path:
    """Write one checkpoint version and point ``checkpoint.json`` at it, crash-safely.

    Steps, each a write to a temporary file, fsync and rename: (1) ``checkpoint-EPOCH.safetensors``
    (model + Adam state); (2) ``checkpoint-EPOCH.json`` (``meta`` plus the weights' sha256 and
    file name, and the optimizer's param groups); (3) ``checkpoint.json``, the same json, which is
    the pointer a resume reads. Only then are versions older than the last
    :data:`KEEP_CHECKPOINTS` deleted. A kill at any step leaves the previous checkpoint whole.
    Returns the path of ``checkpoint.json``."""
    from safetensors.torch import save_file

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_state = optimizer.state_dict()
    for idx, st in opt_state["state"].items():
        for key, val in st.items():
            tensors[f"optim.{idx}.{key}"] = val.detach().cpu().contiguous()
    version = _version_name(meta.get("epoch", 0))
    st_path = run_dir / f"{version}.safetensors"
    tmp = run_dir / f"{version}.safetensors.tmp"
    save_file(tensors, str(tmp))
    _atomic_replace(tmp, st_path)
    meta = dict(meta, sha256=sha256_file(st_path), weights=st_path.name,
                optimizer_param_groups=opt_state["param_groups"])
    text = json.dumps(meta, indent=2)
    atomic_write_text(run_dir / f"{version}.json", text)
    json_path = run_dir / "checkpoint.json"
    atomic_write_text(json_path, text)
    versions = sorted(p.stem for p in run_dir.glob("checkpoint-*.json"))
    for old in versions[:-KEEP_CHECKPOINTS]:
        for suffix in (".safetensors", ".json"):
            (run_dir / f"{old}{suffix}").unlink(missing_ok=True)
    return json_path


_RERUN = "delete the run folder and re-run the training command."


def _read_verified(json_path: Path, st_path: Path | None = None, fix: str = _RERUN,
                   keys: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """The meta in ``json_path`` and the tensors of the weights file it names (``st_path`` for
    a checkpoint from before versioning), checked against its sha256. A missing, truncated or
    garbled json, one without the ``keys`` the caller needs, or a weights file that fails its
    sha256 raises naming the file and ``fix``."""
    from safetensors.torch import load_file

    meta = read_json(json_path, fix=fix)
    missing = [k for k in ("sha256", *keys) if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise IntegrityError(f"{json_path} does not hold a model's metadata (no {', '.join(missing)}); "
                             f"the file is damaged or not one of ours: {fix}")
    st_path = json_path.parent / str(meta["weights"]) if "weights" in meta else st_path
    if st_path is None or not st_path.exists():
        raise FileNotFoundError(f"missing weights {st_path} (named by {json_path}); {fix}")
    digest = sha256_file(st_path)
    if meta["sha256"] != digest:
        raise IntegrityError(
            f"sha256 mismatch for {st_path}: {json_path.name} says {meta['sha256']}, the file has "
            f"{digest}. The file is corrupt or was replaced; {fix}"
        )
    return meta, load_file(str(st_path))


def _newest_good(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest checkpoint version that verifies; falls back (with a warning) past bad ones."""
    import warnings

    problems = []
    candidates = [run_dir / "checkpoint.json"] + sorted(run_dir.glob("checkpoint-*.json"), reverse=True)
    for path in candidates:
        if not path.exists():
            continue
        try:
            meta, tensors = _read_verified(path, run_dir / "checkpoint.safetensors",
                                           fix="this version is not used", keys=("optimizer_param_groups",))
        except (ValueError, FileNotFoundError, OSError) as exc:
            problems.append(str(exc))
            continue
        if problems:
            warnings.warn(f"the newest checkpoint in {run_dir} failed its check ({problems[0]}); resuming from "
                          f"{path.name} (epoch {meta.get('epoch')}) instead.", stacklevel=3)
        return meta, tensors
    raise IntegrityError(f"no checkpoint in {run_dir} passes its sha256 check with readable metadata "
                         f"({'; '.join(problems) or 'none found'}); delete the folder to start over.")


def load_checkpoint(run_dir: str | Path, model: nn.Module, optimizer: Any = None) -> dict[str, Any]:
    """Restore model (and optimizer) from the newest checkpoint in ``run_dir`` that passes its
    sha256 check (an older version, with a warning, when the newest is damaged). Returns the meta."""
    run_dir = Path(run_dir)
    meta, tensors = _newest_good(run_dir)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if optimizer is not None:
        state: dict[int, dict[str, Any]] = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, idx, key = k.split(".", 2)
                state.setdefault(int(idx), {})[key] = v
        optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer_param_groups"]})
    return meta


def export_model(model: nn.Module, meta: dict[str, Any], path: str | Path,
                 dtype: str = "float32") -> Path:
    """Write weights-only ``path`` (.safetensors, floats cast to ``dtype``) and ``path``.json
    with the run metadata and the file's sha256. Returns the safetensors path."""
    import torch
    from safetensors.torch import save_file

    if dtype not in {"float32", "float16"}:
        raise ValueError(f"save dtype must be 'float32' or 'float16', got {dtype!r}.")
    tdtype = getattr(torch, dtype)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        k: (v.detach().cpu().to(tdtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in model.state_dict().items()
    }
    save_file(tensors, str(path))
    keep = {k: v for k, v in meta.items() if k not in {"sha256", "weights", "optimizer_param_groups"}}
    keep.update(sha256=sha256_file(path), save_dtype=dtype)
    atomic_write_text(path.with_suffix(".json"), json.dumps(keep, indent=2))
    return path


def load_autoencoder(path: str | Path, device: Any = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load an exported model (``X.safetensors`` + ``X.json``), checking its sha256.

    Returns (model, metadata): the model on ``device`` in eval mode, its floating-point
    weights loaded as float32 whatever the saved dtype. Raises ValueError (an
    :class:`~polycode_lite.data.integrity.IntegrityError`) on a sha256 mismatch or a truncated,
    garbled or incomplete ``X.json``, naming the file and how to restore it (re-export, or for
    a shipped model ``git checkout`` / reinstall), and FileNotFoundError when a file is missing.
    """
    from polycode_lite.models.resnet_vae import AutoencoderConfig, ResNetAutoencoder

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be the path of a .safetensors file, got {type(path).__name__} {path!r}.")
    device = choose_device(device)  # an unknown or unavailable device is refused before loading
    path = Path(path)
    json_path = path.with_suffix(".json")
    fix = _export_fix(json_path)
    meta, tensors = _read_verified(json_path, path, fix=fix, keys=("model_config", "dropout"))
    cfg = AutoencoderConfig.from_dict(meta["model_config"])
    model = ResNetAutoencoder(cfg, dropout=meta["dropout"], seed=None)
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()})
    return model.to(device).eval(), meta


def _export_fix(path: Path) -> str:
    """How to get an intact exported file back: the shipped copy, or the manifest's command."""
    if path.resolve().is_relative_to(shipped_dir().resolve()):
        return restore_hint(path)
    mpath = path.parent / "MANIFEST.json"
    try:
        command = read_json(mpath).get("command") if mpath.exists() else None
    except (ValueError, AttributeError):
        command = None
    return f"re-export it: {command}" if isinstance(command, str) else \
        "re-export it with the train-autoencoder command that made it."


def write_manifest(out_dir: str | Path, files: Sequence[str | Path], command: str) -> Path:
    """Write ``out_dir/MANIFEST.json``: the regenerating command and each file's sha256 and size."""
    out_dir = Path(out_dir)
    entries = {}
    for f in files:
        f = Path(f)
        entries[f.name] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
    path = out_dir / "MANIFEST.json"
    atomic_write_text(path, json.dumps({"command": command, "package_version": _package_version(),
                                         "files": entries}, indent=2))
    return path


def verify_manifest(out_dir: str | Path) -> dict[str, Any]:
    """Check every file listed in ``out_dir/MANIFEST.json``; raise ValueError naming the first
    mismatch or missing file. Returns the manifest."""
    out_dir = Path(out_dir)
    mpath = out_dir / "MANIFEST.json"
    if not mpath.exists():
        raise FileNotFoundError(f"no MANIFEST.json in {out_dir}.")
    shipped = out_dir.resolve() == shipped_dir().resolve()
    fix = (restore_hint(mpath) if shipped else "re-export the models with the train-autoencoder "
           "command that made them (it writes a new MANIFEST.json), or restore the file from a backup.")
    manifest = read_json(mpath, fix=fix)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(e, dict) and "sha256" in e for e in files.values()):
        raise IntegrityError(f"{mpath} has no 'files' table of sha256 digests: the file is damaged. {fix}")
    command = manifest.get("command", "the train-autoencoder command that made them")
    for name, entry in files.items():
        f = out_dir / name
        redo = restore_hint(f) if shipped else f"Regenerate with: {command}"
        if not f.exists():
            raise IntegrityError(f"{f} is listed in {mpath.name} but missing. {redo}")
        digest = sha256_file(f)
        if digest != entry["sha256"]:
            raise IntegrityError(f"sha256 mismatch for {f}: manifest {entry['sha256']}, file {digest}. {redo}")
    return manifest


def shipped_dir() -> Path:
    """Folder of the shipped lite checkpoints (package data ``polycode_lite/data/shipped/resnet_ae``)."""
    return SHIPPED_DATA_DIR / "resnet_ae"


def shipped_models(device: Any = "cpu") -> dict[float, tuple[nn.Module, dict[str, Any]]]:
    """Load the five shipped lite VAEs, {dropout: (model, meta)}, after verifying the manifest."""
    device = choose_device(device)
    d = shipped_dir()
    manifest = verify_manifest(d)
    out = {}
    for name in sorted(manifest["files"]):
        if name.endswith(".safetensors"):
            model, meta = load_autoencoder(d / name, device)
            out[float(meta["dropout"])] = (model, meta)
    if not out:
        raise ValueError(f"the manifest in {d} lists no .safetensors model.")
    return dict(sorted(out.items()))
