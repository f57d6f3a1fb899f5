"""Benchmarks of the spectrum core (streaming covariance, eigenspectra and the α fit: notebook 03,
the paper's E2). Prints markdown tables and writes benchmarks/results/spectrum.json.

    .venv/bin/python benchmarks/bench_spectrum.py [--quick]

1. Covariance accumulation throughput as a fraction of the raw float64 X.T @ X GEMM rate
   (same data, same machine, one run), and against np.cov on the stacked data in time and
   peak memory (tracemalloc for numpy allocations).
2. Top-k eigenvalues (randomized) against full eigh at m = 1600 and 6400: speed-up and the
   maximum relative error over ranks 1..k/2.
3. Finite-sample bias of alpha: plain weighted log-log fit against the simulation-matched
   correction, over alpha in {0.5, 1, 1.5, 2, 3} and n/m in {0.5, 1, 2, 4, 16}.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
from timing import best_of  # benchmarks/timing.py, next to this script

from polycode_lite.science.covariance import CovarianceAccumulator
from polycode_lite.science.eigen import eigenspectrum, topk_eigenvalues
from polycode_lite.science.powerlaw import fit_power_law, powerlaw_gaussian

OUT = Path(__file__).resolve().parent / "results"


def bench_accumulator(n: int, m: int, batch: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, m))
    xt = torch.from_numpy(x)

    def gemm():
        for s in range(0, n, batch):
            b = xt[s : s + batch]
            b.T @ b

    def accumulate():
        acc = CovarianceAccumulator(m)
        for s in range(0, n, batch):
            acc.update(xt[s : s + batch])
        return acc

    t_gemm = best_of(gemm)
    t_acc = best_of(accumulate)
    t_npcov = best_of(lambda: np.cov(x, rowvar=False), repeats=2)
    acc = accumulate()
    err = np.abs(acc.covariance() - np.cov(x, rowvar=False)).max() / np.abs(np.cov(x, rowvar=False)).max()

    # peak extra memory: numpy's np.cov on stacked data vs streaming (data generated per batch)
    tracemalloc.start()
    stacked = np.concatenate([x[s : s + batch] for s in range(0, n, batch)])
    np.cov(stacked, rowvar=False)
    _, peak_npcov = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del stacked
    tracemalloc.start()
    acc2 = CovarianceAccumulator(m)
    for s in range(0, n, batch):
        acc2.update(x[s : s + batch].copy())
    acc2.covariance()
    _, peak_stream = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    flops = 2.0 * n * m * m
    return dict(
        n=n, m=m, batch=batch,
        gemm_s=t_gemm, accumulate_s=t_acc, np_cov_s=t_npcov,
        gemm_gflops=flops / t_gemm / 1e9, accumulate_gflops=flops / t_acc / 1e9,
        fraction_of_gemm=t_gemm / t_acc, speedup_vs_np_cov=t_npcov / t_acc,
        peak_mb_np_cov_stacked=peak_npcov / 2**20, peak_mb_streaming_numpy=peak_stream / 2**20,
        max_rel_err_vs_np_cov=float(err),
    )


def bench_topk(m: int, k: int, alpha: float = 1.0) -> dict:
    rng = np.random.default_rng(1)
    lam = np.arange(1, m + 1, dtype=np.float64) ** -alpha
    q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    cov = (q * lam) @ q.T
    cov = 0.5 * (cov + cov.T)
    t = time.perf_counter()
    full = np.linalg.eigvalsh(cov)[::-1]
    t_full = time.perf_counter() - t
    t = time.perf_counter()
    top = topk_eigenvalues(cov, k, seed=0)
    t_top = time.perf_counter() - t
    half = k // 2
    rel = np.abs(top[:half] - full[:half]) / full[:half]
    return dict(m=m, k=k, alpha=alpha, eigh_s=t_full, topk_s=t_top, speedup=t_full / t_top,
                max_rel_err_ranks_1_to_k_over_2=float(rel.max()))


def bench_bias(alphas, ratios, m: int, seeds: int) -> list[dict]:
    rows = []
    for alpha in alphas:
        for ratio in ratios:
            n = int(ratio * m)
            plain, corr = [], []
            for s in range(seeds):
                x = powerlaw_gaussian(n, m, alpha, seed=100 + s, rotate=False)
                lam = eigenspectrum(x, kind="activations")
                f = fit_power_law(lam, n_samples=n, n_features=m, seed=s, n_boot=20)
                plain.append(f.alpha_plain)
                corr.append(f.alpha)
            rows.append(dict(alpha=alpha, n_over_m=ratio, m=m, n=n, window=list(f.ranks),
                             plain=float(np.mean(plain)), corrected=float(np.mean(corr)),
                             plain_bias=float(np.mean(plain) - alpha),
                             corrected_bias=float(np.mean(corr) - alpha),
                             corrected_sd=float(np.std(corr))))
            print(f"  alpha={alpha} n/m={ratio}: plain {rows[-1]['plain_bias']:+.3f}, "
                  f"corrected {rows[-1]['corrected_bias']:+.3f}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes (minutes, not tens)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {"torch_threads": torch.get_num_threads()}

    print("## Covariance accumulation")
    acc_rows = [bench_accumulator(20_000, 512, 2048), bench_accumulator(20_000, 1536, 2048)]
    results["accumulator"] = acc_rows
    print("| m | batch | GEMM GFLOP/s | accumulator GFLOP/s | fraction of GEMM | vs np.cov (time) | "
          "peak MB np.cov stacked | peak MB streaming | max rel err |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in acc_rows:
        print(f"| {r['m']} | {r['batch']} | {r['gemm_gflops']:.0f} | {r['accumulate_gflops']:.0f} | "
              f"{r['fraction_of_gemm']:.2f} | {r['speedup_vs_np_cov']:.1f}x faster | "
              f"{r['peak_mb_np_cov_stacked']:.0f} | {r['peak_mb_streaming_numpy']:.0f} | "
              f"{r['max_rel_err_vs_np_cov']:.1e} |")

    print("\n## Top-k eigenvalues vs full eigh")
    topk_rows = [bench_topk(1600, 400), bench_topk(6400, 1000)]
    if not args.quick:
        topk_rows.append(bench_topk(6400, 1000, alpha=0.5))
    results["topk"] = topk_rows
    print("| m | k | spectrum α | eigh s | top-k s | speed-up | max rel err ranks 1..k/2 |")
    print("|---|---|---|---|---|---|---|")
    for r in topk_rows:
        print(f"| {r['m']} | {r['k']} | {r['alpha']} | {r['eigh_s']:.2f} | {r['topk_s']:.2f} | "
              f"{r['speedup']:.1f}x | {r['max_rel_err_ranks_1_to_k_over_2']:.2%} |")

    print("\n## Finite-sample bias of alpha (mean over seeds)")
    m = 200 if args.quick else 500
    seeds = 3 if args.quick else 5
    bias_rows = bench_bias([0.5, 1.0, 1.5, 2.0, 3.0], [0.5, 1, 2, 4, 16], m=m, seeds=seeds)
    results["bias"] = bias_rows
    print(f"\nm = {m}, {seeds} seeds per cell; entries are mean(α̂) − α, plain / corrected")
    print("| α \\ n/m | " + " | ".join(str(r) for r in [0.5, 1, 2, 4, 16]) + " |")
    print("|---" * 6 + "|")
    for alpha in [0.5, 1.0, 1.5, 2.0, 3.0]:
        cells = [r for r in bias_rows if r["alpha"] == alpha]
        print(f"| {alpha} | " + " | ".join(
            f"{c['plain_bias']:+.3f} / {c['corrected_bias']:+.3f}" for c in cells) + " |")
    (OUT / "spectrum.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {OUT / 'spectrum.json'}")


if __name__ == "__main__":
    main()
