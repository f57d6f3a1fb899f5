"""Sparse autoencoders (SAEs): a sparse, overcomplete dictionary for a layer's activations.

Model (Bricken et al. 2023, "Towards monosemanticity"; Gao et al. 2024 for TopK): with the
activations scaled by one scalar c so that E‖c·x‖² = d,

    z  = ReLU((c·x − b_dec) W_encᵀ + b_enc)           (L1 SAE; TopK keeps the k largest of z)
    x̂  = (z W_dec + b_dec) / c,    W_dec rows of unit norm (renormalised after every step)

Loss: mean_batch ‖c·x − c·x̂‖²/d + l1 · mean_batch Σ_j z_j (no L1 term for TopK). Adam.
Dead latents (no activation over the last ``RESAMPLE_EVERY`` steps) are resampled: the decoder
row becomes the normalised residual of a high-error input (chosen with probability ∝ error²),
the encoder row that direction times ``RESAMPLE_SCALE`` × the mean live encoder norm, the bias 0,
and their Adam moments are zeroed (Bricken et al. 2023, "Neuron resampling").

:func:`feature_recovery` scores a dictionary against known directions: for each true feature
the best |cosine| with any decoder row, averaged.

Why a small SAE here and not a package: sae-lens pulls transformer-lens, transformers,
datasets and nltk (and loads from the Hub); dictionary-learning needs nnsight and wandb;
overcomplete needs timm, torchvision and opencv. scikit-learn's MiniBatchDictionaryLearning is
the classical baseline (benchmarks/bench_sae.py compares the two).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch  # this module is about a torch.nn.Module, so torch is imported at the top

from polycode_lite import _checks as ck
from polycode_lite._common import NonFiniteLossError, atomic_write, choose_device, limit_threads

__all__ = ["RESAMPLE_EVERY", "RESAMPLE_SCALE", "SAE", "feature_recovery", "feature_recovery_per_feature",
           "load_sae", "train_sae"]

#: steps between dead-latent checks (a latent silent over the whole window is resampled)
RESAMPLE_EVERY = 500
#: a resampled encoder row is its direction times this × the mean norm of the live encoder rows
RESAMPLE_SCALE = 0.2
#: no resampling in the last this share of training (the new latents need time to settle)
RESAMPLE_STOP = 0.5


class SAE(torch.nn.Module):
    """A trained sparse autoencoder (:func:`train_sae`); methods take and return numpy arrays.

    Attributes:
        n_latents, d: dictionary size and input dimension.
        k: latents kept per input (TopK SAE) or None (L1 SAE); l1: the L1 coefficient or None.
        scale: c, the scalar that made E‖c·x‖² = d on the training data.
        W_enc (n_latents, d), b_enc (n_latents,), W_dec (n_latents, d), b_dec (d,): parameters
            (in the scaled units).
        history: dict of the training loss, seconds and resampled-latent counts (empty when loaded).
    """

    def __init__(self, d: int, n_latents: int, *, k: int | None = None, l1: float | None = None,
                 scale: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        d = ck.integer("d", d, minimum=1); n_latents = ck.integer("n_latents", n_latents, minimum=1)
        ck.memory("n_latents, d", (2 * n_latents, d), itemsize=4)
        ck.optional(ck.integer, "k", k, minimum=1, maximum=n_latents); ck.optional(ck.positive, "l1", l1, allow_zero=True)
        ck.positive("scale", scale); ck.seed("seed", seed)
        self.d, self.n_latents, self.k, self.l1, self.scale = d, n_latents, k, l1, float(scale)
        gen = torch.Generator().manual_seed(int(seed))
        W = torch.randn(n_latents, d, generator=gen)
        W = W / W.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.W_dec = torch.nn.Parameter(W.clone())
        self.W_enc = torch.nn.Parameter(W.clone())  # tied at the start (Conerly et al. 2024)
        self.b_enc = torch.nn.Parameter(torch.zeros(n_latents))
        self.b_dec = torch.nn.Parameter(torch.zeros(d))
        self.history: dict[str, Any] = {}

    # ------------------------------------------------------------------ torch side (scaled units)
    def _encode(self, xs: torch.Tensor) -> torch.Tensor:
        pre = torch.relu((xs - self.b_dec) @ self.W_enc.T + self.b_enc)
        if self.k is None or self.k >= self.n_latents:
            return pre
        top = torch.topk(pre, self.k, dim=1)
        return torch.zeros_like(pre).scatter_(1, top.indices, top.values)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W_dec + self.b_dec

    def _input(self, name: str, x: Any, cols: int) -> torch.Tensor:
        arr = ck.array(name, x, ndim=2, min_len=1)
        if arr.shape[1] != cols:
            raise ValueError(f"{name} must have {cols} columns, got shape {arr.shape}.")
        return torch.as_tensor(arr, dtype=torch.float32)

    # ------------------------------------------------------------------ numpy side (input units)
    @property
    def decoder(self) -> np.ndarray:
        """(n_latents, d) decoder directions, unit-norm rows."""
        return self.W_dec.detach().double().numpy().copy()

    @torch.no_grad()
    def encode(self, x: Any) -> np.ndarray:
        """Latent code of inputs ``x`` (n, d): (n, n_latents), non-negative."""
        return self._encode(self._input("x", x, self.d) * self.scale).double().numpy()

    @torch.no_grad()
    def decode(self, z: Any) -> np.ndarray:
        """Inputs (n, d) decoded from latent codes ``z`` (n, n_latents)."""
        return (self._decode(self._input("z", z, self.n_latents)) / self.scale).double().numpy()

    @torch.no_grad()
    def reconstruct(self, x: Any) -> np.ndarray:
        """decode(encode(x)), (n, d)."""
        xs = self._input("x", x, self.d) * self.scale
        return (self._decode(self._encode(xs)) / self.scale).double().numpy()

    def reconstruction_error(self, x: Any) -> float:
        """Fraction of variance unexplained, Σ‖x − x̂‖² / Σ‖x − mean(x)‖² (0 = perfect)."""
        arr = ck.array("x", x, ndim=2, min_len=2)
        resid = float(np.sum((arr - self.reconstruct(arr)) ** 2))
        total = float(np.sum((arr - arr.mean(axis=0)) ** 2))
        if total == 0:
            raise ValueError("x has zero variance: the fraction of variance unexplained is undefined. "
                             "Pass inputs that vary.")
        return resid / total

    def l0(self, x: Any) -> float:
        """Mean number of active (non-zero) latents per input."""
        return float(np.mean(np.sum(self.encode(x) > 0, axis=1)))

    def dead_fraction(self, x: Any) -> float:
        """Share of latents that are zero on every input of ``x``."""
        return float(np.mean(~np.any(self.encode(x) > 0, axis=0)))

    def save(self, path: str | Path) -> Path:
        """Write the parameters and settings to a safetensors file (atomically); :func:`load_sae` reads it."""
        from safetensors.torch import save_file

        path = Path(ck.text("path", str(path)))
        meta = dict(d=str(self.d), n_latents=str(self.n_latents), k=str(self.k or 0),
                    l1=repr(self.l1), scale=repr(self.scale), format="polycode_lite.sae/1")
        tensors = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))

    def extra_repr(self) -> str:
        kind = f"k={self.k}" if self.k is not None else f"l1={self.l1:g}"
        return f"d={self.d}, n_latents={self.n_latents}, {kind}"


def load_sae(path: str | Path) -> SAE:
    """An :class:`SAE` saved with :meth:`SAE.save`. Raises ValueError for a file that is not one."""
    from safetensors import safe_open

    path = Path(ck.text("path", str(path)))
    if not path.is_file():
        raise ValueError(f"path {path} is not a file; pass the file written by SAE.save.")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error type for a damaged or foreign file
        raise ValueError(f"{path} is not a readable safetensors file ({exc}); pass the file written by "
                         "SAE.save.") from None
    if meta.get("format") != "polycode_lite.sae/1":
        raise ValueError(f"{path} is not an SAE file written by SAE.save (metadata {meta}).")
    k = int(meta["k"]) or None
    l1 = None if meta["l1"] == "None" else float(meta["l1"])
    sae = SAE(int(meta["d"]), int(meta["n_latents"]), k=k, l1=l1, scale=float(meta["scale"]))
    sae.load_state_dict(state)
    return sae


def _resample(sae: SAE, opt: torch.optim.Optimizer, dead: torch.Tensor, data: torch.Tensor,
              gen: torch.Generator) -> None:
    """Re-initialise the ``dead`` latents from high-error inputs of ``data`` (scaled units)."""
    with torch.no_grad():
        idx = torch.randint(0, data.shape[0], (min(4096, data.shape[0]),), generator=gen)
        xs = data[idx].to(sae.W_dec.device)
        resid = xs - sae._decode(sae._encode(xs))
        err = resid.pow(2).sum(dim=1).cpu()
        if float(err.sum()) <= 0:
            return
        pick = torch.multinomial(err.pow(2) / err.pow(2).sum(), int(dead.numel()), replacement=True, generator=gen)
        pick = pick.to(resid.device)
        dirs = resid[pick] / resid[pick].norm(dim=1, keepdim=True).clamp_min(1e-12)
        alive = torch.ones(sae.n_latents, dtype=torch.bool, device=resid.device)
        alive[dead] = False
        enc_norm = sae.W_enc[alive].norm(dim=1).mean() if bool(alive.any()) else torch.tensor(1.0)
        sae.W_dec[dead] = dirs
        sae.W_enc[dead] = dirs * enc_norm * RESAMPLE_SCALE
        sae.b_enc[dead] = 0.0
        for p in (sae.W_dec, sae.W_enc, sae.b_enc):
            state = opt.state.get(p, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in state:
                    state[key][dead] = 0.0


def train_sae(acts: Any, n_latents: int, *, l1: float | None = None, k: int | None = None,
              steps: int | None = None, seed: int = 0, lr: float = 3e-3, batch_size: int = 256,
              progress: bool = False, num_threads: int | None = 1, device: Any = "cpu") -> SAE:
    """Train a sparse autoencoder on activations ``acts`` (n_samples, d), numpy or torch.

    Args:
        acts: (n_samples, d) activations (finite; at least 2 samples, not all equal).
        n_latents: dictionary size (> d for an overcomplete dictionary).
        l1: L1 coefficient on the latents (an L1 SAE), e.g. 0.05 for unit-scaled data; or
        k: latents kept per input (a TopK SAE). Exactly one of ``l1`` and ``k``.
        steps: Adam steps (None: enough for 20 passes over the data, between 2,000 and 20,000).
        seed: seeds the initialisation, the batch order and the resampling.
        lr: Adam learning rate; batch_size: inputs per step.
        progress: show a tqdm bar. num_threads: torch threads while training (None: keep torch's).
        device: where the SAE trains ("cpu", "cuda", "cuda:1" or "auto"); the activations stay in
            host memory and go over one batch at a time, and the trained SAE is returned on the CPU.

    Returns: the trained :class:`SAE`; ``sae.history`` has ``loss`` (per 10 steps), ``seconds``,
        ``resampled`` (latents resampled at each check).

    Raises:
        ValueError/TypeError: a bad argument (before any work); NonFiniteLossError: the loss became
        NaN/inf (lower ``lr``).
    """
    data_np = ck.array("acts", acts, ndim=2, min_len=2, min_cols=1,
                       fix="Pass activations as an (n_samples, d) array.")
    n_latents = ck.integer("n_latents", n_latents, minimum=1, fix="e.g. 4 × the input dimension.")
    ck.memory("n_latents, acts", (2 * n_latents, data_np.shape[1]), itemsize=4)
    if (l1 is None) == (k is None):
        raise ValueError(f"pass exactly one of l1 (an L1 SAE, e.g. l1=0.05) and k (a TopK SAE, e.g. k=4); "
                         f"got l1={l1!r}, k={k!r}.")
    ck.optional(ck.positive, "l1", l1, allow_zero=True, fix="e.g. l1=0.05.")
    ck.optional(ck.integer, "k", k, minimum=1, maximum=n_latents, fix="k must be between 1 and n_latents.")
    n, d = data_np.shape
    batch_size = ck.integer("batch_size", batch_size, minimum=1, fix="e.g. 256.")
    steps = ck.optional(ck.integer, "steps", steps, minimum=1, fix="Or None for the default.")
    if steps is None:
        steps = int(min(20_000, max(2_000, math.ceil(20 * n / batch_size))))
    seed = ck.seed("seed", seed); ck.positive("lr", lr, fix="Try 3e-3.")
    ck.boolean("progress", progress)
    ck.optional(ck.integer, "num_threads", num_threads, minimum=1, fix="Or None to keep torch's setting.")
    dev = choose_device(device)
    mu = data_np.mean(axis=0)
    ms = float(np.einsum("ij,ij->", data_np, data_np) / n - mu @ mu)  # E‖x − mean‖², without a centred copy
    if ms <= 0:
        raise ValueError("acts has zero variance (every sample equal): nothing to learn. Pass varying activations.")
    scale = math.sqrt(d / ms)
    with limit_threads(num_threads, blas=False):
        return _train(data_np, n_latents, l1=l1, k=k, steps=steps, seed=seed, lr=float(lr),
                      batch_size=batch_size, progress=progress, scale=scale, device=dev)


def _adam(params: Any, lr: float) -> torch.optim.Optimizer:
    """Adam, fused where this torch supports it, else the default implementation. At MiniLM's MLP
    shape (1536 → 3072 latents) a whole CPU training step is 1.6× faster on one thread and 1.4× on
    two (benchmarks/bench_sae.py); the results here were unchanged to the printed digits."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def _train(data_np: np.ndarray, n_latents: int, *, l1: float | None, k: int | None, steps: int, seed: int,
           lr: float, batch_size: int, progress: bool, scale: float, device: torch.device) -> SAE:
    """The loop of :func:`train_sae` (arguments already checked)."""
    from tqdm.auto import tqdm

    n, d = data_np.shape
    data = torch.as_tensor(data_np, dtype=torch.float32) * scale
    sae = SAE(d, n_latents, k=k, l1=l1, scale=scale, seed=seed)
    with torch.no_grad():
        sae.b_dec.copy_(data.mean(dim=0))  # geometric-median stand-in: the mean
    sae.to(device)
    opt = _adam(sae.parameters(), lr)
    gen = torch.Generator().manual_seed(seed + 1)
    fired = torch.zeros(n_latents, dtype=torch.bool, device=device)
    losses, resampled = [], []
    perm, pos = torch.randperm(n, generator=gen), 0
    t0 = time.perf_counter()
    for step in tqdm(range(1, steps + 1), disable=not progress, desc="train_sae", mininterval=0.5):
        if pos + batch_size > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        xb = data[perm[pos:pos + batch_size]].to(device, non_blocking=True)
        pos += batch_size
        z = sae._encode(xb)
        loss = (xb - sae._decode(z)).pow(2).sum(dim=1).mean() / d
        if l1:
            loss = loss + l1 * z.sum(dim=1).mean()
        lv = float(loss.detach())
        if not math.isfinite(lv):
            raise NonFiniteLossError(f"train_sae: the loss became non-finite at step {step} (lr={lr:g}); "
                                     "training stopped. Lower lr (e.g. 1e-3).")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            sae.W_dec.div_(sae.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))
            fired |= (z > 0).any(dim=0)
        if step % 10 == 0:
            losses.append(lv)
        if step % RESAMPLE_EVERY == 0:
            dead = torch.nonzero(~fired).flatten()
            if dead.numel() and step < RESAMPLE_STOP * steps:
                _resample(sae, opt, dead, data, gen)
            resampled.append(int(dead.numel()) if step < RESAMPLE_STOP * steps else 0)
            fired.zero_()
    sae.cpu()
    sae.history = dict(loss=np.asarray(losses), seconds=time.perf_counter() - t0, steps=steps,
                       resampled=resampled, device=str(device))
    return sae


