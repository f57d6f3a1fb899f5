"""Benchmark of the sparse autoencoder (polycode_lite.models.sae) on issue 17's target: 24 sparse
features in 8 dimensions (each feature active with probability 4%, values U[0, 1]; a fixed random
W with unit columns, h = W x), 48 latents; feature recovery = mean over the 24 true directions of
the best |cos| with a decoder row. Beside it scikit-learn's MiniBatchDictionaryLearning (the
classical baseline) on the same data. One torch/BLAS thread; wall and CPU seconds per fit, and the
seconds to encode the whole data set once fitted (the SAE's encoder against sklearn's lasso transform),
and the peak memory of each fit (resident set size above the process's at the start of the fit, after
a warm-up fit on 512 inputs has paged in the libraries; each fit runs in a forked child so the peaks
do not mix).

A second table times SAE training steps at notebook 08's MiniLM shape (1536 → 3072 latents, TopK k =
32, batches of 256) with torch's fused Adam (what ``train_sae`` uses) against its default Adam, on one
and on two threads, in the same run.

Prints markdown tables and writes benchmarks/results/sae.json.

    .venv/bin/python benchmarks/bench_sae.py [--seeds 3] [--samples 20000] [--steps 4000] [--step-reps 30]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
from unittest import mock
from pathlib import Path

import numpy as np

from polycode_lite._common import atomic_write_text, limit_threads
from polycode_lite.models.sae import feature_recovery, train_sae

OUT = Path(__file__).resolve().parent / "results"


def target_data(n_samples: int, seed: int, n: int = 24, m: int = 8, p: float = 0.04):
    """(acts (N, m), true features (n, m)) of the 24-in-8 target."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, n))
    W /= np.linalg.norm(W, axis=0)
    x = (rng.random((n_samples, n)) < p) * rng.random((n_samples, n))
    return x @ W.T, W.T


def fit_sae(acts, seed, steps, **kind):
    sae = train_sae(acts, 48, steps=steps, seed=seed, **kind)
    return sae, dict(fvu=sae.reconstruction_error(acts), l0=sae.l0(acts), dead=sae.dead_fraction(acts))


def fit_sklearn(acts, seed, alpha, max_iter):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    dl = MiniBatchDictionaryLearning(n_components=48, alpha=alpha, batch_size=256, max_iter=max_iter,
                                     random_state=seed, transform_algorithm="lasso_lars", transform_alpha=alpha)
    dl.fit(acts)
    code = dl.transform(acts[:2000])
    recon = code @ dl.components_
    a = acts[:2000]
    fvu = float(np.sum((a - recon) ** 2) / np.sum((a - a.mean(0)) ** 2))
    return dl, dict(fvu=fvu, l0=float(np.mean(np.sum(code != 0, axis=1))), dead=float(np.mean(~np.any(code != 0, axis=0))))


def _status_bytes(field: str) -> int:
    """VmRSS / VmHWM of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _in_child(fn, *args, warm_up=None):
    """fn(*args) in a forked child: (its result, peak RSS above the RSS at the start, bytes). The
    child first runs ``warm_up()`` (a small fit: it pages in the libraries' code, which would
    otherwise count as the fit's memory), then resets its RSS high-water mark (``5`` to
    /proc/self/clear_refs, Linux ≥ 4.0)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def target():
        if warm_up is not None:
            warm_up()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = _status_bytes("VmRSS")
        out = fn(*args)
        q.put((out, _status_bytes("VmHWM") - base))

    p = ctx.Process(target=target)
    p.start()
    out, peak = q.get()
    p.join()
    return out, max(int(peak), 0)


def _fit_and_score(fit, acts, true, seed):
    t, c = time.perf_counter(), time.process_time()
    model, extra = fit(acts, seed)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    (model.encode if hasattr(model, "encode") else model.transform)(acts)
    extra["encode_seconds"] = time.perf_counter() - t
    return dict(recovery=feature_recovery(model, true), seconds_wall=wall, seconds_cpu=cpu, **extra)


