"""What every request of the desk shares, and how a view reaches it.

A SQLite connection belongs to the thread that opened it, and waitress answers requests from
several threads: each server thread gets its own :class:`Workspace` (its own ledger and
archive connections) over the paths, configuration, form and clock of the one the desk was
made from. The ledger is in WAL mode, so these readers never block the watcher's writes.
"""

from __future__ import annotations

import threading
from typing import NoReturn

from flask import abort, current_app

from tonghop.errors import TonghopError
from tonghop.ledger import Submission
from tonghop.periods import Period
from tonghop.workspace import Workspace

EXTENSION = "tonghop_desk"
# The largest id SQLite holds: a longer one in a URL names no file (and would overflow).
MAX_ID = 2**63 - 1


class Desk:
    """The workspace a desk serves; ``workspace()`` is this thread's opened copy."""

    def __init__(self, workspace: Workspace, *, upload_wait: float = 15.0) -> None:
        self.layout = workspace.layout
        self.config = workspace.config
        self.form = workspace.form
        self.clock = workspace.clock
        # Decisions taken on the page are recorded as the desk's: who ran it, and from where.
        self.user = f"{workspace.user} (bàn làm việc)"
        self.upload_wait = upload_wait
        # One intake at a time from this process: two uploads at once would otherwise race
        # for the intake lock, and the loser's file would wait for the next upload.
        self.intake_guard = threading.Lock()
        self._local = threading.local()
        self._opened: list[Workspace] = []
        self._opened_guard = threading.Lock()
        self.last_failed_login = float("-inf")  # time.monotonic(): the next try waits a while

    def workspace(self) -> Workspace:
        opened: Workspace | None = getattr(self._local, "workspace", None)
        if opened is None:
            opened = Workspace(
                self.layout, self.config, self.form, clock=self.clock, user=self.user
            )
            self._local.workspace = opened
            with self._opened_guard:
                self._opened.append(opened)
        return opened

    def close(self) -> None:
        """Close the workspace of the calling thread (others close when their thread ends)."""
        opened: Workspace | None = getattr(self._local, "workspace", None)
        if opened is not None:
            opened.close()
            self._local.workspace = None
            with self._opened_guard:
                self._opened.remove(opened)

    def release(self) -> None:
        """After each request: this thread's connections are closed (its workspace reopens
        them on next use), so that a stopped desk holds no file open."""
        opened: Workspace | None = getattr(self._local, "workspace", None)
        if opened is not None:
            opened.close()

    @property
    def password_hash(self) -> str:
        return self.config.web.password_hash


def desk() -> Desk:
    found: Desk = current_app.extensions[EXTENSION]
    return found


def workspace() -> Workspace:
    return desk().workspace()


def period_or_404(code: str) -> Period:
    """The period a URL names, if it is one the form asks for; anything else is not found."""
    try:
        return workspace().period(code)
    except TonghopError:
        abort(404)


def submission_or_404(ref: int) -> Submission:
    if not 0 < ref <= MAX_ID:
        not_found()
    found = workspace().ledger.get(ref)
    if found is None:
        not_found()
    return found


def not_found() -> NoReturn:
    abort(404)
