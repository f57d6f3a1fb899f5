"""Mutual Information Neural Estimation (MINE, Belghazi et al. 2018), in torch.

MINE trains a *statistics network* T_θ(x, z) to maximise a variational lower bound on
I(X; Z) = KL(P_XZ ‖ P_X ⊗ P_Z) (docs/paper_guide.md §6):

    Donsker–Varadhan (DV):  I ≥ E_P[T] − log E_Q[e^T]
    MINE-f (f-divergence):  I ≥ E_P[T] − E_Q[e^(T−1)]          (looser, unbiased gradient)

P = joint pairs (x_i, z_i); Q = product of marginals, made by pairing x_i with a z_j drawn
at random from the same set. Three training losses are offered:

  * ``"mine"``   DV bound with the moving-average bias-corrected gradient: the denominator of
                 ∇ log E_Q[e^T] = E_Q[e^T ∇T] / E_Q[e^T] is replaced by an exponential moving
                 average of the minibatch E_Q[e^T] (rate ``ema``, ≈ 0.01);
  * ``"dv"``     plain DV (the authors' TensorFlow estimator): biased minibatch gradient;
  * ``"mine_f"`` the f-divergence bound.

Whatever the loss, the *reported* number is the DV bound of the trained T on **held-out**
samples (a valid lower bound for any T, and the tightest of the two for a given T), in nats.
Being a lower bound estimated from finite samples, it can still come out above the truth by
sampling noise, and for deterministic continuous maps (true MI infinite) it only reflects how
far the optimiser got (docs/paper_guide.md pitfall 13).

Divergence: every estimate is checked by :func:`divergence_reason` (a held-out value below a
sanity floor, or one that falls far below its own best); a diverged run is flagged
``MIEstimate.diverged`` and a RuntimeWarning names the fix.

Public API: StatisticsNetwork, MINEConfig, MIEstimate, estimate_mutual_information,
dv_bound, mine_f_bound, divergence_reason, plus calibration channels with known MI (correlated
Gaussian, ±1 dropout/erasure-to-zero channel, binary symmetric channel), defined in
:mod:`polycode_lite.science.mi_estimators` and re-exported here: sample_* and *_mi functions.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from polycode_lite import _checks as ck
from polycode_lite.science.mi_estimators import (  # re-exported: the calibration channels
    bsc_mi,
    divergence_reason,
    dropout_channel_mi,
    gaussian_mi,
    sample_bsc,
    sample_correlated_gaussian,
    sample_dropout_channel,
)

__all__ = [
    "LOSSES",
    "divergence_reason",
    "MINEConfig",
    "MIEstimate",
    "StatisticsNetwork",
    "reset_parameters",
    "dv_bound",
    "mine_f_bound",
    "estimate_mutual_information",
    "gaussian_mi",
    "sample_correlated_gaussian",
    "dropout_channel_mi",
    "sample_dropout_channel",
    "bsc_mi",
    "sample_bsc",
]

LOSSES = ("mine", "dv", "mine_f")


# --------------------------------------------------------------------------------------
# bounds
# --------------------------------------------------------------------------------------
def _logmeanexp(t: "torch.Tensor") -> "torch.Tensor":
    import torch

    return torch.logsumexp(t.reshape(-1), dim=0) - math.log(t.numel())


def dv_bound(t_joint: "torch.Tensor", t_marginal: "torch.Tensor") -> "torch.Tensor":
    """Donsker–Varadhan bound mean(T_joint) − log mean(exp T_marginal), a 0-d tensor (nats)."""
    return t_joint.mean() - _logmeanexp(t_marginal)


def mine_f_bound(t_joint: "torch.Tensor", t_marginal: "torch.Tensor") -> "torch.Tensor":
    """f-divergence (MINE-f) bound mean(T_joint) − mean(exp(T_marginal − 1)), a 0-d tensor."""
    import torch

    return t_joint.mean() - torch.exp(t_marginal - 1.0).mean()


# --------------------------------------------------------------------------------------
# statistics network
# --------------------------------------------------------------------------------------
class StatisticsNetwork(nn.Module):
    """The statistics network T_θ(x, z): an MLP on concat(x, z) with ReLU hidden layers and a
    scalar output (the authors used 3 hidden ReLU layers of 64). Call it as ``net(x, z)`` with
    x (B, dim_x) and z (B, dim_z); it returns (B,)."""

    def __init__(self, dim_x: int, dim_z: int, hidden: tuple[int, ...] = (64, 64, 64)) -> None:
        if isinstance(dim_x, int) and isinstance(dim_z, int) and (dim_x < 1 or dim_z < 1):
            raise ValueError(f"dim_x and dim_z must be >= 1, got {dim_x} and {dim_z}.")
        dim_x, dim_z = ck.integer("dim_x", dim_x, minimum=1), ck.integer("dim_z", dim_z, minimum=1)
        if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive widths, got {hidden}.")
        ck.memory("dim_x, dim_z", (dim_x + dim_z, max(hidden)), itemsize=4)
        super().__init__()
        layers: list[nn.Module] = []
        width = dim_x + dim_z
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.dim_x, self.dim_z = dim_x, dim_z

    def forward(self, x: "torch.Tensor", z: "torch.Tensor") -> "torch.Tensor":
        return self.mlp(torch.cat([x, z], dim=1)).squeeze(1)


def reset_parameters(net: "nn.Module", generator: "torch.Generator") -> "nn.Module":
    """Re-initialise every ``nn.Linear`` of ``net`` with PyTorch's default scheme (uniform
    ±1/√fan_in for weights and biases) drawn from ``generator``, so results depend on a seed
    and not on torch's global random state. Returns ``net``."""
    import torch
    from torch import nn

    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=generator)
    return net