def step_times(reps: int, threads: int) -> dict:
    """Seconds per training step at MiniLM's MLP shape, fused against default Adam (same run)."""
    import torch

    from polycode_lite.models import sae as S

    rng = np.random.default_rng(0)
    acts = rng.standard_normal((4096, 1536)).astype(np.float32)
    out = {}
    for name, adam in (("fused Adam", S._adam), ("default Adam", lambda p, lr: torch.optim.Adam(list(p), lr=lr))):
        with mock.patch.object(S, "_adam", adam):
            train_sae(acts, 3072, k=32, steps=3, seed=0, num_threads=threads)  # warm-up
            t = time.perf_counter()
            train_sae(acts, 3072, k=32, steps=reps, seed=0, num_threads=threads)
            out[name] = (time.perf_counter() - t) / reps
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--step-reps", type=int, default=30)
    args = ap.parse_args()
    methods = {
        "SAE TopK k=1": lambda a, s: fit_sae(a, s, args.steps, k=1),
        "SAE TopK k=2": lambda a, s: fit_sae(a, s, args.steps, k=2),
        "SAE L1 0.3": lambda a, s: fit_sae(a, s, args.steps, l1=0.3),
        "sklearn MiniBatchDictionaryLearning alpha=0.1": lambda a, s: fit_sklearn(a, s, 0.1, 20),
        "sklearn MiniBatchDictionaryLearning alpha=0.02": lambda a, s: fit_sklearn(a, s, 0.02, 20),
    }
    rows = []
    with limit_threads(1):
        for seed in range(args.seeds):
            acts, true = target_data(args.samples, seed)
            for name, fit in methods.items():
                res, peak = _in_child(_fit_and_score, fit, acts, true, seed,
                                      warm_up=lambda f=fit: f(acts[:512], seed + 100))
                rows.append(dict(method=name, seed=seed, peak_mb=peak / 1e6, **res))
                print(f"  {name} seed {seed}: recovery {rows[-1]['recovery']:.3f}, {rows[-1]['seconds_wall']:.1f} s wall, "
                      f"peak {rows[-1]['peak_mb']:.0f} MB", flush=True)
    summary = []
    print(f"\n| method | recovery (mean, min over seeds) | FVU | L0 | CPU s (median) | wall s (median) | "
          f"encode {args.samples} inputs, s | peak memory, MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name in methods:
        rs = [r for r in rows if r["method"] == name]
        rec = np.array([r["recovery"] for r in rs])
        s = dict(method=name, recovery_mean=float(rec.mean()), recovery_min=float(rec.min()),
                 fvu=float(np.mean([r["fvu"] for r in rs])), l0=float(np.mean([r["l0"] for r in rs])),
                 seconds_cpu=float(np.median([r["seconds_cpu"] for r in rs])),
                 seconds_wall=float(np.median([r["seconds_wall"] for r in rs])),
                 encode_seconds=float(np.median([r["encode_seconds"] for r in rs])),
                 peak_mb=float(np.max([r["peak_mb"] for r in rs])))
        summary.append(s)
        print(f"| {name} | {s['recovery_mean']:.3f}, {s['recovery_min']:.3f} | {s['fvu']:.3f} | {s['l0']:.2f} | "
              f"{s['seconds_cpu']:.1f} | {s['seconds_wall']:.1f} | {s['encode_seconds']:.2f} | {s['peak_mb']:.0f} |")
    steps = {t: step_times(args.step_reps, t) for t in (1, 2)}
    print(f"\n| SAE step, 1536 → 3072 latents, k = 32, batch 256 | 1 thread | 2 threads |\n|---|---|---|")
    for name in ("default Adam", "fused Adam"):
        print(f"| {name}, s per step | {steps[1][name]:.3f} | {steps[2][name]:.3f} |")
    print(f"| **default / fused** | **{steps[1]['default Adam'] / steps[1]['fused Adam']:.2f}×** | "
          f"**{steps[2]['default Adam'] / steps[2]['fused Adam']:.2f}×** |")
    result = dict(task="24 features in 8 dims, activity 4%, 48 latents", samples=args.samples, steps=args.steps,
                  seeds=args.seeds, threads=1, machine=platform.platform(), summary=summary, rows=rows,
                  step_seconds={str(t): v for t, v in steps.items()}, step_reps=args.step_reps)
    path = OUT / "sae.json"
    atomic_write_text(path, json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
