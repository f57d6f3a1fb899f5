"""CIFAR-10 from a local folder (nothing downloads unless ``download=True``; docs/paper_guide.md §3 E5).

The batch files are pickles. They are never read with ``pickle.load``: a restricted unpickler
accepts only what a CIFAR-10 batch holds (dicts, lists, strings, bytes, numbers and numpy
arrays), so a crafted file in the data folder cannot run code. Each file's md5 is compared
with the published one; a file that differs (a re-packed or test copy) is read the same
restricted way and reported once.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CIFAR10_HELP", "cifar10", "read_batch"]


CIFAR10_HELP = (
    "CIFAR-10 was not found under {root!s} (expected the folder 'cifar-10-batches-py' with "
    "data_batch_1..5 and test_batch). Get it on a machine with internet by calling "
    "cifar10(root, download=True) (torchvision downloads and checks "
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, 163 MB), or download and unpack "
    "that archive yourself into {root!s}."
)
BASE_FOLDER = "cifar-10-batches-py"
#: the md5 sums published with the archive (the same as torchvision's CIFAR10 lists)
PUBLISHED_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
# (module, name) a CIFAR-10 batch pickle may reference: numpy array reconstruction and str.encode
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR-10 batch holds only arrays, lists, strings "
                "and numbers, so this file is not one (it may be crafted to run code)")
        if module.endswith("multiarray"):
            try:
                return importlib.import_module("numpy._core.multiarray")._reconstruct
            except ImportError:  # numpy < 2
                return importlib.import_module("numpy.core.multiarray")._reconstruct
        if module == "_codecs":
            import codecs

            return codecs.encode
        return getattr(np, name)


def read_batch(path: Any) -> dict[str, Any]:
    """One CIFAR-10 batch file as a dict with str keys, read by the restricted unpickler.

    Raises:
        ValueError: the file is not a CIFAR-10 batch (names the file; nothing in it was run).
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        obj = _BatchUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a readable CIFAR-10 batch ({exc}). Delete the folder "
                         f"{path.parent} and restore it from the published archive "
                         "(cifar10(root, download=True)).") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} is not a CIFAR-10 batch: it holds a {type(obj).__name__}, not a dict.")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _check_md5(folder: Path, names: list[str]) -> None:
    differ = [n for n in names if hashlib.md5((folder / n).read_bytes()).hexdigest() != PUBLISHED_MD5[n]]
    if differ:
        warnings.warn(f"CIFAR-10 files {differ} in {folder} differ from the published archive (md5); they "
                      "were read with the restricted unpickler (arrays and lists only). Restore the published "
                      "files for the paper's setting.", stacklevel=3)


class LocalCIFAR10:
    """CIFAR-10 images as a map-style dataset: item i = (transform(PIL image), label int).

    ``data``: (N, 32, 32, 3) uint8; ``targets``: N labels; ``classes``: the 10 names."""

    def __init__(self, root: Path, train: bool, transform: Any) -> None:
        folder = Path(root) / BASE_FOLDER
        names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        missing = [n for n in names + ["batches.meta"] if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(CIFAR10_HELP.format(root=root) + f" (missing: {', '.join(missing)})")
        _check_md5(folder, names + ["batches.meta"])
        data, targets = [], []
        for name in names:
            batch = read_batch(folder / name)
            labels = batch.get("labels", batch.get("fine_labels"))
            pixels = np.asarray(batch.get("data"))
            if labels is None or pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != 3072 \
                    or len(labels) != len(pixels):
                raise ValueError(f"{folder / name} is not a CIFAR-10 batch: expected uint8 'data' of shape "
                                 f"(n, 3072) and n 'labels', got {pixels.dtype} {pixels.shape}.")
            data.append(pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            targets.extend(int(v) for v in labels)
        self.data = np.concatenate(data)
        self.targets = targets
        self.classes = [str(c) for c in read_batch(folder / "batches.meta")["label_names"]]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        img = Image.fromarray(self.data[index])
        return (self.transform(img) if self.transform is not None else img), self.targets[index]


def cifar10(root: Any, train: bool = True, download: bool = False, image_size: int = 224) -> Any:
    """CIFAR-10 with the paper's transforms (docs/paper_guide.md §3 E5).

    Transforms: Resize(image_size) then ToTensor (pixels in [0, 1]; the authors' Normalize with
    mean 0 and std 1 is the identity). Items are (image (3, image_size, image_size) float32,
    label int). ``image_size=32`` keeps the native resolution (the ``lite`` config). The files
    are read by a restricted unpickler (see the module docstring), never ``pickle.load``.
    ``download=True`` fetches the archive with torchvision (which checks its md5) first.

    Raises:
        FileNotFoundError: the files are missing and ``download`` is False; the message says how
            to get them.
        ValueError: a file is not a CIFAR-10 batch (nothing in it was run).
    """
    from torchvision import transforms

    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive int (32 keeps the native size), got {image_size!r}.")
    root = Path(root).expanduser()
    steps = [] if image_size == 32 else [transforms.Resize(int(image_size), antialias=True)]
    tf = transforms.Compose(steps + [transforms.ToTensor()])
    if download:
        from torchvision.datasets.utils import download_and_extract_archive

        if not (root / BASE_FOLDER).is_dir():
            download_and_extract_archive("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", str(root),
                                         md5="c58f30108f718f92721af3b95e74349a")
    if not (root / BASE_FOLDER).is_dir():
        raise FileNotFoundError(CIFAR10_HELP.format(root=root))
    return LocalCIFAR10(root, train, tf)
