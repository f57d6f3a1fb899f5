"""Train ResNet (V)AEs across dropout rates, with per-epoch checkpoints and resume.

``polycode-lite train-autoencoder --dataset shapes|cifar10 --config lite|paper
--dropout 0 0.2 0.4 0.6 0.8 --epochs N --out DIR`` trains one model per dropout rate
(docs/paper_guide.md §3 E5: Adam lr 1e-3, BCE(sum) + KL). For each rate it keeps a training state in
``DIR/_train/<run>/``:

* ``checkpoint-EPOCH.safetensors``: model weights and buffers plus the Adam state (float32);
* ``checkpoint-EPOCH.json``: config, dataset, epoch, per-epoch losses, seed, package version,
  device, the weights' file name and sha256;
* ``checkpoint.json``: a copy of the newest version's json, the pointer a resume reads.

Every file is written to a temporary name, fsynced and renamed, the pointer last, and the two
newest versions are kept (:func:`~polycode_lite.models.checkpoints.save_checkpoint`): a kill at
any step leaves the previous checkpoint whole, and a version that fails its sha256 falls back to
the one before it with a warning. So an interrupted run restarted with the same
command continues after the last finished epoch (no finished epoch is lost; each epoch's
shuffling and dropout masks come from seed + epoch, so a resumed run repeats exactly what an
uninterrupted one would do). When a rate is done, the BatchNorm statistics are re-estimated with
dropout off on the training images (:func:`recalibrate_for_eval`; without it models at p >= 0.4
reconstruct worse than the mean image in eval mode), and the final weights are exported as
``DIR/<run>.safetensors`` (``--save-dtype``, float16 to ship) with ``DIR/<run>.json``, and
``DIR/MANIFEST.json`` lists every exported file with its sha256 and the exact command.
Loading (:func:`load_autoencoder`) checks the sha256 and raises on a mismatch.

A run name is ``<config>_<dataset>_p<dropout>``, e.g. ``lite_shapes_p0.4``. The environment
variable ``POLYCODE_TRAIN_STEP_DELAY`` (seconds) sleeps before every training step; the tests
use it to kill a run mid-epoch deterministically.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn
from polycode_lite._common import NonFiniteLossError, choose_device
from polycode_lite.experiments.train_config import TrainConfig, run_name
from polycode_lite.models.checkpoints import (
    _package_version,
    export_model,
    load_checkpoint,
    save_checkpoint,
    write_manifest,
)

__all__ = [
    "SHIPPED_COMMAND", "TrainConfig", "cli_main", "configs_from_args", "evaluate", "load_images",
    "mean_image_baseline", "recalibrate_for_eval", "run_name", "train_autoencoder"
]

SHIPPED_COMMAND = (
    "polycode-lite train-autoencoder --dataset shapes --config lite "
    "--dropout 0 0.2 0.4 0.6 0.8 --epochs 6 --n-train 2048 --n-test 512 --batch-size 32 "
    "--seed 0 --save-dtype float16 --threads 1 --out data/resnet_ae"
)


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------
def load_images(cfg: TrainConfig, split: str) -> torch.utils.data.Dataset:
    """The ``split`` ("train" or "test") dataset of ``cfg``; items are (image (3, H, W) in
    [0, 1], label/factors). Shapes: n images from seed (train) or seed + 1 (test), 32×32."""
    if split not in {"train", "test"}:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    n = cfg.n_train if split == "train" else cfg.n_test
    if cfg.dataset == "shapes":
        from polycode_lite.data.shapes import ShapesDataset

        return ShapesDataset(n=n or 10_000, seed=cfg.seed + (0 if split == "train" else 1))
    from polycode_lite.data.cifar10 import cifar10
    from polycode_lite.models.resnet_vae import get_config

    ds = cifar10(cfg.data_root, train=split == "train",
                 image_size=get_config(cfg.config).image_size)
    if n is not None and n < len(ds):
        import torch

        ds = torch.utils.data.Subset(ds, range(n))
    return ds


def _loader(ds: Any, cfg: TrainConfig, shuffle: bool, epoch: int) -> torch.utils.data.DataLoader:
    import torch

    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    return torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=shuffle,
                                       generator=gen, num_workers=cfg.num_workers,
                                       drop_last=shuffle)


def _prepare(x: torch.Tensor, size: int, device: Any) -> torch.Tensor:
    import torch.nn.functional as F

    x = x.to(device, non_blocking=True).float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return x


def mean_image_baseline(train: Any, test: Any, image_size: int, batch_size: int = 256) -> dict[str, float]:
    """Per-image BCE (sum over pixels) and MSE of predicting every test image by the mean
    training image: the loss of a model that learnt nothing about the individual image.
    Also returns the mean image itself (nested list, (3, S, S)) under "mean_image"."""
    import torch
    import torch.nn.functional as F

    total, n = None, 0
    for x, _ in torch.utils.data.DataLoader(train, batch_size=batch_size):
        x = _prepare(x, image_size, "cpu").double()
        total = x.sum(0) if total is None else total + x.sum(0)
        n += x.shape[0]
    mean = (total / n).float().clamp(1e-6, 1 - 1e-6)
    bce = mse = 0.0
    m = 0
    for x, _ in torch.utils.data.DataLoader(test, batch_size=batch_size):
        x = _prepare(x, image_size, "cpu")
        pred = mean.expand_as(x)
        bce += float(F.binary_cross_entropy(pred, x, reduction="sum"))
        mse += float(((pred - x) ** 2).sum())
        m += x.shape[0]
    return {"bce": bce / m, "mse": mse / m, "mean_image": mean.tolist()}


def evaluate(model: nn.Module, ds: Any, batch_size: int = 256, device: Any = "cpu",
             beta: float = 1.0) -> dict[str, float]:
    """Per-image test losses in eval mode (dropout off, z = μ): bce, kl, loss, mse."""
    import torch

    from polycode_lite.models.resnet_vae import vae_loss

    was_training = model.training
    model.eval()
    sums = {"bce": 0.0, "kl": 0.0, "loss": 0.0, "mse": 0.0}
    n = 0
    size = model.config.image_size
    with torch.no_grad():
        for x, _ in torch.utils.data.DataLoader(ds, batch_size=batch_size):
            x = _prepare(x, size, device)
            recon, mu, logvar, _ = model(x)
            parts = vae_loss(recon, x, mu, logvar, beta)
            b = x.shape[0]
            for k in ("bce", "kl", "loss"):
                sums[k] += float(parts[k].detach()) * b
            sums["mse"] += float(((recon - x) ** 2).sum())
            n += b
    model.train(was_training)
    return {k: v / n for k, v in sums.items()}


def train_autoencoder(cfg: TrainConfig, out_dir: str | Path, progress: bool = True,
                      save_dtype: str = "float32", command: str | None = None) -> dict[str, Any]:
    """Train one model (one dropout rate), resuming from ``out_dir/_train/<run>`` if present.

    Each epoch: shuffle with a generator seeded by (seed, epoch); dropout masks and the VAE's
    ε come from a forked torch RNG seeded the same way (global RNG state is untouched); Adam
    step on BCE(sum)+β·KL per image; then test losses in eval mode; then the checkpoint.
    Returns the final metadata (also exported to ``out_dir/<run>.json``).
    """
    import torch
    from tqdm.auto import tqdm

    from polycode_lite.models.resnet_vae import ResNetAutoencoder, get_config, vae_loss

    out_dir = Path(out_dir)
    name = run_name(cfg)
    run_dir = out_dir / "_train" / name
    device = choose_device(cfg.device)
    overrides: dict[str, Any] = {"variational": cfg.variational}
    if cfg.widths is not None:
        overrides["widths"] = tuple(cfg.widths)
    if cfg.latent_dim is not None:
        overrides["latent_dim"] = int(cfg.latent_dim)
    mcfg = get_config(cfg.config, **overrides)
    model = ResNetAutoencoder(mcfg, dropout=cfg.dropout, seed=cfg.seed).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    train_ds, test_ds = load_images(cfg, "train"), load_images(cfg, "test")

    meta: dict[str, Any]
    if any(run_dir.glob("checkpoint*.json")):  # checkpoint.json or a version of it
        meta = load_checkpoint(run_dir, model, opt)
        free = {"epochs", "device", "num_workers", "data_root"}  # may change on resume
        saved, now = meta["train_config"], _jsonable(asdict(cfg))
        if any(saved.get(k) != now.get(k) for k in (set(saved) | set(now)) - free):
            raise ValueError(
                f"{run_dir} holds a checkpoint of a different configuration "
                f"({meta['train_config']}); use another --out or delete that folder.")
        meta["train_config"] = _jsonable(asdict(cfg))
        print(f"[{name}] resuming after epoch {meta['epoch']} from {run_dir}", flush=True)
    else:
        baseline = mean_image_baseline(train_ds, test_ds, mcfg.image_size)
        if mcfg.mean_image_bias:
            model.set_mean_image(torch.tensor(baseline.pop("mean_image")))
        baseline.pop("mean_image", None)
        meta = {
            "run": name, "dataset": cfg.dataset, "dropout": cfg.dropout,
            "model_config": mcfg.to_dict(), "train_config": _jsonable(asdict(cfg)),
            "seed": cfg.seed, "package_version": _package_version(),
            "torch_version": torch.__version__, "epoch": 0, "history": [],
            "baseline_mean_image": baseline,
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
        }
    meta["device"] = str(device)
    if command:
        meta["command"] = command

    size = mcfg.image_size
    step_delay = float(os.environ.get("POLYCODE_TRAIN_STEP_DELAY", "0") or 0)
    for epoch in range(meta["epoch"] + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        sums = {"loss": 0.0, "bce": 0.0, "kl": 0.0}
        n = 0
        devices = [torch.cuda.current_device()] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(cfg.seed * 100_003 + epoch)
            batches = tqdm(_loader(train_ds, cfg, True, epoch), desc=f"{name} epoch {epoch}/{cfg.epochs}",
                           disable=not progress, leave=False)
            for x, _ in batches:
                if step_delay:  # testing aid: makes "kill it mid-epoch" deterministic
                    time.sleep(step_delay)
                x = _prepare(x, size, device)
                recon, mu, logvar, _ = model(x)
                try:
                    parts = vae_loss(recon, x, mu, logvar, cfg.beta)
                    values = {k: float(parts[k].detach()) for k in sums}
                except RuntimeError:  # BCE refuses a NaN reconstruction
                    if bool(torch.isfinite(recon).all()):
                        raise
                    values = {"loss": math.nan}
                if not math.isfinite(values["loss"]):
                    raise NonFiniteLossError(
                        f"[{name}] the training loss became {values['loss']} at epoch {epoch}, "
                        f"step {n // x.shape[0] + 1} (lr {cfg.lr}); nothing of this epoch was "
                        f"saved (the last checkpoint is of epoch {meta['epoch']}). Lower --lr "
                        "(or check the images) and rerun.")
                opt.zero_grad(set_to_none=True)
                parts["loss"].backward()
                opt.step()
                b = x.shape[0]
                for k in sums:
                    sums[k] += values[k] * b
                n += b
                batches.set_postfix(loss=f"{sums['loss'] / n:.1f}")
        test = evaluate(model, test_ds, device=device, beta=cfg.beta)
        seconds = time.perf_counter() - t0
        meta["history"].append({
            "epoch": epoch, "train_loss": sums["loss"] / n, "train_bce": sums["bce"] / n,
            "train_kl": sums["kl"] / n, "test_loss": test["loss"], "test_bce": test["bce"],
            "test_kl": test["kl"], "test_mse": test["mse"], "seconds": seconds,
            "images_per_second": n / seconds,
        })
        meta["epoch"] = epoch
        save_checkpoint(run_dir, model, opt, meta)
        print(f"[{name}] epoch {epoch}/{cfg.epochs}: train {sums['loss'] / n:.1f}, test BCE "
              f"{test['bce']:.1f} (mean-image baseline {meta['baseline_mean_image']['bce']:.1f}), "
              f"{seconds:.0f} s", flush=True)
    meta["train_seconds_total"] = float(sum(h["seconds"] for h in meta["history"]))
    meta["bn_recalibration"] = recalibrate_for_eval(model, train_ds, test_ds, cfg, device)
    export_model(model, meta, out_dir / f"{name}.safetensors", dtype=save_dtype)
    return meta


def recalibrate_for_eval(model: nn.Module, train_ds: Any, test_ds: Any, cfg: TrainConfig,
                         device: Any = "cpu") -> dict[str, float]:
    """Re-estimate the BatchNorm statistics with dropout off on the training images
    (:func:`polycode_lite.models.batchnorm.recalibrate_batchnorm`: dropout before BatchNorm
    shifts the variance between training and eval mode) and return the held-out eval-mode
    BCE before and after, with the mean-image baseline's, per image."""
    import torch

    from polycode_lite.models.batchnorm import recalibrate_batchnorm

    before = evaluate(model, test_ds, device=device, beta=cfg.beta)["bce"]
    size = model.config.image_size
    batches = (_prepare(x, size, device) for x, _ in torch.utils.data.DataLoader(train_ds, batch_size=128))
    n = recalibrate_batchnorm(model, batches, device=device)
    after = evaluate(model, test_ds, device=device, beta=cfg.beta)["bce"]
    return {"images": n, "test_bce_before": before, "test_bce_after": after}


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d))


