"""Streaming, mergeable covariance of activations (Chan et al.'s pairwise update).

Activations are (n_samples, n_features) = (n, m); covariances are centred, ddof = 1.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite import _checks as ck

if TYPE_CHECKING:  # pragma: no cover
    import torch
from polycode_lite._common import describe_nonfinite

__all__ = ["CovarianceAccumulator", "torch_outer"]


# --------------------------------------------------------------------------------------
# streaming covariance
# --------------------------------------------------------------------------------------
class CovarianceAccumulator:
    """Streaming, mergeable mean and covariance of (n, dim) batches.

    Each batch is centred on its own mean in the accumulator's dtype (float64 by default)
    before its cross-product is formed, and batches are combined with the parallel-variance
    update of Chan, Golub & LeVeque (1979):

        n = n_a + n_b,  delta = mean_b - mean_a,
        M2 = M2_a + M2_b + delta deltaᵀ · n_a n_b / n,   cov = M2 / (n - 1).

    Memory is O(dim²) whatever the number of samples. Works on CPU or GPU tensors; numpy
    batches are moved to ``device``. A batch containing NaN/inf, of the wrong width or empty
    raises ``ValueError`` and leaves the accumulator unchanged.

    Args:
        dim: number of features m.
        dtype: torch dtype of the running sums (``torch.float64`` by default; float32 only to
            save GPU memory for very wide layers, at a cost in precision).
        device: torch device for the running sums (default CPU).
    """

    def __init__(self, dim: int, dtype: "torch.dtype | None" = None, device: Any = None) -> None:
        import torch

        self.dim = ck.integer("dim", dim, minimum=1)
        ck.memory("dim", (self.dim, self.dim))
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch dtype (torch.float64 or torch.float32), got {dtype!r}.")
        self.dtype = torch.float64 if dtype is None else dtype
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._n = 0
        self._mean = torch.zeros(self.dim, dtype=self.dtype, device=self.device)
        self._m2 = torch.zeros(self.dim, self.dim, dtype=self.dtype, device=self.device)

    # -- state ----------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of samples seen."""
        return self._n

    @property
    def mean(self) -> np.ndarray:
        """Running mean, shape (dim,), float64 numpy."""
        return self._mean.detach().to("cpu").double().numpy()

    def covariance(self, ddof: int = 1) -> np.ndarray:
        """Sample covariance M2 / (n - ddof), shape (dim, dim), float64 numpy on the CPU."""
        ck.integer("ddof", ddof, minimum=0)
        if self._n - ddof <= 0:
            raise ValueError(
                f"Need at least {ddof + 1} samples for a covariance with ddof={ddof}; "
                f"the accumulator has seen {self._n}. Feed more batches with .update()."
            )
        m2 = self._m2.detach().to("cpu").double()
        return (m2 / (self._n - ddof)).numpy()

    def covariance_tensor(self, ddof: int = 1) -> "torch.Tensor":
        """Sample covariance as a tensor on the accumulator's device and dtype."""
        ck.integer("ddof", ddof, minimum=0)
        if self._n - ddof <= 0:
            raise ValueError(f"Need at least {ddof + 1} samples; have {self._n}.")
        return self._m2 / (self._n - ddof)

    # -- updates --------------------------------------------------------------------
    def _to_tensor(self, batch: Any) -> "torch.Tensor":
        import torch

        if isinstance(batch, torch.Tensor):
            t = batch.detach()
        else:
            arr = np.asarray(batch)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"batch must hold real numbers, got numpy dtype {arr.dtype}; the accumulator "
                                "was left unchanged.")
            t = torch.as_tensor(arr)
        if t.is_complex():
            raise TypeError(f"batch is complex ({t.dtype}); the covariance of real activations is meant. Pass "
                            "the real part (or |x|) explicitly; the accumulator was left unchanged.")
        if t.ndim != 2:
            raise ValueError(
                f"batch must be 2-D (n, {self.dim}), got shape {tuple(t.shape)}. "
                "Flatten token/spatial axes first, e.g. acts.reshape(-1, acts.shape[-1])."
            )
        if t.shape[1] != self.dim:
            raise ValueError(
                f"dimension mismatch: accumulator has dim={self.dim} but the batch has "
                f"{t.shape[1]} features (shape {tuple(t.shape)})."
            )
        if t.shape[0] == 0:
            raise ValueError("batch is empty (0 rows); nothing to accumulate.")
        if not torch.is_floating_point(t):
            t = t.to(torch.float64)
        # cast before the matmul: the cross-product is formed in the accumulator dtype
        return t.to(device=self.device, dtype=self.dtype)

    def update(self, batch: Any) -> "CovarianceAccumulator":
        """Add a (n, dim) numpy array or torch tensor. Returns self."""
        import torch

        x = self._to_tensor(batch)
        n_b = x.shape[0]
        with torch.autocast(device_type=self.device.type, enabled=False):
            mean_b = x.mean(dim=0)
            xc = x - mean_b
            # one host sync checks both: max|xc| is NaN/inf when any entry (or the mean) is
            # non-finite, and Σ xc xcᵀ is at most n·max|xc|², so a batch that would overflow the
            # cross-product is refused too (state still untouched here)
            big = float(xc.abs().amax())
            if not math.isfinite(big):
                bad = (~torch.isfinite(x)).to("cpu").numpy()
                where = describe_nonfinite(bad) if bad.any() else "values so large the mean overflows"
                raise ValueError(
                    f"batch contains {where}; the accumulator was left unchanged. "
                    "Check the layer for overflow (e.g. fp16) or drop those rows."
                )
            if big * big * n_b >= float(torch.finfo(self.dtype).max):
                raise ValueError(f"batch values up to {big:.3g} overflow the {self.dtype} cross-product; the "
                                 "accumulator was left unchanged. Rescale the activations or use float64.")
            # between-batch term first, then the batch's centred cross-product added in place
            # by one GEMM (addmm_ avoids a temporary (dim, dim) matrix)
            self._combine(n_b, mean_b, None)
            self._m2.addmm_(xc.T, xc)
        return self

    def _combine(self, n_b: int, mean_b: "torch.Tensor", m2_b: "torch.Tensor | None") -> None:
        """Chan et al. update of n, mean and M2; ``m2_b`` None means the caller adds it."""
        n_a = self._n
        n = n_a + n_b
        delta = mean_b - self._mean
        if m2_b is not None:
            self._m2 += m2_b
        if n_a > 0:
            self._m2.addr_(delta, delta, alpha=n_a * n_b / n)
        self._mean += delta * (n_b / n)
        self._n = n

    def merge(self, other: "CovarianceAccumulator") -> "CovarianceAccumulator":
        """Fold another accumulator of the same dim into this one (in place). Returns self."""
        if not isinstance(other, CovarianceAccumulator):
            raise TypeError(f"can only merge a CovarianceAccumulator, got {type(other).__name__}")
        if other.dim != self.dim:
            raise ValueError(f"dimension mismatch: cannot merge dim={other.dim} into dim={self.dim}.")
        if other._n == 0:
            return self
        self._combine(
            other._n,
            other._mean.to(self.device, self.dtype),
            other._m2.to(self.device, self.dtype),
        )
        return self

    def all_reduce(self, group: Any = None) -> "CovarianceAccumulator":
        """Merge this accumulator across all ``torch.distributed`` ranks, in place.

        Uses the same Chan update: all-reduce n, then n·mean, then the centred cross-products
        shifted to the global mean, so every rank ends with the global state.
        """
        import torch
        import torch.distributed as dist

        n_local = torch.tensor([float(self._n)], dtype=torch.float64, device=self.device)
        n_total = n_local.clone()
        dist.all_reduce(n_total, group=group)
        weighted_mean = self._mean.to(torch.float64) * n_local
        dist.all_reduce(weighted_mean, group=group)
        global_mean = weighted_mean / n_total
        delta = (self._mean.to(torch.float64) - global_mean).to(self.dtype)
        m2 = self._m2 + torch_outer(delta, delta) * float(self._n)
        dist.all_reduce(m2, group=group)
        self._m2.copy_(m2)
        self._mean = global_mean.to(self.dtype)
        self._n = int(round(float(n_total.item())))
        return self

    # -- persistence ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Tensors and metadata to save (e.g. with safetensors) and restore with from_state_dict."""
        import torch

        return {
            "n": torch.tensor([self._n], dtype=torch.int64),
            "mean": self._mean.detach().cpu().clone(),
            "m2": self._m2.detach().cpu().clone().contiguous(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: Any = None) -> "CovarianceAccumulator":
        """Rebuild an accumulator saved with :meth:`state_dict`."""
        missing = {"n", "mean", "m2"} - set(state)
        if missing:
            raise ValueError(f"state is missing {sorted(missing)}: pass what state_dict() returned.")
        mean, m2 = state["mean"], state["m2"]
        n = int(state["n"].reshape(-1)[0])
        dim = int(mean.shape[0]) if mean.ndim == 1 else -1
        if dim < 1 or tuple(m2.shape) != (dim, dim):
            raise ValueError(f"state has mean of shape {tuple(mean.shape)} and m2 of shape {tuple(m2.shape)}; "
                             "expected (dim,) and (dim, dim).")
        if n < 0:
            raise ValueError(f"state has n = {n} samples; a count cannot be negative (a damaged state).")
        acc = cls(dim, dtype=mean.dtype, device=device)
        acc._n = n
        acc._mean = mean.to(acc.device).clone()
        acc._m2.copy_(state["m2"].to(acc.device, acc.dtype))
        return acc

    def __repr__(self) -> str:
        return f"CovarianceAccumulator(dim={self.dim}, n={self._n}, dtype={self.dtype}, device={self.device})"


def torch_outer(a: "torch.Tensor", b: "torch.Tensor") -> "torch.Tensor":
    import torch

    return torch.outer(a, b)
