"""α per layer and dot-trajectory smoothness of ResNet autoencoders across dropout rates.

docs/paper_guide.md §3 E5 (α per layer and dropout) and E3 (moving-dot trajectories). Everything reuses the
shared pieces: hooks and streaming covariances from :mod:`polycode_lite.models.hooks`, spectra
and fits from :mod:`polycode_lite.science.powerlaw`, energies and RSA from :mod:`polycode_lite.science.projections`,
dot frames from :mod:`polycode_lite.data.stimuli`.

Feature choices (docs/paper_guide.md pitfall 7, said once here):

* **α**: conv outputs (B, C, H, W) are global-average-pooled to (B, C): channels are the
  features, one sample per image (:func:`polycode_lite.models.resnet_vae.layer_features`). FC layers are
  (B, D). So the encoder stages have m = 16/32/64/128 features in the ``lite`` model, and the
  fit window is Stringer's 11..500 capped at m/2 (ranks 2..m/2 when that leaves < 40 ranks).
* **trajectories**: the whole layer state is kept (C·H·W flattened), because global pooling
  would average away where the dot is.

Two spectrum estimators (docs/paper_guide.md pitfall 5):

* ``mode="eval"``: the model in ``eval()`` (BN running statistics, dropout off, z = μ); the
  covariance is streamed through :class:`~polycode_lite.science.covariance.CovarianceAccumulator` and α is
  fitted with the simulation-matched finite-sample correction and its parametric-bootstrap CI.
* ``mode="cvpca"``: BN in eval mode but dropout *on*; the same images go through twice with
  independent dropout masks and :func:`~polycode_lite.science.eigen.cv_pca` keeps only the variance
  shared by the two passes (the dropout noise averages out). CI: basic bootstrap over images. At
  p = 0 both passes are identical and cvPCA equals plain PCA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import torch
    from torch import nn

__all__ = [
    "alpha_energy_table",
    "alpha_table",
    "analysis_images",
    "dot_trajectories",
    "fit_window_for",
    "layer_alphas",
    "reconstruction_table",
    "set_dropout_only_train",
    "trajectory_stats",
]


def analysis_images(n: int = 1024, seed: int = 1) -> torch.Tensor:
    """Held-out shapes images (n, 3, 32, 32) in [0, 1]. Seed 1 is the test split of models
    trained with seed 0 (training images come from seed 0), so these were never trained on."""
    import torch

    from polycode_lite.data.shapes import make_shapes

    images, _ = make_shapes(n, seed=seed)
    return torch.from_numpy(images)


def _batches(images: torch.Tensor, batch_size: int, size: int, device: Any):
    import torch.nn.functional as F

    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].to(device).float()
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
        yield x


def set_dropout_only_train(model: nn.Module) -> nn.Module:
    """Put ``model`` in eval mode except its ``nn.Dropout`` modules (masks on, BN frozen)."""
    from torch import nn

    model.eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    return model


def fit_window_for(m: int, n: int, ranks: tuple[int, int] | None = None) -> tuple[int, int]:
    """Fit window for a layer with m features and n samples: the default window
    (:func:`~polycode_lite.science.powerlaw.default_fit_window`), or ``ranks`` with hi capped at
    min(m, n)/2 (pitfall 2). Raises ValueError when fewer than 5 ranks remain."""
    from polycode_lite.science.powerlaw import default_fit_window

    if ranks is None:
        return default_fit_window(m, n)
    lo, hi = int(ranks[0]), min(int(ranks[1]), int(0.5 * min(m, n)))
    if hi - lo + 1 < 5:
        raise ValueError(f"fit window ({ranks[0]}, {ranks[1]}) leaves only ranks {lo}..{hi} for a "
                         f"layer with m={m} features and n={n} samples; lower lo.")
    return lo, hi


def layer_alphas(
    model: nn.Module,
    images: torch.Tensor,
    layers: Sequence[str] | None = None,
    mode: str = "eval",
    ranks: tuple[int, int] | None = None,
    batch_size: int = 256,
    n_boot: int = 30,
    seed: int = 0,
    progress: bool = False,
    correct_bias: bool = True,
) -> pd.DataFrame:
    """α of every layer of one model (docs/paper_guide.md §3 E5).

    Args:
        model: a :func:`~polycode_lite.models.resnet_vae.ResNetAutoencoder`.
        images: (N, 3, H, W) in [0, 1] (resized to the model's input size per batch).
        layers: dotted layer names (default :data:`~polycode_lite.models.resnet_vae.ANALYSIS_LAYERS`).
        mode: "eval" or "cvpca" (see the module docstring).
        ranks: fit window (lo, hi); hi is capped per layer at min(m, N)/2. None: default window.
        batch_size: images per forward pass.
        n_boot: bootstrap replicates of the CI (cvpca mode).
        seed: seed of the dropout masks (cvpca), the bootstrap and the bias simulation.
        correct_bias: eval mode only: simulation-matched finite-sample correction with a
            parametric-bootstrap CI (default); False gives the plain fit with a residual
            bootstrap CI (much faster, too narrow a CI; used by the notebook's fast mode).

    Returns:
        DataFrame, one row per layer: layer, depth (0-based position in ``layers``), m,
        n_samples, alpha, ci_low, ci_high, lo, hi, r2, alpha_plain, mode, the spectrum
        (column ``eigenvalues``, numpy array) for plotting, and ``note``: empty, or why α is
        NaN (a cvPCA spectrum that turns non-positive inside the window, or whose log-log fit
        has a non-positive slope or r² < 0.5).

    Raises:
        ValueError: unknown mode, or too few images/features for a fit.
    """
    import pandas as pd
    import torch

    from polycode_lite.models.hooks import accumulate_covariances, record_activations
    from polycode_lite.models.resnet_vae import ANALYSIS_LAYERS, layer_features
    from polycode_lite.science.eigen import cv_pca, eigenspectrum
    from polycode_lite.science.powerlaw import _wls_loglog, fit_power_law

    if mode not in {"eval", "cvpca"}:
        raise ValueError(f"mode must be 'eval' or 'cvpca', got {mode!r}.")
    layers = list(layers or ANALYSIS_LAYERS)
    device = next(model.parameters()).device
    size = model.config.image_size
    n = int(images.shape[0])
    was_training = model.training
    rows = []
    try:
        if mode == "eval":
            model.eval()
            accs = accumulate_covariances(model, _batches(images, batch_size, size, device), layers,
                                          features=layer_features, progress=progress,
                                          desc="activations (eval)")
            for depth, name in enumerate(layers):
                acc = accs[name]
                lam = eigenspectrum(acc)
                lo, hi = fit_window_for(acc.dim, acc.n, ranks)
                fit = fit_power_law(lam, ranks=(lo, hi), n_samples=acc.n, seed=seed,
                                    correct_bias=correct_bias, n_boot=max(n_boot, 20))
                rows.append({"layer": name, "depth": depth, "m": acc.dim, "n_samples": acc.n,
                                 "alpha": fit.alpha, "ci_low": fit.ci[0], "ci_high": fit.ci[1], "lo": lo, "hi": hi,
                                 "r2": fit.r2, "alpha_plain": fit.alpha_plain, "mode": mode, "eigenvalues": lam,
                                 "note": ""})
            return pd.DataFrame(rows)

        set_dropout_only_train(model)
        reps = []
        for rep in range(2):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed * 7919 + rep + 1)
                reps.append(record_activations(
                    model, torch.cat(list(_batches(images, batch_size, size, device))), layers,
                    features=layer_features, batch_size=batch_size))
        rng = np.random.default_rng(seed)
        for depth, name in enumerate(layers):
            x1 = reps[0][name].double().numpy()
            x2 = reps[1][name].double().numpy()
            m = x1.shape[1]
            lam = cv_pca(x1, x2, n_shuffles=5, seed=seed)
            lo, hi = fit_window_for(m, n, ranks)
            hi = min(hi, lam.size)
            bad = np.flatnonzero(lam[lo - 1 : hi] <= 0)
            if bad.size:  # the cvPCA tail can be negative: end the window before it
                hi = lo - 1 + int(bad[0])
            if hi - lo + 1 < 5:  # fewer than 5 positive ranks: no meaningful slope
                rows.append({"layer": name, "depth": depth, "m": m, "n_samples": n, "alpha": np.nan,
                                 "ci_low": np.nan, "ci_high": np.nan, "lo": lo, "hi": hi, "r2": np.nan,
                                 "alpha_plain": np.nan, "mode": mode, "eigenvalues": lam,
                                 "note": f"cvPCA spectrum non-positive from rank {hi + 1}: the "
                                      "dropout noise swamps the shared variance"})
                continue
            fit = fit_power_law(lam, ranks=(lo, hi), n_boot=50, seed=seed)
            if fit.alpha_plain <= 0 or fit.r2 < 0.5:  # a rising or shapeless shared spectrum
                rows.append({"layer": name, "depth": depth, "m": m, "n_samples": n, "alpha": np.nan,
                                 "ci_low": np.nan, "ci_high": np.nan, "lo": lo, "hi": hi, "r2": fit.r2,
                                 "alpha_plain": fit.alpha_plain, "mode": mode, "eigenvalues": lam,
                                 "note": f"no power law in the cvPCA spectrum (slope {fit.alpha_plain:.2f}, "
                                      f"r2 {fit.r2:.2f}): the dropout noise swamps the shared variance"})
                continue
            boots = []
            rr = np.arange(lo, hi + 1, dtype=np.float64)
            for _ in range(n_boot):
                idx = rng.integers(0, n, n)
                lb = cv_pca(x1[idx], x2[idx], n_shuffles=1, seed=int(rng.integers(2**31)))
                if lb.size >= hi and np.all(lb[lo - 1 : hi] > 0):
                    boots.append(_wls_loglog(rr, lb[lo - 1 : hi])[0])
            # basic (pivotal) bootstrap interval 2α̂ − q: resampling images with replacement
            # duplicates rows, which shifts the cvPCA fit; the pivot removes that shift
            ci = ((2 * fit.alpha - float(np.quantile(boots, 0.975)),
                   2 * fit.alpha - float(np.quantile(boots, 0.025)))
                  if len(boots) >= max(5, n_boot // 2) else (float("nan"), float("nan")))
            rows.append({"layer": name, "depth": depth, "m": m, "n_samples": n, "alpha": fit.alpha,
                             "ci_low": ci[0], "ci_high": ci[1], "lo": lo, "hi": hi, "r2": fit.r2,
                             "alpha_plain": fit.alpha_plain, "mode": mode, "eigenvalues": lam,
                             "note": "" if len(boots) >= max(5, n_boot // 2)
                             else "too few bootstrap resamples with a positive window"})
        return pd.DataFrame(rows)
    finally:
        model.train(was_training)


def alpha_table(
    models: Mapping[float, Any],
    images: torch.Tensor,
    layers: Sequence[str] | None = None,
    modes: Sequence[str] = ("eval", "cvpca"),
    ranks: tuple[int, int] | None = None,
    n_boot: int = 30,
    seed: int = 0,
    progress: bool = True,
    correct_bias: bool = True,
) -> pd.DataFrame:
    """:func:`layer_alphas` for every model and mode, stacked with a ``dropout`` column.

    ``models`` maps dropout rate -> model (or -> (model, meta), as returned by
    :func:`polycode_lite.models.checkpoints.shipped_models`).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    frames = []
    jobs = [(p, mode) for p in models for mode in modes]
    for p, mode in tqdm(jobs, desc="α per layer", disable=not progress):
        model = models[p][0] if isinstance(models[p], tuple) else models[p]
        df = layer_alphas(model, images, layers, mode=mode, ranks=ranks, n_boot=n_boot, seed=seed,
                          correct_bias=correct_bias)
        df.insert(0, "dropout", float(p))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def reconstruction_table(models: Mapping[float, Any], images: torch.Tensor,
                         baseline_images: torch.Tensor | None = None) -> pd.DataFrame:
    """Per-image BCE and MSE of each model (eval mode) against the mean-image baseline.

    ``baseline_images`` supply the mean image (default: the same images; pass training
    images for an honest baseline). Returns one row per dropout: dropout, bce, mse,
    baseline_bce, baseline_mse, bce_gain = 1 - (bce - floor)/(baseline_bce - floor) where floor is
    the BCE of a perfect reconstruction (the pixel entropy Σ H(x), not 0 for grey pixels).
    """
    import pandas as pd
    import torch
    import torch.nn.functional as F

    from polycode_lite.models.resnet_vae import vae_loss

    ref = images if baseline_images is None else baseline_images
    x = images.float()
    mean = ref.float().mean(0, keepdim=True).clamp(1e-6, 1 - 1e-6).expand_as(x)
    base_bce = float(F.binary_cross_entropy(mean, x, reduction="sum")) / x.shape[0]
    base_mse = float(((mean - x) ** 2).sum()) / x.shape[0]
    xc = x.clamp(1e-6, 1 - 1e-6)
    floor = float(F.binary_cross_entropy(xc, x, reduction="sum")) / x.shape[0]
    rows = []
    for p, entry in models.items():
        model = entry[0] if isinstance(entry, tuple) else entry
        model.eval()
        device = next(model.parameters()).device
        bce = mse = 0.0
        with torch.no_grad():
            for xb in _batches(x, 256, model.config.image_size, device):
                recon, mu, logvar, _ = model(xb)
                bce += float(vae_loss(recon, xb, mu, logvar)["bce"]) * xb.shape[0]
                mse += float(((recon - xb) ** 2).sum())
        bce, mse = bce / x.shape[0], mse / x.shape[0]
        rows.append({"dropout": float(p), "bce": bce, "mse": mse, "baseline_bce": base_bce,
                         "baseline_mse": base_mse, "bce_floor": floor,
                         "bce_gain": 1 - (bce - floor) / (base_bce - floor),
                         "mse_ratio": mse / base_mse})
    return pd.DataFrame(rows)


def dot_trajectories(
    model: nn.Module,
    n_frames: int = 128,
    layers: Sequence[str] | None = None,
    sigma: float = 1.25,
    include_input: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run a dot moving once round a circle (:func:`polycode_lite.data.stimuli.moving_dot_images`,
    drawn at 32×32 on black and resized to the model's input like any image) through the model
    in eval mode and return (angles (T,), {layer: (T, m) float64}) with every layer's output
    flattened (C·H·W for conv stages). ``include_input`` adds the pixels as layer "input"."""
    import torch

    from polycode_lite.data.stimuli import circle_angles, moving_dot_images
    from polycode_lite.models.hooks import flat_features, record_activations
    from polycode_lite.models.resnet_vae import ANALYSIS_LAYERS

    layers = list(layers or ANALYSIS_LAYERS)
    frames = torch.from_numpy(moving_dot_images(n_frames, size=32, sigma=sigma, channels=3))
    device = next(model.parameters()).device
    x = torch.cat(list(_batches(frames, 256, model.config.image_size, device)))
    was_training = model.training
    model.eval()
    try:
        acts = record_activations(model, x, layers, features=flat_features, batch_size=256)
    finally:
        model.train(was_training)
    out = {"input": x.reshape(n_frames, -1).double().cpu().numpy()} if include_input else {}
    out.update({k: v.double().numpy() for k, v in acts.items()})
    return circle_angles(n_frames), out


def trajectory_stats(
    model: nn.Module,
    n_frames: int = 128,
    layers: Sequence[str] | None = None,
    k: int = 3,
    n_projections: int = 50,
    Ts: Sequence[int] = (64, 128, 256),
    seed: int = 0,
) -> pd.DataFrame:
    """Smoothness of the dot trajectory in each layer (docs/paper_guide.md §3 E3).

    Columns from :func:`polycode_lite.science.trajectory_similarity.trajectory_table` (layer, m, energy_norm =
    E / tr Σ in full space, rsa_mean / rsa_sd = Spearman RSA between the dot angles and k-D
    random projections over ``n_projections`` draws, rsa_full, proj_energy_ratio), plus
    energy_rel_input = energy_norm / energy_norm of the input pixels, and energy_slope =
    d log E / d log T of the full-space energy over ``Ts`` (≈ −1 smooth; > −1 rough).
    """
    from polycode_lite.science.projections import energy_scaling_slope
    from polycode_lite.science.trajectory_similarity import trajectory_table

    angles, trajs = dot_trajectories(model, n_frames, layers)
    df = trajectory_table(trajs, angles, k=k, n_projections=n_projections, seed=seed, progress=False)
    df["energy_rel_input"] = df["energy_norm"] / float(df.loc[df["layer"] == "input", "energy_norm"].iloc[0])
    cache: dict[int, dict[str, np.ndarray]] = {}

    def traj(T: int, name: str) -> np.ndarray:
        if T not in cache:
            cache[T] = dot_trajectories(model, T, layers)[1]
        return cache[T][name]

    df["energy_slope"] = [energy_scaling_slope(lambda T, nm=name: traj(T, nm), Ts).slope
                          for name in df["layer"]]
    return df


def alpha_energy_table(models: Mapping[float, Any], alphas: pd.DataFrame, n_frames: int = 128,
                       n_projections: int = 50, Ts: Sequence[int] = (64, 128, 256),
                       seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """:func:`trajectory_stats` for every model, joined with the eval-mode α of ``alphas`` (from
    :func:`alpha_table`) on (dropout, layer). Input rows keep α = NaN."""
    import pandas as pd
    from tqdm.auto import tqdm

    frames = []
    for p in tqdm(list(models), desc="dot trajectories", disable=not progress):
        model = models[p][0] if isinstance(models[p], tuple) else models[p]
        df = trajectory_stats(model, n_frames, None, n_projections=n_projections, Ts=Ts, seed=seed)
        df.insert(0, "dropout", float(p))
        frames.append(df)
    traj = pd.concat(frames, ignore_index=True)
    a = alphas[alphas["mode"] == "eval"][["dropout", "layer", "alpha", "ci_low", "ci_high"]]
    return traj.merge(a, on=["dropout", "layer"], how="left")
