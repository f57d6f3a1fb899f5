"""Arguments of ``polycode-lite language-spectra``: every option checked before any work (a
ValueError naming the option), and the settings that decide whether the files of an earlier run
in ``--out`` may be reused.

**What is fingerprinted.** Everything that changes a number: ``--model`` (and, once loaded, the
sha256 of its weights), ``--dtype``, ``--acc-dtype``, the device type (cpu / cuda: kernels
differ), ``--tokens``, ``--corpus`` (and the sha256 of the token windows), ``--window``,
``--drop-first``, ``--groups``, ``--n-boot``, ``--seed``, ``--batch-size`` (the accumulators sum
batch by batch, so rounding depends on it) and the torchrun world size. Not fingerprinted:
``--layers``, ``--sites`` and ``--layers-per-pass`` (they choose *which* hooks are computed; each
hook's numbers do not depend on them, so a later run may add layers to the same ``--out``),
``--allow-fallback`` (the model actually loaded is checked instead), ``--threads`` (results are
bitwise equal across thread counts), ``--no-progress`` and ``--debug``.

**A changed setting is refused**, before any work, naming each setting that differs and how to
proceed (same settings to resume, another ``--out``, or delete the folder). Files that still do
not match (e.g. ``run.json`` deleted) are recomputed one by one, each with a ResumeWarning.
"""

from __future__ import annotations

import argparse
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polycode_lite.experiments.resume_files import (
    FORMAT,
    ResumeWarning,
    atomic_write_text,
    differing,
)

__all__ = ["ACC_DTYPES", "WEIGHT_DTYPES", "CheckedArguments", "check_against_model", "check_arguments",
           "check_run_folder", "parse_layer_spec", "run_settings", "write_run_json"]

WEIGHT_DTYPES = ("auto", "float32", "float16", "bfloat16", "float64")
ACC_DTYPES = ("float64", "float32")
SITE_NAMES = ("mlp.post", "mlp.out", "attn.out", "resid_post")

_SINGLE = re.compile(r"^-?\d+$")
_RANGE = re.compile(r"^(\d+)-(\d+)(?::(\d+))?$")

#: settings key -> how the user sets it (for messages)
_OPTION = {"world_size": "the torchrun world size", "device": "--device (its type)",
           "model_weights": "the weights of --model", "resolved_model": "the model loaded",
           "windows": "the token windows (--corpus content)"}


def _option(key: str) -> str:
    return _OPTION.get(key, "--" + key.replace("_", "-"))


def parse_layer_spec(spec: str) -> list[int] | None:
    """``--layers``: "all" → None; else comma-separated indices (negative count from the end) and
    ranges "a-b" or "a-b:step" (a <= b, step >= 1). Raises ValueError naming --layers."""
    text = str(spec).strip()
    if text.lower() == "all":
        return None
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = _RANGE.match(part)
        if _SINGLE.match(part):
            out.append(int(part))
        elif m:
            a, b, step = int(m[1]), int(m[2]), int(m[3] or 1)
            if a > b:
                raise ValueError(f"--layers range {part!r} runs backwards; write it as {b}-{a}.")
            if step < 1:
                raise ValueError(f"--layers step in {part!r} must be >= 1, got {step}.")
            out.extend(range(a, b + 1, step))
        else:
            raise ValueError(f"--layers {spec!r}: cannot read {part!r}; use 'all', '0,5,11', '0-47' or '0-47:4'.")
    return out


@dataclass(frozen=True)
class CheckedArguments:
    """The parsed options: layers (None = all), sites, device type, corpus (str or list)."""

    layers: list[int] | None
    sites: list[str]
    device_type: str
    corpus: str | list[str]


def _at_least(args: argparse.Namespace, name: str, minimum: int, why: str = "") -> None:
    value = getattr(args, name)
    if value < minimum:
        raise ValueError(f"--{name.replace('_', '-')} must be >= {minimum}, got {value}.{' ' + why if why else ''}")


def check_arguments(args: argparse.Namespace) -> CheckedArguments:
    """Check every option of ``language-spectra`` without loading anything; raise ValueError
    naming the first bad one."""
    import torch

    layers = parse_layer_spec(args.layers)
    sites = [s.strip() for s in str(args.sites).split(",") if s.strip()]
    bad = [s for s in sites if s not in SITE_NAMES]
    if not sites or bad:
        raise ValueError(f"--sites {args.sites!r}: unknown site(s) {bad}; choose from {', '.join(SITE_NAMES)}.")
    _at_least(args, "window", 2)
    _at_least(args, "tokens", args.window, "(--tokens is the token budget: at least one --window of tokens)")
    _at_least(args, "drop_first", 0)
    if args.drop_first >= args.window:
        raise ValueError(f"--drop-first {args.drop_first} drops every position of a --window {args.window} "
                         "window; use a smaller --drop-first or a larger --window.")
    _at_least(args, "groups", 2, "(the bootstrap CI resamples document groups)")
    _at_least(args, "n_boot", 2, "(bootstrap replicates for the CI)")
    _at_least(args, "batch_size", 1)
    _at_least(args, "layers_per_pass", 0, "(0 = all layers in one pass)")
    _at_least(args, "seed", 0)
    if args.dtype not in WEIGHT_DTYPES:
        raise ValueError(f"--dtype {args.dtype!r} is not one of {', '.join(WEIGHT_DTYPES)}.")
    if args.acc_dtype not in ACC_DTYPES:
        raise ValueError(f"--acc-dtype {args.acc_dtype!r} is not one of {', '.join(ACC_DTYPES)}.")
    if not str(args.model).strip():
        raise ValueError("--model is empty; pass a hub id, a model folder or 'minilm'.")
    corpus = list(args.corpus)
    for c in corpus:
        special = c == "pydoc" or c.startswith("hf:")
        if special and len(corpus) > 1:
            raise ValueError(f"--corpus {c!r} cannot be combined with other sources; pass it alone.")
        if not special and not Path(c).exists():
            raise ValueError(f"--corpus {c!r} is neither 'pydoc', 'hf:<dataset>' nor an existing file or folder.")
    if args.device == "auto":
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        try:
            device_type = torch.device(args.device).type
        except (RuntimeError, ValueError):
            raise ValueError(f"--device {args.device!r} is not a device; use auto, cpu, cuda or cuda:N.") from None
        if device_type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {args.device}: CUDA is not available here; use --device cpu.")
    return CheckedArguments(layers, sites, device_type, corpus[0] if len(corpus) == 1 else corpus)


