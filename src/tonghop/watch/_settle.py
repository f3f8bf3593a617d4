"""When is a file dropped into inbox/ complete? The watcher's settle logic, clock injected.

A file is a candidate from the moment an event or a rescan names it. It is taken when:

- no owner file (``~$name``, ``.~lock.name#``) says Excel or LibreOffice still has it open;
- for .xlsx/.xlsm: the zip's central directory opens, and either the writer has closed the
  file since its last change (Linux's close-after-write event), or it was renamed into inbox/
  and has not changed since (how sync clients, browsers and careful senders deliver: written
  under a temporary name, closed, then renamed), or its size and modification time have not
  moved for ``settle`` seconds;
- for any other file: size and modification time unchanged for ``settle`` seconds;
- anything that is not a regular file (a link, a FIFO, a socket, a device): at once, judged
  with lstat and never opened, so that the intake answers it without reading it.

A workbook whose zip still does not open after ``settle * give_up`` seconds without any change
is taken anyway so that the intake answers it ("cannot read"); a half-copied file keeps
changing, so it is never answered as corrupt while the copy is running.
"""

from __future__ import annotations

import logging
import os
import stat as stat_module
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tonghop.intake._files import for_log
from tonghop.intake.inbox import is_ignored, owner_file_present
from tonghop.intake.reader import zip_complete

__all__ = ["Settler", "Signature", "signature_of"]

log = logging.getLogger("tonghop.watch.watcher")

ZIP_SUFFIXES = frozenset({".xlsx", ".xlsm"})
Signature = tuple[int, int]  # (size, mtime_ns)


def signature_of(path: Path) -> Signature | None:
    """(size, mtime) of the entry itself, never of what a link points to; None when it is
    gone or is a folder."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat_module.S_ISDIR(st.st_mode):
        return None
    return st.st_size, st.st_mtime_ns


def _is_regular(path: Path) -> bool:
    try:
        return stat_module.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


@dataclass
class _Candidate:
    path: Path
    signature: Signature | None = None
    stable_since: float = 0.0
    closed_at: Signature | None = None  # signature seen when the writer closed the file
    next_check: float = 0.0
    owner_open: bool = False


class Settler:
    """Candidate files and their readiness. Single-threaded: the watcher's worker owns it."""

    def __init__(
        self,
        *,
        settle: float,
        clock: Callable[[], float],
        give_up: float = 3.0,
        readable: Callable[[Path], bool] = zip_complete,
    ) -> None:
        self.settle = settle
        self.give_up = give_up
        self.clock = clock
        self.readable = readable
        self._pending: dict[Path, _Candidate] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: object) -> bool:
        return path in self._pending

    def note(self, path: Path, *, closed: bool = False) -> None:
        """An event or a rescan names ``path``; ``closed``: the writer just closed it, or it
        was just renamed in (closed under its former name)."""
        if is_ignored(path):
            return
        now = self.clock()
        candidate = self._pending.get(path)
        if candidate is None:
            candidate = self._pending[path] = _Candidate(path, next_check=now)
        if closed:
            candidate.closed_at = signature_of(path)
            candidate.next_check = now
        elif candidate.signature is not None:
            # A change now restarts the settle interval now, not at the next check.
            signature = signature_of(path)
            if signature != candidate.signature:
                candidate.signature, candidate.stable_since = signature, now
                candidate.next_check = max(candidate.next_check, now + self.settle)

    def forget(self, path: Path) -> None:
        self._pending.pop(path, None)

    def forget_under(self, folder: Path) -> None:
        for path in [p for p in self._pending if folder in p.parents]:
            del self._pending[path]

    def next_check(self) -> float | None:
        """Clock time of the earliest pending check, None when nothing waits."""
        return min((c.next_check for c in self._pending.values()), default=None)

    def ready(self) -> list[Path]:
        """Examine every candidate whose check is due; return (and drop) the complete ones,
        oldest modification first so that a later version is taken after an earlier one."""
        now = self.clock()
        taken: list[tuple[int, str, Path]] = []
        for candidate in list(self._pending.values()):
            if candidate.next_check > now:
                continue
            verdict = self._examine(candidate, now)
            if verdict is None:
                del self._pending[candidate.path]
            elif verdict:
                del self._pending[candidate.path]
                assert candidate.signature is not None
                taken.append((candidate.signature[1], str(candidate.path), candidate.path))
        return [path for _, _, path in sorted(taken)]

    def _examine(self, c: _Candidate, now: float) -> bool | None:
        """True: take it; False: check again at ``c.next_check``; None: gone, forget it."""
        signature = signature_of(c.path)
        if signature is None:
            return None
        if not _is_regular(c.path):
            # A link, FIFO, socket or device: nothing here opens it (a FIFO would block);
            # the intake answers it at once without reading it.
            c.signature = signature
            return True
        if owner_file_present(c.path):
            if not c.owner_open:
                log.info(
                    "%s đang được mở trong Excel hoặc LibreOffice; chờ đóng tệp.",
                    for_log(c.path.name),
                )
            c.owner_open = True
            c.signature, c.stable_since, c.closed_at = signature, now, None
            c.next_check = now + self.settle
            return False
        c.owner_open = False
        if signature != c.signature:
            c.signature, c.stable_since = signature, now
        settled_at = c.stable_since + self.settle
        closed = c.closed_at == signature
        if c.path.suffix.lower() in ZIP_SUFFIXES:
            if self.readable(c.path):
                if closed or now >= settled_at:
                    return True
                c.next_check = settled_at
                return False
            give_up_at = c.stable_since + self.settle * self.give_up
            if now >= give_up_at:
                return True  # stable but unreadable: the intake answers it
            c.next_check = min(now + self.settle, give_up_at)
            return False
        if now >= settled_at:
            return True
        c.next_check = settled_at
        return False
