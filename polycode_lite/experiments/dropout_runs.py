"""The ``polycode-lite dropout-experiments`` command: its options checked before any work, finished
units of work kept in ``<out>.parts/`` (a :class:`~polycode_lite.experiments.unit_store.UnitStore`)
so that a rerun after an interruption continues where it stopped, the result written atomically.

**What decides reuse.** The experiment and the preset's whole config (every field, nested ones
included); each unit file adds its own name and settings (e.g. the sweep's window). ``--threads``
and ``--no-progress`` do not change the numbers and are not part of it.

**A changed setting is refused**: ``<out>.parts/run.json`` records the experiment, preset and
config of the run that made the units; a rerun with others into the same ``--out`` stops before
any work, naming them, and says how to proceed. A unit file that is damaged or was made with other
settings all the same (run.json deleted) is computed again, with a ResumeWarning.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from polycode_lite.experiments.resume_files import (
    FORMAT,
    ResumeWarning,
    atomic_write_text,
    canonical_json,
    differing,
)

__all__ = ["PRESETS", "add_arguments", "check_arguments", "main", "parts_folder"]

#: experiment -> (default preset, presets)
PRESETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "depth": ("cpu", ("fast", "cpu", "paper")),
    "alpha": ("full", ("fast", "full")),
    "alpha_control": ("full", ("fast", "full")),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite dropout-experiments``."""
    parser.add_argument("experiment", choices=list(PRESETS),
                        help="depth: I(x; h_l) through the deep dropout net; alpha: alpha against "
                             "dropout on the shapes MLP; alpha_control: its untrained control, in "
                             "the window of the shipped alpha_full.json")
    parser.add_argument("--preset", default=None,
                        help="depth: fast | cpu (default) | paper; alpha, alpha_control: fast | full (default)")


def parts_folder(out: str | Path) -> Path:
    """Where the finished units of the run writing ``out`` are kept: ``<out>.parts/``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def check_arguments(args: argparse.Namespace) -> tuple[str, Path]:
    """(preset, out) after checking them; ValueError naming the option otherwise."""
    default, allowed = PRESETS[args.experiment]
    preset = args.preset or default
    if preset not in allowed:
        raise ValueError(f"--preset for {args.experiment} must be one of {', '.join(allowed)}, got {preset!r}.")
    out = Path(args.out)
    if out.suffix != ".json":
        raise ValueError(f"--out {out} must be a .json file (the result), e.g. --out {args.experiment}.json.")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; pass a .json file name.")
    if parts_folder(out).exists() and not parts_folder(out).is_dir():
        raise ValueError(f"--out {out}: {parts_folder(out)} (for the finished units) is a file; move it away.")
    return preset, out


def _config(experiment: str, preset: str) -> Any:
    if experiment == "depth":
        from polycode_lite.experiments.mi_depth import DepthExperimentConfig

        return getattr(DepthExperimentConfig, preset)()
    from polycode_lite.experiments.alpha_vs_dropout import AlphaSweepConfig

    return getattr(AlphaSweepConfig, preset)()


def _check_parts(parts: Path, settings: dict[str, Any], out: Path) -> None:
    path = parts / "run.json"
    if not path.exists():
        return
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))["settings"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        warnings.warn(f"{path} is unreadable ({type(exc).__name__}); it is rewritten, and each finished "
                      "unit is checked against this run's settings on its own.", ResumeWarning, stacklevel=3)
        return
    diff = differing(saved, settings) if isinstance(saved, dict) else ["settings"]
    if diff:
        was = f"{saved.get('experiment')} --preset {saved.get('preset')}" if isinstance(saved, dict) else "?"
        raise ValueError(f"--out {out}: {parts} holds the finished units of `dropout-experiments {was}`, which "
                         f"differs in {', '.join(diff)} from this run (`{settings['experiment']} --preset "
                         f"{settings['preset']}`). Rerun that command to resume it, pass another --out, or "
                         f"delete {parts} to start over.")


def main(args: argparse.Namespace) -> int:
    """Run one dropout experiment resumably (see :func:`polycode_lite.experiments.alpha_vs_dropout.main`)."""
    from polycode_lite.experiments.alpha_dropout_rules import alpha_table, alpha_trend

    preset, out = check_arguments(args)
    config = _config(args.experiment, preset)
    window = None
    if args.experiment == "alpha_control":
        from polycode_lite.experiments.alpha_vs_dropout import load_shipped, sweep_window

        window = sweep_window(load_shipped("alpha_full"))
    parts = parts_folder(out)
    settings = {"format": FORMAT, "experiment": args.experiment, "preset": preset, "config": asdict(config),
                "window": None if window is None else list(window)}
    settings = json.loads(canonical_json(settings))
    _check_parts(parts, settings, out)
    parts.mkdir(parents=True, exist_ok=True)
    atomic_write_text(parts / "run.json", json.dumps({"settings": settings}, indent=1))
    progress = not args.no_progress
    t0 = time.perf_counter()
    if args.experiment == "depth":
        from polycode_lite.experiments.mi_depth import run_depth_experiment

        res = run_depth_experiment(config, progress=progress, resume_dir=parts)
        res.to_json(out)
        print(res.summary().to_string())
        print(res.checks())
    else:
        from polycode_lite.experiments.alpha_vs_dropout import (
            run_alpha_sweep,
            run_untrained_control,
        )

        if args.experiment == "alpha_control":
            df = run_untrained_control(config, window, n_boot=10, progress=progress, resume_dir=parts)
        else:
            df = run_alpha_sweep(config, progress=progress, resume_dir=parts)
        text = json.dumps({"rows": df.to_dict(orient="records"), "config": asdict(config),
                           "seconds": time.perf_counter() - t0}, indent=1, default=float)
        atomic_write_text(out, text)
        print(alpha_table(df).to_string())
        print(alpha_trend(df).to_string())
    shutil.rmtree(parts, ignore_errors=True)
    from polycode_lite.experiments.alpha_vs_dropout import DATA_DIR

    if out.resolve().parent == DATA_DIR.resolve():  # regenerated a shipped result: record its sha256
        from polycode_lite.data.integrity import update_manifest

        print(f"recorded the new sha256 of {out.name} in {update_manifest(DATA_DIR, [out.name])}")
    return 0
