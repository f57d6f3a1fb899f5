"""Correlated and anticorrelated features (Elhage et al. 2022, section "Superposition with correlated
features"): where a trained toy model puts the two features of a pair.

Three toy models with the same n features, m dimensions and density p, differing only in how the
features co-occur (:class:`~polycode_lite.models.toy.ToyModel` generates the pairs):

* "correlated"      features 2k and 2k+1 are present together;
* "anticorrelated"  never both present (one of them with probability 2p);
* "independent"     the control: every feature on its own.

Per pair and instance we measure cos(W_{2k}, W_{2k+1}); in the independent control no pair is special,
so its null is every pair of features (i < j), which is what an arbitrary pair looks like. Elhage: correlated features prefer
orthogonal directions (they are active together, so any overlap interferes), anticorrelated ones
antipodal pairs (they never meet, so an antipodal pair is free). Training has local minima, so each
condition is read at its optimum: the instances whose loss on a fresh batch is within
``LOSS_TOLERANCE`` (relative) of that condition's best; the independent control, whose pairs are
arbitrary, is read the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from polycode_lite import _checks as ck

__all__ = [
    "ANTIPODAL_COS", "CONDITIONS", "LOSS_TOLERANCE", "MIN_SHARE", "ORTHOGONAL_COS", "CorrelationConfig",
    "CorrelationResult", "all_pair_cosines", "geometry_verdict", "pair_cosines", "run",
]

CONDITIONS = ("correlated", "anticorrelated", "independent")
#: cos below this is an antipodal pair
ANTIPODAL_COS = -0.9
#: |cos| below this is an orthogonal pair
ORTHOGONAL_COS = 0.2
#: share of pairs a geometry needs
MIN_SHARE = 0.8
#: instances within this relative margin of a condition's best loss are "at the optimum"
LOSS_TOLERANCE = 0.1


def pair_cosines(W: Any) -> np.ndarray:
    """cos(W[:, 2k], W[:, 2k+1]) for every instance and pair: ``W`` is (instances, m, n) with n even
    (or at least 2k features paired); returns (instances, n // 2). A zero column gives cos 0."""
    W = ck.array("W", W, ndim=3)
    if W.shape[2] < 2:
        raise ValueError(f"W needs at least 2 features (columns) to form a pair, got shape {W.shape}.")
    k = W.shape[2] // 2
    a, b = W[:, :, 0:2 * k:2], W[:, :, 1:2 * k:2]
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return np.einsum("imk,imk->ik", a, b) / np.maximum(na * nb, 1e-12)


def all_pair_cosines(W: Any) -> np.ndarray:
    """cos(W[:, i], W[:, j]) for every instance and every pair i < j: ``W`` is (instances, m, n);
    returns (instances, n (n − 1) / 2). A zero column gives cos 0."""
    W = ck.array("W", W, ndim=3)
    if W.shape[2] < 2:
        raise ValueError(f"W needs at least 2 features (columns) to form a pair, got shape {W.shape}.")
    Wh = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)
    i, j = np.triu_indices(W.shape[2], 1)
    return np.einsum("imk,imk->ik", Wh[:, :, i], Wh[:, :, j])


def geometry_verdict(cos: Any, geometry: str, control_cos: Any) -> tuple[str, dict[str, float]]:
    """Does a set of pair cosines show ``geometry`` ("antipodal": at least MIN_SHARE of the pairs
    below ANTIPODAL_COS; "orthogonal": at least MIN_SHARE with |cos| < ORTHOGONAL_COS and at most
    10% antipodal), while the control's cosines do not? "holds" if the pairs show it and the control
    does not; "partly" if both show it (the geometry is not the pairing's doing); else
    "does not hold at this scale". Returns the verdict and the shares of both."""
    c = ck.array("cos", cos, ndim=1, min_len=1)
    c0 = ck.array("control_cos", control_cos, ndim=1, min_len=1)
    geometry = ck.choice("geometry", geometry, ("antipodal", "orthogonal"))

    def shares(x: np.ndarray) -> tuple[float, float]:
        return float(np.mean(x < ANTIPODAL_COS)), float(np.mean(np.abs(x) < ORTHOGONAL_COS))

    def shows(x: np.ndarray) -> bool:
        anti, orth = shares(x)
        return anti >= MIN_SHARE if geometry == "antipodal" else (orth >= MIN_SHARE and anti <= 0.1)

    (a, o), (a0, o0) = shares(c), shares(c0)
    nums = dict(antipodal=a, orthogonal=o, control_antipodal=a0, control_orthogonal=o0)
    if not shows(c):
        return "does not hold at this scale", nums
    return ("partly" if shows(c0) else "holds"), nums


