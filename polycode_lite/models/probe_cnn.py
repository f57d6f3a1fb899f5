"""A small CNN built from torchvision blocks, to probe codes with moving dots (docs/paper_guide.md §3 E3).

Notebook 04 needs a real network that trains in seconds on a laptop CPU; notebook 06 does the
same analysis at scale on the ResNet autoencoder. Architecture (all torchvision building
blocks, CIFAR-style: 3×3 stem, no max-pool), for 32×32 RGB input and width w:

    stem    Conv2dNormActivation(3 → w, 3×3)             (B, w, 32, 32)
    layer1  BasicBlock(w → w)                            (B, w, 32, 32)
    layer2  BasicBlock(w → 2w, stride 2, 1×1 downsample)  (B, 2w, 16, 16)
    layer3  BasicBlock(2w → 4w, stride 2, 1×1 downsample) (B, 4w, 8, 8)
    pool    AdaptiveAvgPool2d(1) + Flatten               (B, 4w)
    fc      Linear(4w → n_classes)

Dotted names in :data:`PROBE_LAYERS` work with :mod:`polycode_lite.models.hooks`.
:func:`train_probe_cnn` trains it briefly to classify the shape in
:func:`polycode_lite.data.shapes.make_shapes` images (circle / square / triangle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polycode_lite._common import limit_threads

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["PROBE_LAYERS", "make_probe_cnn", "train_probe_cnn"]

PROBE_LAYERS = ("stem", "layer1", "layer2", "layer3", "pool")


def make_probe_cnn(width: int = 16, n_classes: int = 3, seed: int = 0) -> nn.Module:
    """Build the randomly initialised probe CNN (see module docstring) with seeded weights.

    The global torch RNG is left untouched (initialisation runs inside ``torch.random.fork_rng``).
    Raises ValueError for width < 1 or n_classes < 1.
    """
    from collections import OrderedDict

    import torch
    from torch import nn
    from torchvision.models.resnet import BasicBlock, conv1x1
    from torchvision.ops import Conv2dNormActivation

    from polycode_lite import _checks as ck

    w = ck.integer("width", width, minimum=1, maximum=4096); ck.integer("n_classes", n_classes, minimum=1)
    ck.seed("seed", seed); ck.memory("n_classes", (4 * w, n_classes), itemsize=4)

    def down(c_in: int, c_out: int) -> nn.Module:
        return BasicBlock(c_in, c_out, stride=2,
                          downsample=nn.Sequential(conv1x1(c_in, c_out, 2), nn.BatchNorm2d(c_out)))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = nn.Sequential(OrderedDict(
            stem=Conv2dNormActivation(3, w, kernel_size=3),
            layer1=BasicBlock(w, w),
            layer2=down(w, 2 * w),
            layer3=down(2 * w, 4 * w),
            pool=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
            fc=nn.Linear(4 * w, n_classes),
        ))
    return model


def train_probe_cnn(
    model: nn.Module,
    n_train: int = 4000,
    n_test: int = 1000,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train ``model`` (in place) to classify the shape of make_shapes images; return a summary.

    Adam with cross-entropy for ``steps`` minibatches drawn (seeded) from ``n_train`` images
    (seed ``seed``); accuracy on ``n_test`` held-out images (seed ``seed + 1``). The model is
    left in eval mode. ``threads`` sets torch's CPU thread count for the call only (1 avoids
    the heavy slow-down of oversubscribed, shared cores). Returns {"losses": list per step, "test_accuracy": float,
    "chance": 1/3, "steps", "n_train"}.
    """
    import numpy as np
    import torch
    from torch import nn
    from tqdm.auto import tqdm

    from polycode_lite.data.shapes import make_shapes

    from polycode_lite import _checks as ck

    for name, value in (("n_train", n_train), ("n_test", n_test), ("steps", steps), ("batch_size", batch_size)):
        ck.integer(name, value, minimum=1)
    ck.positive("lr", lr); ck.seed("seed", seed); ck.optional(ck.integer, "threads", threads, minimum=1)
    ck.memory("n_train", (n_train + n_test, 3, 32, 32), itemsize=4 * 4)
    if steps < 1 or batch_size < 1 or n_train < batch_size:
        raise ValueError(f"need steps >= 1 and n_train >= batch_size >= 1, got steps={steps}, "
                         f"n_train={n_train}, batch_size={batch_size}.")
    x_np, f = make_shapes(n_train, seed=seed)
    x, y = torch.from_numpy(x_np), torch.from_numpy(f["shape"].astype(np.int64))
    xt_np, ft = make_shapes(n_test, seed=seed + 1)
    xt, yt = torch.from_numpy(xt_np), torch.from_numpy(ft["shape"].astype(np.int64))
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    with limit_threads(threads, blas=False):
        model.train()
        for _ in tqdm(range(steps), disable=not progress, desc="training probe CNN"):
            idx = torch.randint(0, n_train, (batch_size,), generator=gen)
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(xt[i : i + 256]).argmax(1) for i in range(0, n_test, 256)])
    acc = float((pred == yt).float().mean())
    return {"losses": losses, "test_accuracy": acc, "chance": 1 / 3, "steps": steps, "n_train": n_train}
