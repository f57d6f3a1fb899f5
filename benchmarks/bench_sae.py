"""Benchmark of the sparse autoencoder (polycode_lite.models.sae) on issue 17's target: 24 sparse
features in 8 dimensions (each feature active with probability 4%, values U[0, 1]; a fixed random
W with unit columns, h = W x), 48 latents; feature recovery = mean over the 24 true directions of
the best |cos| with a decoder row. Beside it scikit-learn's MiniBatchDictionaryLearning (the
classical baseline) on the same data. One torch/BLAS thread; wall and CPU seconds per fit, and the
seconds to encode the whole data set once fitted (the SAE's encoder against sklearn's lasso transform).
Prints a markdown table and writes benchmarks/results/sae.json.

    .venv/bin/python benchmarks/bench_sae.py [--seeds 3] [--samples 20000] [--steps 4000]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--steps", type=int, default=4000)
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
                t, c = time.perf_counter(), time.process_time()
                model, extra = fit(acts, seed)
                wall, cpu = time.perf_counter() - t, time.process_time() - c
                t = time.perf_counter()
                (model.encode if hasattr(model, "encode") else model.transform)(acts)
                extra["encode_seconds"] = time.perf_counter() - t
                rows.append(dict(method=name, seed=seed, recovery=feature_recovery(model, true),
                                 seconds_wall=wall, seconds_cpu=cpu, **extra))
                print(f"  {name} seed {seed}: recovery {rows[-1]['recovery']:.3f}, {wall:.1f} s wall", flush=True)
    summary = []
    print(f"\n| method | recovery (mean, min over seeds) | FVU | L0 | CPU s (median) | wall s (median) | "
          f"encode {args.samples} inputs, s |")
    print("|---|---|---|---|---|---|---|")
    for name in methods:
        rs = [r for r in rows if r["method"] == name]
        rec = np.array([r["recovery"] for r in rs])
        s = dict(method=name, recovery_mean=float(rec.mean()), recovery_min=float(rec.min()),
                 fvu=float(np.mean([r["fvu"] for r in rs])), l0=float(np.mean([r["l0"] for r in rs])),
                 seconds_cpu=float(np.median([r["seconds_cpu"] for r in rs])),
                 seconds_wall=float(np.median([r["seconds_wall"] for r in rs])),
                 encode_seconds=float(np.median([r["encode_seconds"] for r in rs])))
        summary.append(s)
        print(f"| {name} | {s['recovery_mean']:.3f}, {s['recovery_min']:.3f} | {s['fvu']:.3f} | {s['l0']:.2f} | "
              f"{s['seconds_cpu']:.1f} | {s['seconds_wall']:.1f} | {s['encode_seconds']:.2f} |")
    result = dict(task="24 features in 8 dims, activity 4%, 48 latents", samples=args.samples, steps=args.steps,
                  seeds=args.seeds, threads=1, machine=platform.platform(), summary=summary, rows=rows)
    path = OUT / "sae.json"
    atomic_write_text(path, json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
