"""Benchmarks of the ResNet autoencoder experiment (notebook 06; the paper's E5,
docs/paper_guide.md §3). Prints markdown tables and writes benchmarks/results/autoencoder.json.

    .venv/bin/python benchmarks/bench_autoencoder.py [--quick]

1. Training throughput of the ``lite`` VAE (batch 32, Adam, dropout 0.4) with 1 and 2 torch
   threads: wall-clock images/s and *CPU* seconds per image. On a shared machine the wall clock
   depends on the other jobs; the CPU time per image does much less, so the estimated time of one
   lite run on an idle 2-core machine is (CPU s/image) × (images of one run) / threads used.
2. The recorded wall-clock time of the five shipped runs (from their metadata).
3. Analysis cost per model: α in eval mode (plain fit and with the finite-sample correction)
   and cvPCA across dropout masks, on 256 held-out images.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from polycode_lite.experiments import autoencoder as A
from polycode_lite.experiments.train import TrainConfig
from polycode_lite.models.checkpoints import shipped_models
from polycode_lite.models.resnet_vae import ResNetAutoencoder, vae_loss

OUT = Path(__file__).resolve().parent / "results"


def train_throughput(threads: int, steps: int, batch: int = 32) -> dict:
    torch.set_num_threads(threads)
    model = ResNetAutoencoder("lite", dropout=0.4, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = A.analysis_images(batch * 2, seed=0)
    model.train()

    def step(i: int) -> None:
        xb = x[(i % 2) * batch : (i % 2 + 1) * batch]
        recon, mu, logvar, _ = model(xb)
        loss = vae_loss(recon, xb, mu, logvar)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(0)  # warm-up
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        step(i)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    n = steps * batch
    return {"threads": threads, "images": n, "wall_s": wall, "cpu_s": cpu, "images_per_s_wall": n / wall,
                "cpu_s_per_image": cpu / n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    args = ap.parse_args()
    steps = 4 if args.quick else 12
    cfg = TrainConfig()
    run_images = cfg.n_train * 6  # the shipped runs: 6 epochs of 2048 images
    load = os.getloadavg()[0]
    results: dict = {"load_average_1min": load, "cpu_count": os.cpu_count()}

    print(f"## Training throughput, lite VAE, batch 32 (1-min load average at start: {load:.1f})\n")
    print("| threads | wall images/s | CPU s / image | est. one lite run on an idle 2-core machine |")
    print("|---|---|---|---|")
    rows = []
    for threads in (1, 2):
        r = train_throughput(threads, steps)
        # one run = 6 epochs × 2048 images + 6 test passes of 512 (forward only, ~1/3 of a step)
        cpu_run = r["cpu_s_per_image"] * (run_images + 6 * cfg.n_test / 3)
        r["est_idle_run_minutes"] = cpu_run / threads / 60
        rows.append(r)
        print(f"| {threads} | {r['images_per_s_wall']:.0f} | {r['cpu_s_per_image'] * 1e3:.1f} ms | "
              f"{r['est_idle_run_minutes']:.1f} min |")
    results["training"] = rows

    shipped = shipped_models()
    print("\n## Shipped runs (recorded wall clock; trained as 5 parallel 1-thread jobs on a busy machine)\n")
    print("| dropout | epochs | wall time | wall images/s | final test BCE | mean-image BCE |")
    print("|---|---|---|---|---|---|")
    recorded = []
    for p, (_, meta) in shipped.items():
        h = meta["history"]
        ips = sum(e["images_per_second"] for e in h) / len(h)
        recorded.append({"dropout": p, "epochs": meta["epoch"], "seconds": meta["train_seconds_total"],
                             "images_per_s": ips, "test_bce": h[-1]["test_bce"],
                             "baseline_bce": meta["baseline_mean_image"]["bce"]})
        print(f"| {p:.1f} | {meta['epoch']} | {meta['train_seconds_total'] / 60:.1f} min | {ips:.1f} | "
              f"{h[-1]['test_bce']:.1f} | {meta['baseline_mean_image']['bce']:.1f} |")
    results["shipped_runs"] = recorded

    torch.set_num_threads(1)
    imgs = A.analysis_images(256, seed=1)
    model = shipped[0.4][0]
    timings = {}
    for label, kw in [("eval, plain fit", {"mode": "eval", "correct_bias": False}),
                      ("eval, bias-corrected", {"mode": "eval", "correct_bias": True}),
                      ("cvPCA, 10 bootstraps", {"mode": "cvpca", "n_boot": 10})]:
        t = time.perf_counter()
        A.layer_alphas(model, imgs, **kw)
        timings[label] = time.perf_counter() - t
    print("\n## α analysis of one model (9 layers, 256 images, 1 thread)\n")
    print("| estimator | seconds |")
    print("|---|---|")
    for k, v in timings.items():
        print(f"| {k} | {v:.1f} |")
    results["analysis_seconds"] = timings

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "autoencoder.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {OUT / 'autoencoder.json'}")


if __name__ == "__main__":
    main()
