"""Toy models of superposition (Elhage et al. 2022), many instances trained at once.

Model (PAPER.md §5): a feature vector x ∈ R^n is compressed to h = W x ∈ R^m and read back
with the tied weights, x' = ReLU(Wᵀ W x + b) ("ReLU-output model"). Variants:

  * ``"relu"``        x' = ReLU(Wᵀ W x + b)          (Elhage's model; the default)
  * ``"linear"``      x' = Wᵀ W x + b                (the linear baseline: no superposition)
  * ``"hidden_relu"`` x' = ReLU(Wᵀ ReLU(W x) + b)    (a privileged hidden basis, so
                                                       individual neurons can be polysemantic)

Layout, said once and used everywhere: the **instance axis comes first**.
``W`` is (n_instances, n_hidden, n_features) (ARENA's order), ``b`` is (n_instances, n_features),
batches are (n_instances, batch, n_features). Each instance has its own feature probability
p = 1 − S and importance I (both broadcast to (n_instances, n_features)); instances never
interact, so training 20 instances in one tensor trains 20 independent models.

Data: each feature is independently 0 with probability S, else U[0, 1]. Optional correlated
pairs (both present or both absent) and anticorrelated pairs (never both present; needs p ≤ 1/2).

Loss: Σ_instances mean_{batch, features} I_f (x_f − x'_f)², Adam(W) at lr 1e-3, batch 1024.

Speed (benchmarks/bench_toy.py): :func:`train_toy` draws one (batch, features) uniform
tensor U per step that is shared by all instances (x_i = 1[U < p_i]·U/p_i has exactly the
per-instance distribution and instances never interact; feature pairs need a second tensor),
computes the gradient analytically
(no autograd graph), folds the importance into the small weight matrices and streams the
big (instances, batch, features) tensors through preallocated buffers in cache-sized chunks
of instances.

Metrics are functions of W: :func:`dimensions_per_feature` (D* = m/‖W‖²_F),
:func:`feature_dimensionality` (per-feature D_i), :func:`features_represented`,
:func:`interference`, :func:`neuron_polysemanticity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch  # this module is about a torch.nn.Module, so torch is imported at the top

__all__ = [
    "STICKY_FRACTIONS",
    "VARIANTS",
    "DimensionalityResult",
    "ToyModel",
    "TrainHistory",
    "dimensionality_sweep",
    "dimensions_per_feature",
    "evaluate_loss",
    "feature_dimensionality",
    "features_represented",
    "importance_decay",
    "interference",
    "neuron_polysemanticity",
    "sparsity_sweep",
    "sticky_fraction_share",
    "train_toy",
]

VARIANTS = ("relu", "linear", "hidden_relu")

#: Fractions at which per-feature dimensionalities cluster (Elhage et al. 2022, PAPER.md §5):
#: 1 (dedicated), 3/4 (tetrahedron), 2/3 (triangle), 1/2 (antipodal pair), 2/5 (pentagon),
#: 3/8 (square antiprism).
STICKY_FRACTIONS = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8)


def importance_decay(n_features: int, rate: float) -> np.ndarray:
    """Importance schedule I_f = rate**f, f = 0..n−1 (Elhage's 0.9^i / 0.7^i demos). Shape (n,)."""
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}.")
    if not 0 < rate <= 1:
        raise ValueError(f"importance decay rate must be in (0, 1], got {rate}.")
    return rate ** np.arange(n_features, dtype=np.float64)


def sparsity_sweep(n_instances: int, max_inverse_density: float = 20.0) -> np.ndarray:
    """Feature probabilities p_k = max_inverse_density^(−k/(K−1)), k = 0..K−1, so 1/(1−S)
    runs log-spaced from 1 to ``max_inverse_density`` (the official dimensionality sweep uses
    20, PAPER.md §3 E1). Shape (n_instances,)."""
    if n_instances < 1:
        raise ValueError(f"n_instances must be >= 1, got {n_instances}.")
    if max_inverse_density < 1:
        raise ValueError(f"max_inverse_density = 1/(1-S) must be >= 1, got {max_inverse_density}.")
    t = np.linspace(0.0, 1.0, n_instances) if n_instances > 1 else np.zeros(1)
    return max_inverse_density ** (-t)


