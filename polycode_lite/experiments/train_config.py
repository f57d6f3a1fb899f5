"""Settings of one autoencoder training run, checked before any work, and its run name.

Every field is checked in :class:`TrainConfig` itself, so the Python API and
``polycode-lite train-autoencoder`` refuse the same inputs with the same message; the message
names the field and its command-line option (``n_train (--n-train)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from polycode_lite import _checks

__all__ = ["DATASETS", "TrainConfig", "dropout_label", "run_name"]

DATASETS = ("shapes", "cifar10")
_CONFIGS = ("lite", "paper")


def _opt(field: str) -> str:
    return f"{field} (--{field.replace('_', '-')})"


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (one dropout rate).

    dataset: "shapes" (offline, :func:`polycode_lite.data.shapes.make_shapes`) or "cifar10"
    (needs ``data_root``). config: model preset ("lite", "paper"). n_train / n_test: number of
    images used (shapes: generated with seeds seed and seed + 1; cifar10: the first n of the
    train / test split, None = all). Images are resized to the model's input size per batch.
    An epoch drops the last incomplete batch, so ``n_train >= batch_size`` is required.
    """

    dataset: str = "shapes"
    config: str = "lite"
    dropout: float = 0.0
    epochs: int = 6
    batch_size: int = 32
    lr: float = 1e-3
    beta: float = 1.0
    variational: bool = True
    n_train: int | None = 2048
    n_test: int | None = 512
    seed: int = 0
    data_root: str | None = None
    device: str | None = None
    num_workers: int = 0
    widths: tuple[int, int, int, int] | None = None
    latent_dim: int | None = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"{_opt('dataset')} must be one of {DATASETS}, got {self.dataset!r}.")
        if self.config not in _CONFIGS:
            raise ValueError(f"{_opt('config')} must be one of {_CONFIGS}, got {self.config!r}.")
        p = _checks.real(_opt("dropout"), self.dropout)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{_opt('dropout')} must lie in [0, 1) (1 would drop every unit), "
                             f"got {self.dropout!r}.")
        _checks.integer(_opt("epochs"), self.epochs, minimum=1)
        _checks.integer(_opt("batch_size"), self.batch_size, minimum=2,
                        fix="BatchNorm needs at least 2 images per batch.")
        _checks.positive(_opt("lr"), self.lr)
        _checks.positive("beta", self.beta, allow_zero=True)
        if not isinstance(self.variational, bool):
            raise TypeError(f"variational must be True or False, got {self.variational!r}.")
        for field in ("n_train", "n_test"):
            if getattr(self, field) is not None:
                _checks.integer(_opt(field), getattr(self, field), minimum=1,
                                fix="Pass a number of images, or leave it out for the default.")
        if self.n_train is not None and self.n_train < self.batch_size:
            raise ValueError(
                f"{_opt('n_train')} = {self.n_train} is smaller than {_opt('batch_size')} = "
                f"{self.batch_size}: an epoch drops the incomplete last batch and would train on "
                "nothing. Use more images or a smaller batch.")
        _checks.integer("seed (--seed)", self.seed, minimum=0)
        _checks.integer(_opt("num_workers"), self.num_workers, minimum=0)
        if self.widths is not None:
            if len(self.widths) != 4:
                raise ValueError(f"{_opt('widths')} needs four stage widths, got {self.widths!r}.")
            for w in self.widths:
                _checks.integer(_opt("widths"), w, minimum=1)
            if self.config == "paper":
                raise ValueError(f"{_opt('widths')} only applies to the 'lite' config "
                                 "(paper uses torchvision's resnet18).")
        if self.latent_dim is not None:
            _checks.integer(_opt("latent_dim"), self.latent_dim, minimum=1)
        if self.dataset == "cifar10" and self.data_root is None:
            raise ValueError("dataset 'cifar10' needs data_root (--data-root DIR) holding "
                             "cifar-10-batches-py.")


def dropout_label(p: float) -> str:
    """``p`` as it appears in a run name: one decimal where that is exact (0.4 → "0.4"),
    otherwise every digit needed (0.25 → "0.25"), so two rates never share a name."""
    short = f"{p:.1f}"
    return short if float(short) == float(p) else repr(float(p))


def run_name(cfg: TrainConfig) -> str:
    """``<config>_<dataset>_p<dropout>`` (plain AEs get an ``_ae`` suffix)."""
    return f"{cfg.config}_{cfg.dataset}_p{dropout_label(cfg.dropout)}" + ("" if cfg.variational else "_ae")
