"""Streaming covariances of a language model's hook points, per document group, resumable.

:func:`collect_covariances` streams token windows through the model once per layer chunk;
each hook point feeds one :class:`~polycode_lite.science.covariance.CovarianceAccumulator` per
*document group*, so alpha gets a CI by resampling document groups (tokens within a document
are correlated). Under ``torchrun`` each rank takes a shard of the documents and the
accumulators are merged with ``CovarianceAccumulator.all_reduce``.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from polycode_lite.science.covariance import CovarianceAccumulator
from polycode_lite.data.corpus import TokenWindows
from polycode_lite.experiments.resume_files import (
    ResumeWarning,
    load_tensors,
    save_tensors,
    tensors_digest,
)
from polycode_lite.models.language_models import LanguageModel

__all__ = [
    "GroupedCovariances", "accumulator_bytes", "assign_groups", "collect_covariances", "model_digest",
    "peak_memory_estimate", "tqdm_iter", "window_features"
]


def window_features(drop_first: int = 4, drop_last: int = 0):
    """Map (B, T, D) -> (B·(T - drop_first - drop_last), D), built on
    :func:`~polycode_lite.models.hooks.token_features`: drops each window's first positions
    (docs/paper_guide.md pitfall 8) and its last ``drop_last`` (BERT's [SEP])."""
    from polycode_lite.models.hooks import token_features

    base = token_features(drop_first)

    def fn(t: "torch.Tensor") -> "torch.Tensor":
        if drop_last and t.ndim == 3:
            t = t[:, : t.shape[1] - drop_last]
        return base(t)

    return fn


# --------------------------------------------------------------------------------------
# streaming covariances with document groups (and torch.distributed)
# --------------------------------------------------------------------------------------
@dataclass
class GroupedCovariances:
    """Per-hook covariance accumulators, one per document group.

    ``groups[hook][g]`` holds the statistics of every token of the documents in group g.
    The whole-corpus statistics are the Chan merge of the groups (:meth:`total`); a bootstrap
    over documents resamples groups (:meth:`resample`). Memory: n_groups · Σ_hooks width² ·
    8 bytes (float64).
    """

    groups: dict[str, list["CovarianceAccumulator"]]
    n_docs_per_group: list[int]
    drop_first: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def hooks(self) -> list[str]:
        return list(self.groups)

    @property
    def n_groups(self) -> int:
        return len(self.n_docs_per_group)

    def n_tokens(self, hook: str) -> int:
        return sum(a.n for a in self.groups[hook])

    def total(self, hook: str) -> "CovarianceAccumulator":
        """All groups merged: the statistics of the whole corpus."""
        return self.resample(hook, np.ones(self.n_groups, dtype=int))

    def resample(self, hook: str, counts: Sequence[int]) -> "CovarianceAccumulator":
        """Merge group g ``counts[g]`` times (a bootstrap replicate over document groups)."""
        from polycode_lite.science.covariance import CovarianceAccumulator

        accs = self.groups[hook]
        out = CovarianceAccumulator(accs[0].dim, dtype=accs[0].dtype, device=accs[0].device)
        for acc, c in zip(accs, counts):
            for _ in range(int(c)):
                out.merge(acc)
        return out


def _dist_info() -> tuple[int, int]:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except ImportError:  # pragma: no cover
        pass
    return 0, 1


def assign_groups(windows: TokenWindows, n_groups: int, seed: int = 0) -> np.ndarray:
    """Group id of every window: documents are dealt, in a seeded random order, into
    ``min(n_groups, n_documents)`` groups. Returns (N,) int64."""
    docs = np.unique(windows.doc_ids)
    g = min(int(n_groups), docs.size)
    if g < 1:
        raise ValueError("n_groups must be >= 1.")
    order = np.random.default_rng(seed).permutation(docs.size)
    doc_group = np.empty(docs.size, dtype=np.int64)
    doc_group[order] = np.arange(docs.size) % g
    lookup = dict(zip(docs.tolist(), doc_group.tolist()))
    return np.asarray([lookup[d] for d in windows.doc_ids.tolist()], dtype=np.int64)


def _windows_fingerprint(windows: TokenWindows) -> str:
    """sha256 (hex) of the windows' token ids and document ids, with their shapes, so a
    resumed collection only reuses groups computed from exactly the same windows."""
    h = hashlib.sha256()
    for name, a in (("input_ids", windows.input_ids), ("doc_ids", windows.doc_ids)):
        a = np.ascontiguousarray(a, dtype="<i8")  # fixed dtype and byte order
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _state_path(folder: Path, g: int) -> Path:
    return folder / f"group_{g:03d}.safetensors"


def model_digest(model: Any) -> str:
    """sha256 of a model's weights (every tensor of its state dict: name, dtype, shape, bytes)."""
    return tensors_digest(model.state_dict())


def _save_group(path: Path, accs: Mapping[str, "CovarianceAccumulator"], settings: Mapping[str, Any]) -> None:
    """One group's accumulators, in their own dtype (a resumed run is bitwise the uninterrupted
    one), with their sha256 and settings (:func:`~polycode_lite.experiments.resume_files.save_tensors`)."""
    tensors = {f"{hook}/{k}": v for hook, acc in accs.items() for k, v in acc.state_dict().items()}
    save_tensors(path, tensors, settings)


def _load_group(path: Path, hooks: Sequence[str], settings: Mapping[str, Any], dtype: Any, device: Any
                ) -> dict[str, "CovarianceAccumulator"] | None:
    """The accumulators saved by :func:`_save_group`, or None (with a ResumeWarning) when the file
    is unreadable, fails its sha256, holds other settings or not the expected tensors."""
    import torch

    from polycode_lite.science.covariance import CovarianceAccumulator

    loaded = load_tensors(path, settings, what="partial state")
    if loaded is None:
        return None
    tensors, _ = loaded
    want = torch.float64 if dtype is None else dtype
    try:
        out = {}
        for hook in hooks:
            state = {k: tensors[f"{hook}/{k}"] for k in ("n", "mean", "m2")}
            if state["mean"].dtype != want or state["m2"].dtype != want:
                raise ValueError(f"{hook} is saved in {state['m2'].dtype}, not {want}")
            out[hook] = CovarianceAccumulator.from_state_dict(state, device=device)
    except (KeyError, ValueError) as exc:
        warnings.warn(f"partial state {path}: does not hold the expected accumulators ({exc}); "
                      "recomputing it.", ResumeWarning, stacklevel=2)
        return None
    return out


def collect_covariances(
    lm: LanguageModel,
    windows: TokenWindows,
    hooks: Sequence[str],
    drop_first: int = 4,
    n_groups: int = 8,
    batch_size: int = 16,
    dtype: "torch.dtype | None" = None,
    device: Any = None,
    checkpoint_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> GroupedCovariances:
    """Stream ``windows`` through the model and accumulate one covariance per hook and document group.

    Reuses :func:`~polycode_lite.models.hooks.accumulate_covariances` (hooks removed afterwards,
    no activation tensor kept). Positions ``< drop_first`` of every window (and BERT's final
    [SEP]) are left out (docs/paper_guide.md pitfall 8).

    Under ``torch.distributed`` (``torchrun``) every rank processes the windows of every
    ``world_size``-th document and the group accumulators are merged with
    ``CovarianceAccumulator.all_reduce``; every rank returns the global statistics.

    Args:
        lm: the loaded model. windows: from :func:`make_windows`. hooks: hook names.
        drop_first: positions dropped at the start of every window (>= BERT's [CLS]).
        n_groups: document groups for the bootstrap (1 = no CI by resampling).
        batch_size: windows per forward pass.
        dtype: accumulator dtype (float64 default; float32 halves GPU memory for GPT-2 XL).
        device: accumulator device (default: the model's).
        checkpoint_dir: if given, each finished group is saved there (in the accumulator's
            dtype, with its sha256 and settings) and reused on a rerun with identical settings:
            model weights (sha256), hooks, windows (sha256 of the token ids), drop_first,
            groups, seed, dtype, batch_size, device type, world size and ``settings``. A file
            that is unreadable, fails its hash or holds other settings is recomputed (with a
            :class:`~polycode_lite.experiments.resume_files.ResumeWarning`).
        seed: seed of the document -> group assignment.
        settings: further settings that saved groups must match (e.g. the run's).

    Shapes: each accumulator is (width, width); width = d_mlp for ``mlp.post`` else d_model.

    Raises:
        ValueError: unknown hook, or drop_first leaves no position.
    """
    import torch
    from tqdm.auto import tqdm

    from polycode_lite.models.hooks import accumulate_covariances
    from polycode_lite.science.covariance import CovarianceAccumulator

    hooks = list(hooks)
    modules = lm.modules(hooks)
    if drop_first < windows.n_prefix:
        raise ValueError(f"drop_first={drop_first} keeps the [CLS] token; use drop_first >= {windows.n_prefix}.")
    if drop_first + windows.n_suffix >= windows.length:
        raise ValueError(f"drop_first={drop_first} removes every position of {windows.length}-token windows.")
    device = lm.device if device is None else torch.device(device)
    rank, world = _dist_info()
    group_of = assign_groups(windows, n_groups, seed)
    n_g = int(group_of.max()) + 1
    features = window_features(drop_first, windows.n_suffix)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    fingerprint: dict[str, Any] = {}
    if folder is not None:
        fingerprint = dict(settings or {})
        if "model_weights" not in fingerprint:  # the caller may have hashed them already
            fingerprint["model_weights"] = model_digest(lm.model)
        fingerprint.update(model=lm.name, hooks=hooks, n_windows=len(windows), T=windows.length,
                           windows=_windows_fingerprint(windows), drop_first=drop_first, n_groups=n_g,
                           seed=seed, world=world, acc_dtype=str(dtype or torch.float64),
                           batch_size=int(batch_size), device=device.type)
    if folder is not None and rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, list[CovarianceAccumulator]] = {h: [] for h in hooks}
    for g in tqdm(range(n_g), desc=f"{lm.name}: document groups", disable=not progress or rank != 0):
        accs = None
        if folder is not None and _state_path(folder, g).exists():
            accs = _load_group(_state_path(folder, g), hooks, dict(fingerprint, group=g), dtype, device)
        if accs is None:
            mine = np.flatnonzero((group_of == g) & (windows.doc_ids % world == rank))
            accs = {}
            if mine.size:
                accs = accumulate_covariances(
                    lm.model, windows.subset(mine).batches(batch_size, lm.device), modules,
                    features=features, dtype=dtype, device=device, progress=False)
            for h in hooks:  # a rank without windows in this group still takes part in the merge
                accs.setdefault(h, CovarianceAccumulator(lm.width(h), dtype=dtype, device=device))
            if world > 1:
                for h in hooks:
                    accs[h].all_reduce()
            if folder is not None and rank == 0:
                _save_group(_state_path(folder, g), accs, dict(fingerprint, group=g))
        for h in hooks:  # a finished group waits in host memory: one group at a time on the device
            result[h].append(_to_host(accs[h]))
    n_docs = [int(np.unique(windows.doc_ids[group_of == g]).size) for g in range(n_g)]
    return GroupedCovariances(result, n_docs, drop_first,
                              meta=dict(model=lm.name, arch=lm.arch, n_windows=len(windows),
                                        window=windows.length, world_size=world))


def _to_host(acc: "CovarianceAccumulator") -> "CovarianceAccumulator":
    """``acc`` itself on the CPU, else an exact copy there (the spectra are computed on the CPU)."""
    from polycode_lite.science.covariance import CovarianceAccumulator

    if acc.device.type == "cpu":
        return acc
    return CovarianceAccumulator.from_state_dict(acc.state_dict(), device="cpu")


# --------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------
def accumulator_bytes(widths: Sequence[int], bytes_per_value: int = 8) -> int:
    """Bytes of the running sums of one accumulator per width: Σ (w² + w) · bytes."""
    return int(sum((w * w + w) * bytes_per_value for w in widths))


def peak_memory_estimate(
    n_params: int,
    widths: Sequence[int],
    batch_tokens: int,
    d_model: int,
    n_layers: int,
    weight_bytes: int = 4,
    acc_bytes: int = 8,
) -> dict[str, int]:
    """Peak device memory of :func:`collect_covariances` in one pass, in bytes (one document group
    is on the device at a time: finished groups wait in host memory, n_groups × accumulators).

    Terms: weights n_params · weight_bytes; accumulators Σ(w² + w)·acc_bytes; the batch
    cross-product of the widest hook (w² · acc_bytes, formed before it is added); the centred
    float64 batch of that hook (batch_tokens · w · 8, plus its cast copy); and forward
    activations kept by the hooked model, about batch_tokens · (4·d_model·n_layers) · weight_bytes
    upper bound for no-grad inference (only a few layers are live at once; the bound is loose).
    GPT-2 XL, all 48 MLP (6400) + residual (1600) hooks in float64:
    ``peak_memory_estimate(1_557_611_200, [6400]*48 + [1600]*48, 16*64, 1600, 48)``.
    """
    wmax = max(widths)
    terms = dict(
        weights=int(n_params * weight_bytes),
        accumulators=accumulator_bytes(widths, acc_bytes),
        batch_cross_product=int(wmax * wmax * acc_bytes),
        batch_copies=int(2 * batch_tokens * wmax * 8),
        forward=int(batch_tokens * 4 * d_model * 3 * weight_bytes),
    )
    terms["total"] = int(sum(terms.values()))
    return terms


def tqdm_iter(items: Sequence[Any], desc: str) -> Iterator[Any]:
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc)