def _broadcast_param(value: Any, n_instances: int, n_features: int, name: str) -> np.ndarray:
    """Broadcast a scalar, a per-instance vector (inst,), a per-feature vector (n,) or a full
    (inst, n) array to shape (inst, n), float64. Ambiguous when inst == n: a 1-D input of that
    length is read per instance."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        out = np.full((n_instances, n_features), float(arr))
    elif arr.ndim == 1 and arr.shape[0] == n_instances:
        out = np.repeat(arr[:, None], n_features, axis=1)
    elif arr.ndim == 1 and arr.shape[0] == n_features:
        out = np.repeat(arr[None, :], n_instances, axis=0)
    elif arr.ndim == 2:
        try:
            out = np.broadcast_to(arr, (n_instances, n_features)).copy()
        except ValueError:
            raise ValueError(f"{name} has shape {arr.shape}; it must broadcast to "
                             f"(n_instances, n_features) = ({n_instances}, {n_features}).") from None
    else:
        raise ValueError(f"{name} has shape {arr.shape}; give a scalar, a vector of length "
                         f"n_instances={n_instances} or n_features={n_features}, or an "
                         f"(n_instances, n_features) array.")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or inf.")
    return out


class ToyModel(torch.nn.Module):
    """Elhage's toy model, ``n_instances`` independent copies in one tensor.

    Args:
        n_features: n, number of input features.
        n_hidden: m, hidden width (m < n forces compression).
        n_instances: number of independent models trained side by side.
        feature_probability: p = 1 − S; scalar, per instance (n_instances,), per feature
            (n_features,) or (n_instances, n_features).
        importance: I_f; same broadcasting as feature_probability (default 1).
        variant: "relu" (Elhage's ReLU-output model), "linear" or "hidden_relu".
        n_correlated_pairs: the first 2k features form k pairs that are present together.
        n_anticorrelated_pairs: the next 2k features form k pairs that are never present
            together (each pair has one feature present with probability 2p; needs p ≤ 1/2).
        seed: seed of the xavier-normal initialisation of W (b starts at 0).

    Attributes:
        W: (n_instances, n_hidden, n_features) parameter; column W[i, :, f] is feature f's
           direction in instance i.
        b_final: (n_instances, n_features) output bias.
        feature_probability, importance: (n_instances, n_features) float32 buffers.

    Raises:
        ValueError: bad sizes, a probability outside (0, 1], a negative importance,
            an unknown variant or too many pairs.
    """

    def __init__(
        self,
        n_features: int,
        n_hidden: int,
        n_instances: int = 1,
        feature_probability: Any = 1.0,
        importance: Any = 1.0,
        variant: str = "relu",
        n_correlated_pairs: int = 0,
        n_anticorrelated_pairs: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, val in (("n_features", n_features), ("n_hidden", n_hidden),
                          ("n_instances", n_instances)):
            if int(val) != val or val < 1:
                raise ValueError(f"{name} must be a positive integer, got {val!r}.")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
        if n_correlated_pairs < 0 or n_anticorrelated_pairs < 0:
            raise ValueError("numbers of correlated/anticorrelated pairs must be >= 0.")
        if 2 * (n_correlated_pairs + n_anticorrelated_pairs) > n_features:
            raise ValueError(
                f"{n_correlated_pairs} correlated + {n_anticorrelated_pairs} anticorrelated "
                f"pairs need {2 * (n_correlated_pairs + n_anticorrelated_pairs)} features, "
                f"but n_features = {n_features}; lower the pair counts or add features.")
        p = _broadcast_param(feature_probability, n_instances, n_features, "feature_probability")
        if np.any(p <= 0) or np.any(p > 1):
            raise ValueError("feature_probability (= 1 - sparsity) must lie in (0, 1]; "
                             f"got values in [{p.min():.3g}, {p.max():.3g}].")
        imp = _broadcast_param(importance, n_instances, n_features, "importance")
        if np.any(imp < 0):
            raise ValueError("importance must be >= 0.")
        self.n_features, self.n_hidden, self.n_instances = int(n_features), int(n_hidden), int(n_instances)
        self.variant = variant
        self.n_correlated_pairs = int(n_correlated_pairs)
        self.n_anticorrelated_pairs = int(n_anticorrelated_pairs)
        lo = 2 * n_correlated_pairs
        hi = lo + 2 * n_anticorrelated_pairs
        if n_correlated_pairs:
            pc = p[:, :lo].reshape(n_instances, -1, 2)
            if not np.allclose(pc[..., 0], pc[..., 1]):
                raise ValueError("the two features of a correlated pair need the same "
                                 "feature_probability.")
        if n_anticorrelated_pairs:
            pa = p[:, lo:hi].reshape(n_instances, -1, 2)
            if not np.allclose(pa[..., 0], pa[..., 1]):
                raise ValueError("the two features of an anticorrelated pair need the same "
                                 "feature_probability.")
            if np.any(pa > 0.5):
                raise ValueError("anticorrelated pairs need feature_probability <= 1/2 "
                                 "(one of the pair is present with probability 2p).")
        gen = torch.Generator().manual_seed(int(seed))
        # xavier-normal for a (m, n) matrix: std = sqrt(2 / (m + n)), per instance
        std = math.sqrt(2.0 / (n_hidden + n_features))
        W = torch.randn(n_instances, n_hidden, n_features, generator=gen) * std
        self.W = torch.nn.Parameter(W)
        self.b_final = torch.nn.Parameter(torch.zeros(n_instances, n_features))
        self.register_buffer("feature_probability", torch.tensor(p, dtype=torch.float32))
        self.register_buffer("importance", torch.tensor(imp, dtype=torch.float32))

    # ---------------------------------------------------------------- data
    def _thresholds(self) -> torch.Tensor:
        """Per (instance, feature) presence threshold T: feature present iff U < T."""
        T = self.feature_probability.clone()
        lo = 2 * self.n_correlated_pairs
        hi = lo + 2 * self.n_anticorrelated_pairs
        T[:, lo:hi] *= 2.0  # one of an anticorrelated pair is present with prob. 2p
        return T

    def _shared_uniforms(self, batch_size: int, generator: torch.Generator):
        """Uniform draws shared by all instances: (U, V), each (batch, n), or (U, None).

        Without pairs one tensor suffices: x_i = 1[U < p_i]·U/p_i is exactly "0 with
        probability 1 − p_i, else U[0, 1]" for every instance (given U < p, U/p is uniform).
        With pairs, U decides presence and V carries the values, x_i = 1[U < T_i]·V, and the pair
        structure is written into U and V."""
        n = self.n_features
        U = torch.rand(batch_size, n, generator=generator)
        if not (self.n_correlated_pairs or self.n_anticorrelated_pairs):
            return U, None
        V = torch.rand(batch_size, n, generator=generator)
        lo = 2 * self.n_correlated_pairs
        hi = lo + 2 * self.n_anticorrelated_pairs
        if lo:
            U[:, 1:lo:2] = U[:, 0:lo:2]  # both features of a correlated pair share presence
        if hi > lo:
            U[:, lo + 1:hi:2] = U[:, lo:hi:2]
            first = torch.rand(batch_size, (hi - lo) // 2, generator=generator) < 0.5
            V[:, lo:hi:2] *= first  # present member of the pair chosen by a fair coin
            V[:, lo + 1:hi:2] *= ~first
        return U, V

    def _batch_from_uniforms(self, U: torch.Tensor, V: torch.Tensor | None) -> torch.Tensor:
        """The (n_instances, batch, n) batch defined by the shared draws of _shared_uniforms."""
        if V is None:
            x = U.unsqueeze(0) * (1.0 / self.feature_probability).unsqueeze(1)
            return torch.where(x < 1.0, x, torch.zeros(()))
        return (U.unsqueeze(0) < self._thresholds().unsqueeze(1)) * V.unsqueeze(0)

    def generate_batch(self, batch_size: int, seed: int | None = None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample a batch (n_instances, batch_size, n_features): each feature is 0 with
        probability S = 1 − p, else U[0, 1] (pairs as configured).

        Raises ValueError for batch_size < 1."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        return self._batch_from_uniforms(*self._shared_uniforms(batch_size, generator))

    # ---------------------------------------------------------------- model
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction x' for a batch x of shape (n_instances, batch, n_features)."""
        if x.dim() != 3 or x.shape[0] != self.n_instances or x.shape[2] != self.n_features:
            raise ValueError(f"x must have shape (n_instances={self.n_instances}, batch, "
                             f"n_features={self.n_features}); got {tuple(x.shape)}.")
        h = torch.bmm(x, self.W.transpose(1, 2))
        if self.variant == "hidden_relu":
            h = torch.relu(h)
        out = torch.baddbmm(self.b_final.unsqueeze(1), h, self.W)
        return out if self.variant == "linear" else torch.relu(out)

    def loss(self, x: torch.Tensor, per_instance: bool = False) -> torch.Tensor:
        """Importance-weighted reconstruction loss, mean over batch and features, summed
        over instances (or returned per instance, shape (n_instances,))."""
        err = self.importance.unsqueeze(1) * (x - self(x)) ** 2
        li = err.mean(dim=(1, 2))
        return li if per_instance else li.sum()

    def extra_repr(self) -> str:
        return (f"n_features={self.n_features}, n_hidden={self.n_hidden}, "
                f"n_instances={self.n_instances}, variant={self.variant!r}")



# ====================================================================================
# training
# ====================================================================================
@dataclass(frozen=True)
class TrainHistory:
    """Loss history of :func:`train_toy`.

    steps: (n_logged,) step indices (1-based) at which the loss was recorded.
    loss: (n_logged, n_instances) per-instance loss of the training batch at that step.
    seconds: wall-clock training time.
    """

    steps: np.ndarray
    loss: np.ndarray
    seconds: float

    @property
    def final(self) -> np.ndarray:
        """Per-instance loss at the last logged step, shape (n_instances,)."""
        return self.loss[-1]

    def __len__(self) -> int:
        return len(self.steps)


def _lr_multiplier(schedule: str, step: int, steps: int) -> float:
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - step / steps
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / steps))
    raise ValueError(f"lr_schedule must be 'constant', 'linear' or 'cosine', got {schedule!r}.")


