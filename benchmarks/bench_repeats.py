"""Which spectrum estimator survives dropout noise? (issue: α you can trust; notebook 03, 05, 06)

A fixed non-negative signal H (n, m): ReLU of Gaussian data with a rotated power-law
covariance. Repeats are K independent inverted-dropout masks, X_k = H ∘ M_k / (1 − p), so the
noise is multiplicative and uneven (variance p/(1−p)·H²). Each estimator of
:func:`polycode_lite.science.repeats.repeats_spectrum`, and plain PCA of one noisy repeat, gives
a spectrum; the error is its plain log-log fit minus α_signal, the plain fit of H's own PCA
spectrum in the same window (default window, ending before the estimate's first non-positive
value). Means and s.d. over mask draws.

    .venv/bin/python benchmarks/bench_repeats.py [--quick]

Writes benchmarks/results/repeats.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from polycode_lite.science.eigen import eigenspectrum
from polycode_lite.experiments.alpha import estimate_alpha
from polycode_lite.science.powerlaw import fit_power_law, powerlaw_gaussian
from polycode_lite.science.repeats import REPEATS_METHODS, dropout_passes

OUT = Path(__file__).resolve().parent / "results"
ESTIMATORS = ("pca of one repeat", *REPEATS_METHODS)


def nonnegative_signal(n: int, m: int, alpha_gen: float, seed: int) -> np.ndarray:
    """ReLU of rotated Gaussian data with population spectrum i^-alpha_gen, (n, m)."""
    return np.maximum(powerlaw_gaussian(n, m, alpha_gen, seed=seed), 0.0)


def error(reps: np.ndarray, name: str, lam_signal: np.ndarray, seed: int) -> tuple[float, tuple]:
    """α̂ of the pipeline (estimate_alpha: its window and noise floor) minus the clean signal's
    plain fit in the same window."""
    if name == "pca of one repeat":
        fit = estimate_alpha(reps[0], correct_bias=False, ci="none", seed=seed)
    else:
        method = "cvpca" if name == "split-half cvpca" and reps.shape[0] < 4 else name
        fit = estimate_alpha(reps, repeats_method=method, ci="none", seed=seed)
    a_sig = fit_power_law(np.asarray(lam_signal), ranks=fit.ranks, correct_bias=False, n_boot=0).alpha
    return fit.alpha - a_sig, fit.ranks


def run(alphas_gen, ps, ks, n: int, m: int, draws: int, through_layer: bool = False) -> list[dict]:
    """``through_layer``: the masks act one layer below the measured units, X_k = ReLU((H ∘ M_k
    / (1 − p)) W), so the noise is correlated across units; the signal is then the conditional
    mean E[X | input] (300 masks), whose covariance every estimator targets."""
    rows = []
    w = np.random.default_rng(5).standard_normal((m, m)) / np.sqrt(m)
    upstream = (lambda r: np.maximum(r @ w, 0.0)) if through_layer else (lambda r: r)
    for a_gen in alphas_gen:
        h = nonnegative_signal(n, m, a_gen, seed=1)
        lam_sig = eigenspectrum(h, kind="activations")
        if through_layer:
            g = np.random.default_rng(99)
            lam_sig = eigenspectrum(np.mean(
                [upstream(h * (g.random(h.shape) >= ps[0]) / (1 - ps[0])) for _ in range(300)],
                axis=0), kind="activations")
        a_sig = fit_power_law(lam_sig, correct_bias=False, n_boot=0).alpha
        for p in ps:
            for k in ks:
                errs = {e: [] for e in ESTIMATORS}
                his = {e: [] for e in ESTIMATORS}
                for d in range(draws):
                    reps = dropout_passes(h, p, k, np.random.default_rng([d, k, int(100 * p)]))
                    for e in ESTIMATORS:
                        try:
                            err, win = error(upstream(reps), e, lam_sig, d)
                        except ValueError:
                            err, win = float("nan"), (0, 0)
                        errs[e].append(err)
                        his[e].append(win[1])
                row = dict(alpha_gen=a_gen, alpha_signal=a_sig, p=p, K=k, n=n, m=m, draws=draws)
                for e in ESTIMATORS:
                    v = np.asarray(errs[e])
                    row[e] = dict(mean_error=float(np.nanmean(v)) if np.isfinite(v).any() else None,
                                  sd=float(np.nanstd(v)) if np.isfinite(v).sum() > 1 else None,
                                  max_abs=float(np.nanmax(np.abs(v))) if np.isfinite(v).any() else None,
                                  failed=int(np.sum(~np.isfinite(v))),
                                  median_hi=float(np.median(his[e])))
                rows.append(row)
                print(f"α_signal {a_sig:.2f} p {p} K {k}: " + ", ".join(
                    f"{e} {row[e]['mean_error']:+.3f}" if row[e]["mean_error"] is not None
                    else f"{e} n/a" for e in ESTIMATORS), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer cells and draws")
    args = ap.parse_args()
    n, m = (800, 200)
    alphas_gen = (1.0, 2.6) if args.quick else (1.0, 1.6, 2.6)
    ps = (0.5, 0.8) if args.quick else (0.2, 0.5, 0.8)
    ks = (2, 16) if args.quick else (2, 4, 8, 16)
    draws = 2 if args.quick else 5
    rows = run(alphas_gen, ps, ks, n, m, draws)
    print("masks one layer below the measured units (correlated noise)")
    layer_rows = [r for p in ps[1:] for r in run(alphas_gen[:2], (p,), (2, 8, 16), n, m,
                                                  max(2, draws - 2), through_layer=True)]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "repeats.json").write_text(json.dumps(dict(n=n, m=m, rows=rows, through_layer=layer_rows),
                                                 indent=1))
    for title, table in (("masks on the measured units", rows),
                         ("masks one layer below (noise correlated across units)", layer_rows)):
        print(f"\n{title}: n = {n}, m = {m} (n/m = {n // m}); mean error of α (plain fits, the "
              f"pipeline's window) over the mask draws; max |error| in brackets")
        print("| α_signal | p | K | " + " | ".join(ESTIMATORS) + " |")
        print("|---" * (3 + len(ESTIMATORS)) + "|")
        for r in table:
            cells = [f"{r[e]['mean_error']:+.3f} ({r[e]['max_abs']:.3f})"
                     if r[e]["mean_error"] is not None else "n/a" for e in ESTIMATORS]
            print(f"| {r['alpha_signal']:.2f} | {r['p']} | {r['K']} | " + " | ".join(cells) + " |")
    print(f"\nwrote {OUT / 'repeats.json'}")


if __name__ == "__main__":
    main()
