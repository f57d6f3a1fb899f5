"""The authors' deep dropout network and a small dropout MLP for the shapes data.

``DeepDropoutNet`` is the authors' ``NN_sparse_dropout`` (docs/paper_guide.md §3 E4): 40 Dense(32,
tanh) layers; after every 4th a Dropout(0.2) followed by a multiplication by 0.8, which cancels
Keras' inverted-dropout rescaling (surviving units are *not* scaled up in training; at inference
every unit is scaled by 0.8); a final linear Dense(3). The module list mirrors the Keras layer
list (61 entries), so ``net.layers[l]`` is the authors' "layer number" l; l = 3, 9, 15, ... are
the last dense layer before a dropout block, l = 6, 12, ... the first one after it, l = 60 the
output.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch import nn

__all__ = [
    "DeepDropoutNet", "DeepNetConfig", "Scale", "ShapesMLP", "first_stochastic_layer",
    "keras_layer_kind", "masks_off"
]


# --------------------------------------------------------------------------------------
# 1. the authors' deep narrow dropout network
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeepNetConfig:
    """Architecture of ``NN_sparse_dropout`` (defaults = the authors' values).

    n_dense: tanh Dense layers (40). width: units per layer (32). in_dim: inputs = outputs (3).
    dropout: rate D (0.2). every: a dropout block after every ``every``-th dense layer (4).
    authors_scaling: True = multiply by (1 − D) after dropout (no inverted rescaling, as the
    authors); False = plain inverted dropout.
    """

    n_dense: int = 40
    width: int = 32
    in_dim: int = 3
    dropout: float = 0.2
    every: int = 4
    authors_scaling: bool = True

    def __post_init__(self) -> None:
        if self.n_dense < 1 or self.width < 1 or self.in_dim < 1 or self.every < 1:
            raise ValueError("n_dense, width, in_dim and every must all be >= 1.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}.")


class Scale(nn.Module):
    """Multiply by a constant (the authors' ``Lambda(lambda x: x * 0.8)``)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = float(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


def _glorot_(linear: nn.Linear, gen: torch.Generator) -> None:
    """Keras defaults: Glorot-uniform kernel, zero bias."""
    bound = math.sqrt(6.0 / (linear.in_features + linear.out_features))
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound, generator=gen)
        linear.bias.zero_()


class DeepDropoutNet(nn.Module):
    """The authors' deep narrow dropout net; ``layers`` mirrors the Keras layer list.

    Entry kinds: ``Sequential(Linear, Tanh)`` (a Keras Dense(tanh)), ``Dropout``, ``Scale``
    (only with ``authors_scaling``), and a final ``Linear`` (Dense(in_dim), linear). Hook
    layer l as ``f"layers.{l}"``. Weights are Glorot-uniform with zero biases, drawn from
    ``seed``. Input (B, in_dim) → output (B, in_dim).
    """

    def __init__(self, config: DeepNetConfig = DeepNetConfig(), seed: int = 0) -> None:
        super().__init__()
        self.config = config
        gen = torch.Generator().manual_seed(int(seed))
        layers: list[nn.Module] = []
        width_in = config.in_dim
        for i in range(config.n_dense):
            with torch.random.fork_rng(devices=[]):  # default init is overwritten below
                lin = nn.Linear(width_in, config.width)
            _glorot_(lin, gen)
            layers.append(nn.Sequential(lin, nn.Tanh()))
            width_in = config.width
            if (i + 1) % config.every == 0:
                layers.append(nn.Dropout(config.dropout))
                if config.authors_scaling:
                    layers.append(Scale(1.0 - config.dropout))
        with torch.random.fork_rng(devices=[]):
            out = nn.Linear(width_in, config.in_dim)
        _glorot_(out, gen)
        layers.append(out)
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Run the net; with ``upto=l`` stop after layer l and return its output (B, width)."""
        last = len(self.layers) - 1 if upto is None else int(upto)
        if not 0 <= last < len(self.layers):
            raise ValueError(f"upto must be in 0..{len(self.layers) - 1}, got {upto}.")
        for layer in self.layers[: last + 1]:
            x = layer(x)
        return x

    def dense_indices(self) -> list[int]:
        """Layer numbers of the Dense layers (tanh ones and the output)."""
        return [i for i, m in enumerate(self.layers) if isinstance(m, (nn.Sequential, nn.Linear))]


def keras_layer_kind(net: DeepDropoutNet, layer: int) -> str:
    """Describe layer ``layer``: "dense", "dense (last before dropout)", "dense (first after
    dropout)", "dropout", "scale" or "output"."""
    mods = net.layers
    if not 0 <= layer < len(mods):
        raise ValueError(f"layer must be in 0..{len(mods) - 1}, got {layer}.")
    m = mods[layer]
    if isinstance(m, nn.Dropout):
        return "dropout"
    if isinstance(m, Scale):
        return "scale"
    if layer == len(mods) - 1:
        return "output"
    if layer + 1 < len(mods) and isinstance(mods[layer + 1], nn.Dropout):
        return "dense (last before dropout)"
    prev = mods[layer - 1] if layer > 0 else None
    if isinstance(prev, (nn.Dropout, Scale)):
        return "dense (first after dropout)"
    return "dense"