# --------------------------------------------------------------------------------------
# configuration and result
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MINEConfig:
    """Settings of :func:`estimate_mutual_information` (defaults: small, CPU-friendly).

    loss: "mine" (DV + EMA bias correction), "dv" (plain DV) or "mine_f".
    hidden: hidden widths of the statistics network. lr: Adam learning rate.
    batch_size: joint pairs per step (as many marginal pairs). steps: optimiser steps.
    ema: moving-average rate γ of the bias correction (loss "mine" only).
    holdout: fraction of samples kept out of training for evaluation (ignored when
    validation data are passed). eval_every: steps between held-out evaluations.
    n_marginal_perms: random pairings of the held-out set averaged in log E_Q[e^T].
    average_last: fraction of the held-out curve (its last part) averaged for the estimate.
    standardize: z-score x and z with training statistics (invertible: MI unchanged).
    grad_clip: max gradient norm (None: no clipping). seed: seeds init, batches, pairings.
    sanity_floor, max_drop: the divergence rule (:func:`divergence_reason`): the estimate is
    flagged ``diverged`` if it ends below ``sanity_floor`` nats (a lower bound on a non-negative
    quantity that far below 0 is broken) or falls from its best held-out value by more than
    max(``max_drop``, a quarter of that best).
    """

    loss: str = "mine"
    hidden: tuple[int, ...] = (64, 64, 64)
    lr: float = 1e-3
    batch_size: int = 512
    steps: int = 2000
    ema: float = 0.01
    holdout: float = 0.2
    eval_every: int = 50
    n_marginal_perms: int = 4
    average_last: float = 0.2
    standardize: bool = True
    grad_clip: float | None = 5.0
    seed: int = 0
    sanity_floor: float = -0.5
    max_drop: float = 1.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}.")
        ck.sequence_of("hidden", self.hidden, lambda n, h: ck.integer(n, h, minimum=1))
        ck.integer("steps", self.steps, minimum=1); ck.integer("batch_size", self.batch_size, minimum=2)
        ck.integer("eval_every", self.eval_every, minimum=1)
        ck.integer("n_marginal_perms", self.n_marginal_perms, minimum=1); ck.seed("seed", self.seed)
        for name, value, closed_top in (("ema", self.ema, True), ("holdout", self.holdout, False),
                                        ("average_last", self.average_last, True)):
            v = ck.real(name, value)
            if not (0.0 < v <= 1.0 if closed_top else 0.0 < v < 1.0):
                raise ValueError(f"{name} must lie in (0, {'1]' if closed_top else '1)'}, got {value}.")
        ck.positive("lr", self.lr, fix="Try 1e-3.")
        ck.optional(ck.positive, "grad_clip", self.grad_clip,
                    fix="It is a maximum gradient norm (e.g. 5.0), or None for no clipping.")
        ck.positive("max_drop", self.max_drop)
        if ck.real("sanity_floor", self.sanity_floor) > 0:
            raise ValueError(f"sanity_floor must be <= 0 (MI is >= 0), got {self.sanity_floor}.")


