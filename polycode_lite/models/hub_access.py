"""Whether the Hugging Face Hub may be reached, and keeping it unreached when not.

Offline is the default: nothing here opens a socket or resolves a name. The Hub is used only when
the caller passes ``online=True`` or sets ``POLYCODE_ONLINE=1`` (:func:`online_requested`). Offline,
:func:`in_hf_cache` tells from the cache folder alone whether a hub id can load at all, and
:func:`hub_offline` switches the Hub's offline mode on through the libraries' own module state
(``huggingface_hub.constants.HF_HUB_OFFLINE``, read by ``is_offline_mode()`` at each call, and
transformers 4.x's ``transformers.utils.hub._is_offline_mode``), so it holds even when transformers
was imported before polycode_lite, and puts the previous values back afterwards.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ONLINE_ENV", "env_offline", "hub_offline", "in_hf_cache", "online_requested"]

#: set to 1 / true / yes / on to let :func:`~polycode_lite.models.language_models.load_language_model`
#: download from the Hub when ``online`` is not passed
ONLINE_ENV = "POLYCODE_ONLINE"

_TRUE = {"1", "true", "yes", "on"}

#: (module, attribute) holding each library's offline switch; absent ones are skipped
_OFFLINE_SWITCHES = (
    ("huggingface_hub.constants", "HF_HUB_OFFLINE"),  # huggingface_hub >= 0.x: is_offline_mode()
    ("transformers.utils.hub", "_is_offline_mode"),  # transformers 4.x: its own copy at import
)


def env_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` asks the Hub libraries to stay offline."""
    return any(os.environ.get(k, "").strip().lower() in _TRUE
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def online_requested(online: bool | None) -> bool:
    """``online`` when given, else whether ``$POLYCODE_ONLINE`` is 1/true/yes/on (default: offline)."""
    if online is not None:
        return bool(online)
    return os.environ.get(ONLINE_ENV, "").strip().lower() in _TRUE


def in_hf_cache(repo_id: str) -> bool:
    """Whether the HF cache may hold ``repo_id``'s ``config.json`` (a folder lookup, no network,
    no transformers import). False means it cannot load offline; True means transformers should
    try (the weights may still be missing)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # a huggingface_hub without it: let transformers decide
        return True
    # None: huggingface_hub's HF_HUB_CACHE (from $HF_HUB_CACHE / $HF_HOME), which transformers uses;
    # transformers 4.x also honours $TRANSFORMERS_CACHE
    for cache_dir in dict.fromkeys([os.environ.get("TRANSFORMERS_CACHE") or None, None]):
        try:
            if isinstance(try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir), str):
                return True
        except Exception:  # noqa: BLE001 - an id it cannot parse: let transformers give its own error
            return True
    return False


@contextmanager
def hub_offline() -> Iterator[None]:
    """Within the block, the Hub libraries refuse every request (their offline mode is on).

    Each library's switch is imported first (so it has read the caller's environment), set to
    True, and restored to its previous value on exit; ``os.environ`` is not touched, so modules
    imported inside the block do not keep offline mode for the rest of the session."""
    saved = []
    for module_name, attr in _OFFLINE_SWITCHES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, attr):
            saved.append((module, attr, getattr(module, attr)))
            setattr(module, attr, True)
    try:
        yield
    finally:
        for module, attr, value in reversed(saved):
            setattr(module, attr, value)