class _AnalyticStep:
    """One training step with shared uniforms, analytic gradients and preallocated buffers.

    Gradient of L = Σ_i (1/(B n)) Σ_{b,f} I_f (y − x)², y = ReLU(z), z = a W + b, a = φ(x Wᵀ):
      g  = (y − x)·1[z > 0]                       (B, n)  (importance folded in below)
      ∂L/∂b = c·I ⊙ Σ_b g,   ∂L/∂W = c·(aᵀ g) ⊙ I + c·(g (W⊙I)ᵀ ⊙ φ'(xWᵀ))ᵀ x,   c = 2/(B n).
    """

    def __init__(self, model: Any, batch_size: int, chunk: int | None) -> None:
        if chunk is None:
            chunk = max(1, (1 << 18) // (batch_size * model.n_features))
        self.model = model
        self.B = batch_size
        I, m, n = model.n_instances, model.n_hidden, model.n_features
        self.chunk = max(1, min(chunk, I))
        c = self.chunk
        self.x = torch.empty(c, batch_size, n)
        self.mask = torch.empty(c, batch_size, n, dtype=torch.bool)
        self.z = torch.empty(c, batch_size, n)
        self.r = torch.empty(c, batch_size, n)
        self.h = torch.empty(c, batch_size, m)
        self.dh = torch.empty(c, batch_size, m)
        self.gW = torch.empty(I, m, n)
        self.gW2 = torch.empty(c, m, n)
        self.gb = torch.empty(I, n)
        self.T = model._thresholds().unsqueeze(1)  # (I, 1, n)
        self.neg_inv_p = (-1.0 / model.feature_probability).unsqueeze(1)  # (I, 1, n)
        self.imp = model.importance  # (I, n)
        self.uniform_importance = bool(torch.all(self.imp == self.imp.flatten()[0]))

    def __call__(self, generator: Any, want_loss: bool) -> np.ndarray | None:
        model, B = self.model, self.B
        W, bias = model.W.detach(), model.b_final.detach()
        I, n = model.n_instances, model.n_features
        U, V = model._shared_uniforms(B, generator)
        U3 = U.unsqueeze(0)
        scale = 2.0 / (B * n)
        Wn = -W  # we hold xn = −x (one fused pass fewer), so h = x Wᵀ = xn (−W)ᵀ
        WI = W * self.imp.unsqueeze(1)  # (I, m, n): importance folded into W for dh
        losses = np.zeros(I) if want_loss else None
        variant = model.variant
        for s in range(0, I, self.chunk):
            e = min(I, s + self.chunk)
            k = e - s
            xn, mask, z, r, h, dh = (t[:k] for t in (self.x, self.mask, self.z, self.r, self.h, self.dh))
            if V is None:  # xn = −U/p where U < p, else 0   (threshold keeps values > −1)
                torch.mul(U3, self.neg_inv_p[s:e], out=xn)
                torch.nn.functional.threshold_(xn, -1.0, 0.0)
            else:
                torch.lt(U3, self.T[s:e], out=mask)
                torch.mul(V.unsqueeze(0), mask, out=xn)
                xn.neg_()
            torch.bmm(xn, Wn[s:e].transpose(1, 2), out=h)
            if variant == "hidden_relu":
                torch.relu_(h)
            torch.baddbmm(bias[s:e].unsqueeze(1), h, W[s:e], out=z)
            torch.add(z, xn, out=r)  # r = z − x
            if variant != "linear":
                if want_loss:  # the loss needs y − x = ReLU(z) − x where z <= 0 as well
                    sq = torch.relu(z).add_(xn).square_().sum(dim=1)
                    losses[s:e] = (sq * self.imp[s:e]).sum(-1).numpy() / (B * n)
                torch.ops.aten.threshold_backward.grad_input(r, z, 0.0, grad_input=r)
            elif want_loss:
                sq = r.square().sum(dim=1)
                losses[s:e] = (sq * self.imp[s:e]).sum(-1).numpy() / (B * n)
            # r now holds g = (y - x)·1[z>0] (without importance)
            gb = self.gb[s:e]
            torch.sum(r, dim=1, out=gb)
            gW = self.gW[s:e]
            torch.bmm(h.transpose(1, 2), r, out=gW)
            torch.bmm(r, WI[s:e].transpose(1, 2), out=dh)
            if variant == "hidden_relu":
                dh.mul_(h > 0)
            gW2 = self.gW2[:k]
            torch.bmm(dh.transpose(1, 2), xn, out=gW2)  # = −dhᵀ x
            if not self.uniform_importance:
                gW.mul_(self.imp[s:e].unsqueeze(1))
            gW.sub_(gW2)
        if not self.uniform_importance:
            self.gb.mul_(self.imp)
        model.W.grad = self.gW.mul_(scale).clone()
        model.b_final.grad = self.gb.mul_(scale).clone()
        return losses


def train_toy(
    model: Any,
    steps: int = 10_000,
    batch_size: int = 1024,
    lr: float = 1e-3,
    seed: int = 0,
    optimizer: str = "adamw",
    weight_decay: float = 0.01,
    lr_schedule: str = "constant",
    log_every: int = 10,
    method: str = "analytic",
    chunk: int | None = None,
    num_threads: int | None = 1,
    progress: bool = True,
) -> TrainHistory:
    """Train all instances of a :class:`ToyModel` in place; return the loss history.

    Settings default to the official TMS notebook (PAPER.md §5): AdamW lr 1e-3, weight decay
    0.01, constant schedule, batch 1024 (ARENA uses plain Adam: ``optimizer="adam"``).

    Args:
        model: a ToyModel (modified in place).
        steps: optimiser steps.
        batch_size: samples per step (each instance sees its own batch distribution).
        lr: peak learning rate.
        seed: seed of the batch sampler (torch.Generator).
        optimizer: "adamw" or "adam".
        weight_decay: decoupled weight decay for AdamW (ignored by "adam").
        lr_schedule: "constant", "linear" or "cosine" multiplier on lr.
        log_every: record the per-instance loss every this many steps (and at the last step).
        method: "analytic" (fast: hand-derived gradients, shared uniforms, chunked buffers) or
            "autograd" (same sampler, PyTorch autograd; slower, for checking).
        chunk: instances processed together by the analytic step (cache blocking); None picks
            about 2^18 elements per (chunk, batch, features) buffer (1 MB, fits in L2).
        num_threads: torch CPU threads while training (restored afterwards). The default 1 is
            fastest for these small matrices on a laptop and robust on a shared machine, where
            multi-threaded small ops wait for each other; None keeps torch's setting.
        progress: show a tqdm bar.

    Returns:
        TrainHistory with steps (n_logged,) and loss (n_logged, n_instances).

    Raises:
        ValueError: bad steps, batch_size, lr, optimizer, schedule or method.
    """
    from tqdm.auto import tqdm

    if not isinstance(model, torch.nn.Module) or not hasattr(model, "_shared_uniforms"):
        raise ValueError("train_toy needs a polycode_lite.toy.ToyModel.")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}.")
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}.")
    if method not in ("analytic", "autograd"):
        raise ValueError(f"method must be 'analytic' or 'autograd', got {method!r}.")
    _lr_multiplier(lr_schedule, 0, steps)  # validates the name
    params = [model.W, model.b_final]
    if optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    else:
        raise ValueError(f"optimizer must be 'adamw' or 'adam', got {optimizer!r}.")
    gen = torch.Generator().manual_seed(int(seed))
    step_fn = _AnalyticStep(model, batch_size, chunk) if method == "analytic" else None
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or None, got {num_threads}.")
        torch.set_num_threads(int(num_threads))
    try:
        return _train_loop(model, opt, step_fn, gen, steps, batch_size, lr, lr_schedule, log_every,
                           progress, tqdm)
    finally:
        torch.set_num_threads(old_threads)


