"""``tonghop watch``: take each file the moment it is complete in inbox/ (:mod:`._settle`,
events from :mod:`._observe` as hints only), and rebuild what changed (:mod:`._rebuild`); the
core with its injected clock is :mod:`.watcher`.

The names below are imported on first use, so that importing one module of the package
does not import them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "WatchOptions": "tonghop.watch.watcher",
    "Watcher": "tonghop.watch.watcher",
    "run_watch": "tonghop.watch.watcher",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