OUT_OPTION = {"required": True, "help": "output folder of the exported models and MANIFEST.json"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite train-autoencoder``."""
    ap = parser
    ap.add_argument("--dataset", choices=["shapes", "cifar10"], default="shapes")
    ap.add_argument("--config", choices=["lite", "paper"], default="lite")
    ap.add_argument("--dropout", type=float, nargs="+", default=[0.0, 0.2, 0.4, 0.6, 0.8])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=None,
                    help="default 32 (lite) / 50 (paper, as the authors)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--n-train", type=int, default=None,
                    help="training images (default: shapes 2048, cifar10 all 50,000)")
    ap.add_argument("--n-test", type=int, default=None,
                    help="test images (default: shapes 512, cifar10 all 10,000)")
    ap.add_argument("--plain", action="store_true", help="plain autoencoder instead of a VAE")
    ap.add_argument("--widths", type=int, nargs=4, default=None,
                    help="lite only: the four stage widths (default 16 32 64 128)")
    ap.add_argument("--latent-dim", type=int, default=None, help="override the latent size")
    ap.add_argument("--data-root", default=None, help="folder holding cifar-10-batches-py")
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--save-dtype", choices=["float32", "float16"], default="float32")


def configs_from_args(args: argparse.Namespace) -> list[TrainConfig]:
    """One checked :class:`TrainConfig` per ``--dropout`` rate, all built before any work, so a
    bad value anywhere (``--dropout 0 1.5``) is refused before the first model trains."""
    shapes = args.dataset == "shapes"
    batch = args.batch_size if args.batch_size is not None else (50 if args.config == "paper" else 32)
    n_train = args.n_train if args.n_train is not None else (2048 if shapes else None)
    n_test = args.n_test if args.n_test is not None else (512 if shapes else None)
    cfgs = [TrainConfig(dataset=args.dataset, config=args.config, dropout=p, epochs=args.epochs,
                        batch_size=batch, lr=args.lr, variational=not args.plain,
                        n_train=n_train, n_test=n_test, seed=args.seed, data_root=args.data_root,
                        device=args.device, num_workers=args.num_workers,
                        widths=tuple(args.widths) if args.widths else None,
                        latent_dim=args.latent_dim) for p in args.dropout]
    names = [run_name(c) for c in cfgs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"--dropout lists the same rate twice (run {', '.join(repeated)}); "
                         "give each rate once.")
    if args.data_root is not None and not Path(args.data_root).expanduser().is_dir():
        raise ValueError(f"--data-root {args.data_root} is not a folder; pass the folder that "
                         "holds cifar-10-batches-py.")
    if args.device is not None:
        choose_device(args.device)  # refuses an unknown or unavailable device now, not later
    return cfgs


def main(args: argparse.Namespace) -> int:
    """Train ResNet-encoder VAEs across dropout rates, one model per rate. Checkpoints every
    epoch and resumes an interrupted run when re-run with the same command."""
    cfgs = configs_from_args(args)
    argv = getattr(args, "_argv", None) or sys.argv[1:]
    command = "polycode-lite train-autoencoder " + " ".join(shlex.quote(a) for a in argv)
    out = Path(args.out)
    exported = []
    for cfg in cfgs:
        meta = train_autoencoder(cfg, out, progress=not args.no_progress,
                                 save_dtype=args.save_dtype, command=command)
        final = meta["history"][-1]
        print(f"[{meta['run']}] done: test BCE {final['test_bce']:.1f} vs mean-image "
              f"{meta['baseline_mean_image']['bce']:.1f}; {meta['train_seconds_total']:.0f} s", flush=True)
        exported += [out / f"{meta['run']}.safetensors", out / f"{meta['run']}.json"]
    # the manifest covers every exported model in the folder (earlier calls included)
    files = sorted({*exported, *out.glob("*.safetensors"), *(f.with_suffix(".json") for f in out.glob("*.safetensors"))})
    write_manifest(out, files, command)
    print(f"wrote {out / 'MANIFEST.json'}", flush=True)
    return 0


def cli_main(argv: list[str] | None = None) -> int:
    """``polycode-lite train-autoencoder ...`` from Python (argv without the command name)."""
    from polycode_lite.cli import run_command

    return run_command("train-autoencoder", argv)


if __name__ == "__main__":
    raise SystemExit(cli_main())
