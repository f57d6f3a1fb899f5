"""alpha across the depth of a language model (docs/paper_guide.md §3 E6), and its command.

:func:`layer_alphas` fits alpha per hook with the finite-sample correction when the number of
tokens is not ≫ the width, and returns one row per hook. ``polycode-lite language-spectra``
runs it with progress bars and resumable partial results under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from polycode_lite.science.powerlaw import PowerLawFit
from polycode_lite.data.corpus import load_documents, make_windows
from polycode_lite.experiments.covariance_collection import (
    GroupedCovariances,
    _dist_info,
    collect_covariances,
    tqdm_iter,
)
from polycode_lite.models.language_models import (
    EMBEDDED_MODEL,
    _split_hook,
    load_language_model,
    parse_layers,
)

__all__ = ['LayerSpectrum', 'cli_main', 'layer_alpha', 'layer_alphas']


# --------------------------------------------------------------------------------------
# alpha per layer
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerSpectrum:
    """Spectrum and power-law fit of one hook.

    alpha, ci: rank exponent and its 95% CI (bootstrap over document groups, shifted by the
    finite-sample correction when it was applied; else the fit's own CI). fit: the
    :class:`~polycode_lite.science.powerlaw.PowerLawFit` on all tokens. participation_ratio: (Σλ)²/Σλ².
    eigenvalues: the top of the spectrum (at least to the end of the fit window).
    """

    hook: str
    layer: int
    site: str
    width: int
    n_tokens: int
    alpha: float
    ci: tuple[float, float]
    ci_method: str
    corrected: bool
    participation_ratio: float
    fit: "PowerLawFit" = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    boot_alphas: np.ndarray = field(repr=False)

    def row(self) -> dict[str, Any]:
        return dict(hook=self.hook, layer=self.layer, site=self.site, width=self.width,
                    n_tokens=self.n_tokens, alpha=self.alpha, ci_low=self.ci[0], ci_high=self.ci[1],
                    alpha_plain=self.fit.alpha_plain, r2=self.fit.r2, lo=self.fit.ranks[0],
                    hi=self.fit.ranks[1], corrected=self.corrected, ci_method=self.ci_method,
                    participation_ratio=self.participation_ratio)


def layer_alpha(
    grouped: GroupedCovariances,
    hook: str,
    n_boot: int = 100,
    ranks: tuple[int, int] | None = None,
    correct: bool | None = None,
    full_spectrum_max: int = 2048,
    seed: int = 0,
) -> LayerSpectrum:
    """Fit alpha of one hook with a bootstrap CI over document groups (docs/paper_guide.md §3 E6, pitfalls 2, 8).

    The top of the spectrum is exact (LAPACK MRRR on the top K eigenpairs) for widths <=
    ``full_spectrum_max``; wider layers use the randomized top-k eigenvalues (k = end of the fit
    window + 50). The participation ratio comes from the identity PR = (tr C)² / ‖C‖_F², which
    needs no eigenvalues.
    ``correct=None`` applies the finite-sample correction (simulation matching in
    :func:`~polycode_lite.science.powerlaw.fit_power_law`) when tokens < 10 · width.

    Bootstrap replicates merge document groups drawn with replacement. For exact widths each
    replicate's spectrum is the Rayleigh–Ritz spectrum in the fixed subspace of the full data's
    top K = hi + max(100, hi/2) eigenvectors (one K×K eigenproblem instead of an m×m one); it
    slightly underestimates the replicate's tail, so the CI is the *centred* interval
    α̂ + quantiles(α_b − median α_b). Wider layers recompute a randomized top-k per replicate.
    """
    from polycode_lite.science.eigen import eigenspectrum
    from polycode_lite.science.powerlaw import default_fit_window, fit_power_law

    acc = grouped.total(hook)
    n, m = acc.n, acc.dim
    if n < 3:
        raise ValueError(f"{hook}: only {n} tokens were accumulated; collect more windows.")
    if ranks is None:
        ranks = default_fit_window(m, n)
    lo, hi = ranks
    k_top = None if m <= full_spectrum_max else min(m, hi + 50)
    cov = acc.covariance()
    pr = float(np.trace(cov) ** 2 / np.sum(cov * cov))  # = (Σλ)² / Σλ², no eigenvalues needed
    basis = None
    if k_top is None:
        import scipy.linalg

        k_sub = min(m, hi + max(100, hi // 2))
        vals, vecs = scipy.linalg.eigh(cov, subset_by_index=[m - k_sub, m - 1], driver="evr")
        lam = np.ascontiguousarray(vals[::-1])
        basis = np.ascontiguousarray(vecs[:, ::-1])
    else:
        lam = eigenspectrum(acc, k=k_top, seed=seed)
    del cov
    do_correct = (n < 10 * m) if correct is None else bool(correct)
    fit = fit_power_law(lam, ranks=(lo, hi), n_samples=n if do_correct else None,
                        n_features=m if do_correct else None, seed=seed)
    rng = np.random.default_rng(seed)
    g = grouped.n_groups
    boots: list[float] = []
    if g >= 2 and n_boot > 0:
        for _ in range(n_boot):
            counts = rng.multinomial(g, np.full(g, 1.0 / g))
            acc_b = grouped.resample(hook, counts)
            if acc_b.n < hi + 2:
                continue
            if basis is not None:
                lam_b = np.linalg.eigvalsh(basis.T @ acc_b.covariance() @ basis)[::-1]
            else:
                lam_b = eigenspectrum(acc_b, k=k_top, seed=seed)
            if lam_b.size < hi or np.any(lam_b[lo - 1:hi] <= 0):
                continue
            boots.append(fit_power_law(lam_b, ranks=(lo, hi), n_boot=2).alpha_plain)
    boot_arr = np.asarray(boots)
    if boot_arr.size >= 10:
        if basis is not None:
            dev = boot_arr - np.median(boot_arr)
            ci = (float(fit.alpha + np.quantile(dev, 0.025)), float(fit.alpha + np.quantile(dev, 0.975)))
        else:
            shifted = boot_arr + (fit.alpha - fit.alpha_plain)
            ci = (float(np.quantile(shifted, 0.025)), float(np.quantile(shifted, 0.975)))
        ci_method = f"bootstrap over {g} document groups ({boot_arr.size} replicates)"
    else:
        ci, ci_method = fit.ci, fit.ci_method
    layer, site = _split_hook(hook)
    return LayerSpectrum(hook=hook, layer=layer, site=site, width=m, n_tokens=n, alpha=fit.alpha,
                         ci=ci, ci_method=ci_method, corrected=do_correct, participation_ratio=pr,
                         fit=fit, eigenvalues=lam, boot_alphas=boot_arr)


def layer_alphas(
    grouped: GroupedCovariances,
    hooks: Sequence[str] | None = None,
    n_boot: int = 100,
    ranks: tuple[int, int] | None = None,
    correct: bool | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple["pd.DataFrame", dict[str, LayerSpectrum]]:
    """:func:`layer_alpha` for every hook. Returns (DataFrame with one row per hook, {hook: LayerSpectrum})."""
    import pandas as pd
    from tqdm.auto import tqdm

    hooks = grouped.hooks if hooks is None else list(hooks)
    out = {h: layer_alpha(grouped, h, n_boot=n_boot, ranks=ranks, correct=correct, seed=seed)
           for h in tqdm(hooks, desc="alpha per layer", disable=not progress)}
    return pd.DataFrame([s.row() for s in out.values()]), out


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
    p.add_argument("--acc-dtype", default="float64", help="accumulator dtype (float64, or float32 to halve GPU memory)")
    p.add_argument("--checkpoint-dtype", default="float32", help="dtype of saved partial states")
    p.add_argument("--allow-fallback", action="store_true", help="use the embedded MiniLM if the model is unavailable")


def cli_main(argv: Sequence[str] | None = None) -> int:
    """``polycode-lite language-spectra ...`` from Python (argv without the command name)."""
    from polycode_lite.cli import run_command

    return run_command("language-spectra", argv)


def main(args: argparse.Namespace) -> int:
    """Alpha (rank exponent of the activation covariance) across the depth of a language model,
    with bootstrap CIs over documents. Resumable: rerun the same command to continue after an
    interruption. Works under torchrun.

    Writes ``<out>/alpha_by_layer.csv`` (one row per hook), ``<out>/spectra/<hook>.npz``
    (eigenvalues, bootstrap alphas) and ``<out>/run.json``. Partial state lives under
    ``<out>/partial/`` and is deleted pass by pass once that pass's results are written.
    """
    import shutil

    import pandas as pd
    import torch

    if torch.distributed.is_available() and "RANK" in os.environ and "WORLD_SIZE" in os.environ \
            and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo"
        torch.distributed.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    rank, world = _dist_info()
    progress = not args.no_progress and rank == 0
    out = Path(args.out)
    (out / "spectra").mkdir(parents=True, exist_ok=True)
    device = args.device
    if device == "auto" and world > 1 and torch.cuda.is_available():
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    lm = load_language_model(args.model, device=device, dtype=_parse_dtype(args.dtype),
                             allow_fallback=args.allow_fallback, verbose=rank == 0)
    corpus = args.corpus[0] if len(args.corpus) == 1 else args.corpus
    docs = load_documents(corpus)
    windows = make_windows(lm, docs, window=args.window)
    max_windows = max(1, args.tokens // args.window)
    if len(windows) > max_windows:
        windows = windows.subset(np.sort(np.random.default_rng(args.seed).choice(len(windows), max_windows, replace=False)))
    elif rank == 0 and len(windows) < max_windows:
        print(f"note: the corpus has only {len(windows) * args.window} tokens ({len(windows)} windows), "
              f"fewer than --tokens {args.tokens}.")
    layers = parse_layers(args.layers, lm.n_layers)
    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    per_pass = args.layers_per_pass or len(layers)
    if rank == 0:
        (out / "run.json").write_text(json.dumps(dict({k: v for k, v in vars(args).items() if not k.startswith("_")}, resolved_model=repr(lm),
                                                      n_windows=len(windows), world_size=world), indent=2))
    rows = []
    for p_i in range(0, len(layers), per_pass):
        chunk = layers[p_i:p_i + per_pass]
        hooks = lm.hook_names(sites, chunk)
        todo = [h for h in hooks if not (out / "spectra" / f"{h}.json").exists()]
        if todo:
            t0 = time.time()
            grouped = collect_covariances(
                lm, windows, todo, drop_first=args.drop_first, n_groups=args.groups,
                batch_size=args.batch_size, dtype=_parse_dtype(args.acc_dtype),
                checkpoint_dir=out / "partial" / f"layers_{chunk[0]}-{chunk[-1]}",
                checkpoint_dtype=_parse_dtype(args.checkpoint_dtype), seed=args.seed, progress=progress)
            if rank == 0:
                for h in (tqdm_iter(todo, "alpha per hook") if progress else todo):
                    s = layer_alpha(grouped, h, n_boot=args.n_boot, seed=args.seed)
                    np.savez(out / "spectra" / f"{h}.npz", eigenvalues=s.eigenvalues, boot_alphas=s.boot_alphas)
                    (out / "spectra" / f"{h}.json").write_text(json.dumps(s.row(), default=float))
                shutil.rmtree(out / "partial" / f"layers_{chunk[0]}-{chunk[-1]}", ignore_errors=True)
                print(f"layers {chunk[0]}-{chunk[-1]}: {len(todo)} hooks in {time.time() - t0:.0f} s", flush=True)
            del grouped
        if world > 1:
            torch.distributed.barrier()
        if rank == 0:
            rows.extend(json.loads((out / "spectra" / f"{h}.json").read_text()) for h in hooks)
    if rank == 0:
        table = pd.DataFrame(rows)
        table.to_csv(out / "alpha_by_layer.csv", index=False)
        with pd.option_context("display.width", 120, "display.max_columns", 10):
            print(table[["hook", "width", "n_tokens", "alpha", "ci_low", "ci_high", "participation_ratio"]]
                  .to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"wrote {out / 'alpha_by_layer.csv'}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0
