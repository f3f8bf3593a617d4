"""watchdog glue for the watcher: events become ``handle_event`` calls, nothing more.

The observer runs in its own thread; all it does is put (kind, path) on the watcher's queue.
``ObserverManager`` keeps the watch alive across inbox/ disappearing (a network share that
drops out stops watchdog's emitter) and coming back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

__all__ = ["CHANGED", "CLOSED", "FOLDER", "GONE", "MOVED", "ObserverManager"]

log = logging.getLogger("tonghop.watch.watcher")

CHANGED = "changed"  # created or written: a hint to look at it
CLOSED = "closed"  # the writer closed it after writing (Linux)
MOVED = "moved"  # renamed into inbox/: complete, its writer closed it under the old name
GONE = "gone"  # deleted or moved away
FOLDER = "folder"  # a folder appeared: look at every file in it


class _Sink(Protocol):
    def handle_event(self, path: str, kind: str = ...) -> None: ...
    def request_rescan(self) -> None: ...


class _Forwarder(FileSystemEventHandler):
    """Runs in the observer's thread: only forwards events to the watcher's queue."""

    def __init__(self, watcher: _Sink) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        send = self.watcher.handle_event
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        if isinstance(event, FileClosedEvent):
            send(src, CLOSED)
        elif isinstance(event, FileCreatedEvent | FileModifiedEvent):
            send(src, CHANGED)
        elif isinstance(event, FileMovedEvent):
            if src:  # empty: moved in from outside inbox/
                send(src, GONE)
            if dest:  # empty: moved out of inbox/
                send(dest, MOVED)
        elif isinstance(event, FileDeletedEvent | DirDeletedEvent):
            send(src, GONE)
        elif isinstance(event, DirCreatedEvent):
            send(src, FOLDER)
        elif isinstance(event, DirMovedEvent):
            if src:
                send(src, GONE)
            if dest:
                send(dest, FOLDER)


_EVENTS = [
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]


class ObserverManager:
    """Keeps a watchdog watch on inbox/ while it exists: a watch whose folder went away (a
    network share dropping out) is removed and scheduled again when the folder is back."""

    def __init__(self, inbox: Path, watcher: _Sink, *, poll: bool, poll_every: float = 1.0):
        if poll:
            from watchdog.observers.polling import PollingObserver

            self.observer: Any = PollingObserver(timeout=poll_every)
        elif sys.platform.startswith("linux"):
            from watchdog.observers.inotify import InotifyObserver

            # Full events: a file moved in from a folder outside inbox/ is reported as a move
            # (not as a file created, which may still be being written), so it is taken at once.
            self.observer = InotifyObserver(generate_full_events=True)
        else:
            from watchdog.observers import Observer

            self.observer = Observer()
        self.inbox = inbox
        self.watcher = watcher
        self.handler = _Forwarder(watcher)
        self.watch: Any = None
        self._scheduled_once = False
        self._failing = False

    def start(self) -> None:
        self.observer.start()

    def ensure(self, present: bool) -> None:
        """Called by the worker at every presence check."""
        alive = self.watch is not None and any(
            e.watch == self.watch and e.is_alive() for e in self.observer.emitters
        )
        if present and not alive:
            self._unschedule()
            try:
                self.watch = self.observer.schedule(
                    self.handler, str(self.inbox), recursive=True, event_filter=_EVENTS
                )
            except OSError as exc:
                if not self._failing:  # once per failure streak, not every 2 s
                    log.warning(
                        "Chưa theo dõi được thư mục %s: %s; sẽ thử lại (trong lúc chờ, inbox/ "
                        "vẫn được quét lại định kỳ).",
                        self.inbox,
                        exc,
                    )
                self._failing = True
                return
            self._failing = False
            if self._scheduled_once:
                self.watcher.request_rescan()  # what happened while unwatched
            self._scheduled_once = True
        elif not present:
            self._unschedule()

    def _unschedule(self) -> None:
        if self.watch is not None:
            with contextlib.suppress(KeyError, OSError):
                self.observer.unschedule(self.watch)
            self.watch = None

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join()
