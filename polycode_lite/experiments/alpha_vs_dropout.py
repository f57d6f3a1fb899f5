"""alpha against dropout rate on a small MLP trained on the shapes data (docs/paper_guide.md §3 E5, toy scale).

Per hidden layer the power-law exponent alpha of the activation eigenspectrum is measured (a) in
eval mode with plain PCA and (b) with dropout on, by cvPCA across two dropout masks of the same
images. ``polycode-lite dropout-experiments {depth,alpha}`` regenerates the shipped results in
``data/dropout/`` (this experiment and :mod:`polycode_lite.experiments.mi_depth`).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from polycode_lite._common import REPO_ROOT, limit_threads
from polycode_lite.experiments.mi_depth import (
    DepthExperimentConfig,
    DepthResult,
    run_depth_experiment,
)
from polycode_lite.models.deep_dropout import ShapesMLP

__all__ = ['AlphaSweepConfig', 'DATA_DIR', 'alpha_by_layer', 'alpha_table', 'alpha_trend', 'cli_main', 'load_shipped', 'run_alpha_sweep', 'shapes_targets', 'train_shapes_mlp']

DATA_DIR = REPO_ROOT / "data" / "dropout"


def shapes_targets(factors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Regression targets and class labels from make_shapes factors.

    Regression (n, 11), each column z-scored over the given set: x, y, scale, bg_contrast,
    grating_freq, cos/sin 2π·fg_hue, cos/sin 2π·bg_hue, cos/sin 2·grating_angle (circular
    factors as points on a circle). Rotation is left out (invisible for circles and ambiguous
    for the symmetric shapes). Classes (n,): shape id."""
    cols = [factors["x"], factors["y"], factors["scale"], factors["bg_contrast"],
            factors["grating_freq"]]
    for h in (factors["fg_hue"], factors["bg_hue"]):
        cols += [np.cos(2 * np.pi * h), np.sin(2 * np.pi * h)]
    cols += [np.cos(2 * factors["grating_angle"]), np.sin(2 * factors["grating_angle"])]
    y = np.stack(cols, axis=1).astype(np.float64)
    y = (y - y.mean(0)) / np.where(y.std(0) > 0, y.std(0), 1.0)
    return y.astype(np.float32), np.asarray(factors["shape"], dtype=np.int64)


@dataclass(frozen=True)
class AlphaSweepConfig:
    """alpha-against-dropout sweep. Presets :meth:`fast` (notebook fast mode) and :meth:`full`.

    dropouts: rates trained. widths: hidden widths. n_train/n_eval: images for training and
    for the spectra (different seeds of make_shapes). epochs, batch_size, lr: Adam training.
    seeds: network seeds (one trained net per seed and rate). n_boot: bootstrap resamples of
    images for the cvPCA CI. data_seed: seed of the training images (eval uses data_seed+1).
    """

    dropouts: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8)
    widths: tuple[int, ...] = (256, 256, 256)
    n_train: int = 6_000
    n_eval: int = 2_500
    epochs: int = 12
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1)
    n_boot: int = 20
    data_seed: int = 123

    @classmethod
    def fast(cls) -> "AlphaSweepConfig":
        return cls(n_train=3_000, n_eval=1_500, epochs=6, seeds=(0,), n_boot=15,
                   widths=(128, 128, 128))

    @classmethod
    def full(cls) -> "AlphaSweepConfig":
        return cls()