def _train_loop(model, opt, step_fn, gen, steps, batch_size, lr, lr_schedule, log_every, progress,
                tqdm) -> TrainHistory:
    import time

    logged_steps: list[int] = []
    logged: list[np.ndarray] = []
    t0 = time.perf_counter()
    bar = tqdm(range(1, steps + 1), disable=not progress, desc="train_toy", mininterval=0.5)
    for step in bar:
        want = step % log_every == 0 or step == steps
        if lr_schedule != "constant":
            for grp in opt.param_groups:
                grp["lr"] = lr * _lr_multiplier(lr_schedule, step - 1, steps)
        if step_fn is not None:
            losses = step_fn(gen, want)
        else:
            x = model._batch_from_uniforms(*model._shared_uniforms(batch_size, gen))
            opt.zero_grad(set_to_none=True)
            li = model.loss(x, per_instance=True)
            li.sum().backward()
            losses = li.detach().numpy() if want else None
        opt.step()
        if want:
            logged_steps.append(step)
            logged.append(np.asarray(losses, dtype=np.float64))
            if progress:
                bar.set_postfix(loss=f"{float(np.sum(losses)):.4g}", refresh=False)
    seconds = time.perf_counter() - t0
    model.W.grad = None
    model.b_final.grad = None
    return TrainHistory(np.asarray(logged_steps), np.stack(logged), seconds)


