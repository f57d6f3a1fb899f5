"""Benchmarks of polycode_lite.experiments.language_depth (α per layer of a language model:
notebook 07, the paper's E6). Prints a markdown table, writes benchmarks/results/language.json.

1. Hook + accumulation overhead: tokens/s of ``collect_covariances`` against a bare forward pass
   of the same model (embedded MiniLM), measured interleaved in one run. Target <= 20 %.
2. alpha for 48 layers of 6400-d covariances (GPT-2 XL MLP size; synthetic matrices with known
   exponents) through ``layer_alpha`` with the randomized top-k eigenspectrum. Target < 2 min.
3. Peak memory of a collection: the formula of ``peak_memory_estimate`` against the measured peak
   RSS increase of a fresh process on a tiny GPT-2, and the formula's value for GPT-2 XL.

Usage: python benchmarks/bench_language.py [--layers 48] [--width 6400] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))


def bench_overhead(reps: int, n_windows: int = 64, batch: int = 16) -> list[dict]:
    import torch

    from polycode_lite.data.corpus import load_documents, make_windows
    from polycode_lite.experiments.covariance_collection import (
        collect_covariances,
    )
    from polycode_lite.models.language_models import load_language_model

    lm = load_language_model("minilm", device="cpu")
    w = make_windows(lm, load_documents("pydoc"), window=64)
    w = w.subset(np.sort(np.random.default_rng(0).choice(len(w), n_windows, replace=False)))
    configs = {
        "bare forward": None,
        "1 hook (blocks.5.mlp.post), float64": (["blocks.5.mlp.post"], torch.float64),
        "12 hooks (6 mlp.post + 6 resid_post), float64": (lm.hook_names(), torch.float64),
        "12 hooks, float32 accumulators": (lm.hook_names(), torch.float32),
        "6 resid_post hooks, float64": (lm.hook_names(["resid_post"]), torch.float64),
    }
    times: dict[str, list[float]] = {k: [] for k in configs}

    def bare():
        with torch.no_grad():
            for b in w.batches(batch):
                lm.model(**b)

    bare()  # warm-up
    for _ in range(reps):
        for name, cfg in configs.items():
            t0 = time.perf_counter()
            if cfg is None:
                bare()
            else:
                collect_covariances(lm, w, cfg[0], n_groups=1, batch_size=batch, dtype=cfg[1], progress=False)
            times[name].append(time.perf_counter() - t0)
    base = np.median(times["bare forward"])
    n_tok = len(w) * w.length
    rows = []
    for name, ts in times.items():
        t = float(np.median(ts))
        rows.append(dict(config=name, seconds=t, tokens_per_s=n_tok / t,
                         overhead_pct=100 * (t / base - 1), times=ts))
    return rows


def bench_alpha(n_layers: int, width: int) -> dict:
    import torch

    from polycode_lite.experiments.covariance_collection import (
        GroupedCovariances,
    )
    from polycode_lite.experiments.language_depth import layer_alpha
    from polycode_lite.science.covariance import CovarianceAccumulator

    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(width, width, generator=g))
    true_alphas = np.linspace(0.8, 1.4, n_layers)
    n = 10_000_000  # population covariances: no finite-sample correction
    seconds, errors = [], []
    for a in true_alphas:
        lam = torch.arange(1, width + 1, dtype=torch.float32) ** (-float(a))
        cov = ((q * lam) @ q.T).double()
        acc = CovarianceAccumulator.from_state_dict(
            {"n": torch.tensor([n]), "mean": torch.zeros(width, dtype=torch.float64), "m2": cov * (n - 1)})
        del cov
        grouped = GroupedCovariances({"blocks.0.mlp.post": [acc]}, [1], drop_first=4)
        t0 = time.perf_counter()
        s = layer_alpha(grouped, "blocks.0.mlp.post", n_boot=0)
        seconds.append(time.perf_counter() - t0)
        errors.append(abs(s.alpha - a))
        del grouped, acc
    return dict(n_layers=n_layers, width=width, total_s=float(sum(seconds)),
                per_layer_s=float(np.median(seconds)), max_abs_alpha_error=float(max(errors)),
                window=f"{s.fit.ranks[0]}..{s.fit.ranks[1]}")


MEMORY_CHILD = r"""
import json, resource, sys, numpy as np, torch
from transformers import GPT2Config, GPT2Model
from polycode_lite.experiments.covariance_collection import GroupedCovariances, collect_covariances, peak_memory_estimate
from polycode_lite.experiments.language_depth import layer_alpha
from polycode_lite.data.corpus import load_documents, make_windows
from polycode_lite.models.language_models import load_language_model
torch.set_num_threads(1)
d, layers, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
GPT2Model(GPT2Config(vocab_size=50257, n_positions=64, n_embd=d, n_layer=layers, n_head=4,
                     bos_token_id=50256, eos_token_id=50256)).save_pretrained(folder)
