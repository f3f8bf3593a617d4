"""``tonghop watch``: take each file the moment it is complete in inbox/ (:mod:`._settle`,
events from :mod:`._observe` as hints only), and rebuild what changed (:mod:`._rebuild`); the
core with its injected clock is :mod:`.watcher`.

The names below are imported on first use, so that importing one module of the package
does not import them all.
"""

from __future__ import annotations

from tonghop._lazy import lazy_names

_PUBLIC = {
    "WatchOptions": "tonghop.watch.watcher",
    "Watcher": "tonghop.watch.watcher",
    "run_watch": "tonghop.watch.watcher",
}
__all__ = sorted(_PUBLIC)
__getattr__ = lazy_names(__name__, _PUBLIC)