def first_stochastic_layer(net: DeepDropoutNet) -> int:
    """Index of the first Dropout: layers before it are deterministic functions of x, so
    their true MI with a continuous x is infinite (docs/paper_guide.md pitfall 13a)."""
    for i, m in enumerate(net.layers):
        if isinstance(m, nn.Dropout) and m.p > 0:
            return i
    return len(net.layers)


@contextmanager
def masks_off(net: nn.Module) -> Iterator[nn.Module]:
    """Within the block every ``nn.Dropout`` of ``net`` has rate 0 (no masks, even in train
    mode); the rates are restored afterwards. Everything else (the authors' 0.8 ``Scale``
    layers, the weights) stays: training under it gives "the same network trained without
    dropout", which can then be measured through the same dropout channel as the dropout-trained
    one (the no-dropout control of docs/paper_guide.md §3 E4)."""
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    rates = [m.p for m in drops]
    try:
        for m in drops:
            m.p = 0.0
        yield net
    finally:
        for m, p in zip(drops, rates):
            m.p = p


# --------------------------------------------------------------------------------------
# 2. alpha against dropout on the shapes data
# --------------------------------------------------------------------------------------
class ShapesMLP(nn.Module):
    """MLP on flattened 3×32×32 shapes images: hidden Linear → ReLU → Dropout(p) blocks named
    ``fc{k}``, ``relu{k}``, ``drop{k}`` (k = 1..), then two heads: ``reg`` (continuous factors)
    and ``cls`` (3 shape classes). Standard (inverted) torch dropout. Hook ``drop{k}`` to get
    what the next layer sees: the ReLU output in eval mode, the masked one in train mode."""

    def __init__(self, in_dim: int, widths: Sequence[int], n_reg: int, n_cls: int, dropout: float,
                 seed: int = 0) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")
        from polycode_lite.science.mine import reset_parameters

        self.hidden = nn.Sequential()
        w = in_dim
        with torch.random.fork_rng(devices=[]):  # default init is overwritten below
            for k, h in enumerate(widths, 1):
                self.hidden.add_module(f"fc{k}", nn.Linear(w, h))
                self.hidden.add_module(f"relu{k}", nn.ReLU())
                self.hidden.add_module(f"drop{k}", nn.Dropout(dropout))
                w = h
            self.reg = nn.Linear(w, n_reg)
            self.cls = nn.Linear(w, n_cls)
        reset_parameters(self, torch.Generator().manual_seed(int(seed)))
        self.n_layers = len(widths)

    def layer_names(self) -> list[str]:
        """Dotted names of the per-layer dropout outputs, e.g. ``["hidden.drop1", ...]``."""
        return [f"hidden.drop{k}" for k in range(1, self.n_layers + 1)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(x.reshape(x.shape[0], -1))
        return self.reg(h), self.cls(h)
