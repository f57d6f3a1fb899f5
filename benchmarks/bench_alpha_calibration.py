"""Calibration of ``estimate_alpha``: bias and coverage of its nominal 95% CIs on known sources.

Five sources of (n, m) activations, each with an exactly known population covariance, m = 100
features and a population spectrum λ_i = i^-α (α = 1) through a fresh random rotation Q (a
dense code) per replicate:

* ``gaussian``: z·√λ, rotated.
* ``sparse``: exactly k = m/10 active factors per row (chosen uniformly), each N(0,1)·√(λ_i·m/k),
  so factor i still has variance λ_i; rotated.
* ``student_t``: independent t(ν=3) factors scaled to unit variance (÷√3), times √λ_i, rotated.
* ``relu``: ReLU of the rotated Gaussian. Its covariance is exact (the arc-cosine kernel of
  Cho & Saul 2009 minus the product of the means σ/√(2π)): for units of s.d. σa, σb and
  correlation ρ, Cov = σaσb/(2π)·(√(1−ρ²) + ρ(π − arccos ρ) − 1).
* ``broken``: a broken power law, λ_i = i^-0.5 for i <= 20, then 20^-0.5·(i/20)^-1.8
  (continuous), Gaussian factors, rotated. It has no single α: the fit should flag it.

Truth of a replicate: the plain weighted log-log fit of the population covariance's
eigenvalues in the same window the estimate used (``fit.ranks``), so it is defined for every
family. Per (family, n) cell, R replicates of ``estimate_alpha(X, seed=r)`` (corrected,
centred percentile bootstrap over rows, n_boot=200) and ``estimate_alpha(X, ci="parametric",
seed=r)``. Among unflagged replicates with finite α: bias (corrected and plain), s.d.,
coverage (truth inside the CI, with a Wilson 95% interval) and mean CI width.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_alpha_calibration.py [--quick] [--replicates R]

Writes benchmarks/results/alpha_calibration.json after every cell (temp file + os.replace) and
resumes finished cells from it; ``--quick`` (R = 10) writes to the system temp directory
unless ``--out`` is given. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results"
DEFAULT_PATH = OUT / "alpha_calibration.json"

FAMILIES = ("gaussian", "sparse", "student_t", "relu", "broken")
M = 100
ALPHA = 1.0
N_OVER_M = (0.5, 2, 8)
N_BOOT = 200
SEED_BASE = 20240611
NU = 3.0                      # Student-t degrees of freedom
SPARSE_FRACTION = 0.1         # k = m/10 active factors per row
BREAK_RANK, BREAK_LOW, BREAK_HIGH = 20, 0.5, 1.8
BIAS_TARGET = {"gaussian": 0.03}  # other families: 0.05
BIAS_TARGET_OTHER = 0.05
COVERAGE_TARGET = 0.90


# --------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------
def population_spectrum(family: str, m: int, alpha: float) -> np.ndarray:
    """The factor variances λ_1 >= ... >= λ_m of a family (before rotation and, for relu,
    before the ReLU). ``broken`` ignores ``alpha``: i^-0.5 up to rank 20, slope 1.8 beyond."""
    i = np.arange(1, m + 1, dtype=np.float64)
    if family == "broken":
        return np.where(i <= BREAK_RANK, i ** -BREAK_LOW,
                        BREAK_RANK ** -BREAK_LOW * (i / BREAK_RANK) ** -BREAK_HIGH)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}.")
    return i ** -float(alpha)


def random_rotation(m: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal (m, m) matrix (QR of a Gaussian matrix with the sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((m, m)))
    return q * np.sign(np.diag(r))


def relu_covariance(sigma: np.ndarray) -> np.ndarray:
    """Exact covariance of ReLU(x) for x ~ N(0, ``sigma``): arc-cosine kernel (Cho & Saul
    2009, degree 1) minus the product of the means σa/√(2π)·σb/√(2π)."""
    sd = np.sqrt(np.diag(sigma))
    rho = np.clip(sigma / np.outer(sd, sd), -1.0, 1.0)
    cov = np.outer(sd, sd) / (2 * np.pi) * (np.sqrt(1 - rho**2) + rho * (np.pi - np.arccos(rho)) - 1)
    cov[np.diag_indices_from(cov)] = sd**2 * (0.5 - 1 / (2 * np.pi))
    return cov


def source(family: str, n: int, m: int, alpha: float, seed) -> tuple[np.ndarray, np.ndarray]:
    """(X, population covariance) of ``n`` rows of ``family`` with ``m`` features.

    The rotation Q and the data come from ``np.random.default_rng(seed)`` (Q first)."""
    lam = population_spectrum(family, m, alpha)
    rng = np.random.default_rng(seed)
    q = random_rotation(m, rng)
    sigma = (q * lam) @ q.T
    if family in ("gaussian", "relu", "broken"):
        f = rng.standard_normal((n, m))
    elif family == "sparse":
        k = max(1, round(SPARSE_FRACTION * m))
        active = np.argpartition(rng.random((n, m)), k - 1, axis=1)[:, :k]  # k uniform of m
        f = np.zeros((n, m))
        np.put_along_axis(f, active, rng.standard_normal((n, k)) * math.sqrt(m / k), axis=1)
    elif family == "student_t":
        f = rng.standard_t(NU, size=(n, m)) / math.sqrt(NU / (NU - 2))
    else:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}.")
    x = (f * np.sqrt(lam)) @ q.T
    if family == "relu":
        return np.maximum(x, 0.0), relu_covariance(sigma)
    return x, sigma


def truth_alpha(cov: np.ndarray, ranks: tuple[int, int]) -> float:
    """Plain weighted log-log fit of the population eigenvalues in ``ranks``."""
    from polycode_lite.science.powerlaw import fit_power_law

    pop = np.linalg.eigvalsh(cov)[::-1].copy()
    return float(fit_power_law(pop, ranks=tuple(int(r) for r in ranks), correct_bias=False, n_boot=0).alpha)


# --------------------------------------------------------------------------------------
# one replicate, one cell
# --------------------------------------------------------------------------------------
def replicate_seed(family: str, n: int, r: int) -> int:
    return int(np.random.SeedSequence([SEED_BASE, FAMILIES.index(family), n, r]).generate_state(1)[0])


def _fit_record(fit, truth_fn) -> dict:
    lo, hi = fit.ci
    boots = fit.boot_alphas
    return {
        "alpha": float(fit.alpha), "alpha_plain": float(fit.alpha_plain),
        "ci": [float(lo), float(hi)], "ranks": [int(fit.ranks[0]), int(fit.ranks[1])],
        "flags": list(fit.flags), "note": fit.note,
        "boot_sd": float(np.std(boots, ddof=1)) if boots is not None and len(boots) > 1 else None,
        "truth": truth_fn(fit.ranks),
    }


def run_replicate(family: str, n: int, r: int, m: int = M, alpha: float = ALPHA,
                  n_boot: int = N_BOOT) -> dict:
    from polycode_lite.experiments.alpha import estimate_alpha

    x, cov = source(family, n, m, alpha, replicate_seed(family, n, r))
    cache: dict = {}

    def truth_fn(ranks):
        key = tuple(int(v) for v in ranks)
        if key not in cache:
            cache[key] = truth_alpha(cov, key)
        return cache[key]

    rec: dict = {"r": r}
    for name, kw in (("boot", {"ci": "bootstrap", "n_boot": n_boot}), ("par", {"ci": "parametric"})):
        try:
            rec[name] = _fit_record(estimate_alpha(x, seed=r, **kw), truth_fn)
        except ValueError as exc:  # a window the data cannot support: a failed fit
            rec[name] = {"alpha": float("nan"), "alpha_plain": float("nan"), "ci": [float("nan")] * 2,
                         "ranks": [0, 0], "flags": ["error"], "note": str(exc), "boot_sd": None,
                         "truth": float("nan")}
    return rec


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95% interval of a binomial proportion k/n."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _nanmean(v) -> float:
    v = np.asarray(v, dtype=float)
    return float(np.mean(v)) if v.size else float("nan")


def _sd(v) -> float:
    v = np.asarray(v, dtype=float)
    return float(np.std(v, ddof=1)) if v.size > 1 else float("nan")


def _ci_stats(recs: list[dict]) -> dict:
    """Coverage, Wilson interval and width of the CIs of ``recs`` (all with finite α)."""
    lo = np.array([d["ci"][0] for d in recs], dtype=float)
    hi = np.array([d["ci"][1] for d in recs], dtype=float)
    t = np.array([d["truth"] for d in recs], dtype=float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    cover = (lo <= t) & (t <= hi) & ok
    k, nn = int(cover.sum()), int(ok.sum())
    below = int(((t < lo) & ok).sum())   # truth below the CI: the estimate is too high
    return {"n": nn, "covered": k, "coverage": k / nn if nn else float("nan"),
            "coverage_wilson": list(wilson(k, nn)), "truth_below_ci": below, "truth_above_ci": nn - k - below,
            "mean_width": _nanmean((hi - lo)[ok])}


def summarize(family: str, n: int, m: int, reps: list[dict]) -> dict:
    boot = [d["boot"] for d in reps]
    par = [d["par"] for d in reps]
    flag_counts: dict[str, int] = {}
    for d in boot:
        for f in d["flags"] or (["nan alpha"] if not np.isfinite(d["alpha"]) else []):
            flag_counts[f] = flag_counts.get(f, 0) + 1
    good = [d for d in boot if not d["flags"] and np.isfinite(d["alpha"])]
    finite = [d for d in boot if np.isfinite(d["alpha"])]
    par_good = [d for d in par if not d["flags"] and np.isfinite(d["alpha"])]
    a = np.array([d["alpha"] for d in good])
    ap = np.array([d["alpha_plain"] for d in good])
    t = np.array([d["truth"] for d in good])
    boot_sd = [d["boot_sd"] for d in good if d["boot_sd"] is not None]
    par_half = [(d["ci"][1] - d["ci"][0]) / (2 * 1.959964) for d in par_good]
    out = {
        "family": family, "n": n, "m": m, "n_over_m": n / m, "replicates": len(reps),
        "windows": sorted({tuple(d["ranks"]) for d in boot}),
        "flagged": len(boot) - len(good), "flag_rate": (len(boot) - len(good)) / len(boot),
        "flag_counts": flag_counts,
        "n_unflagged": len(good),
        "truth_mean": _nanmean(t),
        "bias": _nanmean(a - t), "bias_se": _sd(a - t) / math.sqrt(len(good)) if len(good) > 1 else float("nan"),
        "bias_plain": _nanmean(ap - t),
        "sd": _sd(a), "sd_plain": _sd(ap),
        "mean_boot_sd": _nanmean(boot_sd),
        "rmse": float(np.sqrt(np.mean((a - t) ** 2))) if len(good) else float("nan"),
        "bootstrap": _ci_stats(good),
        "bootstrap_all_finite": _ci_stats(finite),  # flagged ones included: what the flag guards
        "parametric": _ci_stats(par_good) | {"flagged": len(par) - len(par_good),
                                             "mean_sd": _nanmean(par_half)},
    }
    # coverage had the bias been removed: the CI shifted by the cell's mean bias
    if len(good):
        lo = np.array([d["ci"][0] for d in good]) - out["bias"]
        hi = np.array([d["ci"][1] for d in good]) - out["bias"]
        out["bootstrap"]["coverage_bias_removed"] = float(np.mean((lo <= t) & (t <= hi)))
    return out


def targets(summary: dict) -> dict:
    """Which issue targets the cell meets. Coverage: >= 90% where unflagged (judged on the
    point estimate; ``clearly_missed`` when the Wilson upper end is below 90%). Bias at n/m >= 2."""
    fam, boot = summary["family"], summary["bootstrap"]
    res: dict = {}
    if boot["n"]:
        res["coverage_ok"] = boot["coverage"] >= COVERAGE_TARGET
        res["coverage_clearly_missed"] = boot["coverage_wilson"][1] < COVERAGE_TARGET
    if summary["n_over_m"] >= 2 and fam != "broken":
        lim = BIAS_TARGET.get(fam, BIAS_TARGET_OTHER)
        res["bias_limit"] = lim
        res["bias_ok"] = bool(abs(summary["bias"]) <= lim)
    if fam == "broken":
        res["flagged_majority"] = summary["flag_rate"] >= 0.5
    return res


# --------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------
def _rounded(v):
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_rounded(x) for x in v]
    return v


def _save(path: Path, payload: dict) -> None:
    """Write ``payload`` crash-safely (temp file + os.replace): indented summaries, and each
    cell's per-replicate records on one line (floats to 6 decimals) to keep the file small."""
    skeleton = {k: v for k, v in payload.items() if k != "cells"}
    skeleton["cells"] = {key: {"summary": c["summary"], "records": f"@records:{key}"}
                         for key, c in payload["cells"].items()}
    text = json.dumps(skeleton, indent=1, default=float)
    for key, c in payload["cells"].items():
        text = text.replace(json.dumps(f"@records:{key}"),
                            json.dumps(_rounded(c["records"]), separators=(",", ":")))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _fmt(x: float, nd: int = 3, signed: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def _cov(c: dict) -> str:
    if not c["n"]:
        return "–"
    lo, hi = c["coverage_wilson"]
    return f"{100 * c['coverage']:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"


def markdown(cells: list[dict]) -> str:
    head = ("| family | n/m | flagged % | bias (corrected) | bias (plain) | sd | coverage bootstrap "
            "| coverage parametric | mean CI width (boot / par) |\n|---|---|---|---|---|---|---|---|---|")
    rows = []
    for s in cells:
        rows.append(
            f"| {s['family']} | {s['n_over_m']:g} | {100 * s['flag_rate']:.0f} "
            f"| {_fmt(s['bias'], signed=True)} ± {_fmt(s['bias_se'])} | {_fmt(s['bias_plain'], signed=True)} "
            f"| {_fmt(s['sd'])} | {_cov(s['bootstrap'])} | {_cov(s['parametric'])} "
            f"| {_fmt(s['bootstrap']['mean_width'])} / {_fmt(s['parametric']['mean_width'])} |")
    return "\n".join([head, *rows])


def flagged_table(payload: dict) -> str:
    """The README table: for every cell the flags, the bias and the coverage both of the
    unflagged fits (the target) and of all finite fits (what a user who ignores flags gets)."""
    def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
        p = k / n
        den = 1 + z * z / n
        c = (p + z * z / (2 * n)) / den
        h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        return max(0.0, c - h), min(1.0, c + h)

    def stats(recs: list, key: str, unflagged: bool) -> dict | None:
        rs = [r[key] for r in recs if np.isfinite(r[key]["alpha"]) and not (unflagged and r[key]["flags"])]
        if not rs:
            return None
        a, t = np.array([r["alpha"] for r in rs]), np.array([r["truth"] for r in rs])
        return dict(n=len(rs), bias=float(np.mean(a - t)),
                    plain=float(np.mean(np.array([r["alpha_plain"] for r in rs]) - t)),
                    k=int(sum(r["ci"][0] <= r["truth"] <= r["ci"][1] for r in rs)))

    def cov(x: dict | None) -> str:
        if x is None:
            return "–"
        lo, hi = wilson(x["k"], x["n"])
        return f"{100 * x['k'] / x['n']:.0f}% [{100 * lo:.0f}–{100 * hi:.0f}] of {x['n']}"

    lines = ["| source | n/m | flagged | bias of α̂, all fits: corrected (plain) | bootstrap coverage, "
             "unflagged | bootstrap coverage, all fits | parametric coverage, all fits |",
             "|---|---|---|---|---|---|---|"]
    for c in payload["cells"].values():
        s, recs = c["summary"], c["records"]
        every = stats(recs, "boot", False)
        flags = ", ".join(f"{v}% {f}" for f, v in s["flag_counts"].items()) or "none"
        bias = "–" if every is None else f"{every['bias']:+.3f} ({every['plain']:+.3f})"
        lines.append(f"| {s['family']} | {s['n_over_m']:g} | {flags} | {bias} | "
                     f"{cov(stats(recs, 'boot', True))} | {cov(every)} | {cov(stats(recs, 'par', False))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    from tqdm.auto import tqdm

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="R = 10 replicates per cell (smoke run)")
    p.add_argument("--replicates", type=int, default=None, help="replicates per cell (default 100)")
    p.add_argument("--families", nargs="*", default=list(FAMILIES), choices=FAMILIES)
    p.add_argument("--out", type=Path, default=None, help="results JSON (default: benchmarks/results/"
                   "alpha_calibration.json; --quick: the system temp directory)")
    args = p.parse_args(argv)
    n_rep = args.replicates or (10 if args.quick else 100)
    path = args.out or (Path(tempfile.gettempdir()) / "alpha_calibration_quick.json" if args.quick
                        else DEFAULT_PATH)
    config = {"m": M, "alpha": ALPHA, "n_over_m": list(N_OVER_M), "replicates": n_rep, "n_boot": N_BOOT,
              "seed_base": SEED_BASE, "nu": NU, "sparse_k": round(SPARSE_FRACTION * M),
              "broken": [BREAK_RANK, BREAK_LOW, BREAK_HIGH]}
    payload = {"config": config, "cells": {}, "wall_s": {}}
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("config") == config:
            payload = old
            print(f"resuming {len(old['cells'])} finished cell(s) from {path}", file=sys.stderr)
        else:
            print(f"{path} holds another configuration; starting over", file=sys.stderr)
    payload["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": os.cpu_count(),
                          "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                                      "OPENBLAS_NUM_THREADS")}}
    t_start = time.perf_counter()
    for fam in args.families:
        for ratio in N_OVER_M:
            n = round(ratio * M)
            key = f"{fam}|{n}"
            if key in payload["cells"]:
                continue
            t0 = time.perf_counter()
            reps = [run_replicate(fam, n, r) for r in tqdm(range(n_rep), desc=f"{fam:9s} n={n:4d}",
                                                           mininterval=5, file=sys.stderr)]
            summary = summarize(fam, n, M, reps)
            summary["targets"] = targets(summary)
            payload["cells"][key] = {"summary": summary, "records": reps}
            payload["wall_s"][key] = time.perf_counter() - t0
            _save(path, payload)
            print(f"{key}: {payload['wall_s'][key]:.0f} s, bias {summary['bias']:+.3f}, coverage "
                  f"{summary['bootstrap']['coverage']:.2f}, flagged {summary['flag_rate']:.0%}",
                  file=sys.stderr, flush=True)
    cells = [payload["cells"][f"{fam}|{round(r * M)}"]["summary"] for fam in args.families
             for r in N_OVER_M if f"{fam}|{round(r * M)}" in payload["cells"]]
    payload["wall_s_total"] = float(sum(payload["wall_s"].values()))
    payload["table"] = markdown(cells)
    payload["flagged_table"] = flagged_table(payload)
    _save(path, payload)
    print(f"\n{payload['table']}\n\n{payload['flagged_table']}\n")
    print(f"R = {n_rep} replicates per cell, m = {M}, α = {ALPHA}; coverage with its Wilson 95% interval; "
          f"bias ± its standard error; cells computed in {payload['wall_s_total'] / 60:.1f} min "
          f"(this call {(time.perf_counter() - t_start) / 60:.1f} min). Results: {path}")
    for s in cells:
        print(f"  {s['family']:9s} n/m={s['n_over_m']:<4g} targets {s['targets']} flags {s['flag_counts']}")
    return payload


if __name__ == "__main__":
    main()
