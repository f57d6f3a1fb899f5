"""Benchmark: MINE step cost and calibration error on the analytic channels, including the
8-word code book through a dropout layer (exact MI known), where the decoder bound and the exact
plug-in are listed as second estimators; the ``diverged`` column is MINE's divergence flag.

Run ``.venv/bin/python benchmarks/bench_mine.py [--steps N]``. Prints a markdown table and writes
``benchmarks/results/mine.json``. CPU time (process time) is reported next to wall time because
the project's machines are shared: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from polycode_lite.science import mi_estimators as mie
from polycode_lite.science import mine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cb = mie.CodeBook()
    labels, xc = cb.sample(args.n, seed=0)
    zc = xc * (np.random.default_rng(1).random(xc.shape) >= 0.2)
    channels = {
        "gauss_1d": (mine.sample_correlated_gaussian(args.n, 0.8, 1, seed=0), mine.gaussian_mi(0.8, 1)),
        "gauss_5d": (mine.sample_correlated_gaussian(args.n, 0.8, 5, seed=0), mine.gaussian_mi(0.8, 5)),
        "dropout_p0.5": (mine.sample_dropout_channel(args.n, 0.5, seed=0), mine.dropout_channel_mi(0.5)),
        "codebook_dropout0.2": ((xc, zc), 0.8 * cb.entropy_nats),
    }
    second = {"codebook_dropout0.2": dict(decoder=mie.decoder_lower_bound(labels, zc).mi,
                                          plugin=mie.plugin_mutual_information(labels, zc))}
    rows = []
    for name, ((x, z), true) in channels.items():
        for loss in mine.LOSSES:
            w0, c0 = time.perf_counter(), time.process_time()
            est = mine.estimate_mutual_information(x, z, loss=loss, steps=args.steps, progress=False)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            rows.append(dict(channel=name, loss=loss, true=true, estimate=est.mi,
                             rel_error=est.mi / true - 1, diverged=est.diverged,
                             ms_per_step_wall=1e3 * wall / args.steps,
                             ms_per_step_cpu=1e3 * cpu / args.steps, **second.get(name, {})))
    print("| channel | loss | true (nats) | MINE (nats) | rel. error | diverged | decoder / plug-in | ms/step wall | ms/step CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        extra = f"{r['decoder']:.3f} / {r['plugin']:.3f}" if "decoder" in r else ""
        print(f"| {r['channel']} | {r['loss']} | {r['true']:.3f} | {r['estimate']:.3f} | "
              f"{r['rel_error']:+.1%} | {r['diverged']} | {extra} | {r['ms_per_step_wall']:.2f} | {r['ms_per_step_cpu']:.2f} |")
    out = Path(__file__).resolve().parent / "results" / "mine.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(steps=args.steps, n=args.n, batch_size=512, rows=rows), indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
