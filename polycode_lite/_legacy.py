"""Old flat module paths (``polycode_lite.spectrum``, ``polycode_lite.language`` ...) as aliases.

Before the package had wings, it was 22 flat modules. Code written against them keeps working:
importing an old path gives a module whose attributes are looked up in the new modules, with a
``FutureWarning`` that names the new home. New code should import from the wings (see
docs/architecture.md). ``polycode_lite.models`` is now a wing, so the old ``polycode_lite.models``
(the ResNet autoencoder) is ``polycode_lite.models.resnet_vae``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

__all__ = ["LEGACY_MODULES", "install"]

#: old flat module -> the new modules that now hold its names (first = its main new home)
LEGACY_MODULES: dict[str, tuple[str, ...]] = {
    "capacity": ("science.capacity",),
    "mine": ("science.mine",),
    "stimuli": ("data.stimuli",),
    "activations": ("models.hooks",),
    "probe_cnn": ("models.probe_cnn",),
    "autoencoder_analysis": ("experiments.autoencoder",),
    "toy_plots": ("plots.toy",),
    "results": ("course.claims",),
    "report": ("course.report",),
    "reproduce": ("course.reproduce",),
    "student": ("course.student",),
    "exercises": ("course.exercises",),
    "spectrum": ("science.powerlaw", "science.covariance", "science.eigen"),
    "toy": ("models.toy", "science.superposition", "models.toy_training",
            "experiments.toy_dimensionality"),
    "datasets": ("data.shapes", "data.cifar10"),
    "language": ("experiments.language_depth", "models.language_models", "data.corpus",
                 "experiments.covariance_collection", "plots.alpha"),
    "interpret": ("experiments.pseudo_neurons", "experiments.explanation_scoring"),
    "train": ("experiments.train", "models.checkpoints"),
    "projections": ("science.projections", "science.trajectory_similarity"),
    "dropout_nets": ("experiments.alpha_vs_dropout", "experiments.mi_depth",
                     "models.deep_dropout"),
}


class _AliasModule(types.ModuleType):
    """A module whose attributes come from several new modules, looked up in order."""

    def __init__(self, name: str, targets: tuple[str, ...]) -> None:
        super().__init__(name, f"Old path of {', '.join('polycode_lite.' + t for t in targets)}.")
        self._targets = tuple(importlib.import_module(f"polycode_lite.{t}") for t in targets)

    def __getattr__(self, attr: str) -> Any:
        for module in self._targets:
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r} (its names moved "
                             f"to {', '.join(m.__name__ for m in self._targets)})")

    def __dir__(self) -> list[str]:
        return sorted({n for m in self._targets for n in dir(m)})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        pkg, _, leaf = fullname.partition(".")
        if pkg == "polycode_lite" and leaf in LEGACY_MODULES:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        leaf = spec.name.partition(".")[2]
        targets = LEGACY_MODULES[leaf]
        warnings.warn(f"{spec.name} is an old module path; import from "
                      f"{', '.join('polycode_lite.' + t for t in targets)} instead "
                      "(docs/architecture.md).", FutureWarning, stacklevel=3)
        return _AliasModule(spec.name, targets)

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__name__.endswith(".exercises"):  # a package: its submodules keep working
            module.__path__ = list(importlib.import_module("polycode_lite.course.exercises").__path__)


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