def check_against_model(args: argparse.Namespace, checked: CheckedArguments, lm: Any) -> list[int]:
    """The options that need the loaded model (layer indices, window length, [CLS]/[SEP]); returns
    the layer indices. Raises ValueError naming the option."""
    n = lm.n_layers
    layers = list(range(n)) if checked.layers is None else checked.layers
    bad = [l for l in layers if not -n <= l < n]
    if bad:
        raise ValueError(f"--layers {args.layers!r}: {lm.name} has {n} layers (0..{n - 1}), so {bad} "
                         "do not exist.")
    layers = sorted(dict.fromkeys(l % n for l in layers))
    config = getattr(lm.model, "config", None)
    longest = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    if longest and args.window > int(longest):
        raise ValueError(f"--window {args.window} is longer than {lm.name}'s {longest} positions.")
    prefix, suffix = len(lm.special_prefix), len(lm.special_suffix)
    if args.drop_first < prefix:
        raise ValueError(f"--drop-first {args.drop_first} keeps {lm.name}'s [CLS] token; use --drop-first >= {prefix}.")
    if args.drop_first + suffix >= args.window:
        raise ValueError(f"--drop-first {args.drop_first} leaves no position of a --window {args.window} window "
                         f"({suffix} final special token); use a smaller --drop-first.")
    return layers


def run_settings(args: argparse.Namespace, checked: CheckedArguments, world_size: int) -> dict[str, Any]:
    """The settings of a run that change its numbers (see the module docstring)."""
    return dict(format=FORMAT, model=str(args.model), dtype=args.dtype, acc_dtype=args.acc_dtype,
                device=checked.device_type, tokens=int(args.tokens), corpus=list(args.corpus),
                window=int(args.window), drop_first=int(args.drop_first), groups=int(args.groups),
                n_boot=int(args.n_boot), seed=int(args.seed), batch_size=int(args.batch_size),
                world_size=int(world_size))


def _read_run_json(out: Path) -> dict[str, Any] | None:
    path = out / "run.json"
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.warn(f"{path} is unreadable ({type(exc).__name__}); it is rewritten, and each saved "
                      "result is checked against this run's settings on its own.", ResumeWarning, stacklevel=3)
        return None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT or not isinstance(saved.get("settings"), dict):
        warnings.warn(f"{path} is from an older version; it is rewritten, and each saved result is checked "
                      "against this run's settings on its own.", ResumeWarning, stacklevel=3)
        return None
    return saved


def check_run_folder(out: str | Path, settings: dict[str, Any], resolved: dict[str, Any] | None = None) -> None:
    """Refuse (ValueError) when ``out/run.json`` records other ``settings`` (or, when given, another
    ``resolved`` model or windows): the message names each difference and how to proceed."""
    out = Path(out)
    saved = _read_run_json(out)
    if saved is None:
        return
    was = saved.get("resolved") if isinstance(saved.get("resolved"), dict) else {}
    old = dict(saved["settings"], **{k: was.get(k, "(absent)") for k in (resolved or {})})
    new = dict(settings, **(resolved or {}))
    diff = differing(old, new)
    if diff:
        said = "; ".join(f"{_option(k)} {old.get(k, '(absent)')!r} there, {new.get(k, '(absent)')!r} now"
                         if k not in {"model_weights", "windows"} else f"{_option(k)} differ" for k in diff)
        raise ValueError(f"--out {out} holds a run with other settings ({said}). Rerun with that run's "
                         "settings to resume it, pass another --out, or delete the folder to start over.")


def write_run_json(out: str | Path, settings: dict[str, Any], resolved: dict[str, Any],
                   args: argparse.Namespace, **info: Any) -> None:
    """Write ``out/run.json`` atomically: the settings, the resolved model and windows, and the
    command's other options (not fingerprinted) under ``options``."""
    options = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    text = json.dumps(dict(format=FORMAT, settings=settings, resolved=resolved, options=options, **info),
                      indent=2, default=str)
    atomic_write_text(Path(out) / "run.json", text)