lm = load_language_model(folder, device="cpu")
w = make_windows(lm, load_documents("pydoc", max_documents=10), window=64, max_windows=48)
with torch.no_grad():
    for b in w.batches(16):
        lm.model(**b)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
hooks = lm.hook_names()
g = collect_covariances(lm, w, hooks, n_groups=1, batch_size=16, progress=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
est = peak_memory_estimate(sum(p.numel() for p in lm.model.parameters()), [lm.width(h) for h in hooks],
                             16 * 60, d, layers)
print(json.dumps(dict(measured_increase=after - before, estimate=est)))
"""


def bench_memory(d: int = 384, layers: int = 6) -> dict:
    from polycode_lite.experiments.covariance_collection import (
        peak_memory_estimate,
    )

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(d), str(layers), tmp],
                             capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    res = json.loads(out.stdout.strip().splitlines()[-1])
    est = res["estimate"]
    # the weights and the forward pass were already resident before the measurement
    res["estimate_collection_only"] = est["accumulators"] + est["batch_cross_product"] + est["batch_copies"]
    res["ratio_measured_to_estimate"] = res["measured_increase"] / res["estimate_collection_only"]
    xl = peak_memory_estimate(1_557_611_200, [6400] * 48 + [1600] * 48, 16 * 64, 1600, 48, weight_bytes=2)
    res["gpt2_xl_fp16_weights_all_layers_float64"] = xl
    res["tiny_model"] = dict(d_model=d, n_layers=layers, d_mlp=4 * d)
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=48)
    p.add_argument("--width", type=int, default=6400)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--skip", nargs="*", default=[], choices=["overhead", "alpha", "memory"])
    args = p.parse_args()
    results: dict = dict(machine=dict(cpus=os.cpu_count(), load_avg=os.getloadavg()))
    if "overhead" not in args.skip:
        results["overhead"] = bench_overhead(args.reps)
    if "memory" not in args.skip:
        results["memory"] = bench_memory()
    if "alpha" not in args.skip:
        results["alpha"] = bench_alpha(args.layers, args.width)
    results["machine"]["load_avg_end"] = os.getloadavg()
    out = ROOT / "results" / "language.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))

    print(f"machine: {os.cpu_count()} CPUs, load average {results['machine']['load_avg']} -> "
          f"{results['machine']['load_avg_end']} (shared: timings are noisy, ratios are within one run)\n")
    if "overhead" in results:
        print("| collection on all-MiniLM-L6-v2 (64 windows x 64 tokens) | s | tokens/s | overhead vs bare forward |")
        print("|---|---|---|---|")
        for r in results["overhead"]:
            print(f"| {r['config']} | {r['seconds']:.2f} | {r['tokens_per_s']:.0f} | {r['overhead_pct']:+.0f} % |")
        print()
    if "alpha" in results:
        a = results["alpha"]
        print(f"| alpha for {a['n_layers']} layers of {a['width']}-d covariances (top-k) | value |\n|---|---|")
        print(f"| total time | {a['total_s']:.1f} s (target < 120 s) |")
        print(f"| per layer (median) | {a['per_layer_s']:.2f} s |")
        print(f"| max abs error vs true alpha (window {a['window']}) | {a['max_abs_alpha_error']:.4f} |\n")
    if "memory" in results:
        m = results["memory"]
        xl = m["gpt2_xl_fp16_weights_all_layers_float64"]
        print("| peak memory | value |\n|---|---|")
        print(f"| tiny GPT-2 (d={m['tiny_model']['d_model']}, {m['tiny_model']['n_layers']} layers): "
              f"measured RSS increase | {m['measured_increase'] / 1e6:.1f} MB |")
        print(f"| same, formula (accumulators + batch cross-product + batch copies) | "
              f"{m['estimate_collection_only'] / 1e6:.1f} MB (ratio {m['ratio_measured_to_estimate']:.2f}) |")
        print(f"| GPT-2 XL, all 48 MLP + 48 residual hooks, float64, fp16 weights | "
              f"{xl['total'] / 1e9:.1f} GB (accumulators {xl['accumulators'] / 1e9:.1f} GB) |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
