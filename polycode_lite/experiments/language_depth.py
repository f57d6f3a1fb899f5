"""alpha across the depth of a language model (docs/paper_guide.md §3 E6), and its command.

:func:`layer_alphas` fits alpha per hook through the one α pipeline
(:mod:`polycode_lite.experiments.alpha`), with the finite-sample correction when the number of
tokens is not ≫ the width and a bootstrap CI over document groups; one row per hook. ``polycode-lite language-spectra``
runs it with progress bars and resumable partial results under ``--out``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polycode_lite.data.corpus import load_documents, make_windows
from polycode_lite.experiments.alpha import Accumulators, AlphaTable, SiteFit
from polycode_lite.experiments.alpha import layer_alphas as fit_sites
from polycode_lite.experiments.covariance_collection import (
    GroupedCovariances,
    _dist_info,
    _windows_fingerprint,
    collect_covariances,
    model_digest,
    tqdm_iter,
)
from polycode_lite.experiments.depth_rules import depth_claims
from polycode_lite.experiments.language_spectra_args import (
    check_against_model,
    check_arguments,
    check_run_folder,
    run_settings,
    write_run_json,
)
from polycode_lite.experiments.resume_files import (
    ResumeWarning,
    atomic_write,
    read_record,
    write_record,
)
from polycode_lite.models.language_models import EMBEDDED_MODEL, _split_hook, load_language_model

__all__ = ["CONTROL_SUFFIX", "LayerSpectrum", "add_arguments", "cli_main", "depth_claims", "layer_alpha",
           "layer_alphas", "main"]

#: site-name suffix of the control (e.g. untrained) model's hooks in a joint :func:`layer_alphas`
CONTROL_SUFFIX = " [untrained]"


# --------------------------------------------------------------------------------------
# alpha per layer
# --------------------------------------------------------------------------------------
#: The fit of one hook: a :class:`polycode_lite.experiments.alpha.SiteFit` (alpha, ci, ci_method,
#: fit, eigenvalues, boot_alphas, participation_ratio, row()); extra columns hook, layer, kind
#: (mlp.post, resid_post, ...), width and n_tokens.
LayerSpectrum = SiteFit


def layer_alpha(
    grouped: GroupedCovariances,
    hook: str,
    n_boot: int = 100,
    ranks: tuple[int, int] | None = None,
    correct: bool | None = None,
    full_spectrum_max: int = 2048,
    seed: int = 0,
) -> SiteFit:
    """Fit alpha of one hook with a bootstrap CI over document groups (docs/paper_guide.md §3 E6,
    pitfalls 2, 8): :func:`layer_alphas` for one hook."""
    return layer_alphas(grouped, [hook], n_boot=n_boot, ranks=ranks, correct=correct,
                        full_spectrum_max=full_spectrum_max, seed=seed, progress=False)[hook]


def layer_alphas(
    grouped: GroupedCovariances,
    hooks: Sequence[str] | None = None,
    n_boot: int = 100,
    ranks: tuple[int, int] | None = None,
    correct: bool | None = None,
    seed: int = 0,
    progress: bool = True,
    full_spectrum_max: int = 2048,
    control: GroupedCovariances | None = None,
) -> AlphaTable:
    """alpha of every hook through the one α pipeline
    (:func:`polycode_lite.experiments.alpha.layer_alphas`), each hook's document groups being the
    resampling unit of the CI (centred percentile bootstrap). ``correct=None`` applies the
    finite-sample correction when tokens < 10 · width (True / False force it). Widths above
    ``full_spectrum_max`` use the randomized top-k spectrum. Returns an
    :class:`~polycode_lite.experiments.alpha.AlphaTable`: site = hook, depth = layer index, extra
    columns hook, layer, kind (the site within the block), width, n_tokens, model ("trained").

    ``control``: the same hooks of a control model (e.g. the untrained architecture from
    :func:`~polycode_lite.models.language_models.random_init_like`) on the same windows. Its
    sites (those of ``hooks`` it has) are fitted in the same call and **the same window per
    kind** (set by the narrowest hook of either model), named ``hook + CONTROL_SUFFIX`` with ``model="untrained"``; select
    them with ``table[table.model == "untrained"]``."""
    hooks = grouped.hooks if hooks is None else list(hooks)
    if not hooks:
        raise ValueError("hooks is empty: pass at least one hook.")
    if control is not None and not set(hooks) & set(control.groups):
        raise ValueError(f"control has no accumulators for any of {hooks}: collect (some of) the same "
                         "hooks of the control model (collect_covariances(control_lm, windows, hooks)).")
    models = {"trained": grouped} | ({"untrained": control} if control is not None else {})
    split = {h: _split_hook(h) for h in hooks}
    estimator = {None: "auto", True: "corrected", False: "plain"}[None if correct is None else bool(correct)]
    data, extra, kinds = {}, {}, {}
    for model, g in models.items():
        for h in (hooks if model == "trained" else [h for h in hooks if h in g.groups]):
            site = h if model == "trained" else h + CONTROL_SUFFIX
            data[site] = Accumulators(tuple(g.groups[h]), unit="document groups")
            extra[site] = {"hook": h, "layer": split[h][0], "kind": split[h][1], "width": g.groups[h][0].dim,
                           "n_tokens": g.n_tokens(h), "model": model}
            kinds[site] = split[h][1]
    # the depth claim compares layers of one kind (site within the block), trained and control
    # alike: one window per kind, set by its narrowest site and fewest tokens
    from polycode_lite.experiments.alpha import fit_window

    windows = {}
    for kind in set(kinds.values()):
        same = [s for s in data if kinds[s] == kind]
        w = fit_window(min(extra[s]["width"] for s in same), min(extra[s]["n_tokens"] for s in same), ranks)
        windows.update({s: w for s in same})
    return fit_sites(data, estimator=estimator, window=windows, n_boot=n_boot, seed=seed,
                     depth={s: extra[s]["layer"] for s in data}, progress=progress,
                     full_spectrum_max=full_spectrum_max, extra=extra)


# --------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------
def _parse_dtype(name: str | None) -> Any:
    import torch

    if name in (None, "", "auto"):
        return None
    table = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
             "bfloat16": torch.bfloat16}
    if name not in table:
        raise ValueError(f"unknown dtype {name!r}; choose from {sorted(table)}.")
    return table[name]


OUT_OPTION = {"required": True, "help": "output folder (results + resumable partial state)"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite language-spectra``."""
    p.add_argument("--model", default=EMBEDDED_MODEL, help="hub id (gpt2 ... gpt2-xl), local folder, or 'minilm'")
    p.add_argument("--layers", default="all", help="'all', '0,5,11', '0-47', '0-47:4'")
    p.add_argument("--sites", default="mlp.post,resid_post", help="comma list of mlp.post, mlp.out, attn.out, resid_post")
    p.add_argument("--tokens", type=int, default=100_000, help="token budget (window positions) of the corpus")
    p.add_argument("--corpus", default=["pydoc"], nargs="+", help="'pydoc', text files/folders, or hf:<dataset>[:config][:split]")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--drop-first", type=int, default=4)
    p.add_argument("--groups", type=int, default=8, help="document groups for the bootstrap")
    p.add_argument("--n-boot", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--layers-per-pass", type=int, default=0, help="hook layers per forward pass over the corpus (0 = all at once); bounds memory")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto", help="model weights dtype (float32, float16, bfloat16)")
    p.add_argument("--acc-dtype", default="float64", help="accumulator dtype (float64, or float32 to halve GPU "
                   "memory and the partial state on disk); partial state is saved in this dtype, so a resumed "
                   "run is bitwise the uninterrupted one")
    p.add_argument("--allow-fallback", action="store_true", help="use the embedded MiniLM if the model is unavailable")
    p.add_argument("--online", action="store_true",
                   help="allow downloading --model from the Hugging Face Hub (default: offline, no network use)")


