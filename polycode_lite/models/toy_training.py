"""Training many toy models at once: Adam on an analytic gradient, streamed in cache-sized chunks.

Loss: Σ_instances mean_{batch, features} I_f (x_f − x'_f)², Adam(W) at lr 1e-3, batch 1024
(Elhage et al. 2022). One (batch, features) uniform tensor U per step is shared by all
instances (x_i = 1[U < p_i]·U/p_i has exactly the per-instance distribution and instances never
interact); the gradient is computed analytically (no autograd graph).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch  # this module is about a torch.nn.Module, so torch is imported at the top

from polycode_lite import _checks as ck
from polycode_lite._common import limit_threads

__all__ = ["TrainHistory", "evaluate_loss", "train_toy"]



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

    Settings default to the official TMS notebook (docs/paper_guide.md §5): AdamW lr 1e-3, weight decay
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
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "_shared_uniforms"):
        raise ValueError("train_toy needs a polycode_lite.models.toy.ToyModel.")
    steps = ck.integer("steps", steps, minimum=1, fix="steps must be a positive integer.")
    batch_size = ck.integer("batch_size", batch_size, minimum=1)
    ck.memory("batch_size", (model.n_instances, batch_size, model.n_features), itemsize=4 * 4)
    ck.positive("lr", lr, fix="Try 1e-3."); ck.seed("seed", seed)
    ck.positive("weight_decay", weight_decay, allow_zero=True)
    log_every = ck.integer("log_every", log_every, minimum=1)
    ck.optional(ck.integer, "chunk", chunk, minimum=1)
    ck.optional(ck.integer, "num_threads", num_threads, minimum=1, fix="Or None to keep torch's setting.")
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
    if num_threads is not None and num_threads < 1:
        raise ValueError(f"num_threads must be >= 1 or None, got {num_threads}.")
    with limit_threads(num_threads, blas=False):
        return _train_loop(model, opt, step_fn=step_fn, gen=gen, steps=steps, batch_size=batch_size,
                           lr=lr, lr_schedule=lr_schedule, log_every=log_every, progress=progress)


def _train_loop(model: Any, opt: torch.optim.Optimizer, *, step_fn: _AnalyticStep | None,
                gen: torch.Generator, steps: int, batch_size: int, lr: float, lr_schedule: str,
                log_every: int, progress: bool = False) -> TrainHistory:
    """The optimisation loop of :func:`train_toy` (arguments already validated there);
    ``progress`` shows a tqdm bar."""
    import time

    from tqdm.auto import tqdm

    logged_steps: list[int] = []
    logged: list[np.ndarray] = []
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
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
            if not (np.all(np.isfinite(losses)) and bool(torch.isfinite(model.W).all())):
                model.load_state_dict(start)
                model.W.grad = model.b_final.grad = None
                raise ValueError(
                    f"train_toy: the loss became non-finite by step {step} (lr={lr:g}, batch_size={batch_size}); "
                    "training stopped and the model was restored to its weights before the call. "
                    "Lower lr (e.g. 1e-3).")
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
    batch_size = ck.integer("batch_size", batch_size, minimum=1); ck.seed("seed", seed)
    ck.memory("batch_size", (model.n_instances, batch_size, model.n_features), itemsize=4 * 3)
    with torch.no_grad():
        x = model.generate_batch(batch_size, seed=seed)
        return model.loss(x, per_instance=True).double().numpy()
