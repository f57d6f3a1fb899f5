"""Record a model's intermediate activations through forward hooks.

Shared by every model notebook (CNN probes, ResNet autoencoder, language models). Layers are
named by their dotted module path in ``model.named_modules()`` (e.g. ``"layer1.0.relu"``,
``"h.3.mlp.act"``), or given as a mapping from any name you like to a module. Hooks are always
removed when the ``with`` block ends, even on error.

Two ways to use it:
  * keep what you record (small probes):    ``acts = record_activations(model, x, ["fc1"])``
  * stream it into covariances (big runs):  ``accs = accumulate_covariances(model, loader, ...)``

Shapes: conv outputs are (B, C, H, W), token outputs (B, T, D). The ``features`` helpers turn
them into (samples, features) matrices; which one you pick changes the statistics (docs/paper_guide.md
pitfall 7), so say which one you used.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from polycode_lite import _checks as ck

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from polycode_lite.science.covariance import CovarianceAccumulator

__all__ = [
    "get_module",
    "ActivationRecorder",
    "record_activations",
    "accumulate_covariances",
    "channel_features",
    "pooled_features",
    "flat_features",
    "token_features",
]

FeatureFn = Callable[["torch.Tensor"], "torch.Tensor"]


def get_module(model: "nn.Module", name: str, what: str = "name") -> "nn.Module":
    """Return the submodule at dotted path ``name``; raise :class:`~polycode_lite._checks.UnknownName`
    (a KeyError and a ValueError) listing close names; ``what`` names the argument in messages."""
    ck.text(what, name)
    modules = dict(model.named_modules())
    if name in modules:
        return modules[name]
    close = [n for n in modules if n and (name.split(".")[-1] in n)][:10]
    raise ck.UnknownName(
        f"{what}: model has no module named {name!r}. Some available names: "
        f"{close or list(modules)[1:11]} (see model.named_modules())."
    )


def _first_tensor(output: Any) -> "torch.Tensor":
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if hasattr(output, "last_hidden_state"):
        return output.last_hidden_state
    raise TypeError(f"cannot record a module output of type {type(output).__name__}.")


# -- feature maps: activation tensor -> (samples, features) --------------------------------
def channel_features(t: "torch.Tensor") -> "torch.Tensor":
    """(B, C, H, W) -> (B·H·W, C): channels are features, spatial positions are samples."""
    if t.ndim == 2:
        return t
    if t.ndim != 4:
        raise ValueError(f"channel_features expects (B, C, H, W), got shape {tuple(t.shape)}.")
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def pooled_features(t: "torch.Tensor") -> "torch.Tensor":
    """(B, C, H, W) -> (B, C) by global average pooling over space; (B, D) passes through."""
    if t.ndim == 2:
        return t
    if t.ndim != 4:
        raise ValueError(f"pooled_features expects (B, C, H, W), got shape {tuple(t.shape)}.")
    return t.mean(dim=(2, 3))


def flat_features(t: "torch.Tensor") -> "torch.Tensor":
    """(B, ...) -> (B, prod(...)): every unit at every position is a feature."""
    return t.reshape(t.shape[0], -1)


def token_features(drop_first: int = 0) -> FeatureFn:
    """Return a map (B, T, D) -> (B·(T-drop_first), D) dropping each window's first positions
    (docs/paper_guide.md pitfall 8: early positions have outsized norms)."""

    ck.integer("drop_first", drop_first, minimum=0)

    def fn(t: "torch.Tensor") -> "torch.Tensor":
        if t.ndim == 2:
            return t
        if t.ndim != 3:
            raise ValueError(f"token_features expects (B, T, D), got shape {tuple(t.shape)}.")
        if drop_first >= t.shape[1]:
            raise ValueError(f"drop_first={drop_first} removes all {t.shape[1]} positions.")
        return t[:, drop_first:].reshape(-1, t.shape[-1])

    return fn


class ActivationRecorder(AbstractContextManager):
    """Context manager that hooks the named layers and hands each output to a callback.

    Args:
        model: the network.
        layers: dotted module names, or a mapping {name: module}.
        on_output: called as ``on_output(name, tensor)`` for every forward pass of a hooked
            layer. Default: keep a detached CPU copy in ``self.activations[name]`` (a list).
        features: optional map applied to each output before ``on_output`` (see
            :func:`channel_features`, :func:`pooled_features`, :func:`token_features`).

    A module called twice in one forward pass (e.g. BasicBlock's ReLU) fires twice; both
    outputs are recorded.
    """

    def __init__(
        self,
        model: "nn.Module",
        layers: Sequence[str] | Mapping[str, "nn.Module"],
        on_output: Callable[[str, "torch.Tensor"], None] | None = None,
        features: FeatureFn | None = None,
    ) -> None:
        if isinstance(layers, Mapping):
            self.modules = dict(layers)
        else:
            if isinstance(layers, str):
                layers = [layers]
            if not isinstance(layers, (list, tuple)):
                raise TypeError(f"layers must be a list of module names or a {{name: module}} dict, got "
                                f"{type(layers).__name__} {layers!r}.")
            self.modules = {name: get_module(model, name, f"layers[{i}]") for i, name in enumerate(layers)}
        if not self.modules:
            raise ValueError("layers is empty: no layers given to record.")
        ck.function("on_output", on_output, optional=True); ck.function("features", features, optional=True)
        self.features = features
        self.activations: dict[str, list] = {name: [] for name in self.modules}
        self._on_output = on_output or self._keep
        self._handles: list = []

    def _keep(self, name: str, t: "torch.Tensor") -> None:
        self.activations[name].append(t.detach().to("cpu"))

    def _make_hook(self, name: str):
        def hook(module, inputs, output):
            t = _first_tensor(output)
            if self.features is not None:
                t = self.features(t)
            self._on_output(name, t)

        return hook

    def __enter__(self) -> "ActivationRecorder":
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._make_hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def stacked(self) -> dict[str, "torch.Tensor"]:
        """Concatenate the kept outputs of each layer along the first axis."""
        import torch

        return {n: torch.cat(v, dim=0) for n, v in self.activations.items() if v}


def record_activations(
    model: "nn.Module",
    inputs: Any,
    layers: Sequence[str] | Mapping[str, "nn.Module"],
    features: FeatureFn | None = None,
    batch_size: int | None = None,
) -> dict[str, "torch.Tensor"]:
    """Run ``inputs`` through ``model`` under ``torch.no_grad`` and return {layer: tensor}.

    ``inputs`` is a tensor (split into ``batch_size`` chunks if given) or a dict of tensors
    (passed as keyword arguments, e.g. a tokenizer's output). The model's train/eval mode is
    left as it is: call ``model.eval()`` first unless you want dropout active.
    """
    import torch

    ck.optional(ck.integer, "batch_size", batch_size, minimum=1)
    if not (isinstance(inputs, Mapping) or hasattr(inputs, "shape")):
        raise TypeError(f"inputs must be a tensor or a dict of tensors, got {type(inputs).__name__}.")
    with ActivationRecorder(model, layers, features=features) as rec, torch.no_grad():
        if isinstance(inputs, Mapping):
            model(**inputs)
        elif batch_size is None:
            model(inputs)
        else:
            for start in range(0, inputs.shape[0], batch_size):
                model(inputs[start : start + batch_size])
    return rec.stacked()


def accumulate_covariances(
    model: "nn.Module",
    batches: Iterable[Any],
    layers: Sequence[str] | Mapping[str, "nn.Module"],
    features: FeatureFn | Mapping[str, FeatureFn] | None = None,
    dtype: "torch.dtype | None" = None,
    device: Any = None,
    progress: bool = True,
    desc: str = "collecting activations",
) -> dict[str, "CovarianceAccumulator"]:
    """Stream ``batches`` through ``model`` once, feeding every layer's output into its own
    :class:`~polycode_lite.science.covariance.CovarianceAccumulator`. No activation tensor is kept.

    ``batches`` yields tensors or dicts of tensors (keyword inputs). ``features`` is one map
    for all layers or a {layer: map} dict (default: :func:`pooled_features` for 4-D outputs,
    identity for 2-D, tokens flattened for 3-D). Accumulators live on ``device`` (default: the
    model's device) in ``dtype`` (default float64).
    """
    import torch
    from tqdm.auto import tqdm

    from polycode_lite.science.covariance import CovarianceAccumulator

    if device is None:
        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
    accs: dict[str, CovarianceAccumulator] = {}

    def default_features(t: "torch.Tensor") -> "torch.Tensor":
        if t.ndim == 4:
            return pooled_features(t)
        if t.ndim == 3:
            return t.reshape(-1, t.shape[-1])
        return t.reshape(t.shape[0], -1)

    def on_output(name: str, t: "torch.Tensor") -> None:
        fn = features.get(name, default_features) if isinstance(features, Mapping) else (
            features or default_features
        )
        x = fn(t)
        if name not in accs:
            accs[name] = CovarianceAccumulator(x.shape[1], dtype=dtype, device=device)
        accs[name].update(x)

    with ActivationRecorder(model, layers, on_output=on_output), torch.no_grad():
        for batch in tqdm(batches, desc=desc, disable=not progress):
            if isinstance(batch, Mapping):
                model(**batch)
            elif isinstance(batch, (tuple, list)):
                model(batch[0])
            else:
                model(batch)
    return accs
