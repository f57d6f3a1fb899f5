"""Benchmarks of polycode_lite.science.projections (random projections and path energy: notebook
04, the paper's E3). Prints markdown tables and writes benchmarks/results/projections.json.

    .venv/bin/python benchmarks/bench_projections.py [--quick]

1. Cost of the projected statistic (projected_energy over n random 3-D projections, and the
   naive loop "project, then path_energy", which must agree to rounding) against the exact
   full-space path_energy, for CNN-sized trajectories (same machine, one run), with the
   relative standard error the projections leave on the mean.
2. Energy-scaling slopes of circle codes (m = 4000, T = 64..1024) against docs/paper_guide.md's [O]
   reference values and the theory line, with the time per fit.
3. Projection noise: measured relative s.d. of one projection's energy against the exact
   prediction and √(2/k).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from timing import best_of  # benchmarks/timing.py, next to this script

from polycode_lite.data.stimuli import power_law_circle_code
from polycode_lite.science.projections import (
    energy_scaling_slope,
    path_energy,
    project,
    projected_energy,
    random_projection,
    theoretical_energy_slope,
)

OUT = Path(__file__).resolve().parent / "results"
PAPER_REF = {1.5: 0.43, 2.0: -0.01, 2.5: -0.46, 3.0: -0.80, 3.5: -0.95, 4.0: -0.99}


def bench_projected_energy(T: int, m: int, n_proj: int) -> dict:
    """Cost and precision of the projected statistic against the exact full-space energy."""
    acts = np.random.default_rng(0).standard_normal((T, m)).cumsum(axis=0)  # a random-walk path

    def naive():
        rng = np.random.default_rng(0)
        return np.array([path_energy(project(acts, random_projection(m, 3, rng))) for _ in range(n_proj)])

    res = projected_energy(acts, k=3, n_projections=n_proj, seed=0)
    max_rel = float(np.max(np.abs(naive() - res.values) / res.values))
    t_full = best_of(lambda: path_energy(acts))
    t_proj = best_of(lambda: projected_energy(acts, k=3, n_projections=n_proj, seed=0))
    t_naive = best_of(naive)
    return {"T": T, "m": m, "n_projections": n_proj, "t_full_energy_s": t_full, "t_projected_energy_s": t_proj,
                "t_project_then_energy_s": t_naive, "projected_over_full": t_proj / t_full,
                "rel_sem_of_projected_mean": res.sem / res.expected, "max_rel_diff_vs_naive": max_rel}


def bench_slopes(n_dims: int) -> list[dict]:
    rows = []
    for a, ref in PAPER_REF.items():
        t = time.perf_counter()
        fit = energy_scaling_slope(lambda T, a=a: power_law_circle_code(a, T, n_dims), (64, 128, 256, 512, 1024))
        rows.append({"alpha": a, "slope": fit.slope, "slope_se": fit.slope_se, "paper_ref": ref,
                         "theory": theoretical_energy_slope(a), "seconds": time.perf_counter() - t})
    return rows


def bench_noise(n_proj: int) -> list[dict]:
    acts = power_law_circle_code(2.0, 256, 1000, seed=0)
    rows = []
    for k in (1, 3, 10, 30):
        r = projected_energy(acts, k=k, n_projections=n_proj, seed=1)
        rows.append({"k": k, "rel_sd": r.sd / r.expected, "rel_sd_pred": r.predicted_sd / r.expected,
                         "sqrt_2_over_k": float(np.sqrt(2 / k)), "ratio_mean_expected": r.ratio})
    return rows


def table(rows: list[dict], fmt: str = "{:.4g}") -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(fmt.format(v) if isinstance(v, float) else str(v) for v in r.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    args = ap.parse_args()
    sizes = [(128, 4096, 20)] if args.quick else [(128, 16384, 50), (256, 16384, 50), (256, 3072, 200)]
    results = {
        "projected_energy": [bench_projected_energy(*s) for s in sizes],
        "slopes": bench_slopes(4000),
        "noise": bench_noise(200 if args.quick else 1000),
    }
    print("## Projected energy (n projections) against the exact full-space energy\n")
    print(table(results["projected_energy"]))
    print("\n## Energy-scaling slopes of circle codes (m = 4000, T = 64..1024)\n")
    print(table(results["slopes"]))
    print("\n## Relative s.d. of one projection's energy (circle code α = 2, m = 1000, T = 256)\n")
    print(table(results["noise"]))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "projections.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {OUT / 'projections.json'}")


if __name__ == "__main__":
    main()
