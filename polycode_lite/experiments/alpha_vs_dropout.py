"""alpha against dropout rate on a small MLP trained on the shapes data (docs/paper_guide.md §3 E5, toy scale).

Per hidden layer the power-law exponent alpha of the activation eigenspectrum is measured (a) in
eval mode with plain PCA and (b) with dropout on, by cvPCA across two dropout masks of the same
images. ``polycode-lite dropout-experiments {depth,alpha}`` regenerates the shipped results in
``data/dropout/`` (this experiment and :mod:`polycode_lite.experiments.mi_depth`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from polycode_lite._common import SHIPPED_DATA_DIR, limit_threads
from polycode_lite.data.integrity import verify_shipped_file
from polycode_lite.experiments.alpha_dropout_rules import (  # re-exported
    alpha_dropout_verdict,
    alpha_table,
    alpha_trend,
    control_string,
)
from polycode_lite.experiments.mi_depth import DepthResult
from polycode_lite.experiments.unit_store import UnitStore, unit_frame, unit_name
from polycode_lite.models.deep_dropout import ShapesMLP

__all__ = ['DATA_DIR', 'AlphaSweepConfig', 'alpha_by_layer', 'alpha_dropout_verdict', 'alpha_table', 'alpha_trend',
           'cli_main', 'control_string', 'load_shipped', 'run_alpha_sweep', 'run_untrained_control', 'shapes_targets',
           'sweep_window', 'train_shapes_mlp']

DATA_DIR = SHIPPED_DATA_DIR / "dropout"


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
    images for the CIs. data_seed: seed of the training images (eval uses data_seed+1).
    n_repeats: dropout masks per image for the train-mode spectrum (K), repeats_method its
    estimator (:data:`~polycode_lite.science.repeats.REPEATS_METHODS`): with K = 8 the
    cross-covariance is within 0.02-0.06 of the noise-free α for α <= 1.3 at p <= 0.5
    (benchmarks/bench_repeats.py), where two masks err by up to 0.2 and plain cvPCA by 0.3.
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
    n_repeats: int = 8
    repeats_method: str = "cross-covariance"

    @classmethod
    def fast(cls) -> AlphaSweepConfig:
        return cls(n_train=3_000, n_eval=1_500, epochs=6, seeds=(0,), n_boot=15,
                   widths=(128, 128, 128))

    @classmethod
    def full(cls) -> AlphaSweepConfig:
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


def record_layers(net: ShapesMLP, images: np.ndarray, seed: int = 0, n_repeats: int = 8
                  ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """Hidden-layer activations of ``net`` on ``images``: eval mode (dropout off), and
    ``n_repeats`` train-mode passes with independent masks (drawn from a forked RNG seeded by
    ``seed``; the global RNG is left as it was)."""
    from polycode_lite.models.hooks import record_activations

    if int(n_repeats) < 2:
        raise ValueError(f"n_repeats must be >= 2 (independent dropout masks), got {n_repeats}.")
    x = torch.from_numpy(images.reshape(len(images), -1) - 0.5)
    names = net.layer_names()
    net.eval()
    eval_acts = record_activations(net, x, names)
    net.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 1)
        reps = [record_activations(net, x, names) for _ in range(int(n_repeats))]
    net.eval()
    return eval_acts, reps


def alpha_by_layer(
    net: ShapesMLP, images: np.ndarray, n_boot: int = 40, seed: int = 0, n_repeats: int = 8,
    window: tuple[int, int] | None = None, repeats_method: str = "cross-covariance",
    recorded: tuple | None = None,
) -> Any:
    """alpha of every hidden layer of ``net`` on ``images``, measured two ways, both through
    :func:`polycode_lite.experiments.alpha.layer_alphas` (CI: centred percentile bootstrap over
    images, ``n_boot`` replicates; one window for all layers: ``window`` when given, in which
    case a layer that cannot support all of it is left out with a note).

    * ``eval_pca``: eval mode (dropout off), plain PCA spectrum, alpha bias-corrected by
      simulation at the same n and m (estimator "corrected").
    * ``dropout_repeats``: train mode (dropout on), ``n_repeats`` passes with independent masks;
      the spectrum of their cross-covariance (``repeats_method``), whose expectation is the
      covariance of the mask-averaged activations: the mask noise, independent between passes,
      drops out. Plain cvPCA is biased here (uneven multiplicative noise tilts its axes).

    ``recorded``: the output of :func:`record_layers`, to skip recording. Returns a DataFrame,
    one row per (layer, method): method, then the common α schema
    (:data:`polycode_lite.experiments.alpha.COLUMNS`; site = layer name, depth = hidden layer
    1, 2, ...) and ``window_grid`` (α over the grid of windows)."""
    import pandas as pd

    from polycode_lite.experiments.alpha import Activations, Repeats, layer_alphas

    eval_acts, reps = recorded if recorded is not None else record_layers(net, images, seed, n_repeats)
    names = net.layer_names()
    depth = {name: k for k, name in enumerate(names, 1)}
    strict = window is not None
    with limit_threads(1):
        ev = layer_alphas({nm: Activations(eval_acts[nm], unit="images") for nm in names},
                          estimator="corrected", n_boot=n_boot, seed=seed, depth=depth, window=window,
                          strict_window=strict, extra={nm: {"method": "eval_pca"} for nm in names})
        rp = layer_alphas({nm: Repeats(tuple(r[nm] for r in reps), unit="images",
                                       method=repeats_method) for nm in names},
                          estimator="plain", n_boot=n_boot, seed=seed, depth=depth, window=window,
                          strict_window=strict,
                          extra={nm: {"method": "dropout_repeats", "n_repeats": len(reps)}
                                 for nm in names})
    df = pd.concat([ev.table(grid=True), rp.table(grid=True)], ignore_index=True)
    df["order"] = df["method"].map({"eval_pca": 0, "dropout_repeats": 1})
    df = df.sort_values(["depth", "order"]).drop(columns="order").reset_index(drop=True)
    return df[["method", *[c for c in df.columns if c != "method"]]]


def run_alpha_sweep(config: AlphaSweepConfig = AlphaSweepConfig(), progress: bool = True,
                    resume_dir: str | Path | None = None) -> Any:
    """Train one :class:`ShapesMLP` per (dropout, seed) and measure alpha per layer both ways.

    Returns a pandas DataFrame: dropout, seed, accuracy (final training accuracy), final_loss,
    method (eval_pca / dropout_repeats), then the common α schema of :func:`alpha_by_layer`.

    ``resume_dir``: a folder for the finished units (each trained net with its history, each
    net's α rows), saved as they finish with their sha256 and this config and reused by a rerun
    (:class:`~polycode_lite.experiments.unit_store.UnitStore`), bitwise."""
    import pandas as pd
    from tqdm.auto import tqdm

    from polycode_lite.data.shapes import make_shapes

    bad = [p for p in config.dropouts if not 0.0 <= p < 1.0]
    if bad:
        raise ValueError(f"dropout rates must lie in [0, 1), got {bad}.")
    from polycode_lite.experiments.alpha import Activations, Repeats, comparison_window

    images, factors = make_shapes(config.n_train, seed=config.data_seed)
    eval_images, _ = make_shapes(config.n_eval, seed=config.data_seed + 1)
    jobs = [(p, s) for s in config.seeds for p in config.dropouts]
    store = None if resume_dir is None else UnitStore(resume_dir, {"experiment": "alpha", "config": asdict(config)})
    trained = []
    for p, s in tqdm(jobs, desc="train nets", disable=not progress):
        if store is None:
            net, hist = train_shapes_mlp(images, factors, p, config, seed=s, progress=False)
        else:
            def make(p: float = p, s: int = s) -> ShapesMLP:
                return ShapesMLP(int(np.prod(images.shape[1:])), config.widths, 11, 3, p, seed=s)

            def train(net: ShapesMLP, p: float = p, s: int = s) -> dict[str, list[float]]:
                fresh, hist = train_shapes_mlp(images, factors, p, config, seed=s, progress=False)
                net.load_state_dict(fresh.state_dict())
                return hist

            net, hist = store.network(unit_name("net", f"dropout={p!r}", f"seed={s}"), make, train)
            net.eval()
        trained.append((net, hist, record_layers(net, eval_images, s, config.n_repeats)))
    # one window for every network, layer and method of the sweep: the narrowest site that is
    # not collapsed sets it; collapsed sites are then left out (strict window)
    sites = [d for net, _, (ev, reps) in trained for nm in net.layer_names()
             for d in (Activations(ev[nm]), Repeats(tuple(r[nm] for r in reps), method=config.repeats_method))]
    window = comparison_window(sites)
    rows = []
    for (p, s), (net, hist, recorded) in zip(tqdm(jobs, desc="alpha vs dropout", disable=not progress), trained):
        def fit(net: ShapesMLP = net, s: int = s, recorded: tuple = recorded) -> Any:
            return alpha_by_layer(net, eval_images, n_boot=config.n_boot, seed=s, n_repeats=config.n_repeats,
                                  window=window, repeats_method=config.repeats_method, recorded=recorded)

        df = unit_frame(store, unit_name("alpha", f"dropout={p!r}", f"seed={s}"), fit, {"window": window})
        df.insert(0, "final_loss", hist["loss"][-1])
        df.insert(0, "accuracy", hist["accuracy"][-1])
        df.insert(0, "seed", s)
        df.insert(0, "dropout", p)
        rows.append(df)
    return pd.concat(rows, ignore_index=True)


def sweep_window(df: Any) -> tuple[int, int]:
    """The one rank window (lo, hi) a sweep's rows share (the most common non-empty one)."""
    w = df[(df["window_hi"] > df["window_lo"])][["window_lo", "window_hi"]].dropna()
    if w.empty:
        raise ValueError("df has no row with a fitted window (window_hi > window_lo); pass a sweep "
                         "from run_alpha_sweep or load_shipped('alpha_full').")
    lo, hi = w.value_counts().idxmax()
    return int(lo), int(hi)


def run_untrained_control(
    config: AlphaSweepConfig = AlphaSweepConfig(), window: tuple[int, int] | None = None,
    dropouts: tuple[float, ...] | None = None, seeds: tuple[int, ...] | None = None,
    n_boot: int | None = None, progress: bool = True, resume_dir: str | Path | None = None,
) -> Any:
    """The untrained control of the sweep: α per layer of :class:`ShapesMLP` nets at their random
    initialisation (the very init the trained nets of each seed start from: same architecture,
    same seed), on the same eval images, in the sweep's ``window`` (strict: a layer that cannot
    support it is left out with a note), both methods, at each dropout rate in ``dropouts``
    (default ``config.dropouts``; the rate only matters for the train-mode masks). Returns a
    DataFrame in the schema of :func:`run_alpha_sweep` with ``trained`` = False (accuracy and
    final_loss NaN). ``seeds``/``n_boot`` default to the config's. ``resume_dir``: as in
    :func:`run_alpha_sweep` (one unit per net)."""
    import pandas as pd
    from tqdm.auto import tqdm

    from polycode_lite.data.shapes import make_shapes

    if window is not None and not (len(window) == 2 and 1 <= int(window[0]) < int(window[1])):
        raise ValueError(f"window must be (lo, hi) ranks with 1 <= lo < hi, got {window}; "
                         "use sweep_window(df) of the trained sweep.")
    dropouts = tuple(config.dropouts if dropouts is None else dropouts)
    bad = [p for p in dropouts if not 0.0 <= p < 1.0]
    if bad:
        raise ValueError(f"dropout rates must lie in [0, 1), got {bad}.")
    eval_images, _ = make_shapes(config.n_eval, seed=config.data_seed + 1)
    rows = []
    jobs = [(p, s) for s in (config.seeds if seeds is None else seeds) for p in dropouts]
    store = None if resume_dir is None else UnitStore(resume_dir, {"experiment": "alpha_control",
                                                                   "config": asdict(config)})
    for p, s in tqdm(jobs, desc="untrained control", disable=not progress):
        def fit(p: float = p, s: int = s) -> Any:
            net = ShapesMLP(int(np.prod(eval_images.shape[1:])), config.widths, 11, 3, p, seed=s)
            return alpha_by_layer(net, eval_images, n_boot=config.n_boot if n_boot is None else n_boot,
                                  seed=s, n_repeats=config.n_repeats, window=window,
                                  repeats_method=config.repeats_method)

        df = unit_frame(store, unit_name("control", f"dropout={p!r}", f"seed={s}"), fit,
                         {"window": window, "n_boot": n_boot})
        for col, val in (("final_loss", np.nan), ("accuracy", np.nan), ("trained", False),
                         ("seed", s), ("dropout", p)):
            df.insert(0, col, val)
        rows.append(df)
    return pd.concat(rows, ignore_index=True)


_OLD_COLUMNS = {"layer": "depth", "name": "site", "lo": "window_lo", "hi": "window_hi", "n": "n_samples"}


def _from_old_schema(df: Any, config: dict[str, Any]) -> Any:
    """Rows written before the common α schema (columns layer, name, lo, hi, n) → the schema of
    :func:`alpha_by_layer`. Their numbers are kept as computed then: eval_pca CIs were the
    parametric bootstrap of the bias-corrected fit, dropout_cvpca CIs ±1.96 s.d. of an image
    bootstrap (stated in ``ci_method``)."""
    if "site" in df.columns:
        return df
    df = df.rename(columns=_OLD_COLUMNS)
    widths = list(config.get("widths", []))
    df["n_features"] = [widths[int(k) - 1] if 0 < int(k) <= len(widths) else np.nan for k in df["depth"]]
    df["estimator"] = np.where(df["method"] == "eval_pca", "corrected", "plain")
    df["ci_method"] = np.where(df["method"] == "eval_pca",
                               "parametric bootstrap of the fit (shipped, pre-pipeline)",
                               "±1.96 s.d. of an image bootstrap (shipped, pre-pipeline)")
    df["note"] = df["note"].fillna("")
    return df


def load_shipped(name: str) -> Any:
    """Load a shipped result from ``data/dropout/``: ``"depth_cpu"`` → :class:`DepthResult`,
    ``"alpha_untrained"`` → DataFrame of :func:`run_untrained_control`, ``"alpha_full"`` → DataFrame in the schema of :func:`run_alpha_sweep` (a file written
    before the common α schema is converted on load: see :func:`_from_old_schema`). Raises
    FileNotFoundError naming the command that makes it."""
    import pandas as pd

    path = DATA_DIR / f"{name}.json"
    cmd = ("polycode-lite dropout-experiments depth --preset cpu" if name.startswith("depth")
           else "polycode-lite dropout-experiments alpha_control --preset full" if name == "alpha_untrained"
           else "polycode-lite dropout-experiments alpha --preset full")
    if not path.exists():
        from polycode_lite._common import is_source_checkout

        if not is_source_checkout():
            raise FileNotFoundError(f"{path} is missing from the installed package; reinstall "
                                    f"polycode-lite (the wheel ships it), or make your own with "
                                    f"`{cmd} --out my_{name}.json`.")
        raise FileNotFoundError(f"{path} is missing; regenerate it with `{cmd} --out {path}`.")
    verify_shipped_file(path)  # sha256 against data/dropout/MANIFEST.json, naming how to restore it
    if name.startswith("depth"):
        return DepthResult.from_json(path)
    try:
        d = json.loads(path.read_text())
        if not isinstance(d, dict) or "rows" not in d:
            raise KeyError("rows")
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError) as exc:
        raise ValueError(f"{path} is not a readable sweep result ({type(exc).__name__}); regenerate it with "
                         f"`{cmd} --out {path}`.") from None
    if name == "alpha_untrained":
        return pd.DataFrame(d["rows"])
    return _from_old_schema(pd.DataFrame(d["rows"]), d.get("config", {}))


OUT_OPTION = {"required": True, "kind": "file",
              "help": "JSON file to write (finished units wait in <out>.parts/)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite dropout-experiments``."""
    from polycode_lite.experiments.dropout_runs import add_arguments as add

    add(parser)


def cli_main(argv: list[str] | None = None) -> int:
    """``polycode-lite dropout-experiments ...`` from Python (argv without the command name)."""
    from polycode_lite.cli import run_command

    return run_command("dropout-experiments", argv)


def main(args: argparse.Namespace) -> int:
    """Regenerate the shipped dropout results (``data/dropout/``): ``depth`` runs the error-
    correction-through-depth experiment, ``alpha`` the alpha-against-dropout sweep, ``alpha_control``
    its untrained control. Resumable: each finished unit (a trained net, a trial's layer, a net's
    α rows) is saved in ``<out>.parts/`` with its sha256 and the settings; rerun the same command
    after an interruption to continue (bitwise the uninterrupted result). The folder is removed
    once ``--out`` is written."""
    from polycode_lite.experiments.dropout_runs import main as run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(cli_main())