def cli_main(argv: Sequence[str] | None = None) -> int:
    """``polycode-lite language-spectra ...`` from Python (argv without the command name)."""
    from polycode_lite.cli import run_command

    return run_command("language-spectra", argv)


def _hook_result(out: Path, hook: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The saved row of ``hook`` if its record and its npz both verify, else None (recompute)."""
    from polycode_lite._common import sha256_file

    payload = read_record(out / "spectra" / f"{hook}.json", settings, what="saved result")
    if payload is None:
        return None
    npz = out / "spectra" / f"{hook}.npz"
    if not npz.exists() or sha256_file(npz) != payload.get("npz_sha256"):
        warnings.warn(f"saved result {npz}: missing or does not match its sha256; recomputing it.",
                      ResumeWarning, stacklevel=2)
        return None
    return payload["row"]


def _save_hook_result(out: Path, hook: str, fit: SiteFit, settings: dict[str, Any]) -> dict[str, Any]:
    """Write ``spectra/<hook>.npz`` then its record ``spectra/<hook>.json`` (row, npz sha256,
    settings, sha256), each atomically. Returns the row as it reads back."""
    from polycode_lite._common import sha256_file

    npz = out / "spectra" / f"{hook}.npz"

    def write_npz(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, eigenvalues=fit.eigenvalues, boot_alphas=fit.boot_alphas)

    atomic_write(npz, write_npz)
    payload = write_record(out / "spectra" / f"{hook}.json", {"row": fit.row(), "npz_sha256": sha256_file(npz)},
                           settings)
    return payload["row"]


def main(args: argparse.Namespace) -> int:
    """Alpha (rank exponent of the activation covariance) across the depth of a language model,
    with bootstrap CIs over documents. Resumable: rerun the same command to continue after an
    interruption. Works under torchrun.

    Writes ``<out>/alpha_by_layer.csv`` (one row per hook), ``<out>/spectra/<hook>.npz``
    (eigenvalues, bootstrap alphas) with ``<out>/spectra/<hook>.json`` (the row, the npz's
    sha256, the settings) and ``<out>/run.json``. Partial state (per document group, in the
    accumulator's dtype) lives under ``<out>/partial/`` and is deleted pass by pass once that
    pass's results are written. Every file is written atomically and carries a sha256 and the
    settings that made it; a rerun reuses a file only if both check out, and recomputes it
    otherwise. A rerun with other settings into the same ``--out`` is refused (see
    :mod:`polycode_lite.experiments.language_spectra_args`).
    """
    import shutil

    import pandas as pd
    import torch

    checked = check_arguments(args)
    out = Path(args.out)
    if torch.distributed.is_available() and "RANK" in os.environ and "WORLD_SIZE" in os.environ \
            and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo"
        torch.distributed.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    rank, world = _dist_info()
    settings = run_settings(args, checked, world)
    check_run_folder(out, settings)
    progress = not args.no_progress and rank == 0
    device = args.device
    if device == "auto" and world > 1 and torch.cuda.is_available():
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    lm = load_language_model(args.model, device=device, dtype=_parse_dtype(args.dtype),
                             allow_fallback=args.allow_fallback, online=True if args.online else None,
                             verbose=rank == 0)
    layers = check_against_model(args, checked, lm)
    resolved = {"resolved_model": lm.name, "model_weights": model_digest(lm.model)}
    check_run_folder(out, settings, resolved)
    docs = load_documents(checked.corpus)
    windows = make_windows(lm, docs, window=args.window)
    max_windows = max(1, args.tokens // args.window)
    if len(windows) > max_windows:
        windows = windows.subset(np.sort(np.random.default_rng(args.seed).choice(len(windows), max_windows, replace=False)))
    elif rank == 0 and len(windows) < max_windows:
        print(f"note: the corpus has only {len(windows) * args.window} tokens ({len(windows)} windows), "
              f"fewer than --tokens {args.tokens}.")
    resolved["windows"] = _windows_fingerprint(windows)
    check_run_folder(out, settings, resolved)
    per_pass = args.layers_per_pass or len(layers)
    if rank == 0:
        (out / "spectra").mkdir(parents=True, exist_ok=True)
        write_run_json(out, settings, resolved, args, model_repr=repr(lm), n_windows=len(windows))
    every = dict(settings, **resolved, fit=dict(ranks=None, correct=None, full_spectrum_max=2048))
    rows = []
    for p_i in range(0, len(layers), per_pass):
        chunk = layers[p_i:p_i + per_pass]
        hooks = lm.hook_names(checked.sites, chunk)
        done = {h: _hook_result(out, h, dict(every, hook=h)) for h in hooks} if rank == 0 else {}
        todo = [h for h in hooks if done.get(h) is None]
        if world > 1:  # every rank takes part in the collection when rank 0 has work
            flag = [todo]
            torch.distributed.broadcast_object_list(flag, src=0)
            todo = flag[0]
        if todo:
            t0 = time.time()
            # collect every hook of the chunk, so the partial state's key does not depend on how
            # many of its hooks were finished before an interruption
            grouped = collect_covariances(
                lm, windows, hooks, drop_first=args.drop_first, n_groups=args.groups,
                batch_size=args.batch_size, dtype=_parse_dtype(args.acc_dtype),
                checkpoint_dir=out / "partial" / f"layers_{chunk[0]}-{chunk[-1]}", seed=args.seed,
                progress=progress, settings=dict(settings, **resolved))
            if rank == 0:
                for h in (tqdm_iter(todo, "alpha per hook") if progress else todo):
                    fit = layer_alpha(grouped, h, n_boot=args.n_boot, seed=args.seed)
                    done[h] = _save_hook_result(out, h, fit, dict(every, hook=h))
                shutil.rmtree(out / "partial" / f"layers_{chunk[0]}-{chunk[-1]}", ignore_errors=True)
                print(f"layers {chunk[0]}-{chunk[-1]}: {len(todo)} hooks in {time.time() - t0:.0f} s", flush=True)
            del grouped
        if world > 1:
            torch.distributed.barrier()
        if rank == 0:
            rows.extend(done[h] for h in hooks)
    if rank == 0:
        table = pd.DataFrame(rows)
        atomic_write(out / "alpha_by_layer.csv", lambda tmp: table.to_csv(tmp, index=False))
        with pd.option_context("display.width", 120, "display.max_columns", 10):
            print(table[["hook", "width", "n_tokens", "alpha", "ci_low", "ci_high", "participation_ratio"]]
                  .to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"wrote {out / 'alpha_by_layer.csv'}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0
