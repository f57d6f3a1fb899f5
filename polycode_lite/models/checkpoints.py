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

from polycode_lite._common import SHIPPED_DATA_DIR

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn
from polycode_lite._common import sha256_file

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
def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(run_dir: str | Path, model: nn.Module, optimizer: Any,
                    meta: dict[str, Any]) -> Path:
    """Write ``checkpoint.safetensors`` (model + Adam state) and ``checkpoint.json`` (meta plus
    the safetensors sha256 and the optimizer's param groups) atomically. Returns the json path."""
    from safetensors.torch import save_file

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_state = optimizer.state_dict()
    for idx, st in opt_state["state"].items():
        for key, val in st.items():
            tensors[f"optim.{idx}.{key}"] = val.detach().cpu().contiguous()
    st_path = run_dir / "checkpoint.safetensors"
    tmp = run_dir / "checkpoint.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, st_path)
    meta = dict(meta, sha256=sha256_file(st_path),
                optimizer_param_groups=opt_state["param_groups"])
    json_path = run_dir / "checkpoint.json"
    _atomic_write_text(json_path, json.dumps(meta, indent=2))
    return json_path


def _read_verified(json_path: Path, st_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors.torch import load_file

    if not json_path.exists() or not st_path.exists():
        raise FileNotFoundError(f"missing checkpoint files {json_path} / {st_path}.")
    meta = json.loads(json_path.read_text())
    digest = sha256_file(st_path)
    if meta.get("sha256") != digest:
        raise ValueError(
            f"sha256 mismatch for {st_path}: metadata says {meta.get('sha256')}, file has {digest}. "
            "The file is corrupt or was replaced; delete it and re-run the training command."
        )
    return meta, load_file(str(st_path))


def load_checkpoint(run_dir: str | Path, model: nn.Module, optimizer: Any = None) -> dict[str, Any]:
    """Restore model (and optimizer) from ``run_dir``; verify the sha256. Returns the meta."""
    run_dir = Path(run_dir)
    meta, tensors = _read_verified(run_dir / "checkpoint.json", run_dir / "checkpoint.safetensors")
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
    keep = {k: v for k, v in meta.items() if k not in {"sha256", "optimizer_param_groups"}}
    keep.update(sha256=sha256_file(path), save_dtype=dtype)
    _atomic_write_text(path.with_suffix(".json"), json.dumps(keep, indent=2))
    return path


def load_autoencoder(path: str | Path, device: Any = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load an exported model (``X.safetensors`` + ``X.json``), checking its sha256.

    Returns (model, metadata): the model on ``device`` in eval mode, its floating-point
    weights loaded as float32 whatever the saved dtype. Raises ValueError on a sha256
    mismatch and FileNotFoundError when a file is missing.
    """
    from polycode_lite.models.resnet_vae import AutoencoderConfig, ResNetAutoencoder

    path = Path(path)
    meta, tensors = _read_verified(path.with_suffix(".json"), path)
    cfg = AutoencoderConfig.from_dict(meta["model_config"])
    model = ResNetAutoencoder(cfg, dropout=meta["dropout"], seed=None)
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()})
    return model.to(device).eval(), meta


def write_manifest(out_dir: str | Path, files: Sequence[str | Path], command: str) -> Path:
    """Write ``out_dir/MANIFEST.json``: the regenerating command and each file's sha256 and size."""
    out_dir = Path(out_dir)
    entries = {}
    for f in files:
        f = Path(f)
        entries[f.name] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
    path = out_dir / "MANIFEST.json"
    _atomic_write_text(path, json.dumps({"command": command, "package_version": _package_version(),
                                         "files": entries}, indent=2))
    return path


def verify_manifest(out_dir: str | Path) -> dict[str, Any]:
    """Check every file listed in ``out_dir/MANIFEST.json``; raise ValueError naming the first
    mismatch or missing file. Returns the manifest."""
    out_dir = Path(out_dir)
    mpath = out_dir / "MANIFEST.json"
    if not mpath.exists():
        raise FileNotFoundError(f"no MANIFEST.json in {out_dir}.")
    manifest = json.loads(mpath.read_text())
    for name, entry in manifest["files"].items():
        f = out_dir / name
        if not f.exists():
            raise ValueError(f"{f} is listed in the manifest but missing. Regenerate with: "
                             f"{manifest['command']}")
        digest = sha256_file(f)
        if digest != entry["sha256"]:
            raise ValueError(f"sha256 mismatch for {f}: manifest {entry['sha256']}, file {digest}. "
                             f"Regenerate with: {manifest['command']}")
    return manifest


def shipped_dir() -> Path:
    """Folder of the shipped lite checkpoints (package data ``polycode_lite/data/shipped/resnet_ae``)."""
    return SHIPPED_DATA_DIR / "resnet_ae"


def shipped_models(device: Any = "cpu") -> dict[float, tuple[nn.Module, dict[str, Any]]]:
    """Load the five shipped lite VAEs, {dropout: (model, meta)}, after verifying the manifest."""
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