@dataclass(frozen=True)
class CorrelationConfig:
    """n = 4 features in m = 2 dimensions at density p = 0.1, 24 instances per condition, 1500
    AdamW steps at lr 10⁻² (linear decay), batch 512. :meth:`fast`: 16 instances, 1000 steps."""

    n_features: int = 4
    n_hidden: int = 2
    feature_probability: float = 0.1
    n_instances: int = 24
    steps: int = 1500
    batch_size: int = 512
    lr: float = 1e-2
    seed: int = 0

    def __post_init__(self) -> None:
        n = ck.integer("n_features", self.n_features, minimum=2)
        if n % 2:
            raise ValueError(f"n_features must be even (features form pairs), got {n}; use {n + 1}.")
        m = ck.integer("n_hidden", self.n_hidden, minimum=1)
        if m >= n:
            raise ValueError(f"n_hidden must be < n_features for superposition, got m={m}, n={n}.")
        p = ck.probability("feature_probability", self.feature_probability)
        if not 0 < p <= 0.5:
            raise ValueError(f"feature_probability must lie in (0, 0.5] (anticorrelated pairs need p <= 1/2), got {p}.")
        k = ck.integer("n_instances", self.n_instances, minimum=2)
        b = ck.integer("batch_size", self.batch_size, minimum=1)
        ck.memory("n_instances, batch_size, n_features", (k, b, n), itemsize=4 * 4)
        ck.integer("steps", self.steps, minimum=1)
        ck.positive("lr", self.lr, fix="Try 1e-2.")
        ck.seed("seed", self.seed)

    @classmethod
    def fast(cls, **overrides: Any) -> "CorrelationConfig":
        return cls(**{**dict(n_instances=16, steps=1000), **overrides})