def evaluate_loss(model: Any, batch_size: int = 10_000, seed: int = 12345) -> np.ndarray:
    """Per-instance loss on a fresh batch (no gradient), shape (n_instances,). Use it to pick
    the best of several instances trained at the same sparsity (training has local minima)."""
    with torch.no_grad():
        x = model.generate_batch(batch_size, seed=seed)
        return model.loss(x, per_instance=True).double().numpy()


@dataclass(frozen=True)
class DimensionalityResult:
    """Outcome of :func:`dimensionality_sweep` (Elhage's dimensionality experiment).

    inverse_density: (K,) 1/(1−S) of each instance.
    dims_per_feature: (K,) D* = m/‖W‖²_F.
    feature_dims: (K, n) per-feature D_i.
    final_loss: (K,) loss on a fresh batch.
    n_features, n_hidden, steps, seconds: the run's settings and wall time.
    """

    inverse_density: np.ndarray
    dims_per_feature: np.ndarray
    feature_dims: np.ndarray
    final_loss: np.ndarray
    n_features: int
    n_hidden: int
    steps: int
    seconds: float

    @property
    def sparsity(self) -> np.ndarray:
        """S = 1 − p for each instance, shape (K,)."""
        return 1.0 - 1.0 / self.inverse_density


def dimensionality_sweep(
    n_features: int = 200,
    n_hidden: int = 20,
    n_instances: int = 20,
    max_inverse_density: float = 20.0,
    steps: int = 10_000,
    batch_size: int = 1024,
    seed: int = 0,
    progress: bool = True,
    **train_kwargs: Any,
) -> DimensionalityResult:
    """Elhage's dimensionality experiment (PAPER.md §3 E1): train one instance per sparsity
    (p_k = max_inverse_density^(−k/(K−1)), uniform importance) and measure D* and D_i.

    Defaults are the official settings (n=200, m=20, 20 instances, 1/(1−S) from 1 to 20,
    batch 1024, 10,000 steps, AdamW lr 1e-3); extra keyword arguments go to :func:`train_toy`."""
    p = sparsity_sweep(n_instances, max_inverse_density)
    model = ToyModel(n_features, n_hidden, n_instances, feature_probability=p, seed=seed)
    hist = train_toy(model, steps=steps, batch_size=batch_size, seed=seed, progress=progress,
                     **train_kwargs)
    return DimensionalityResult(
        inverse_density=1.0 / p,
        dims_per_feature=np.asarray(dimensions_per_feature(model)),
        feature_dims=np.asarray(feature_dimensionality(model)),
        final_loss=evaluate_loss(model, batch_size=4096, seed=seed + 1),
        n_features=n_features, n_hidden=n_hidden, steps=steps, seconds=hist.seconds)


