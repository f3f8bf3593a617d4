"""``tonghop watch``: take each file the moment it is complete in inbox/ (:mod:`._settle`,
events from :mod:`._observe` as hints only), and rebuild what changed (:mod:`._rebuild`); the
core with its injected clock is :mod:`.watcher`."""

from tonghop.watch.watcher import Watcher, WatchOptions, run_watch

__all__ = ["WatchOptions", "Watcher", "run_watch"]
