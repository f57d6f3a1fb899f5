"""The claims of notebook 06 as rules, each with its control: untrained networks and nulls.

* :func:`untrained_models`: the same ``lite`` architecture at its random initialisation (the
  trainer's seed), BatchNorm statistics re-estimated on training images exactly as for the
  trained checkpoints (:func:`polycode_lite.models.batchnorm.recalibrate_batchnorm`), so the
  untrained and trained codes are read the same way.
* :func:`reconstruction_verdict`: every model must beat the mean image; an untrained model or
  the mean image itself does not.
* :func:`dropout_verdict`: :func:`polycode_lite.experiments.autoencoder.alpha_dropout_verdict`
  on the trained models, with the untrained models as control: a stage's rise counts only if
  the untrained network at the same rates does not rise beyond its CIs too (through dropout
  masks the estimator alone can move α with p; at init the weights are identical across p).
* :func:`depth_verdict`: α differs between encoder stages beyond the CIs in the trained model,
  and training changed the profile (some stage's trained and untrained CIs are disjoint);
  a depth profile the untrained network shows just as well is architecture, not learning.
* :func:`smoothness_verdict`: ρ(α, energy) < 0 and ρ(α, RSA) > 0, each with a one-sided
  permutation p-value (α shuffled across points) below ``p_max``.

Every verdict comes with ``why``: for a verdict other than "holds", one or two sentences from the
numbers of the run saying what fell short (empty for "holds"), for ``record_claim(why=...)`` and
the notebook's verdict line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import torch

__all__ = ["untrained_models", "reconstruction_verdict", "dropout_verdict", "depth_verdict",
           "smoothness_verdict", "permutation_spearman"]


def untrained_models(dropouts: Sequence[float], train_images: torch.Tensor, config: str = "lite",
                     seed: int = 0) -> dict[float, Any]:
    """{p: model} at random initialisation (``ResNetAutoencoder(config, dropout=p, seed=seed)``:
    the trainer's init, identical weights for every p), output bias at the mean image and
    BatchNorm statistics estimated on ``train_images`` (N, 3, H, W) in eval mode."""
    import torch

    from polycode_lite.experiments.autoencoder import _batches
    from polycode_lite.models.batchnorm import recalibrate_batchnorm
    from polycode_lite.models.resnet_vae import ResNetAutoencoder

    if len(dropouts) == 0:
        raise ValueError("dropouts is empty: pass the rates to build, e.g. (0.0, 0.8).")
    if train_images.ndim != 4 or train_images.shape[0] < 2:
        raise ValueError(f"train_images must be (N >= 2, 3, H, W), got {tuple(train_images.shape)}.")
    out = {}
    mean = train_images.float().mean(0).clamp(1e-6, 1 - 1e-6)
    for p in dropouts:
        model = ResNetAutoencoder(config, dropout=float(p), seed=seed)
        size = model.config.image_size
        if model.config.mean_image_bias:
            m = mean if mean.shape[-1] == size else torch.nn.functional.interpolate(
                mean[None], size=(size, size), mode="bilinear", align_corners=False)[0]
            model.set_mean_image(m)
        recalibrate_batchnorm(model, _batches(train_images, 128, size, "cpu"))
        out[float(p)] = model
    return out


def reconstruction_verdict(rec: pd.DataFrame, min_gain: float = 0.01) -> dict[str, Any]:
    """Does every model reconstruct held-out images better than the mean image?

    ``rec`` from :func:`polycode_lite.experiments.autoencoder.reconstruction_table`. A model
    learnt something when it closes at least ``min_gain`` of the gap between the mean-image
    BCE and a perfect reconstruction. Returns dict(verdict: "holds" if all do, "partly" if
    the lowest rate does, else "does not hold at this scale"; learnt: {p: bool}; n_learnt)."""
    if len(rec) == 0:
        raise ValueError("rec is empty: pass reconstruction_table(models, images, baseline_images=...).")
    learnt = {float(p): bool(g > min_gain) for p, g in zip(rec["dropout"], rec["bce_gain"])}
    n = sum(learnt.values())
    lowest = learnt[min(learnt)]
    verdict = "holds" if n == len(learnt) else "partly" if lowest else "does not hold at this scale"
    gains = dict(zip(rec["dropout"].astype(float), rec["bce_gain"].astype(float)))
    failed = [p for p, ok in learnt.items() if not ok]
    why = "" if verdict == "holds" else (
        f"{len(failed)} of {len(learnt)} models close less than {min_gain:.0%} of the gap between the "
        f"mean-image baseline and a perfect reconstruction: "
        + ", ".join(f"p = {p:g} ({gains[p]:.1%})" for p in failed)
        + ("; even the lowest rate's model learnt nothing measurable." if not lowest else "."))
    return {"verdict": verdict, "learnt": learnt, "n_learnt": n, "why": why}


def dropout_verdict(alphas: pd.DataFrame, control: pd.DataFrame, reconstruction: pd.DataFrame | None,
                    layers: Sequence[str], mode: str = "eval") -> dict[str, Any]:
    """The dropout claim with its control. ``alphas`` and ``control``: :func:`alpha_table` of the
    trained and the untrained models (``control`` needs at least the lowest and highest rate).

    A stage counts as rising only if it rises beyond the CIs and the grid in the trained models
    and not in the control; "holds" needs 3 of 4 such stages, none falling, and every model
    learnt; "partly" needs at least one such stage and more rising than falling stages; else
    "does not hold at this scale". Returns the trained result's keys plus ``control_trend``, ``n_control_up`` and
    ``n_sep_up_net`` (stages that rise in the trained models and not in the control)."""
    from polycode_lite.experiments.autoencoder import alpha_dropout_verdict

    trained = alpha_dropout_verdict(alphas, reconstruction, layers, mode=mode)
    ctrl = alpha_dropout_verdict(control, None, layers, mode=mode)
    enc = [l for l in layers if l.startswith("encoder")]
    tr = trained["trend"][trained["trend"]["mode"] == mode].set_index("layer")
    ct = ctrl["trend"][ctrl["trend"]["mode"] == mode].set_index("layer")
    net_up = [l for l in enc if tr.loc[l, "separated_up"] and not ct.loc[l, "separated_up"]]
    n_net, n_down = len(net_up), trained["n_sep_down"]
    verdict = ("holds" if n_net >= 3 and n_down == 0 and trained["all_learnt"] else
               "partly" if n_net >= 1 and n_net > n_down else "does not hold at this scale")
    why = "" if verdict == "holds" else _dropout_why(tr, ct, enc, net_up, trained, reconstruction)
    return {**trained, "verdict": verdict, "control_trend": ctrl["trend"], "n_control_up": ctrl["n_sep_up"],
            "n_sep_up_net": n_net, "net_up_layers": net_up, "why": why}


def _short(layer: str) -> str:
    return layer.replace("encoder.", "")


def _dropout_why(tr: pd.DataFrame, ct: pd.DataFrame, enc: Sequence[str], net_up: Sequence[str],
                 trained: Mapping[str, Any], reconstruction: pd.DataFrame | None) -> str:
    """Why the dropout claim falls short, from the trend tables (indexed by layer)."""
    def arrow(l: str) -> str:
        a0, a8 = (tr.loc[l, c] for c in ("alpha_p0", "alpha_p08"))
        return f"{_short(l)} " + "→".join(f"{a:.2f}" if np.isfinite(a) else "n/a" for a in (a0, a8))

    parts = [f"α rises beyond the CIs and every window of the grid, and not in the untrained control, in "
             f"{len(net_up)} of {len(enc)} encoder stages (the claim needs 3, none falling, every model "
             "beating the mean image)"
             + (f": {', '.join(arrow(l) for l in net_up)}" if net_up else "")]
    down = [l for l in enc if tr.loc[l, "separated_down"]]
    if down:
        parts.append(f"it falls beyond the CIs in {', '.join(arrow(l) for l in down)}")
    ctl_up = [l for l in enc if tr.loc[l, "separated_up"] and ct.loc[l, "separated_up"]]
    if ctl_up:
        parts.append(f"the untrained control rises as well in {', '.join(_short(l) for l in ctl_up)}, "
                     "so the estimator, not training, makes that rise")
    flat = [l for l in enc if l not in net_up and l not in down and l not in ctl_up]
    if flat:
        parts.append(f"no change beyond the CIs and the window grid in {', '.join(arrow(l) for l in flat)}")
    if not trained["all_learnt"] and reconstruction is not None:
        worse = reconstruction.dropout[reconstruction.bce >= reconstruction.baseline_bce].tolist()
        parts.append(f"the models at p = {', '.join(f'{p:g}' for p in worse)} do not beat the mean image")
    return "; ".join(parts) + "."


def _disjoint(a: Any, b: Any) -> bool:
    return bool(a.ci_low > b.ci_high or a.ci_high < b.ci_low)


def depth_verdict(trained: pd.DataFrame, control: pd.DataFrame, stages: Sequence[str]) -> dict[str, Any]:
    """"α depends on depth", with the untrained network as control.

    ``trained`` / ``control``: ``AlphaTable.table()`` of the trained and the untrained model in
    one window, indexed by ``site`` (columns alpha, ci_low, ci_high). "holds": the highest and
    lowest encoder stage of the trained model have disjoint CIs *and* at least one stage's
    trained CI is disjoint from its untrained CI (training changed the profile); "partly": only
    the first (a depth profile the untrained network may share); else "does not hold"."""
    from scipy.stats import spearmanr

    stages = list(stages)
    missing = [s for s in stages if s not in trained.index or s not in control.index]
    if missing:
        raise ValueError(f"stages {missing} are not in both tables' index (site): check the layer names.")
    t, c = trained.loc[stages], control.loc[stages]
    if t.alpha.isna().any():
        missing_fit = [_short(s) for s in stages if not np.isfinite(t.loc[s, "alpha"])]
        return {"verdict": "does not hold at this scale", "separated": False, "changed": [],
                "rho": float("nan"), "rho_control": float("nan"), "control_separated": False,
                "why": f"no α for {', '.join(missing_fit)} in the common window, so the stages cannot be compared."}
    lo, hi = t.alpha.idxmin(), t.alpha.idxmax()
    separated = _disjoint(t.loc[hi], t.loc[lo])
    ok_c = c.alpha.notna().all()
    c_sep = bool(ok_c and _disjoint(c.loc[c.alpha.idxmax()], c.loc[c.alpha.idxmin()]))
    changed = [s for s in stages if np.isfinite(c.loc[s, "alpha"]) and _disjoint(t.loc[s], c.loc[s])]
    depth = np.arange(len(stages))
    verdict = ("holds" if separated and changed else "partly" if separated else "does not hold at this scale")

    def ci(s: str) -> str:
        return f"{_short(s)} {t.loc[s, 'alpha']:.2f} [{t.loc[s, 'ci_low']:.2f}, {t.loc[s, 'ci_high']:.2f}]"

    why = ("" if verdict == "holds" else
           f"the stages differ ({ci(hi)} against {ci(lo)}), but no stage's CI is disjoint from the untrained "
           "network's in the same window: the untrained architecture has this profile too." if separated else
           f"the highest and lowest encoder stages' CIs overlap ({ci(hi)} against {ci(lo)}): α does not "
           "differ between stages beyond the CIs.")
    return {"verdict": verdict, "separated": separated, "changed": changed, "lowest": lo, "highest": hi,
            "why": why,
            "rho": float(spearmanr(depth, t.alpha).statistic),
            "rho_control": float(spearmanr(depth, c.alpha).statistic) if ok_c else float("nan"),
            "control_separated": c_sep}


def permutation_spearman(x: np.ndarray, y: np.ndarray, n_perm: int = 2000, seed: int = 0,
                         alternative: str = "less") -> tuple[float, float]:
    """Spearman ρ(x, y) and its one-sided permutation p-value (x shuffled; ``alternative``
    "less" tests ρ < 0, "greater" ρ > 0), with the +1 correction (Phipson & Smyth 2010)."""
    from scipy.stats import permutation_test, spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 4:
        raise ValueError(f"x and y must be 1-D of one length >= 4, got {x.shape} and {y.shape}.")
    if alternative not in {"less", "greater"}:
        raise ValueError(f"alternative must be 'less' or 'greater', got {alternative!r}.")
    res = permutation_test((x,), lambda a: spearmanr(a, y).statistic, permutation_type="pairings",
                           n_resamples=n_perm, alternative=alternative, random_state=seed)
    return float(res.statistic), float(res.pvalue)


def smoothness_verdict(alpha: np.ndarray, energy: np.ndarray, rsa: np.ndarray, p_max: float = 0.05,
                       n_perm: int = 2000, seed: int = 0) -> dict[str, Any]:
    """"Larger α, smoother trajectories" over layer × model points: ρ(α, energy) < 0 and
    ρ(α, RSA) > 0, each significant by a permutation test (the null: α unrelated to the
    trajectory). "holds" if both are, "partly" if one is, else "does not hold at this scale"."""
    rho_e, p_e = permutation_spearman(alpha, energy, n_perm, seed, "less")
    rho_r, p_r = permutation_spearman(alpha, rsa, n_perm, seed + 1, "greater")
    n_sig = int(p_e < p_max) + int(p_r < p_max)
    verdict = "holds" if n_sig == 2 else "partly" if n_sig == 1 else "does not hold at this scale"

    def short(what: str, rho: float, p: float, sign: int) -> str:
        wrong = rho * sign <= 0
        return (f"ρ(α, {what}) = {rho:+.2f} " + ("has the wrong sign" if wrong else "is too weak")
                + f" (permutation p = {p:.3f}, needs < {p_max:g})")

    fails = ([short("energy", rho_e, p_e, -1)] if p_e >= p_max else []) + (
        [short("RSA", rho_r, p_r, +1)] if p_r >= p_max else [])
    why = "" if verdict == "holds" else (
        "; ".join(fails) + f", over {len(np.asarray(alpha))} layer × model points"
        + (": larger α goes with rougher, not smoother, trajectories." if rho_e > 0 and rho_r < 0 else "."))
    return {"verdict": verdict, "rho_energy": rho_e, "p_energy": p_e, "rho_rsa": rho_r, "p_rsa": p_r, "why": why}