@dataclass(frozen=True)
class MIEstimate:
    """Result of :func:`estimate_mutual_information`.

    mi: the estimate in nats (mean of the last ``average_last`` part of the held-out DV curve).
    mi_sd: standard deviation of the held-out DV values in that window (optimisation jitter,
    not a confidence interval). curve: dict of equal-length lists ``step``, ``train`` (mean
    minibatch DV since the previous evaluation) and ``heldout`` (held-out DV bound).
    n_train, n_val: sample sizes. config: the settings used. diverged: True when the held-out
    curve broke the divergence rule (:func:`divergence_reason`); ``divergence`` says how. A
    diverged estimate is not a measurement: rerun with fewer steps, a lower lr, a grad_clip or
    loss="mine" (EMA), or report it as diverged. best: the highest held-out value on the curve.
    """

    mi: float
    mi_sd: float
    curve: dict[str, list[float]] = field(repr=False)
    n_train: int
    n_val: int
    config: MINEConfig = field(repr=False)
    diverged: bool = False
    divergence: str = ""
    best: float = float("nan")

    @property
    def bits(self) -> float:
        """The estimate in bits."""
        return self.mi / math.log(2.0)

    def plot(self, ax: Any = None, true_mi: float | None = None, label: str | None = None) -> Any:
        """Training curve: minibatch and held-out DV bound against step (with the true MI)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        tag = f"{label}: " if label else ""
        ax.plot(self.curve["step"], self.curve["train"], alpha=0.4, label=f"{tag}train minibatch DV")
        ax.plot(self.curve["step"], self.curve["heldout"], label=f"{tag}held-out DV = {self.mi:.3f} nats")
        if true_mi is not None:
            ax.axhline(true_mi, color="k", ls="--", lw=1, label=f"true MI = {true_mi:.3f} nats")
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("MI lower bound (nats)")
        ax.set_title(f"MINE training curve (loss={self.config.loss})")
        ax.legend(fontsize=8)
        return ax

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy."""
        return dict(mi=self.mi, mi_sd=self.mi_sd, n_train=self.n_train, n_val=self.n_val,
                    diverged=self.diverged, divergence=self.divergence, best=self.best,
                    curve=self.curve, config=asdict(self.config))



