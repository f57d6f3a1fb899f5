"""The three timed sections of benchmarks/gpu_check.py (GPT-2 XL collection and α, the ResNet VAE
``paper`` step, CovarianceAccumulator against GEMM) and their timing helpers; gpu_check.py holds
the settings, the table and the command line."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

from timing import best_of  # benchmarks/timing.py, next to this script

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
