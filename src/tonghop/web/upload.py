"""Returns dropped (or picked) on a period's page: each goes into inbox/ as any file would,
through the same intake, and the page shows its answer.

A file is written under a hidden temporary name in inbox/ (the intake and the watcher never
take those), flushed to disk, then given its own name atomically (the intake's ``place_new``:
a name no file has yet, never replacing one). Then either this process takes the inbox (the
Workspace's ``take_inbox``, under the intake lock) or, when a watcher or another process
holds that lock, the page waits for the ledger to record the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tonghop.errors import LockBusy, TonghopError
from tonghop.intake._files import is_ignored, place_new, short_name
from tonghop.intake.archive import fsync_dir
from tonghop.intake.inbox import MAX_FILE_BYTES
from tonghop.ledger import Submission
from tonghop.periods import Period
from tonghop.web._desk import Desk, desk, period_or_404

log = logging.getLogger("tonghop.web")

blueprint = Blueprint("upload", __name__)

CHUNK = 1024 * 1024
POLL_SECONDS = 0.1
FIELD = "tep"
# Names Windows (where the desk runs) refuses or reads as something else: a device (CON,
# NUL.xlsx...), an alternate stream of another file ("a.xlsx:b"); trailing dots and spaces
# it drops.
WINDOWS_DEVICES = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{n}" for n in "123456789¹²³"),
    *(f"LPT{n}" for n in "123456789¹²³"),
}
WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')


class TooLarge(Exception):
    pass


@dataclass
class Stored:
    """A file written into inbox/, and what the intake made of it once known."""

    sent_as: str
    path: Path
    size: int
    mtime_ns: int
    submission: Submission | None = None


def inbox_name(sent_as: str) -> str:
    """A name for inbox/ from what the browser sent: its last part only, NFC, no control
    characters, one Windows can hold as a plain file, and never one the intake skips
    (hidden, temporary, an office lock file)."""
    name = re.split(r"[\\/]", sent_as)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    name = WINDOWS_FORBIDDEN.sub("_", name).rstrip(". ")
    if name.split(".")[0].strip().upper() in WINDOWS_DEVICES:
        name = "tai-len-" + name
    if not name or name in (".", ".."):
        name = "tep-tai-len"
    if is_ignored(Path(name)):
        name = "tai-len-" + name.lstrip(".~$ ")
        if is_ignored(Path(name)):
            name += "-tep"
    return short_name(name, 120)


def store(inbox: Path, sent_as: str, stream: IO[bytes], limit: int | None = None) -> Stored:
    """Write ``stream`` into ``inbox`` whole, or not at all (TooLarge beyond ``limit``, by
    default the intake's MAX_FILE_BYTES)."""
    limit = MAX_FILE_BYTES if limit is None else limit
    inbox.mkdir(parents=True, exist_ok=True)
    temp = inbox / f".tai-len-{secrets.token_hex(8)}.tmp"
    size = 0
    try:
        with temp.open("xb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(sent_as)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        path = place_new(temp, inbox / inbox_name(sent_as))
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(inbox)
    stat = path.stat()
    return Stored(sent_as, path, stat.st_size, stat.st_mtime_ns)


def take(the_desk: Desk, stored: list[Stored]) -> None:
    """Have the intake take ``stored``: here when the intake lock is free, else by whoever
    holds it (the watcher); wait for the ledger to record each, up to ``upload_wait`` s."""
    ws = the_desk.workspace()
    deadline = time.monotonic() + the_desk.upload_wait
    inbox = ws.layout.inbox
    while True:
        # A watcher (or `tonghop process`) holding the intake takes the files itself.
        taken = []
        with the_desk.intake_guard, contextlib.suppress(LockBusy):
            taken = ws.take_inbox()
        # Taken here (no watcher): the drafts they count in are written again, as the
        # watcher would; a draft that cannot be (a template missing) leaves the page as it is.
        counted = {r.submission.period for r in taken if r.submission.counted}
        for code in sorted(c for c in counted if c):
            if code:
                try:
                    ws.refresh(Period.parse(code))
                except TonghopError:
                    log.warning("Không lập lại được bản dự thảo kỳ %s sau khi nộp tệp.", code)
        for item in stored:
            if item.submission is None:
                name = item.path.relative_to(inbox).as_posix()
                rows = ws.ledger.find_drop(name, item.size, item.mtime_ns)
                item.submission = rows[-1] if rows else None
        if all(s.submission for s in stored) or time.monotonic() >= deadline:
            return
        time.sleep(POLL_SECONDS)


@blueprint.route("/ky/<code>/nop", methods=["POST"])
def upload(code: str) -> ResponseReturnValue:
    period = period_or_404(code)
    sent = [f for f in request.files.getlist(FIELD) if f.filename]
    back = url_for("pages.period", code=period.code)
    if not sent:
        flash("Chưa chọn tệp nào để nộp. Hãy kéo tệp báo cáo vào ô nộp hoặc bấm chọn tệp.", "loi")
        return redirect(back)
    the_desk = desk()
    inbox = the_desk.layout.inbox
    stored: list[Stored] = []
    refused: list[tuple[str, str]] = []
    for item in sent:
        name = item.filename or ""
        try:
            stored.append(store(inbox, name, item.stream))
        except TooLarge:
            refused.append(
                (
                    name,
                    f"Tệp lớn hơn {MAX_FILE_BYTES // (1024 * 1024)} MB nên không được nhận. Báo "
                    "cáo của chi bộ chỉ vài chục KB: hãy kiểm tra lại đúng tệp Excel báo cáo.",
                )
            )
    problem = None
    if stored:
        try:
            take(the_desk, stored)
        except TonghopError as exc:
            problem = exc.message
    return render_template(
        "upload_result.html", period=period, stored=stored, refused=refused, problem=problem
    )