def sticky_fraction_share(feature_dims: Any, fractions: Any = STICKY_FRACTIONS,
                          tol: float = 0.02, min_dim: float = 0.05) -> float:
    """Share of represented features (D_i > min_dim) whose D_i lies within ±tol of one of the
    sticky fractions (default 1, 3/4, 2/3, 1/2, 2/5, 3/8). A re-check of Elhage's own models
    found about 26% within ±0.02 of the six named fractions (PAPER.md §3 E1)."""
    d = np.asarray(feature_dims, dtype=np.float64).ravel()
    d = d[d > min_dim]
    if d.size == 0:
        raise ValueError("no represented features (all D_i <= min_dim).")
    f = np.asarray(fractions, dtype=np.float64)
    return float((np.abs(d[:, None] - f[None, :]) <= tol).any(axis=1).mean())


# ====================================================================================
# metrics: functions of W
# ====================================================================================
def _as_W(W: Any) -> np.ndarray:
    """W as a float64 numpy array of shape (n_instances, m, n); accepts (m, n) or a ToyModel."""
    if hasattr(W, "W") and hasattr(W, "n_hidden"):
        W = W.W
    if hasattr(W, "detach"):
        W = W.detach().cpu().double().numpy()
    arr = np.asarray(W, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"W must have shape (n_hidden, n_features) or (n_instances, n_hidden, "
                         f"n_features); got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("W contains NaN or inf.")
    return arr


def _squeeze(out: np.ndarray, W: Any) -> np.ndarray:
    was_2d = (np.ndim(W.detach().cpu() if hasattr(W, "detach") else W) == 2
              if not hasattr(W, "n_hidden") else False)
    return out[0] if was_2d else out


def dimensions_per_feature(W: Any) -> np.ndarray:
    """D* = m / ‖W‖²_F (Elhage et al. 2022; PAPER.md §5): hidden dimensions per represented
    feature (‖W‖²_F ≈ number of represented features).

    Args: W of shape (m, n) or (n_instances, m, n), or a ToyModel.
    Returns: (n_instances,) array (a scalar array for 2-D input). inf where W = 0.
    """
    arr = _as_W(W)
    fro = (arr ** 2).sum(axis=(1, 2))
    with np.errstate(divide="ignore"):
        out = arr.shape[1] / fro
    return _squeeze(out, W)


def feature_dimensionality(W: Any, eps: float = 1e-8) -> np.ndarray:
    """Per-feature dimensionality D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)² (j includes i; PAPER.md §5).

    With the Gram matrix G = WᵀW this is D_i = G_ii² / Σ_j G_ij². D_i = 1 for a dedicated
    dimension, 1/2 for an antipodal pair, 2/5 for a pentagon; features with ‖W_i‖² < eps get 0.

    Args: W of shape (m, n) or (n_instances, m, n), or a ToyModel.
    Returns: (n_instances, n) array ((n,) for 2-D input).
    """
    arr = _as_W(W)
    G = np.einsum("imf,img->ifg", arr, arr)
    diag = np.einsum("iff->if", G)
    denom = (G ** 2).sum(axis=2)
    out = np.where(diag > eps, diag ** 2 / np.maximum(denom, 1e-300), 0.0)
    return _squeeze(out, W)


def features_represented(W: Any, threshold: float = 0.5) -> np.ndarray:
    """Number of features with ‖W_i‖ > threshold (a hard count; ‖W‖²_F is the soft count).

    Returns: (n_instances,) int array (scalar for 2-D input)."""
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}.")
    arr = _as_W(W)
    norms = np.sqrt((arr ** 2).sum(axis=1))
    return _squeeze((norms > threshold).sum(axis=1), W)


