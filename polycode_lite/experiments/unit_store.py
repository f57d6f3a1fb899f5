"""Finished units of work of a long run (a trained network, a trial, one layer's result), each saved
as soon as it is done and reused by a rerun: the resume of ``dropout-experiments``.

A unit is a file in the store's folder: a JSON record (:meth:`UnitStore.record`) or a network's
weights with its training history (:meth:`UnitStore.network`), written atomically with its
sha256 and the settings of the run plus the unit's own (:mod:`polycode_lite.experiments.resume_files`).
A unit whose file is missing, damaged or was made with other settings is computed again (with a
ResumeWarning when the file was there). Fresh and reused units come back through the same JSON
round trip, so a resumed run is bitwise the uninterrupted one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polycode_lite.experiments.resume_files import (
    canonical_json,
    load_tensors,
    read_record,
    save_tensors,
    write_record,
)

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["UnitStore", "unit_frame", "unit_name"]

_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def unit_name(*parts: Any) -> str:
    """A file-name-safe unit name from its parts, e.g. ``unit_name("net", "dropout=0.2", "seed=1")``."""
    return "_".join(_SAFE.sub("-", str(p)) for p in parts)


class UnitStore:
    """Units of one run under ``folder``; every unit file must match ``settings`` (the run's) plus
    the unit's name and any extra settings given for it. Counts ``computed`` and ``reused``."""

    def __init__(self, folder: str | Path, settings: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.settings = json.loads(canonical_json(dict(settings)))
        self.computed = 0
        self.reused = 0

    def _settings(self, name: str, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        return dict(self.settings, unit=name, **json.loads(canonical_json(dict(extra or {}))))

    def record(self, name: str, compute: Callable[[], Any], settings: Mapping[str, Any] | None = None) -> Any:
        """The JSON-able result of unit ``name``: read back when its file verifies, else
        ``compute()``d and saved. Returned as it reads from the file either way."""
        path = self.folder / f"{name}.json"
        want = self._settings(name, settings)
        payload = read_record(path, want, what="finished unit")
        if payload is not None:
            self.reused += 1
            return payload
        self.computed += 1
        return write_record(path, compute(), want)

    def network(self, name: str, make: Callable[[], nn.Module], train: Callable[[nn.Module], Any],
                settings: Mapping[str, Any] | None = None) -> tuple[nn.Module, Any]:
        """(net, history) of unit ``name``: ``make()`` builds the untrained net; its saved weights
        are loaded when the file verifies, else ``train(net)`` runs (returning the history) and
        weights and history are saved. The history is returned as it reads from the file."""
        path = self.folder / f"{name}.safetensors"
        want = self._settings(name, settings)
        net = make()
        loaded = load_tensors(path, want, what="trained network")
        if loaded is not None:
            tensors, history = loaded
            net.load_state_dict(tensors)
            self.reused += 1
            return net, history
        self.computed += 1
        history = train(net)
        save_tensors(path, net.state_dict(), want, extra=history)
        return net, json.loads(canonical_json(history))


def unit_frame(store: UnitStore | None, name: str, fit: Callable[[], Any], settings: Mapping[str, Any]) -> Any:
    """``fit()`` (a DataFrame); with a store, the unit ``name``: its rows saved or reused, and
    returned as a DataFrame rebuilt from them (the same round trip either way)."""
    import pandas as pd

    if store is None:
        return fit()
    return pd.DataFrame(store.record(name, lambda: fit().to_dict(orient="records"), settings))