def _decoder_of(sae_or_decoder: Any) -> np.ndarray:
    if isinstance(sae_or_decoder, SAE):
        return sae_or_decoder.decoder
    if hasattr(sae_or_decoder, "components_"):  # a fitted scikit-learn dictionary learner
        return np.asarray(sae_or_decoder.components_, dtype=np.float64)
    return ck.array("sae_or_decoder", sae_or_decoder, ndim=2, min_len=1, min_cols=1,
                    fix="Pass an SAE or an (n_latents, d) decoder array.")


def feature_recovery_per_feature(sae_or_decoder: Any, true_features: Any) -> np.ndarray:
    """For each true feature (row of ``true_features``, (n_true, d)) the best |cosine| with a row of
    the decoder (an :class:`SAE`, a fitted scikit-learn dictionary with ``components_``, or an
    (n_latents, d) array): (n_true,) values in [0, 1]. Zero decoder rows count as cosine 0.

    Raises ValueError for mismatched d or a zero true feature."""
    dec = _decoder_of(sae_or_decoder)
    true = ck.array("true_features", true_features, ndim=2, min_len=1, min_cols=1,
                    fix="Pass the known directions as an (n_true, d) array (one row per feature).")
    if true.shape[1] != dec.shape[1]:
        raise ValueError(f"true_features has d = {true.shape[1]} columns but the decoder has {dec.shape[1]}; "
                         "pass directions in the same space (rows are features: transpose a (d, n) matrix).")
    tn = np.linalg.norm(true, axis=1)
    if np.any(tn == 0):
        raise ValueError(f"true_features has {int(np.sum(tn == 0))} zero row(s): a direction needs a norm. "
                         "Drop them first.")
    dn = np.linalg.norm(dec, axis=1)
    dec_u = np.divide(dec, dn[:, None], out=np.zeros_like(dec), where=dn[:, None] > 0)
    cos = np.abs((true / tn[:, None]) @ dec_u.T)
    return np.clip(cos.max(axis=1), 0.0, 1.0)


def feature_recovery(sae_or_decoder: Any, true_features: Any) -> float:
    """Mean over true features of the best |cosine| with a decoder direction
    (:func:`feature_recovery_per_feature`): 1 = every feature has a decoder row along it."""
    return float(np.mean(feature_recovery_per_feature(sae_or_decoder, true_features)))
