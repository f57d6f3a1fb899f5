"""Benchmark of the toy-model trainer (toy models of superposition: notebook 01, the paper's E1).
Prints markdown tables and writes benchmarks/results/toy.json.

    .venv/bin/python benchmarks/bench_toy.py [--steps 300] [--threads N] [--full]

Results are stored per torch thread count under "runs" in the JSON file.

1. The dimensionality run (n=200 features, m=20 hidden, 20 instances, batch 1024, Adam lr 1e-3):
   the straightforward REFERENCE written below (two torch.rand calls of (batch, inst, feats) per
   step, einsum forward, autograd, torch.optim.Adam) against polycode_lite.models.toy's analytic
   trainer, plus the ablation "shared uniforms + autograd". Each variant runs ``--steps`` steps,
   interleaved in blocks of 10 so that all see the same machine load; the time for the real
   10,000-step run is EXTRAPOLATED from the per-step time (stated in the table).
   ``--full`` additionally trains the real 10,000 steps with train_toy and reports its wall time.
2. Batched instances against training the same models one by one (same trainer, same steps),
   for the dimensionality run and for the 5→2 geometry demo (10 instances).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from polycode_lite.models.toy import ToyModel, sparsity_sweep
from polycode_lite.models.toy_training import _AnalyticStep, train_toy

OUT = Path(__file__).resolve().parent / "results"


# ------------------------------------------------------------------------------------------
# the straightforward reference implementation (the obvious way of writing it, measured at about 59 ms/step before the analytic trainer)
# ------------------------------------------------------------------------------------------
class ReferenceToyModel(torch.nn.Module):
    """Elhage/ARENA-style ToyModel written the obvious way: batch-first (batch, inst, feats)."""

    def __init__(self, n_features: int, n_hidden: int, n_inst: int, feature_probability: torch.Tensor,
                 importance: torch.Tensor, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        W = torch.empty(n_inst, n_hidden, n_features)
        for i in range(n_inst):
            std = (2.0 / (n_hidden + n_features)) ** 0.5
            W[i] = torch.randn(n_hidden, n_features, generator=gen) * std  # xavier normal
        self.W = torch.nn.Parameter(W)
        self.b_final = torch.nn.Parameter(torch.zeros(n_inst, n_features))
        self.feature_probability = feature_probability  # (inst, feats)
        self.importance = importance  # (inst, feats)
        self.n_inst, self.n_features = n_inst, n_features

    def generate_batch(self, batch_size: int) -> torch.Tensor:
        feat = torch.rand(batch_size, self.n_inst, self.n_features)
        seeds = torch.rand(batch_size, self.n_inst, self.n_features)
        return torch.where(seeds <= self.feature_probability, feat, torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.einsum("bif,ihf->bih", x, self.W)
        out = torch.einsum("bih,ihf->bif", h, self.W) + self.b_final
        return torch.relu(out)

    def loss(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return (self.importance * (x - out) ** 2).mean(dim=(0, 2)).sum()


def make_reference_step(n: int, m: int, n_inst: int, p: np.ndarray, batch: int, seed: int = 0):
    pt = torch.tensor(p, dtype=torch.float32)[:, None].expand(n_inst, n).contiguous()
    model = ReferenceToyModel(n, m, n_inst, pt, torch.ones(n_inst, n), seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        x = model.generate_batch(batch)
        loss = model.loss(x, model(x))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def make_fast_step(n: int, m: int, n_inst: int, p: np.ndarray, batch: int, method: str, seed: int = 0):
    model = ToyModel(n, m, n_inst, feature_probability=p, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    if method == "analytic":
        st = _AnalyticStep(model, batch, None)

        def step() -> None:
            st(gen, False)
            opt.step()
    else:
        def step() -> None:
            x = model._batch_from_uniforms(*model._shared_uniforms(batch, gen))
            opt.zero_grad()
            model.loss(x).backward()
            opt.step()

    return step


def on_one_thread(step):
    """Run a step function on one torch thread (what train_toy does by default)."""

    def wrapped() -> None:
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            step()
        finally:
            torch.set_num_threads(old)

    return wrapped


def interleaved_ms_per_step(steps_by_name: dict, n_steps: int, block: int = 10) -> dict:
    """Run every step function n_steps times in interleaved blocks; return ms per step."""
    for f in steps_by_name.values():  # warm-up
        for _ in range(3):
            f()
    total = {k: 0.0 for k in steps_by_name}
    done = 0
    while done < n_steps:
        k_steps = min(block, n_steps - done)
        for name, f in steps_by_name.items():
            t = time.perf_counter()
            for _ in range(k_steps):
                f()
            total[name] += time.perf_counter() - t
        done += k_steps
    return {k: 1e3 * v / n_steps for k, v in total.items()}


def batched_vs_sequential(n: int, m: int, n_inst: int, p: np.ndarray, batch: int, steps: int,
                          repeats: int = 3) -> dict:
    """Wall time of train_toy on one n_inst-instance model vs n_inst one-instance models."""
    t_batched, t_seq = 0.0, 0.0
    for r in range(repeats):  # alternate to share the machine load fairly
        model = ToyModel(n, m, n_inst, feature_probability=p, seed=r)
        t = time.perf_counter()
        train_toy(model, steps=steps, batch_size=batch, optimizer="adam", progress=False)
        t_batched += time.perf_counter() - t
        t = time.perf_counter()
        for i in range(n_inst):
            single = ToyModel(n, m, 1, feature_probability=p[i], seed=r * 1000 + i)
            train_toy(single, steps=steps, batch_size=batch, optimizer="adam", progress=False)
        t_seq += time.perf_counter() - t
    return {"batched_s": t_batched / repeats, "one_by_one_s": t_seq / repeats,
            "speedup": t_seq / t_batched}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=300, help="timed steps per variant (default 300)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--full", action="store_true", help="also train the real 10,000 steps")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n, m, n_inst, batch = 200, 20, 20, 1024
    p = sparsity_sweep(n_inst, 20.0)
    results: dict = {"torch_threads": torch.get_num_threads(), "timed_steps": args.steps,
                     "setting": {"n": n, "m": m, "n_instances": n_inst, "batch": batch, "steps": 10_000,
                                     "feature_probability": "20^-linspace(0,1,20)"}}

    steps = {
        "reference (2× torch.rand, einsum, autograd, Adam)": make_reference_step(n, m, n_inst, p, batch),
        "shared uniforms + autograd": make_fast_step(n, m, n_inst, p, batch, "autograd"),
        "polycode_lite (shared uniforms + analytic grad + chunked buffers)":
            make_fast_step(n, m, n_inst, p, batch, "analytic"),
    }
    if torch.get_num_threads() > 1:  # train_toy's default: the analytic step on one thread
        steps["polycode_lite, 1 thread (train_toy default)"] = on_one_thread(
            make_fast_step(n, m, n_inst, p, batch, "analytic"))
    ms = interleaved_ms_per_step(steps, args.steps)
    ref = ms[next(iter(ms))]
    rows = []
    print(f"\n### Dimensionality run n={n}, m={m}, {n_inst} instances, batch {batch} "
          f"({args.steps} interleaved steps timed per variant, 10,000-step time extrapolated; "
          f"{results['torch_threads']} torch threads)\n")
    print("| implementation | ms / step | 10k steps (extrapolated) | speed-up vs reference |")
    print("|---|---|---|---|")
    for name, v in ms.items():
        rows.append({"implementation": name, "ms_per_step": v, "extrapolated_10k_s": v * 10,
                     "speedup": ref / v})
        print(f"| {name} | {v:.1f} | {v * 10:.0f} s | {ref / v:.2f}× |")
    results["dimensionality_run"] = rows

    if args.full:
        model = ToyModel(n, m, n_inst, feature_probability=p, seed=0)
        hist = train_toy(model, steps=10_000, batch_size=batch, optimizer="adam", progress=False)
        results["full_run_s"] = hist.seconds
        print(f"\nFull 10,000-step run with train_toy: {hist.seconds:.0f} s")

    print("\n### Batched instances vs the same models trained one by one (train_toy, same steps)\n")
    print("| setting | batched | one by one | speed-up |")
    print("|---|---|---|---|")
    bvs = {}
    for label, (nn_, mm, ni, pp, st) in {
        "n=200, m=20, 20 instances, 50 steps": (n, m, n_inst, p, 50),
        "n=5, m=2, 10 instances, 300 steps": (5, 2, 10, sparsity_sweep(10, 20.0), 300),
    }.items():
        r = batched_vs_sequential(nn_, mm, ni, pp, batch, st)
        bvs[label] = r
        print(f"| {label} | {r['batched_s']:.2f} s | {r['one_by_one_s']:.2f} s | {r['speedup']:.1f}× |")
    results["batched_vs_one_by_one"] = bvs
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "toy.json"
    # one entry per thread count, so runs with --threads 1 and --threads 2 sit side by side
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged = merged if "runs" in merged else {"runs": {}}
    merged["runs"][f"threads={results['torch_threads']}"] = results
    path.write_text(json.dumps(merged, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