# --------------------------------------------------------------------------------------
# estimator
# --------------------------------------------------------------------------------------
def _as_2d_tensor(a: Any, name: str) -> "torch.Tensor":
    import torch

    a = ck.array(name, a, keep_tensor=True)
    t = a.detach().to("cpu") if isinstance(a, torch.Tensor) else torch.as_tensor(a)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must be (n,) or (n, dim), got shape {tuple(t.shape)}. "
                         "Flatten extra axes first, e.g. z.reshape(len(z), -1).")
    t = t.to(torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN/inf values; remove them first.")
    return t


def estimate_mutual_information(
    x: Any,
    z: Any,
    config: MINEConfig | None = None,
    *,
    x_val: Any = None,
    z_val: Any = None,
    progress: bool = True,
    desc: str = "MINE",
    **overrides: Any,
) -> MIEstimate:
    """Estimate I(X; Z) in nats with MINE and return the estimate and its training curve.

    Args:
        x: (n,) or (n, dim_x) samples of X (numpy or torch).
        z: (n,) or (n, dim_z) samples of Z, paired row by row with x.
        config: a :class:`MINEConfig`; keyword ``overrides`` replace its fields, e.g.
            ``estimate_mutual_information(x, z, loss="dv", steps=500)``.
        x_val, z_val: optional held-out pairs; otherwise ``config.holdout`` of the rows
            (chosen at random with ``config.seed``) is held out.
        progress: show a tqdm bar.

    Returns:
        :class:`MIEstimate` (held-out DV bound of the trained statistics network, nats).

    Raises:
        ValueError: mismatched lengths, NaN/inf, too few samples, or bad settings.
    """
    import torch
    from tqdm.auto import tqdm

    cfg = replace(config or MINEConfig(), **overrides)
    xt, zt = _as_2d_tensor(x, "x"), _as_2d_tensor(z, "z")
    if xt.shape[0] != zt.shape[0]:
        raise ValueError(f"x and z must have the same number of rows (pairs), got {xt.shape[0]} and {zt.shape[0]}.")
    gen = torch.Generator().manual_seed(int(cfg.seed))
    if (x_val is None) != (z_val is None):
        raise ValueError("pass both x_val and z_val, or neither (then config.holdout is used).")
    if x_val is None:
        n = xt.shape[0]
        n_val = int(round(cfg.holdout * n))
        perm = torch.randperm(n, generator=gen)
        xv, zv = xt[perm[:n_val]], zt[perm[:n_val]]
        xt, zt = xt[perm[n_val:]], zt[perm[n_val:]]
    else:
        xv, zv = _as_2d_tensor(x_val, "x_val"), _as_2d_tensor(z_val, "z_val")
        if xv.shape[0] != zv.shape[0] or xv.shape[1] != xt.shape[1] or zv.shape[1] != zt.shape[1]:
            raise ValueError(f"validation shapes {tuple(xv.shape)}, {tuple(zv.shape)} do not match "
                             f"training shapes {tuple(xt.shape)}, {tuple(zt.shape)}.")
    n_train, n_val = xt.shape[0], xv.shape[0]
    if n_train < cfg.batch_size or n_val < 10:
        raise ValueError(f"need at least batch_size={cfg.batch_size} training and 10 held-out "
                         f"pairs, got {n_train} and {n_val}. Pass more samples or a smaller batch_size.")
    if cfg.standardize:
        def _std(a: "torch.Tensor", b: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
            mu, sd = a.mean(0), a.std(0)
            sd = torch.where(sd > 1e-8, sd, torch.ones_like(sd))  # constant columns stay finite
            return (a - mu) / sd, (b - mu) / sd

        xt, xv = _std(xt, xv)
        zt, zv = _std(zt, zv)

    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global RNG
        net = StatisticsNetwork(xt.shape[1], zt.shape[1], tuple(cfg.hidden))
    reset_parameters(net, gen)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    val_perms = [torch.randperm(n_val, generator=gen) for _ in range(cfg.n_marginal_perms)]

    def heldout_dv() -> float:
        net.eval()
        with torch.no_grad():
            tj = net(xv, zv)
            tm = torch.cat([net(xv, zv[p]) for p in val_perms])
            val = float(dv_bound(tj, tm))
        net.train()
        return val

    log_ma: "torch.Tensor | None" = None
    curve: dict[str, list[float]] = {"step": [], "train": [], "heldout": []}
    running: list[float] = []
    stopped = ""
    bar = tqdm(range(1, cfg.steps + 1), desc=desc, disable=not progress, leave=False)
    for step in bar:
        idx = torch.randint(0, n_train, (cfg.batch_size,), generator=gen)
        idx_m = torch.randint(0, n_train, (cfg.batch_size,), generator=gen)
        tj = net(xt[idx], zt[idx])
        tm = net(xt[idx], zt[idx_m])
        with torch.no_grad():
            dv_value = float(dv_bound(tj, tm))
        if cfg.loss == "dv":
            loss = -dv_bound(tj, tm)
        elif cfg.loss == "mine_f":
            loss = -mine_f_bound(tj, tm)
        else:
            lme = _logmeanexp(tm)
            with torch.no_grad():
                if log_ma is None:
                    log_ma = lme.detach().clone()
                else:
                    log_ma = torch.logaddexp(log_ma + math.log(1 - cfg.ema), lme.detach() + math.log(cfg.ema))
            # gradient of E_Q[e^T]/ma equals the bias-corrected gradient of log E_Q[e^T]
            loss = -(tj.mean() - torch.exp(lme - log_ma))
        if not bool(torch.isfinite(loss)):  # the weights would turn NaN: stop, flag it below
            stopped = f"non-finite training loss at step {step}; training stopped there"
            curve["step"].append(float(step)); curve["train"].append(float("nan")); curve["heldout"].append(float("nan"))
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        running.append(dv_value)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            h = heldout_dv()
            curve["step"].append(float(step))
            curve["train"].append(float(np.mean(running)))
            curve["heldout"].append(h)
            running = []
            bar.set_postfix(heldout=f"{h:.3f}")
    bar.close()
    held = np.asarray(curve["heldout"])
    k = max(1, int(math.ceil(cfg.average_last * held.size)))
    tail = held[-k:]
    mi = float(tail.mean()) if np.all(np.isfinite(tail)) else float("nan")
    reason = stopped or divergence_reason(held, mi, cfg.sanity_floor, cfg.max_drop)
    if reason:
        warnings.warn(f"{desc}: MINE diverged ({reason}); the estimate {mi:.4g} nats is not a "
                      "measurement. Fix: fewer steps, a lower lr, grad_clip, loss='mine' (EMA "
                      "bias correction), or more samples; if the true MI is infinite (a continuous "
                      "x through an invertible map), no fix helps.", RuntimeWarning, stacklevel=2)
    finite = held[np.isfinite(held)]
    return MIEstimate(mi=mi, mi_sd=float(tail.std()), curve=curve, n_train=n_train, n_val=n_val,
                      config=cfg, diverged=bool(reason), divergence=reason,
                      best=float(finite.max()) if finite.size else float("nan"))