def train_shapes_mlp(
    images: np.ndarray, factors: dict[str, np.ndarray], dropout: float,
    config: AlphaSweepConfig = AlphaSweepConfig(), seed: int = 0, progress: bool = True,
) -> tuple[ShapesMLP, dict[str, list[float]]]:
    """Train a :class:`ShapesMLP` with dropout rate ``dropout`` on (images (n, 3, H, W) in
    [0, 1], factors from make_shapes): loss = MSE on the z-scored factors + cross-entropy on
    the shape. Returns (net in eval mode, history {"epoch", "loss", "accuracy"})."""
    from tqdm.auto import tqdm

    if images.ndim != 4:
        raise ValueError(f"images must be (n, C, H, W), got shape {images.shape}.")
    y_reg, y_cls = shapes_targets(factors)
    x = torch.from_numpy(images.reshape(len(images), -1) - 0.5)
    yr, yc = torch.from_numpy(y_reg), torch.from_numpy(y_cls)
    net = ShapesMLP(x.shape[1], config.widths, yr.shape[1], 3, dropout, seed=seed)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(int(seed) + 17)
    hist: dict[str, list[float]] = {"epoch": [], "loss": [], "accuracy": []}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 29)
        for epoch in tqdm(range(config.epochs), desc=f"train MLP, dropout {dropout}",
                          disable=not progress, leave=False):
            net.train()
            perm = torch.randperm(len(x), generator=gen)
            tot, correct = 0.0, 0
            for s in range(0, len(x), config.batch_size):
                idx = perm[s : s + config.batch_size]
                pr, pc = net(x[idx])
                loss = torch.mean((pr - yr[idx]) ** 2) + nn.functional.cross_entropy(pc, yc[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += loss.item() * len(idx)
                correct += int((pc.argmax(1) == yc[idx]).sum())
            hist["epoch"].append(epoch + 1)
            hist["loss"].append(tot / len(x))
            hist["accuracy"].append(correct / len(x))
    net.eval()
    return net, hist


def _fit_row(lam: np.ndarray, n: int | None, seed: int) -> dict[str, Any]:
    from polycode_lite.science.powerlaw import fit_power_law

    try:
        f = fit_power_law(lam, n_samples=n, seed=seed, n_boot=100)
    except ValueError as exc:
        return dict(alpha=float("nan"), ci_low=float("nan"), ci_high=float("nan"), r2=float("nan"),
                    lo=0, hi=0, note=str(exc))
    return dict(alpha=f.alpha, ci_low=f.ci[0], ci_high=f.ci[1], r2=f.r2, lo=f.ranks[0],
                hi=f.ranks[1], alpha_plain=f.alpha_plain, note="")


def alpha_by_layer(
    net: ShapesMLP, images: np.ndarray, n_boot: int = 40, seed: int = 0
) -> list[dict[str, Any]]:
    """alpha of every hidden layer of ``net`` on ``images``, measured two ways.

    * ``eval_pca``: eval mode (dropout off), plain PCA spectrum, alpha bias-corrected by
      simulation at the same n (``fit_power_law(..., n_samples=n)``), parametric-bootstrap CI.
    * ``dropout_cvpca``: train mode (dropout on), two passes with independent masks, cvPCA
      spectrum (Stringer et al. 2019; mask noise is independent between passes, so it averages
      out), plain weighted fit on the positive part of the spectrum, CI = percentile bootstrap
      over images (``n_boot`` resamples, same rank window).

    Returns one dict per (layer, method) with alpha, ci_low, ci_high, r2, lo, hi, note."""
    from polycode_lite.models.hooks import record_activations

    x = torch.from_numpy(images.reshape(len(images), -1) - 0.5)
    names = net.layer_names()
    n = len(x)
    net.eval()
    eval_acts = record_activations(net, x, names)
    net.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 1)
        a1 = record_activations(net, x, names)
        a2 = record_activations(net, x, names)
    net.eval()
    rng = np.random.default_rng(seed)
    rows = []
    with limit_threads(1):
        for k, name in enumerate(names, 1):
            rows += _alpha_rows_for_layer(k, name, eval_acts[name], a1[name], a2[name], n_boot,
                                          seed, rng)
    return rows


def _alpha_rows_for_layer(k: int, name: str, eval_act: torch.Tensor, act1: torch.Tensor,
                          act2: torch.Tensor, n_boot: int, seed: int,
                          rng: np.random.Generator) -> list[dict[str, Any]]:
    from polycode_lite.science.eigen import cv_pca, eigenspectrum
    from polycode_lite.science.powerlaw import fit_power_law

    n = eval_act.shape[0]
    rows = []
    lam = eigenspectrum(eval_act.double().numpy(), kind="activations")
    rows.append(dict(layer=k, name=name, method="eval_pca", n=n, **_fit_row(lam, n, seed)))
    r1, r2 = act1.double().numpy(), act2.double().numpy()
    cv = cv_pca(r1, r2, n_shuffles=5, seed=seed)
    row = dict(layer=k, name=name, method="dropout_cvpca", n=n, **_fit_row(cv, None, seed))
    if np.isfinite(row["alpha"]) and n_boot > 0:
        lo, hi = row["lo"], row["hi"]
        rr = np.arange(lo, hi + 1)
        boots = []
        for _ in range(n_boot):
            idx = rng.integers(0, n, n)
            cb = cv_pca(r1[idx], r2[idx], n_shuffles=1, seed=int(rng.integers(2**31)))
            w = cb[lo - 1 : hi]
            if w.size == rr.size and np.all(w > 0):
                boots.append(fit_power_law(cb, ranks=(lo, hi), n_boot=2).alpha_plain)
        if len(boots) >= max(5, n_boot // 2):
            # normal-approximation interval around the estimate: resampling with replacement
            # duplicates images, which biases cvPCA's alpha, so percentile intervals drift
            half = 1.96 * float(np.std(boots, ddof=1))
            row["ci_low"], row["ci_high"] = row["alpha"] - half, row["alpha"] + half
            row["note"] = f"CI: ±1.96 s.d. of {len(boots)} image-bootstrap fits"
        else:
            row["note"] = (f"CI: residual bootstrap (only {len(boots)} image resamples had a "
                           "positive spectrum in the window)")
    rows.append(row)
    return rows


def run_alpha_sweep(config: AlphaSweepConfig = AlphaSweepConfig(), progress: bool = True) -> Any:
    """Train one :class:`ShapesMLP` per (dropout, seed) and measure alpha per layer both ways.

    Returns a pandas DataFrame: dropout, seed, layer, name, method, alpha, ci_low, ci_high, r2,
    lo, hi, n, accuracy (final training accuracy), note."""
    import pandas as pd
    from tqdm.auto import tqdm

    from polycode_lite.data.shapes import make_shapes

    bad = [p for p in config.dropouts if not 0.0 <= p < 1.0]
    if bad:
        raise ValueError(f"dropout rates must lie in [0, 1), got {bad}.")
    images, factors = make_shapes(config.n_train, seed=config.data_seed)
    eval_images, _ = make_shapes(config.n_eval, seed=config.data_seed + 1)
    rows = []
    jobs = [(p, s) for s in config.seeds for p in config.dropouts]
    for p, s in tqdm(jobs, desc="alpha vs dropout", disable=not progress):
        net, hist = train_shapes_mlp(images, factors, p, config, seed=s, progress=False)
        for r in alpha_by_layer(net, eval_images, n_boot=config.n_boot, seed=s):
            rows.append(dict(dropout=p, seed=s, accuracy=hist["accuracy"][-1],
                             final_loss=hist["loss"][-1], **r))
    return pd.DataFrame(rows)


def alpha_trend(df: Any, n_boot: int = 2000, seed: int = 0, min_r2: float = 0.9) -> Any:
    """Least-squares slope dα/dD of alpha against the dropout rate, per (method, layer), with a
    95% CI from a parametric bootstrap: each measurement is redrawn from a normal with the s.d.
    implied by its own CI (width / 3.92), and, when several seeds exist, the seeds at each rate
    are resampled too. Also Spearman's ρ of alpha with D. Fits whose log-log r² is below
    ``min_r2`` (not a power law: e.g. a layer collapsed to a few directions) are left out and
    counted in ``n_excluded``. Returns a DataFrame: method, layer, slope, ci_low, ci_high,
    spearman, rises (CI above 0), falls (CI below 0), n_points, n_excluded."""
    import pandas as pd
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    out = []
    for (method, layer), d_all in df.groupby(["method", "layer"]):
        d = d_all.dropna(subset=["alpha"])
        if "r2" in d:
            d = d[d["r2"] >= min_r2]
        n_excluded = len(d_all) - len(d)
        D = d["dropout"].to_numpy(float)
        a = d["alpha"].to_numpy(float)
        sd = np.nan_to_num((d["ci_high"] - d["ci_low"]).to_numpy(float) / 3.92)
        if np.unique(D).size < 2:
            continue
        slope = float(np.polyfit(D, a, 1)[0])
        levels = [np.flatnonzero(D == v) for v in np.unique(D)]
        boots = np.empty(n_boot)
        for b in range(n_boot):
            idx = np.concatenate([rng.choice(ix, ix.size) for ix in levels])
            boots[b] = np.polyfit(D[idx], a[idx] + sd[idx] * rng.standard_normal(idx.size), 1)[0]
        lo, hi = float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))
        rho = float(spearmanr(D, a).statistic) if np.unique(a).size > 1 else float("nan")
        out.append(dict(method=method, layer=int(layer), slope=slope, ci_low=lo, ci_high=hi,
                        spearman=rho, rises=lo > 0, falls=hi < 0, n_points=len(d),
                        n_excluded=n_excluded))
    return pd.DataFrame(out)


