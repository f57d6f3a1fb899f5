"""CIFAR-10 through torchvision, from a local folder only unless ``download=True`` (docs/paper_guide.md §3 E5).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CIFAR10_HELP", "cifar10"]


# ------------------------------------------------------------------------------------------
# CIFAR-10 (local files; nothing downloads unless asked)
# ------------------------------------------------------------------------------------------
CIFAR10_HELP = (
    "CIFAR-10 was not found under {root!s} (expected the folder 'cifar-10-batches-py' with "
    "data_batch_1..5 and test_batch). Get it on a machine with internet by calling "
    "cifar10(root, download=True) (torchvision downloads and checks "
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, 163 MB), or download and unpack "
    "that archive yourself into {root!s}."
)


def cifar10(root: Any, train: bool = True, download: bool = False, image_size: int = 224) -> Any:
    """torchvision's CIFAR-10 with the paper's transforms (docs/paper_guide.md §3 E5).

    Transforms: Resize(image_size) then ToTensor (pixels in [0, 1]; the authors' Normalize with
    mean 0 and std 1 is the identity). Items are (image (3, image_size, image_size) float32,
    label int). ``image_size=32`` keeps the native resolution (the ``lite`` config).

    Raises:
        FileNotFoundError: the files are missing and ``download`` is False; the message says how
            to get them.
    """
    from pathlib import Path

    from torchvision import transforms
    from torchvision.datasets import CIFAR10

    root = Path(root).expanduser()
    steps = [] if image_size == 32 else [transforms.Resize(image_size, antialias=True)]
    tf = transforms.Compose(steps + [transforms.ToTensor()])
    if not download and not (root / CIFAR10.base_folder).is_dir():
        raise FileNotFoundError(CIFAR10_HELP.format(root=root))
    cls = CIFAR10
    if not download:
        # check that the batch files exist instead of their md5 sums, so that a re-packed or
        # test copy in the same pickle format loads; download=True keeps torchvision's md5 check
        class _LocalCIFAR10(CIFAR10):
            train_list = [[name, None] for name, _ in CIFAR10.train_list]
            test_list = [[name, None] for name, _ in CIFAR10.test_list]
            meta = {**CIFAR10.meta, "md5": None}

        cls = _LocalCIFAR10
    try:
        return cls(str(root), train=train, download=download, transform=tf)
    except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted"
        raise FileNotFoundError(CIFAR10_HELP.format(root=root) + f" (torchvision said: {exc})") from exc
