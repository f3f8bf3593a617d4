"""Which file a report is written to, so that a report the secretary edited is never lost.

Every report written is recorded (period, file, SHA-256, draft or final, date, number). A new
draft goes where the last draft went only when that file is still exactly what was written;
a file that differs (the secretary edited it in Word) or that no record explains is kept, and
the new draft gets a new name beside it. A final report is written once, under a name no
other file has.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from tonghop.decisions import PeriodState
from tonghop.layout import Layout
from tonghop.ledger import Ledger, Outcome
from tonghop.periods import Period
from tonghop.report.status import PeriodStatus

__all__ = [
    "DRAFT_NAME",
    "FINAL_NAME",
    "ReportRecord",
    "ReportTarget",
    "Reports",
    "describe_state",
    "file_sha256",
]

DRAFT_NAME = "bao-cao-{period}"
FINAL_NAME = "bao-cao-{period}-chinh-thuc"


@dataclass(frozen=True)
class ReportRecord:
    period: str
    path: Path  # relative to the workspace
    sha256: str
    final: bool
    report_date: dt.date
    number: str | None
    written_at: dt.datetime
    chosen_date: dt.date | None = None  # the date asked for (--date); None: the day written

    def to_event(self) -> dict[str, object]:
        return {
            "period": self.period,
            "path": self.path.as_posix(),
            "sha256": self.sha256,
            "final": self.final,
            "report_date": self.report_date.isoformat(),
            "chosen_date": self.chosen_date.isoformat() if self.chosen_date else None,
            "number": self.number,
            "written_at": self.written_at.isoformat(timespec="seconds"),
        }

    @classmethod
    def from_event(cls, body: dict[str, object]) -> ReportRecord:
        chosen = body.get("chosen_date")
        return cls(
            period=str(body["period"]),
            path=Path(str(body["path"])),
            sha256=str(body["sha256"]),
            final=bool(body["final"]),
            report_date=dt.date.fromisoformat(str(body["report_date"])),
            number=None if body.get("number") is None else str(body["number"]),
            written_at=dt.datetime.fromisoformat(str(body["written_at"])),
            chosen_date=dt.date.fromisoformat(str(chosen)) if chosen else None,
        )


@dataclass(frozen=True)
class ReportTarget:
    """Where to write, and the edited report left in place (if one was)."""

    path: Path
    kept_edited: Path | None = None
    unrecorded: bool = False  # the kept file is none we wrote (by hand, or an older tonghop)


def file_sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except FileNotFoundError:
        return None


class Reports:
    """The reports written for each period, recorded in the ledger's database."""

    def __init__(self, ledger: Ledger, layout: Layout) -> None:
        self._db = ledger.db
        self.layout = layout

    def last(self, period: Period | str, *, final: bool | None = None) -> ReportRecord | None:
        code = period if isinstance(period, str) else period.code
        sql = "SELECT * FROM reports WHERE period = ?"
        params: tuple[object, ...] = (code,)
        if final is not None:
            sql += " AND final = ?"
            params += (int(final),)
        row = self._db.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        return ReportRecord(
            period=row["period"],
            path=Path(row["path"]),
            sha256=row["sha256"],
            final=bool(row["final"]),
            report_date=dt.date.fromisoformat(row["report_date"]),
            number=row["number"],
            written_at=dt.datetime.fromisoformat(row["written_at"]),
            chosen_date=dt.date.fromisoformat(row["chosen_date"]) if row["chosen_date"] else None,
        )

    def current(self, period: Period | str, *, final: bool) -> Path | None:
        """The report a reader wants now: the last final one of a finalized period, else the
        draft last written (absolute path; it may have been removed since)."""
        record = self.last(period, final=final)
        return self.layout.home / record.path if record else None

    def edited_drafts(self, period: Period | str) -> list[Path]:
        """The drafts of ``period`` that were edited after they were written (kept)."""
        code = period if isinstance(period, str) else period.code
        rows = self._db.execute(
            """SELECT path, sha256 FROM reports WHERE id IN (
                   SELECT MAX(id) FROM reports WHERE period = ? AND final = 0 GROUP BY path)
               ORDER BY id""",
            (code,),
        ).fetchall()
        edited = []
        for path, _ in rows:
            found = file_sha256(self.layout.home / path)
            if found is not None and found not in self._written(Path(path)):
                edited.append(self.layout.home / path)
        return edited

    def edited(self, record: ReportRecord) -> bool:
        """The file ``record`` wrote is there but is none of the versions written to it (a
        version recorded but not yet renamed into place, a crash between, is ours too)."""
        sha = file_sha256(self.layout.home / record.path)
        return sha is not None and sha not in self._written(record.path)

    def _written(self, path: Path) -> set[str]:
        rows = self._db.execute("SELECT sha256 FROM reports WHERE path = ?", (path.as_posix(),))
        return {sha for (sha,) in rows}

    def target(self, period: Period, *, final: bool) -> ReportTarget:
        folder = self.layout.period_outbox(period)
        if final:
            return ReportTarget(_free_name(folder, FINAL_NAME.format(period=period.code)))
        base = folder / f"{DRAFT_NAME.format(period=period.code)}.docx"
        last = self.last(period, final=False)
        if last is None:
            if not base.exists():
                return ReportTarget(base)
            # A report no record explains (written by hand, or before reports were recorded):
            # the secretary's, kept.
            return ReportTarget(
                _free_name(folder, f"{base.stem}-du-thao"), kept_edited=base, unrecorded=True
            )
        path = self.layout.home / last.path
        if not self.edited(last):
            return ReportTarget(path)
        return ReportTarget(_free_name(folder, f"{base.stem}-du-thao"), kept_edited=path)

    def record(
        self,
        period: Period,
        path: Path,
        *,
        written: Path,
        final: bool,
        report_date: dt.date,
        chosen_date: dt.date | None,
        number: str | None,
        at: dt.datetime,
    ) -> ReportRecord:
        sha = file_sha256(written)
        assert sha is not None, written
        home = self.layout.home.resolve()
        resolved = path.resolve()
        where = resolved.relative_to(home) if resolved.is_relative_to(home) else resolved
        record = ReportRecord(period.code, where, sha, final, report_date, number, at, chosen_date)
        self.insert(record)
        return record

    def insert(self, record: ReportRecord) -> None:
        self._db.execute(
            """INSERT INTO reports (period, path, sha256, final, report_date, chosen_date,
                   number, written_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                record.period,
                record.path.as_posix(),
                record.sha256,
                int(record.final),
                record.report_date.isoformat(),
                record.chosen_date.isoformat() if record.chosen_date else None,
                record.number,
                record.written_at.isoformat(timespec="seconds"),
            ),
        )


def describe_state(
    status: PeriodStatus, state: PeriodState, ledger: Ledger, layout: Layout
) -> None:
    """Put on ``status`` what a reader must know: draft or final (``status.final``, which
    every view shows as its state; a final period's note adds when and by whom), the edited
    drafts kept, the returns held since the period was finalized."""
    status.final = state.final
    if state.final:
        status.notes.append(state.describe())
    reports = Reports(ledger, layout)
    latest = reports.last(status.period, final=False)
    for path in reports.edited_drafts(status.period):
        newer = f"; bản dự thảo mới nhất là {latest.path.name}" if latest else ""
        if latest and latest.path.name == path.name:
            newer = "; lần viết lại sau sẽ ghi bản dự thảo mới bên cạnh"
        status.notes.append(f"Báo cáo {path.name} đã được sửa tay nên được giữ nguyên{newer}.")
    (held,) = ledger.db.execute(
        "SELECT COUNT(*) FROM submissions WHERE period = ? AND outcome = ?",
        (status.period.code, Outcome.HELD),
    ).fetchone()
    if held:
        status.notes.append(
            f"Có {held} báo cáo đến sau khi chốt, đã nhận nhưng chưa tính; muốn tính, hãy "
            "mở lại kỳ (tonghop reopen)."
        )


def _free_name(folder: Path, stem: str) -> Path:
    """``stem.docx``, else ``stem-2.docx``, ``stem-3.docx``...: the first name no file has."""
    candidate = folder / f"{stem}.docx"
    number = 2
    while candidate.exists() or candidate.with_suffix(".pdf").exists():
        candidate = folder / f"{stem}-{number}.docx"
        number += 1
    return candidate