def alpha_table(df: Any, min_r2: float = 0.9) -> Any:
    """Layer × dropout table of "α [lo, hi]" strings (mean over seeds; CI from the lowest to
    the highest per-seed CI bound, so it covers seed-to-seed spread), one block per method.
    A "*" marks cells where some fit has log-log r² < ``min_r2`` (not a power law); "n/a" where
    no fit was possible (e.g. a cvPCA spectrum with too few positive values). Returns a pandas
    DataFrame indexed by (method, layer), columns = dropout rates."""
    import pandas as pd

    rows = {}
    for (method, layer, p), d in df.groupby(["method", "layer", "dropout"]):
        if d["alpha"].isna().all():
            cell = "n/a"
        else:
            d = d.dropna(subset=["alpha"])
            cell = f"{d['alpha'].mean():.2f} [{d['ci_low'].min():.2f}, {d['ci_high'].max():.2f}]"
            if "r2" in d and (d["r2"] < min_r2).any():
                cell += " *"
        rows.setdefault((method, int(layer)), {})[f"D={p:g}"] = cell
    tab = pd.DataFrame.from_dict(rows, orient="index")
    tab.index = pd.MultiIndex.from_tuples(tab.index, names=["method", "layer"])
    return tab


def load_shipped(name: str) -> Any:
    """Load a shipped result from ``data/dropout/``: ``"depth_cpu"`` → :class:`DepthResult`,
    ``"alpha_full"`` → DataFrame. Raises FileNotFoundError naming the command that makes it."""
    import pandas as pd

    path = DATA_DIR / f"{name}.json"
    if not path.exists():
        cmd = ("python -m polycode_lite.experiments.alpha_vs_dropout depth --preset cpu" if name.startswith("depth")
               else "python -m polycode_lite.experiments.alpha_vs_dropout alpha --preset full")
        raise FileNotFoundError(f"{path} is missing; regenerate it with `{cmd} --out {path}`.")
    if name.startswith("depth"):
        return DepthResult.from_json(path)
    d = json.loads(path.read_text())
    return pd.DataFrame(d["rows"])


