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
import resource
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TQDM_DISABLE"):
    os.environ.setdefault(_var, "1")  # nothing is downloaded, no progress bars
ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT.parent)]  # timing.py beside this script; the package of this checkout
from timing import best_of  # benchmarks/timing.py, next to this script

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
DROP_FIRST = 4  # collect_covariances' default (docs/paper_guide.md pitfall 8)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sync(device: Any) -> None:
    """Wait for the device's queued work (nothing to wait for on a CPU)."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: Any) -> None:
    """Start a new peak-memory interval on CUDA (a CPU's peak RSS cannot be reset)."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: Any) -> float:
    """Peak tensor memory since :func:`reset_peak` on CUDA; the process's peak RSS on a CPU."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def timed(fn: Callable[[], Any], device: Any) -> tuple[Any, float]:
    """(result, wall seconds) of ``fn()``, device work included."""
    sync(device)
    t = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t


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
def random_gpt2(spec: dict, device: Any, dtype: Any) -> Any:
    """A :class:`LanguageModel` of ``spec``'s shape with Hugging Face's random initialisation
    (seed 0), built on ``device`` (no download, no CPU initialisation of 1.5 B weights)."""
    import torch
    from transformers import GPT2Config, GPT2Model

    from polycode_lite.models.language_models import LanguageModel

    cfg = GPT2Config(**spec, bos_token_id=spec["vocab_size"] - 1, eos_token_id=spec["vocab_size"] - 1)
    torch.manual_seed(0)
    with torch.device(device):
        model = GPT2Model(cfg)
    model = model.to(dtype=dtype).eval()
    return LanguageModel(model=model, tokenizer=None, name=f"GPT-2 {spec['n_layer']}x{spec['n_embd']} random",
                         arch="gpt2", n_layers=cfg.n_layer, d_model=cfg.n_embd, d_mlp=cfg.n_inner,
                         device=torch.device(device), source="random init")


def random_windows(n: int, length: int, vocab: int) -> Any:
    """``n`` windows of uniform random token ids (seed 0), each its own document."""
    import numpy as np

    from polycode_lite.data.corpus import TokenWindows

    ids = np.random.default_rng(0).integers(0, vocab, size=(n, length), dtype=np.int64)
    return TokenWindows(ids, np.arange(n), tuple(f"w{i}" for i in range(n)))


def n_fitting(seconds_per_window: float, budget: float | None, batch: int, available: int) -> int:
    """Windows (a multiple of ``batch``, at least one batch) that fit ``budget`` seconds."""
    if budget is None:
        return available
    n = int(budget / max(seconds_per_window, 1e-9)) // batch * batch
    return max(batch, min(available, n))


def gpt2_section(s: dict, device: Any, model_dtype: Any, budget: Callable[[str], float | None]) -> dict:
    import numpy as np
    import torch

    from polycode_lite.experiments.covariance_collection import collect_covariances

    lm, (B, T) = random_gpt2(s["gpt2"], device, model_dtype), (s["batch"], s["window"])
    hooks = lm.hook_names(("mlp.post", "resid_post"))
    windows = random_windows(s["max_tokens"] // T, T, s["gpt2"]["vocab_size"])
    out: dict[str, Any] = {"model": lm.name, "config": s["gpt2"], "model_dtype": str(model_dtype),
                           "n_parameters": int(sum(p.numel() for p in lm.model.parameters())),
                           "n_sites": len(hooks), "window": T, "batch": B, "drop_first": DROP_FIRST}
    log(f"GPT-2: {out['n_parameters'] / 1e6:.1f} M parameters, {len(hooks)} sites, {len(windows)} windows of {T}")

    def bare(n_windows: int, limit: float | None) -> tuple[int, float]:
        done, t0 = 0, time.perf_counter()
        with torch.no_grad():
            for b in windows.subset(np.arange(n_windows)).batches(B, lm.device):
                lm.model(**b)
                done += b["input_ids"].shape[0]
                if limit is not None and time.perf_counter() - t0 > limit:
                    break
        sync(device)
        return done * T, time.perf_counter() - t0

    bare(B, None)  # warm-up
    reset_peak(device)
    tokens, secs = bare(len(windows), budget("bare"))
    out["bare"] = {"tokens": tokens, "seconds": secs, "tokens_per_s": tokens / secs, "peak_gib": peak_gib(device)}
    log(f"bare forward: {tokens / secs:,.0f} tokens/s ({tokens} tokens in {secs:.1f} s)")

    def collect(n_windows: int, acc_dtype: Any) -> tuple[Any, float]:
        sub = windows.subset(np.arange(n_windows))
        return timed(lambda: collect_covariances(lm, sub, hooks, drop_first=DROP_FIRST, n_groups=1,
                                                 batch_size=B, dtype=acc_dtype, progress=False), device)

    grouped = None
    for acc_dtype in (torch.float32, torch.float64):
        name = str(acc_dtype).replace("torch.", "")
        grouped = None  # free the previous accumulators before the next set
        if device.type == "cuda":
            torch.cuda.empty_cache()
        collect(B, acc_dtype)  # warm-up; each result is freed at once
        n_cal = min(len(windows), 2 * B)
        per_window = collect(n_cal, acc_dtype)[1] / n_cal  # calibration
        n = n_fitting(per_window, budget(f"collect_{name}"), B, len(windows))
        log(f"collecting {len(hooks)} sites, {name} accumulators, {n * T} tokens (~{per_window * n:.0f} s)")
        reset_peak(device)
        grouped, secs = collect(n, acc_dtype)
        rate = n * T / secs
        out[f"collect_{name}"] = {
            "tokens": n * T, "tokens_accumulated": grouped.n_tokens(hooks[0]), "seconds": secs,
            "tokens_per_s": rate, "overhead_pct": 100 * (out["bare"]["tokens_per_s"] / rate - 1),
            "peak_gib": peak_gib(device)}
        log(f"  {rate:,.0f} tokens/s, overhead {out[f'collect_{name}']['overhead_pct']:+.0f}% "
            f"vs bare, peak {out[f'collect_{name}']['peak_gib']:.1f} GiB")
    out["alpha"] = alpha_of_sites(grouped, hooks, s, budget("alpha"))
    return out


class _OutOfTime(BaseException):
    """Raised by the alarm of :func:`alpha_of_sites` when the α budget is spent mid-site (a
    BaseException, like KeyboardInterrupt, so no ``except Exception`` on the way swallows it)."""


def alpha_of_sites(grouped: Any, hooks: list[str], s: dict, limit: float | None) -> dict:
    """α of every site from the float64 accumulators, on the CPU, one ``layer_alphas`` call per
    site with the fixed window (each site timed on its own; with a fixed window the fits equal
    one call for all sites). With ``limit``, an alarm stops the phase after ``limit`` s (at the
    next Python line: after the running LAPACK call) and the remaining sites are extrapolated."""
    import signal

    import torch

    from polycode_lite.experiments.alpha import layer_alphas
    from polycode_lite.science.covariance import CovarianceAccumulator

    def fit(data: Any, hook: str) -> Any:
        return layer_alphas({hook: data}, window=s["alpha_window"], n_boot=0, ci_method="fit",
                            full_spectrum_max=s["full_spectrum_max"], window_grid=False)[hook]

    warm_acc = CovarianceAccumulator(64).update(torch.randn(2000, 64, generator=torch.Generator().manual_seed(0)))
    warm = timed(lambda: fit(warm_acc, "warm-up"), "cpu")[1]  # imports (scipy, pandas), not timed
    kind_of = {h: "top-k" if grouped.groups[h][0].dim > s["full_spectrum_max"] else "full" for h in hooks}
    rows: list[dict] = []
    stopped: dict | None = None

    def on_alarm(signum: int, frame: Any) -> None:
        raise _OutOfTime

    old = signal.signal(signal.SIGALRM, on_alarm) if limit is not None else None
    if limit is not None:
        signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        for hook in hooks:
            t = time.perf_counter()
            try:
                f = fit(grouped.groups[hook], hook)
            except _OutOfTime:
                stopped = {"site": hook, "seconds_so_far": time.perf_counter() - t}
                break
            rows.append({"site": hook, "width": grouped.groups[hook][0].dim, "n_samples": f.n_samples,
                         "alpha": f.alpha, "r2": f.r2, "window": list(f.window), "estimator": f.estimator,
                         "n_eigenvalues": len(f.eigenvalues), "spectrum": kind_of[hook], "flags": list(f.flags),
                         "note": f.note, "seconds": time.perf_counter() - t})
    except _OutOfTime:  # between two sites (or after the last)
        if len(rows) < len(hooks):
            stopped = {"site": hooks[len(rows)], "seconds_so_far": 0.0}
    finally:
        if limit is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    per_kind: dict[str, list[float]] = {}
    for r in rows:
        per_kind.setdefault(r["spectrum"], []).append(r["seconds"])
    mean = {k: sum(v) / len(v) for k, v in per_kind.items()}
    total = sum(r["seconds"] for r in rows)
    # a remaining site is guessed at its kind's mean; the site stopped mid-way took at least its
    # time so far, which also stands in for a kind not yet timed (so the estimate is a lower bound)
    floor = stopped["seconds_so_far"] if stopped else 0.0
    rest = hooks[len(rows):]
    estimate = total + sum(max(mean.get(kind_of[h], floor), floor if h == rest[0] else 0.0) for h in rest)
    if stopped:
        log(f"α: budget of {limit:.0f} s spent after {len(rows)} of {len(hooks)} sites "
            f"(stopped in {stopped['site']}); the rest extrapolated")
    log(f"α of {len(rows)} sites in {total:.1f} s ({', '.join(f'{k}: {v:.2f} s/site' for k, v in mean.items())})")
    return {"sites_done": len(rows), "n_sites": len(hooks), "seconds": total, "seconds_all_sites": estimate,
            "extrapolated": bool(rest), "stopped": stopped, "warm_up_seconds": warm,
            "seconds_per_site": mean, "sites": rows}


# ------------------------------------------------------------------------------------------
# 2. ResNet VAE paper config: the trainer's step
# ------------------------------------------------------------------------------------------
def vae_section(s: dict, device: Any, budget: Callable[[str], float | None]) -> dict:
    import torch

    from polycode_lite.experiments.train import _prepare
    from polycode_lite.experiments.train_config import TrainConfig
    from polycode_lite.models.resnet_vae import ResNetAutoencoder, get_config, vae_loss

    v, tc = s["vae"], TrainConfig()
    cfg = get_config(v["config"], **v["overrides"])
    model = ResNetAutoencoder(cfg, dropout=0.0, seed=0).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    gen = torch.Generator().manual_seed(0)
    images = [torch.rand(v["batch"], 3, cfg.image_size, cfg.image_size, generator=gen) for _ in range(2)]

    def step(x_cpu: Any) -> None:  # the body of train_autoencoder's loop
        x = _prepare(x_cpu, cfg.image_size, device)
        recon, mu, logvar, _ = model(x)
        parts = vae_loss(recon, x, mu, logvar, tc.beta)
        _values = {k: float(parts[k].detach()) for k in ("loss", "bce", "kl")}  # as the trainer: 3 host syncs
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        opt.step()

    for i in range(2):  # warm-up (cuDNN algorithm choice, Adam state)
        step(images[i % 2])
    reset_peak(device)
    limit = budget("vae")
    steps, t0 = 0, time.perf_counter()
    while steps < v["steps"] and (limit is None or time.perf_counter() - t0 < limit):
        step(images[steps % 2])
        steps += 1
    sync(device)
    secs = time.perf_counter() - t0
    sps = steps / secs
    steps_200 = 200 * (50_000 // v["batch"])  # an epoch drops the incomplete last batch
    out = {"config": v["config"], "image_size": cfg.image_size, "batch": v["batch"], "steps": steps,
           "seconds": secs, "steps_per_s": sps, "images_per_s": sps * v["batch"], "peak_gib": peak_gib(device),
           "n_parameters": int(sum(p.numel() for p in model.parameters())),
           "steps_200_epochs": steps_200, "hours_200_epochs": steps_200 / sps / 3600}
    log(f"VAE {v['config']} {cfg.image_size}px batch {v['batch']}: {sps:.2f} steps/s, "
        f"200 epochs ≈ {out['hours_200_epochs']:.1f} h, peak {out['peak_gib']:.1f} GiB")
    return out


# ------------------------------------------------------------------------------------------
# 3. CovarianceAccumulator.update against the raw GEMM
# ------------------------------------------------------------------------------------------
def accumulator_section(s: dict, device: Any) -> dict:
    import torch

    from polycode_lite.science.covariance import CovarianceAccumulator

    a, out = s["acc"], {}
    flop = 2.0 * a["rows"] * a["dim"] ** 2  # the cross-product XᵀX
    for dtype in (torch.float64, torch.float32):
        name = str(dtype).replace("torch.", "")
        gen = torch.Generator(device=device).manual_seed(0)
        x = torch.randn(a["rows"], a["dim"], dtype=dtype, device=device, generator=gen)
        acc = CovarianceAccumulator(a["dim"], dtype=dtype, device=device)
        m2 = torch.zeros(a["dim"], a["dim"], dtype=dtype, device=device)

        def update(acc: Any = acc, x: Any = x) -> None:
            acc.update(x)
            sync(device)

        def gemm(m2: Any = m2, x: Any = x) -> None:
            m2.addmm_(x.T, x)
            sync(device)

        update(), gemm()  # warm-up
        t_upd, t_gemm = best_of(update, a["repeats"]), best_of(gemm, a["repeats"])
        out[name] = {"dim": a["dim"], "rows": a["rows"], "update_seconds": t_upd, "gemm_seconds": t_gemm,
                     "update_gflops": flop / t_upd / 1e9, "gemm_gflops": flop / t_gemm / 1e9,
                     "ratio": t_gemm / t_upd}
        log(f"accumulator {name}: update {flop / t_upd / 1e9:,.0f} GFLOP/s, GEMM {flop / t_gemm / 1e9:,.0f} "
            f"GFLOP/s, ratio {t_gemm / t_upd:.2f}")
    return out


# ------------------------------------------------------------------------------------------
# the table and main
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
