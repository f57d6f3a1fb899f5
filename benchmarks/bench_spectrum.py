"""Benchmarks of the spectrum core (streaming covariance, eigenspectra and the α fit: notebook 03,
the paper's E2). Prints markdown tables and writes benchmarks/results/spectrum.json.

    .venv/bin/python benchmarks/bench_spectrum.py [--quick]

1. Covariance accumulation throughput as a fraction of the raw float64 X.T @ X GEMM rate
   (same data, same machine, one run), and against np.cov on the stacked data in time and
   peak memory (tracemalloc for numpy allocations).
2. Top-k eigenvalues (randomized) against full np.linalg.eigvalsh at m = 1600 (k = 400) and
   6400 (k = 500, 1000) on power laws α ∈ {0.5, 1, 2} and a sample covariance: speed-up (same
   process, back to back) and the maximum relative error over ranks 1..k; np.linalg.eigh,
   one-thread eigvalsh and scipy's evr subset solver on the α = 1 matrix.
3. Finite-sample bias of alpha: plain weighted log-log fit against the simulation-matched
   correction, over alpha in {0.5, 1, 1.5, 2, 3} and n/m in {0.5, 1, 2, 4, 16}.
"""

from __future__ import annotations

import argparse
import json
import os
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


def _topk_matrices(m: int):
    """The top-k test matrices at size m: λ_i = i^-α (α = 0.5, 1, 2) under one random rotation,
    and the sample covariance of n = 2m Gaussian samples with population spectrum i^-1."""
    rng = np.random.default_rng(1)
    q = torch.linalg.qr(torch.as_tensor(rng.standard_normal((m, m))))[0].numpy()
    for alpha in (0.5, 1.0, 2.0):
        lam = np.arange(1, m + 1, dtype=np.float64) ** -alpha
        cov = (q * lam) @ q.T
        yield f"power law α={alpha}", 0.5 * (cov + cov.T)
    lam = np.arange(1, m + 1, dtype=np.float64) ** -1.0
    x = (np.random.default_rng(2).standard_normal((2 * m, m)) * np.sqrt(lam)) @ q.T
    cov = (x.T @ x) / (2 * m - 1)
    yield "sample cov n=2m α=1", 0.5 * (cov + cov.T)


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def bench_topk(m: int, ks: list[int], labels: tuple[str, ...] | None = None,
               extras: bool = True) -> tuple[list[dict], dict | None]:
    """Per matrix: np.linalg.eigvalsh (the reference, also the exact values) and then
    topk_eigenvalues for each k, back to back in this process; the speed-up is their ratio.
    ``extras`` adds, on the α = 1 power law, np.linalg.eigh, np.linalg.eigvalsh on one BLAS
    thread and scipy.linalg.eigh(subset_by_index, driver="evr") for the largest k."""
    import scipy.linalg

    rows, extra = [], None
    for label, cov in _topk_matrices(m):
        if labels is not None and label not in labels:
            continue
        load = os.getloadavg()[0]
        full, t_full = _timed(np.linalg.eigvalsh, cov)
        full = full[::-1]
        for k in ks:
            top, t_top = _timed(topk_eigenvalues, cov, k, seed=0)
            rel = np.abs(top - full[:k]) / full[:k]
            rows.append({"m": m, "k": k, "matrix": label, "eigvalsh_s": t_full, "topk_s": t_top,
                         "speedup": t_full / t_top, "max_rel_err": float(rel.max()),
                         "worst_rank": int(rel.argmax()) + 1,
                         "max_rel_err_ranks_1_to_k_over_2": float(rel[: k // 2].max()),
                         "load_1min": load})
            print(f"  {label} m={m} k={k}: {rows[-1]['max_rel_err']:.2e}, top-k {t_top:.2f} s, "
                  f"eigvalsh {t_full:.2f} s", flush=True)
        if extras and label == "power law α=1.0":
            kmax = max(ks)
            _, t_eigh = _timed(np.linalg.eigh, cov)
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:
                t_one = float("nan")
            else:
                with threadpool_limits(1):
                    _, t_one = _timed(np.linalg.eigvalsh, cov)
            _, t_evr = _timed(scipy.linalg.eigh, cov, eigvals_only=True,
                              subset_by_index=[m - kmax, m - 1], driver="evr")
            _, t_top = _timed(topk_eigenvalues, cov, kmax, seed=0)
            extra = {"m": m, "k": kmax, "topk_s": t_top, "eigvalsh_s": t_full,
                     "eigvalsh_1thread_s": t_one, "eigh_s": t_eigh, "evr_subset_s": t_evr,
                     "load_1min": os.getloadavg()[0]}
    return rows, extra


def run_topk(quick: bool) -> tuple[list[dict], list[dict]]:
    """Section 2: the top-k rows and the other-solver rows, printed as markdown tables."""
    print("\n## Top-k eigenvalues vs full eigvalsh (one process, back to back)")
    sizes = [(1600, [400], None, True)]
    sizes += [(6400, [500, 1000], ("power law α=1.0",), False)] if quick else [
        (6400, [500, 1000], None, True)]
    rows, extras = [], []
    for m, ks, labels, other in sizes:
        r, extra = bench_topk(m, ks, labels, other)
        rows += r
        extras += [extra] if extra is not None else []
    print("| m | k | matrix | max rel err ranks 1..k (rank) | top-k s | eigvalsh s | speed-up "
          "| load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['m']} | {r['k']} | {r['matrix']} | {r['max_rel_err']:.2%} ({r['worst_rank']}) "
              f"| {r['topk_s']:.2f} | {r['eigvalsh_s']:.2f} | {r['speedup']:.1f}x "
              f"| {r['load_1min']:.1f} |")
    print("\nOther solvers on the α = 1 power law (seconds; in brackets their time / top-k time)")
    print("| m | k | top-k | np eigvalsh | np eigvalsh, 1 BLAS thread | np eigh | scipy evr subset "
          "| load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in extras:
        t = r["topk_s"]
        print(f"| {r['m']} | {r['k']} | {t:.2f} | {r['eigvalsh_s']:.2f} ({r['eigvalsh_s'] / t:.1f}x) "
              f"| {r['eigvalsh_1thread_s']:.2f} ({r['eigvalsh_1thread_s'] / t:.1f}x) "
              f"| {r['eigh_s']:.2f} ({r['eigh_s'] / t:.1f}x) "
              f"| {r['evr_subset_s']:.2f} ({r['evr_subset_s'] / t:.1f}x) | {r['load_1min']:.1f} |")
    return rows, extras


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

    results["topk"], results["topk_other_solvers"] = run_topk(args.quick)

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