OUT_OPTION = {"required": True, "help": "JSON file to write"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite dropout-experiments``."""
    parser.add_argument("experiment", choices=["depth", "alpha"],
                        help="depth: I(x; h_l) through the deep dropout net; alpha: alpha against "
                             "dropout on the shapes MLP")
    parser.add_argument("--preset", default=None,
                        help="depth: fast | cpu (default) | paper; alpha: fast | full (default)")


def cli_main(argv: list[str] | None = None) -> int:
    """``polycode-lite dropout-experiments ...`` from Python (argv without the command name)."""
    from polycode_lite.cli import run_command

    return run_command("dropout-experiments", argv)


def main(args: argparse.Namespace) -> int:
    """Regenerate the shipped dropout results (``data/dropout/``): ``depth`` runs the error-
    correction-through-depth experiment, ``alpha`` the alpha-against-dropout sweep."""
    presets = {"depth": ("cpu", {"fast", "cpu", "paper"}), "alpha": ("full", {"fast", "full"})}
    default, allowed = presets[args.experiment]
    preset = args.preset or default
    if preset not in allowed:
        raise SystemExit(f"polycode-lite dropout-experiments: error: --preset for "
                         f"{args.experiment} must be one of {sorted(allowed)}, got {preset!r}")
    if args.experiment == "depth":
        res = run_depth_experiment(getattr(DepthExperimentConfig, preset)(), progress=not args.no_progress)
        res.to_json(args.out)
        print(res.summary().to_string())
        print(res.checks())
    else:
        cfg = getattr(AlphaSweepConfig, preset)()
        t0 = time.perf_counter()
        df = run_alpha_sweep(cfg, progress=not args.no_progress)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(dict(rows=df.to_dict(orient="records"),
                                                  config=asdict(cfg),
                                                  seconds=time.perf_counter() - t0),
                                             indent=1, default=float))
        print(alpha_table(df).to_string())
        print(alpha_trend(df).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_main())
