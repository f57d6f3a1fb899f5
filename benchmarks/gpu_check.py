"""Paper scale on one GPU (issue 18): does the package's own code run at the paper's sizes, and how fast?

    python benchmarks/gpu_check.py            # one H100/H200-class GPU, < 8 min, no downloads
    python benchmarks/gpu_check.py --tiny     # the same code paths on a CPU in seconds (CI)

1. **GPT-2 XL architecture, random weights** (``GPT2Config`` of GPT-2 XL's shape, nothing
   downloaded) in bf16 (``--dtype fp16`` for fp16): all 48 MLP (``blocks.l.mlp.post``, 6400-d) and
   48 residual (``blocks.l.resid_post``, 1600-d) covariances collected by
   ``experiments.covariance_collection.collect_covariances`` (hooks of ``models.hooks``, one
   ``CovarianceAccumulator`` per site on the GPU), once with float32 and once with float64
   accumulators, over as many tokens as fit the phase's time budget (at most 2^20). Tokens/s of a
   bare forward pass and of each collection (overhead target <= 20%), peak GPU memory; then α of
   every site on the CPU with ``experiments.alpha.layer_alphas`` (sites wider than
   ``full_spectrum_max`` take the randomized ``science.eigen.topk_eigenvalues``), timed per site.
2. **ResNet VAE ``paper`` config** (224×224, batch 50): the trainer's step (``_prepare``, forward,
   ``vae_loss``, the loss read back as the trainer does, backward, Adam) on random images: steps/s,
   peak memory, and the extrapolated time of 200 epochs × 50,000 images (steps only: no test pass,
   checkpoints or data loading).
3. **CovarianceAccumulator.update** on the device in float64 and float32 against the raw
   ``addmm_`` (XᵀX) GEMM rate of the same dtype and shape (a ratio).

Every phase has a wall-time budget (``BUDGETS``) and prints progress; each section runs in its own
try/except that records the error, and the JSON (``--json``, default
``benchmarks/results/gpu_check.json``, ``gpu_check_tiny.json`` with ``--tiny``) is rewritten
atomically after every section. A run without ``--tiny`` on a machine without CUDA stops at once
with a one-line message and exit status 2. Exit status 1: a section failed (see the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TQDM_DISABLE"):
    os.environ.setdefault(_var, "1")  # nothing is downloaded, no progress bars
ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT.parent)]  # timing.py beside this script; the package of this checkout
from gpu_sections import (  # noqa: E402 - benchmarks/gpu_sections.py, next to this script
    accumulator_section,
    alpha_of_sites,  # noqa: F401 - re-exported for the tests
    gpt2_section,
    log,
    vae_section,
)

RESULTS = ROOT / "results"
SECTIONS = ("gpt2", "vae", "accumulator")
#: wall-time budget (s) of each timed phase on a GPU: 15 + 70 + 100 + 120 + 40 = 345 s, plus set-up,
#: warm-ups, calibration and the accumulator section (seconds), inside the 8 minutes; --tiny runs
#: fixed small amounts instead (``--budget-scale`` applies scaled budgets there too, to test them)
BUDGETS = {"bare": 15.0, "collect_float32": 70.0, "collect_float64": 100.0, "alpha": 120.0, "vae": 40.0}
FULL = dict(
    gpt2=dict(n_layer=48, n_embd=1600, n_head=25, n_inner=6400, vocab_size=50257, n_positions=1024),
    window=128, batch=64, max_tokens=2**20, full_spectrum_max=2048, alpha_window=(11, 500),
    vae=dict(config="paper", overrides={}, batch=50, steps=10**6),
    acc=dict(dim=6400, rows=8192, repeats=5),
)
# tiny: MLP 1088-d > full_spectrum_max = 1024 > 1000, and k_top = 90 < m/3, so the MLP sites take
# the randomized top-k path as GPT-2 XL's do; 192 windows give n > 10·m (the plain estimator)
TINY = dict(
    gpt2=dict(n_layer=2, n_embd=64, n_head=2, n_inner=1088, vocab_size=1000, n_positions=64),
    window=64, batch=32, max_tokens=192 * 64, full_spectrum_max=1024, alpha_window=(11, 40),
    vae=dict(config="paper", overrides={"image_size": 64}, batch=4, steps=3),
    acc=dict(dim=256, rows=1024, repeats=3),
)


def write_json(path: Path, results: dict) -> None:
    from polycode_lite.experiments.resume_files import atomic_write_text

    atomic_write_text(path, json.dumps(results, indent=2, default=str) + "\n")


def environment(device: Any, tiny: bool) -> dict:
    import torch
    import transformers

    import polycode_lite

    env = {"mode": "tiny (CPU)" if tiny else "full (GPU)", "device": str(device),
           "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "python": platform.python_version(),
           "torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__,
           "polycode_lite": getattr(polycode_lite, "__version__", "?"), "cpus": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "load_avg": list(os.getloadavg()),
           "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32}
    try:
        env["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                           text=True, timeout=5, check=False).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        env["git_commit"] = None
    if torch.device(device).type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=props.total_memory / 2**30,
                   gpu_capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version())
    else:
        env["gpu"] = "none (CPU run)"
    return env


# ------------------------------------------------------------------------------------------
# 1. GPT-2 XL shape: bare forward, collection in float32 and float64, α of every site
# ------------------------------------------------------------------------------------------
def table(res: dict) -> list[tuple[str, str, str]]:
    """(section, measure, value) rows of the final table; a failed section gives one row."""
    rows: list[tuple[str, str, str]] = []
    mem = "peak GPU memory" if res["environment"]["device"].startswith("cuda") else "peak process RSS"
    for sec in SECTIONS:
        r = res.get(sec, {})
        if r.get("status") != "ok":
            rows.append((sec, "status", r.get("status", "not run") + (f": {r['error']}" if "error" in r else "")))
        elif sec == "gpt2":
            rows.append((sec, "bare forward", f"{r['bare']['tokens_per_s']:,.0f} tokens/s"))
            for d in ("float32", "float64"):
                c = r[f"collect_{d}"]
                value = (f"{c['tokens_per_s']:,.0f} tokens/s ({c['overhead_pct']:+.0f}%), {c['tokens']:,} tokens, "
                         f"{mem} {c['peak_gib']:.2f} GiB")
                rows.append((sec, f"collection, {d} accumulators", value))
            al = r["alpha"]
            per = ", ".join(f"{k} {v:.2f} s/site" for k, v in al["seconds_per_site"].items())
            extra = f" (extrapolated from {al['sites_done']} sites)" if al["extrapolated"] else ""
            if al["stopped"]:
                per += f"{'; ' if per else ''}stopped after {al['stopped']['seconds_so_far']:.1f} s in " \
                       f"{al['stopped']['site']} (a lower bound)"
            rows.append((sec, f"α of {al['n_sites']} sites (CPU)", f"{al['seconds_all_sites']:.1f} s{extra}; {per}"))
        elif sec == "vae":
            value = (f"{r['steps_per_s']:.2f} steps/s ({r['images_per_s']:.0f} images/s), "
                     f"{mem} {r['peak_gib']:.2f} GiB")
            rows.append((sec, f"{r['config']} {r['image_size']}px, batch {r['batch']}", value))
            rows.append((sec, "200 epochs × 50,000 images", f"{r['hours_200_epochs']:.1f} h (steps only)"))
        else:
            for d in ("float64", "float32"):
                c = r[d]
                value = (f"{c['update_gflops']:,.1f} GFLOP/s = {c['ratio']:.2f} × GEMM "
                         f"({c['gemm_gflops']:,.1f} GFLOP/s)")
                rows.append((sec, f"update, {d}, {c['rows']}×{c['dim']}", value))
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny configs on the CPU (seconds; for CI)")
    p.add_argument("--json", type=Path, default=None, help="output JSON (default benchmarks/results/"
                   "gpu_check.json, gpu_check_tiny.json with --tiny)")
    p.add_argument("--threads", type=int, default=None, help="torch/BLAS CPU threads (default: torch's)")
    p.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16", help="GPT-2 weights on the GPU")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    p.add_argument("--budget-scale", type=float, default=None, help="multiply the phase budgets (GPU "
                   "default 1; with --tiny, applies budgets to test the time limits on a CPU)")
    args = p.parse_args(argv)
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in args.only if x not in SECTIONS]
    if bad or not args.only:
        p.error(f"--only must name sections of {', '.join(SECTIONS)}, got {bad or 'none'}")
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    if args.budget_scale is not None and not 0 < args.budget_scale < float("inf"):
        p.error(f"--budget-scale must be a positive number, got {args.budget_scale}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if not args.tiny and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA GPU here (torch {torch.__version__}, built for CUDA {torch.version.cuda}, "
              "torch.cuda.is_available() is False). This check needs one; on a CPU run "
              "`python benchmarks/gpu_check.py --tiny` (the same code paths, tiny sizes).", file=sys.stderr)
        return 2
    path = args.json or RESULTS / ("gpu_check_tiny.json" if args.tiny else "gpu_check.json")
    if args.threads is not None:
        from polycode_lite._common import set_threads

        set_threads(args.threads)
    device = torch.device("cpu" if args.tiny else "cuda")
    s = TINY if args.tiny else FULL
    model_dtype = torch.float32 if args.tiny else {"bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    t_start = time.perf_counter()
    scale = args.budget_scale if args.budget_scale is not None else (None if args.tiny else 1.0)
    budgets = None if scale is None else {k: v * scale for k, v in BUDGETS.items()}
    res: dict[str, Any] = {"environment": environment(device, args.tiny), "budgets_s": budgets}
    env = res["environment"]
    log(f"{env['mode']}: {env['gpu']}, torch {env['torch']}, CUDA {env['cuda']}, transformers "
        f"{env['transformers']}, {env['torch_threads']} CPU threads, load {env['load_avg'][0]:.1f}")
    try:
        write_json(path, res)
    except OSError as exc:
        print(f"gpu_check: cannot write --json {path}: {exc}. Pass a writable path.", file=sys.stderr)
        return 2
    budget = (lambda k: None) if budgets is None else budgets.get
    runners = {"gpt2": lambda: gpt2_section(s, device, model_dtype, budget),
               "vae": lambda: vae_section(s, device, budget),
               "accumulator": lambda: accumulator_section(s, device)}
    for sec in SECTIONS:
        if sec not in args.only:
            res[sec] = {"status": "skipped (--only)"}
            continue
        log(f"--- {sec} ---")
        t = time.perf_counter()
        try:
            res[sec] = {"status": "ok", **runners[sec]()}
        except Exception as exc:  # noqa: BLE001 (any failure is recorded; the next section still runs)
            res[sec] = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc()}
            log(f"{sec} FAILED: {type(exc).__name__}: {exc}")
        res[sec]["section_seconds"] = time.perf_counter() - t
        if device.type == "cuda":
            torch.cuda.empty_cache()
        write_json(path, res)
    res["total_seconds"] = time.perf_counter() - t_start
    env["load_avg_end"] = list(os.getloadavg())
    res["table"] = [list(r) for r in table(res)]
    write_json(path, res)
    print(f"\n## gpu_check ({env['mode']}): {env['gpu']}, torch {env['torch']}, CUDA {env['cuda']}, "
          f"{res['total_seconds']:.0f} s, load {env['load_avg'][0]:.1f} -> {env['load_avg_end'][0]:.1f}\n")
    print("| section | measure | value |\n|---|---|---|")
    for r in res["table"]:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    print(f"\nwrote {path}", flush=True)
    return 0 if all(res[sec]["status"] in ("ok", "skipped (--only)") for sec in SECTIONS) else 1


if __name__ == "__main__":
    sys.exit(main())