@dataclass(frozen=True)
class CorrelationResult:
    """Outcome of :func:`run`. For each condition in CONDITIONS: ``cos[c]`` (instances, pairs; for "independent" every pair i < j),
    ``loss[c]`` (instances,), ``at_optimum[c]`` (instances,) bool, ``represented[c]`` (instances,
    features) bool (‖W_f‖ > 0.5). ``config`` holds the settings, ``seconds`` the wall time."""

    cos: dict
    loss: dict
    at_optimum: dict
    represented: dict
    config: CorrelationConfig
    seconds: float

    def selected(self, condition: str) -> np.ndarray:
        """The pair cosines of ``condition``'s instances at the optimum, flattened."""
        ck.choice("condition", condition, CONDITIONS)
        return self.cos[condition][self.at_optimum[condition]].ravel()

    def summary(self, condition: str) -> dict[str, float]:
        """Mean cos with a 95% normal interval, the antipodal and orthogonal shares, over the
        selected pairs; plus the number of instances used."""
        c = self.selected(condition)
        half = 1.96 * c.std(ddof=1) / np.sqrt(c.size) if c.size > 1 else float("nan")
        return dict(mean_cos=float(c.mean()), ci_low=float(c.mean() - half), ci_high=float(c.mean() + half),
                    antipodal=float(np.mean(c < ANTIPODAL_COS)), orthogonal=float(np.mean(np.abs(c) < ORTHOGONAL_COS)),
                    n_pairs=int(c.size), n_instances=int(self.at_optimum[condition].sum()),
                    all_mean_cos=float(self.cos[condition].mean()))

    def table(self) -> Any:
        """One row per condition: the :meth:`summary` numbers and the best loss."""
        import pandas as pd

        return pd.DataFrame([dict(condition=c, **self.summary(c), best_loss=float(self.loss[c].min()))
                             for c in CONDITIONS])

    def plot(self) -> Any:
        """The selected pair cosines per condition with their mean and 95% interval."""
        from polycode_lite.plots.phase import plot_pair_cosines

        return plot_pair_cosines({c: self.selected(c) for c in CONDITIONS})

    def claims(self) -> list[dict[str, Any]]:
        """Anticorrelated pairs antipodal, correlated pairs orthogonal; each checked by
        :func:`geometry_verdict` against the independent control read the same way."""
        cfg, ctl = self.config, self.selected("independent")
        s0 = self.summary("independent")
        out = []
        for cond, geometry, expected in (("anticorrelated", "antipodal", "cos ≈ −1"),
                                         ("correlated", "orthogonal", "cos ≈ 0")):
            verdict, nums = geometry_verdict(self.selected(cond), geometry, ctl)
            s = self.summary(cond)
            share = nums["antipodal" if geometry == "antipodal" else "orthogonal"]
            why = "" if verdict == "holds" else (
                f"the independent control shows the same: {100 * nums['control_' + geometry]:.0f}% {geometry}."
                if verdict == "partly" else
                f"only {100 * share:.0f}% of the {s['n_pairs']} pairs are {geometry} (the rule asks "
                f"{100 * MIN_SHARE:.0f}%" + (", and at most 10% antipodal" if geometry == "orthogonal" else "")
                + f"; {100 * nums['antipodal']:.0f}% antipodal).")
            out.append(dict(
                claim=f"{cond.capitalize()} features are stored as {geometry} pairs",
                expected=f"{expected} [C-ext Elhage 2022, correlated features]",
                measured=(f"cos = {s['mean_cos']:.2f} (95% CI {s['ci_low']:.2f}…{s['ci_high']:.2f}), "
                          f"{100 * share:.0f}% {geometry}, over {s['n_pairs']} pairs of the {s['n_instances']} of "
                          f"{cfg.n_instances} instances at the optimum (n={cfg.n_features}, m={cfg.n_hidden}, "
                          f"p={cfg.feature_probability:g}, {cfg.steps} steps)"),
                control=(f"independent features, every pair: cos = {s0['mean_cos']:.2f}, {100 * nums['control_antipodal']:.0f}% "
                         f"antipodal, {100 * nums['control_orthogonal']:.0f}% orthogonal ({s0['n_pairs']} pairs)"),
                verdict=verdict, why=why, values=dict(condition=s, control=s0)))
        return out


def run(config: CorrelationConfig = CorrelationConfig(), progress: bool = False) -> CorrelationResult:
    """Train the three conditions of ``config`` and measure their pair geometry:
    ``res = run(CorrelationConfig.fast()); res.table(); res.plot()``."""
    import time

    from polycode_lite.models.toy import ToyModel
    from polycode_lite.models.toy_training import evaluate_loss, train_toy

    ck.instance("config", config, CorrelationConfig, "CorrelationConfig.fast()")
    ck.boolean("progress", progress)
    c = asdict(config)
    t0 = time.perf_counter()
    pairs = c["n_features"] // 2
    out: dict[str, dict] = {k: {} for k in ("cos", "loss", "at_optimum", "represented")}
    for cond in CONDITIONS:
        kw = dict(n_correlated_pairs=pairs if cond == "correlated" else 0,
                  n_anticorrelated_pairs=pairs if cond == "anticorrelated" else 0)
        model = ToyModel(c["n_features"], c["n_hidden"], c["n_instances"],
                         feature_probability=c["feature_probability"], seed=c["seed"], **kw)
        train_toy(model, steps=c["steps"], batch_size=c["batch_size"], lr=c["lr"], seed=c["seed"],
                  lr_schedule="linear", progress=progress)
        W = model.W.detach().numpy()
        loss = evaluate_loss(model, batch_size=20_000, seed=c["seed"] + 1)
        out["cos"][cond] = all_pair_cosines(W) if cond == "independent" else pair_cosines(W)
        out["loss"][cond] = loss
        # "+ 1e-6": a perfect condition (loss 0 for anticorrelated pairs) keeps its ties
        out["at_optimum"][cond] = loss <= (1 + LOSS_TOLERANCE) * loss.min() + 1e-6
        out["represented"][cond] = np.linalg.norm(W, axis=1) > 0.5
    return CorrelationResult(**out, config=config, seconds=time.perf_counter() - t0)