def interference(W: Any, eps: float = 1e-8) -> np.ndarray:
    """Superposition / interference per feature: Σ_{j≠i} (Ŵ_i·W_j)² (PAPER.md §5).

    0 when feature i has its own orthogonal direction, ≈ ‖W_j‖² per feature sharing its line
    (1 for an antipodal partner). Features with ‖W_i‖² < eps get 0.
    Returns: (n_instances, n) array ((n,) for 2-D input)."""
    arr = _as_W(W)
    G = np.einsum("imf,img->ifg", arr, arr)
    diag = np.einsum("iff->if", G)
    off = (G ** 2).sum(axis=2) - diag ** 2
    out = np.where(diag > eps, off / np.maximum(diag, 1e-300), 0.0)
    return _squeeze(out, W)


def neuron_polysemanticity(W: Any, threshold: float | None = None) -> np.ndarray:
    """How many features load on each hidden unit (meaningful in the "hidden_relu" variant,
    whose hidden basis is privileged).

    With ``threshold=None``: the participation ratio of the unit's squared weights,
    (Σ_f W_kf²)² / Σ_f W_kf⁴ — 1 for a monosemantic unit, k for k equal loads.
    With a threshold: the count of features f with |W_kf| > threshold.

    Returns: (n_instances, m) array ((m,) for 2-D input); 0 for a dead unit."""
    arr = _as_W(W)
    if threshold is not None:
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}.")
        out = (np.abs(arr) > threshold).sum(axis=2).astype(np.float64)
    else:
        sq = arr ** 2
        num = sq.sum(axis=2) ** 2
        den = (sq ** 2).sum(axis=2)
        out = np.where(den > 0, num / np.maximum(den, 1e-300), 0.0)
    return _squeeze(out, W)
