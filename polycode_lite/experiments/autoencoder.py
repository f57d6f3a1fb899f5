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

Three spectrum estimators (docs/paper_guide.md pitfall 5):

* ``mode="eval"``: the model in ``eval()`` (BN running statistics, dropout off, z = μ); the
  pooled features of every image are recorded and α is fitted with the simulation-matched
  finite-sample correction.
* ``mode="repeats"``: BN in eval mode but dropout *on*; the same images go through
  ``n_repeats`` times (default 8) with independent dropout masks, and the spectrum is that of
  their all-pairs cross-covariance (:mod:`polycode_lite.science.repeats`), whose expectation is
  the covariance of the mask-averaged features: the mask noise drops out.
* ``mode="cvpca"``: the same with two passes and Stringer's cvPCA (axes from one noisy pass).
  Kept to show its failure: dropout noise is multiplicative and uneven across channels, which
  tilts the axes (benchmarks/bench_repeats.py). At p = 0 every pass is identical and all three
  estimators equal plain PCA.

Both go through the one α pipeline (:func:`polycode_lite.experiments.alpha.layer_alphas`): the
CI is its centred percentile bootstrap over images.
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
    "alpha_dropout_verdict",
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
    min(m, n)/2 (pitfall 2). Raises ValueError when fewer than 5 ranks remain. The same rule as
    :func:`polycode_lite.experiments.alpha.fit_window`, which :func:`layer_alphas` uses."""
    from polycode_lite.experiments.alpha import fit_window

    return fit_window(m, n, ranks)


def layer_alphas(
    model: nn.Module,
    images: torch.Tensor,
    layers: Sequence[str] | None = None,
    mode: str = "eval",
    ranks: tuple[int, int] | Mapping[str, tuple[int, int]] | None = None,
    batch_size: int = 256,
    n_boot: int = 30,
    seed: int = 0,
    progress: bool = False,
    correct_bias: bool = True,
    n_repeats: int = 8,
    strict_window: bool = False,
) -> Any:
    """α of every layer of one model (docs/paper_guide.md §3 E5), through the one α pipeline
    :func:`polycode_lite.experiments.alpha.layer_alphas`.

    Args:
        model: a :class:`~polycode_lite.models.resnet_vae.ResNetAutoencoder`.
        images: (N, 3, H, W) in [0, 1] (resized to the model's input size per batch).
        layers: dotted layer names (default :data:`~polycode_lite.models.resnet_vae.ANALYSIS_LAYERS`).
        mode: "eval", "repeats" or "cvpca" (see the module docstring).
        ranks: fit window (lo, hi) for every layer, or a mapping layer → (lo, hi); hi is capped
            per layer at min(m, N)/2. None: one default window for all layers (the narrowest
            layer sets it).
        batch_size: images per forward pass.
        n_boot: bootstrap replicates of the CI (both modes: images resampled).
        seed: seed of the dropout masks (cvpca), the bootstrap and the bias simulation.
        correct_bias: eval mode only: simulation-matched finite-sample correction (default);
            False gives the plain fit (much faster; used by the notebook's fast mode).
        n_repeats: dropout masks per image in "repeats" mode (>= 2).
        strict_window: a layer whose spectrum does not support all of ``ranks`` gets NaN α
            instead of a shorter window (see ``layer_alphas``).

    Returns:
        an :class:`~polycode_lite.experiments.alpha.AlphaTable` (site = layer, depth = position
        in ``layers``, extra column ``mode``); ``.table(spectra=True)`` adds the spectra.
        NaN α rows say why in ``note`` (e.g. a cvPCA spectrum that turns non-positive within a
        few ranks, or no power law: the dropout noise swamps the shared variance).

    Raises:
        ValueError: unknown mode, or too few images/features for a fit.
    """
    import torch

    from polycode_lite.experiments.alpha import Activations, Repeats
    from polycode_lite.experiments.alpha import layer_alphas as fit_sites
    from polycode_lite.models.hooks import record_activations
    from polycode_lite.models.resnet_vae import ANALYSIS_LAYERS, layer_features

    if mode not in {"eval", "repeats", "cvpca"}:
        raise ValueError(f"mode must be 'eval', 'repeats' or 'cvpca', got {mode!r}.")
    if mode == "repeats" and int(n_repeats) < 2:
        raise ValueError(f"n_repeats must be >= 2 (independent dropout masks), got {n_repeats}.")
    layers = list(layers or ANALYSIS_LAYERS)
    device = next(model.parameters()).device
    size = model.config.image_size
    was_training = model.training
    x = torch.cat(list(_batches(images, batch_size, size, device)))
    try:
        if mode == "eval":
            model.eval()
            acts = record_activations(model, x, layers, features=layer_features, batch_size=batch_size)
            data: dict[str, Any] = {name: Activations(acts[name], unit="images") for name in layers}
        else:
            set_dropout_only_train(model)
            reps = []
            for rep in range(2 if mode == "cvpca" else int(n_repeats)):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed * 7919 + rep + 1)
                    reps.append(record_activations(model, x, layers, features=layer_features,
                                                   batch_size=batch_size))
            method = "cvpca" if mode == "cvpca" else "cross-covariance"
            data = {name: Repeats(tuple(r[name] for r in reps), unit="images", method=method)
                    for name in layers}
    finally:
        model.train(was_training)
    return fit_sites(data, estimator=("corrected" if correct_bias else "plain") if mode == "eval"
                     else "plain", window=ranks, n_boot=n_boot, seed=seed, progress=progress,
                     strict_window=strict_window,
                     extra={name: {"mode": mode} for name in layers})


def eval_features(model: nn.Module, images: torch.Tensor, layers: Sequence[str],
                  batch_size: int = 256) -> dict[str, np.ndarray]:
    """Pooled eval-mode features (N, m) of each analysis layer."""
    import torch

    from polycode_lite.models.hooks import record_activations
    from polycode_lite.models.resnet_vae import layer_features

    was_training = model.training
    model.eval()
    try:
        x = torch.cat(list(_batches(images, batch_size, model.config.image_size,
                                    next(model.parameters()).device)))
        acts = record_activations(model, x, list(layers), features=layer_features, batch_size=batch_size)
    finally:
        model.train(was_training)
    return {name: np.asarray(acts[name]) for name in layers}


def alpha_table(
    models: Mapping[float, Any],
    images: torch.Tensor,
    layers: Sequence[str] | None = None,
    modes: Sequence[str] = ("eval", "repeats"),
    ranks: tuple[int, int] | None = None,
    n_boot: int = 30,
    seed: int = 0,
    progress: bool = True,
    correct_bias: bool = True,
) -> pd.DataFrame:
    """:func:`layer_alphas` for every model and mode, stacked: columns dropout, mode, the common
    α schema (:data:`polycode_lite.experiments.alpha.COLUMNS`), ``eigenvalues`` (the spectra) and
    ``window_grid``. One window per layer serves every model and mode (the comparison is across
    dropout rates at a layer), from what the models' eval-mode spectra support at that layer.

    ``models`` maps dropout rate -> model (or -> (model, meta), as returned by
    :func:`polycode_lite.models.checkpoints.shipped_models`).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from polycode_lite.experiments.alpha import comparison_window
    from polycode_lite.models.resnet_vae import ANALYSIS_LAYERS

    # the claim compares models at each layer: one window per layer for every model and mode, set
    # by the narrowest eval-mode spectrum that has not collapsed (collapsed ones are left out)
    names = list(layers or ANALYSIS_LAYERS)
    feats = [eval_features(m[0] if isinstance(m, tuple) else m, images, names) for m in models.values()]
    windows = {name: comparison_window([f[name] for f in feats], ranks, seed=seed) for name in names}
    frames = []
    jobs = [(p, mode) for p in models for mode in modes]
    for p, mode in tqdm(jobs, desc="α per layer", disable=not progress):
        model = models[p][0] if isinstance(models[p], tuple) else models[p]
        df = layer_alphas(model, images, layers, mode=mode, ranks=windows, n_boot=n_boot, seed=seed,
                          correct_bias=correct_bias, strict_window=True).table(spectra=True, grid=True)
        df.insert(0, "mode", df.pop("mode"))
        df.insert(0, "dropout", float(p))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def alpha_dropout_verdict(alphas: pd.DataFrame, reconstruction: pd.DataFrame | None = None,
                          layers: Sequence[str] | None = None, mode: str = "eval") -> dict[str, Any]:
    """Does α rise with the dropout rate? The verdict of notebook 06 from :func:`alpha_table`.

    Per layer: Spearman ρ of α with the dropout rate, and whether α at the highest rate lies
    above (below) α at the lowest with non-overlapping CIs. Over the encoder stages (layers
    named ``encoder.*``): "holds" when at least 3 stages rise beyond the CIs, none falls, and
    every model reconstructs better than the mean image (``reconstruction`` from
    :func:`reconstruction_table`; an α that rises because a failed model's code collapsed is
    not evidence of a redundant code); "partly" when ρ > 0 in at least 2 stages or one stage
    rises beyond the CIs; else "does not hold at this scale". A stage counts as rising (falling)
    beyond the CIs only if α at the highest rate is also above (below) α at the lowest in every
    window of the ``window_grid`` column, when the table has one.

    Returns dict(verdict, trend (DataFrame: mode, layer, alpha_p0, alpha_p08, rho,
    separated_up, separated_down), n_up, n_sep_up, n_sep_down, n_up_all, n_encoder, all_learnt).
    """
    import pandas as pd
    from scipy.stats import spearmanr

    layers = list(dict.fromkeys(alphas["site"])) if layers is None else list(layers)
    rows = []
    for m in dict.fromkeys(alphas["mode"]):
        for layer in layers:
            sub = alphas[(alphas["mode"] == m) & (alphas["site"] == layer)].sort_values("dropout")
            a0, a8 = sub.iloc[0], sub.iloc[-1]
            ok = sub.alpha.notna().all() and sub.alpha.nunique() > 1
            rho = spearmanr(sub.dropout, sub.alpha).statistic if ok else np.nan
            g0 = a0.get("window_grid") if isinstance(a0.get("window_grid"), Mapping) else {}
            g8 = a8.get("window_grid") if isinstance(a8.get("window_grid"), Mapping) else {}
            diffs = np.array([g8[w] - g0[w] for w in g0 if w in g8], dtype=float)
            diffs = diffs[np.isfinite(diffs)]
            rows.append({"mode": m, "layer": layer, "alpha_p0": a0.alpha, "alpha_p08": a8.alpha, "rho": rho,
                         "separated_up": bool(a8.ci_low > a0.ci_high and (diffs > 0).all()),
                         "separated_down": bool(a8.ci_high < a0.ci_low and (diffs < 0).all()),
                         "grid_windows": int(diffs.size),
                         "grid_agrees": bool((diffs > 0).all() or (diffs < 0).all()) if diffs.size else None})
    trend = pd.DataFrame(rows)
    ev = trend[trend["mode"] == mode].set_index("layer")
    enc = [l for l in layers if l.startswith("encoder")]
    n_up = int((ev.loc[enc, "rho"] > 0).sum())
    n_sep_up = int(ev.loc[enc, "separated_up"].sum())
    n_sep_down = int(ev.loc[enc, "separated_down"].sum())
    all_learnt = True if reconstruction is None else bool(
        (reconstruction["bce"] < reconstruction["baseline_bce"]).all())
    verdict = ("holds" if n_sep_up >= 3 and n_sep_down == 0 and all_learnt else
               "partly" if n_up >= 2 or n_sep_up >= 1 else "does not hold at this scale")
    return {"verdict": verdict, "trend": trend, "n_up": n_up, "n_sep_up": n_sep_up, "n_sep_down": n_sep_down,
                "n_up_all": int((ev["rho"] > 0).sum()), "n_encoder": len(enc), "all_learnt": all_learnt}


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
    :func:`alpha_table`) on (dropout, layer = site). Input rows keep α = NaN."""
    import pandas as pd
    from tqdm.auto import tqdm

    frames = []
    for p in tqdm(list(models), desc="dot trajectories", disable=not progress):
        model = models[p][0] if isinstance(models[p], tuple) else models[p]
        df = trajectory_stats(model, n_frames, None, n_projections=n_projections, Ts=Ts, seed=seed)
        df.insert(0, "dropout", float(p))
        frames.append(df)
    traj = pd.concat(frames, ignore_index=True)
    a = (alphas[alphas["mode"] == "eval"][["dropout", "site", "alpha", "ci_low", "ci_high"]]
         .rename(columns={"site": "layer"}))
    return traj.merge(a, on=["dropout", "layer"], how="left")
