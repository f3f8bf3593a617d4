"""The SQLite ledger: one row per file received, with its outcome. Nothing is counted twice.

Outcomes:
- ``accepted``: counted; the newest accepted return of a branch and period is the one counted,
  older ones become ``superseded`` (with ``superseded_by``);
- ``duplicate``: the very same bytes were received before (``duplicate_of``);
- ``rejected``: readable but with errors; ``unreadable``: not a workbook we can read;
- ``failed``: an unexpected error while handling the file (a defect of ours, logged): the
  file is recorded and answered all the same, never left in inbox/ to fail again;
- ``excluded``: the secretary took it out of the count (``tonghop exclude``);
- ``held``: acceptable, but it arrived after its period was finalized: it counts only once
  the period is reopened.

``judged`` keeps what the intake found (``accepted``, ``rejected``...); ``outcome`` is where
the file stands now, after the newer returns and the secretary's decisions
(:mod:`tonghop.decisions`).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tonghop._ledger_schema import (
    INDEXES,
    OTHER_TABLES,
    SCHEMA_VERSION,
    SUBMISSION_COLUMNS,
    SUBMISSIONS,
    Outcome,
    migrate,
)
from tonghop.errors import LedgerDamaged, PeriodError
from tonghop.periods import Period
from tonghop.problems import Problem

if TYPE_CHECKING:
    from tonghop.decisions import Decision

__all__ = [
    "SCHEMA_VERSION",
    "CountedValues",
    "Ledger",
    "Outcome",
    "Submission",
    "ledger_damaged",
]


@dataclass
class Submission:
    """One received file as recorded in the ledger."""

    source_name: str
    size: int
    mtime_ns: int
    received_at: dt.datetime
    outcome: Outcome
    sha256: str | None = None
    branch_code: str | None = None
    period: str | None = None
    duplicate_of: int | None = None
    superseded_by: int | None = None
    problems: list[Problem] = field(default_factory=list)
    values: dict[str, Any] | None = None
    feedback: str | None = None
    receipt: str | None = None  # the giấy xác nhận, relative to outbox/ (like feedback)
    archived_as: str | None = None
    elapsed_ms: float | None = None
    id: int | None = None
    judged: Outcome | None = None  # what the intake found; None: the outcome it is recorded with
    decisions: list[Decision] = field(default_factory=list)  # filled by Ledger.history

    @property
    def ref(self) -> str:
        """The short id users read and type (``tonghop exclude 12``): «Mã tệp 12»."""
        return str(self.id) if self.id is not None else ""

    @property
    def errors(self) -> int:
        return sum(p.is_error for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(not p.is_error for p in self.problems)

    @property
    def counted(self) -> bool:
        return self.outcome == Outcome.ACCEPTED

    @property
    def period_obj(self) -> Period | None:
        try:
            return Period.parse(self.period) if self.period else None
        except PeriodError:
            return None

    @property
    def outcome_label(self) -> str:
        return self.outcome.label


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def ledger_damaged(path: Path, reason: str) -> LedgerDamaged:
    """The error that stops every intake until the ledger at ``path`` is rebuilt."""
    return LedgerDamaged(
        f"Sổ ghi nhận {path} bị hỏng: {reason}. Chưa tiếp nhận tệp nào, các tệp trong inbox/ "
        "vẫn giữ nguyên. Hãy chạy «tonghop verify --rebuild» để dựng lại sổ từ kho lưu trữ "
        "(sổ hỏng được giữ lại bên cạnh, không bị xoá)."
    )


class Ledger:
    """The ledger database, archive/ledger.sqlite3. Use as a context manager or close().

    A missing file is a new ledger; an existing one that is empty (0 bytes) or not a database
    raises :class:`LedgerDamaged` instead of being replaced by an empty ledger.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        if path.exists() and path.stat().st_size == 0:
            raise ledger_damaged(path, "tệp rỗng (0 byte)")
        try:
            self._open(path)
        except sqlite3.DatabaseError as exc:
            if hasattr(self, "_db"):
                self._db.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise  # read-only, full or locked: not damage (see tonghop.integrity)
            raise ledger_damaged(path, f"không đọc được cơ sở dữ liệu ({exc})") from exc

    def _open(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed outcome survives a power cut before the file leaves inbox/.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute(SUBMISSIONS)
        self._db.executescript(OTHER_TABLES)
        migrate(self._db, self.transaction)
        self._db.executescript(INDEXES)
        # Setting the version is a write: done only when it differs, so that opening the
        # ledger to read (history, status) never waits behind a process writing it.
        if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for the modules keeping their tables in the ledger's database
        (tonghop.decisions, tonghop.report.drafts)."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside ``transaction()``: undo only what this block wrote when it raises, so one
        file's failure never takes the rest of the batch with it."""
        self._db.execute("SAVEPOINT one_file")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO one_file")
            self._db.execute("RELEASE one_file")
            raise
        self._db.execute("RELEASE one_file")

    # --- writing -----------------------------------------------------------------------
    def record(self, sub: Submission) -> Submission:
        """Insert ``sub``; an accepted return supersedes the older accepted one it replaces.

        Call inside ``transaction()`` to group several files into one durable commit.
        """
        cursor = self._db.execute(
            """INSERT INTO submissions (sha256, source_name, size, mtime_ns, received_at,
                   branch_code, period, period_end, outcome, judged, duplicate_of, errors,
                   warnings, problems, payload, feedback, archived_as, elapsed_ms)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                sub.sha256,
                sub.source_name,
                sub.size,
                sub.mtime_ns,
                sub.received_at.isoformat(timespec="seconds"),
                sub.branch_code,
                sub.period,
                sub.period_obj.end.isoformat() if sub.period_obj else None,
                sub.outcome,
                sub.judged or sub.outcome,
                sub.duplicate_of,
                sub.errors,
                sub.warnings,
                json.dumps([p.to_dict() for p in sub.problems], ensure_ascii=False),
                None
                if sub.values is None
                else json.dumps(sub.values, ensure_ascii=False, default=_json_default),
                sub.feedback,
                sub.archived_as,
                sub.elapsed_ms,
            ),
        )
        sub.id = cursor.lastrowid
        if sub.outcome == Outcome.ACCEPTED:
            # By branch and period: left to itself SQLite picks the (outcome, period) index,
            # which scans every accepted return of the period, once per new row.
            self._db.execute(
                """UPDATE submissions INDEXED BY submissions_branch_period
                   SET outcome = ?, superseded_by = ?
                   WHERE outcome = ? AND branch_code = ? AND period = ? AND id != ?""",
                (Outcome.SUPERSEDED, sub.id, Outcome.ACCEPTED, sub.branch_code, sub.period, sub.id),
            )
        return sub

    def set_answer(self, sub: Submission) -> None:
        """Record the answer written once the row had its id (feedback, time taken)."""
        self._db.execute(
            "UPDATE submissions SET feedback = ?, elapsed_ms = ? WHERE id = ?",
            (sub.feedback, sub.elapsed_ms, sub.id),
        )

    def set_receipts(self, receipts: list[tuple[int, str]]) -> None:
        """Record the receipts written for (row id, path relative to outbox/)."""
        with self.transaction():
            self._db.executemany(
                "UPDATE submissions SET receipt = ? WHERE id = ?",
                [(path, sub_id) for sub_id, path in receipts],
            )

    # --- reading -----------------------------------------------------------------------
    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Submission]:
        return [_from_row(row) for row in self._db.execute(sql, params)]

    def get(self, submission_id: int) -> Submission | None:
        rows = self._rows("SELECT * FROM submissions WHERE id = ?", (submission_id,))
        return rows[0] if rows else None

    def find_drop(self, source_name: str, size: int, mtime_ns: int) -> list[Submission]:
        """Rows recorded for this very file in inbox/ (same name, size and time)."""
        return self._rows(
            "SELECT * FROM submissions WHERE source_name = ? AND size = ? AND mtime_ns = ?",
            (source_name, size, mtime_ns),
        )

    def first_with_sha(self, sha256: str) -> Submission | None:
        """The first row of these bytes that was judged: a ``failed`` one was not (a defect of
        ours stopped it), so the same bytes sent again are judged, not called a duplicate."""
        rows = self._rows(
            f"""SELECT * FROM submissions WHERE sha256 = ? AND outcome != '{Outcome.FAILED}'
                ORDER BY id LIMIT 1""",
            (sha256,),
        )
        return rows[0] if rows else None

    def newest_identity(self) -> dict[str, str] | None:
        """The newest file with bytes, as a rebuilt ledger finds it again (its SHA-256 and
        when it was received): where a decision taken now stands among the files."""
        row = self._db.execute(
            "SELECT sha256, received_at FROM submissions WHERE sha256 IS NOT NULL"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else {"sha256": row[0], "received_at": row[1]}

    def with_sha(self, sha256: str) -> list[Submission]:
        """Every row of these bytes, oldest first."""
        return self._rows("SELECT * FROM submissions WHERE sha256 = ? ORDER BY id", (sha256,))

    def all(self) -> list[Submission]:
        return self._rows("SELECT * FROM submissions ORDER BY id")

    def all_rows(
        self, *, period: Period | None = None, branch_code: str | None = None
    ) -> list[Submission]:
        """Every row, or those of ``period`` and/or ``branch_code``, oldest first."""
        where, params = [], []
        if period is not None:
            where.append("period = ?")
            params.append(period.code)
        if branch_code is not None:
            where.append("branch_code = ?")
            params.append(branch_code)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return self._rows(f"SELECT * FROM submissions {clause} ORDER BY id", tuple(params))

    def for_period(self, period: Period, *, values: bool = True) -> list[Submission]:
        """Every row of ``period``, oldest first; ``values=False`` leaves each return's values
        undecoded (``None``): the status page of 5,000 branches needs none of them."""
        columns = "*" if values else _COLUMNS_WITHOUT_VALUES
        return self._rows(
            f"SELECT {columns} FROM submissions WHERE period = ? ORDER BY id", (period.code,)
        )

    def counted(self) -> list[Submission]:
        """Every counted return: accepted, the newest per branch and period."""
        return self._rows(
            f"SELECT * FROM submissions WHERE outcome = '{Outcome.ACCEPTED}' ORDER BY id"
        )

    def counted_values(
        self, wanted: Callable[[str, str], bool] | None = None
    ) -> Iterator[CountedValues]:
        """The counted returns with values, oldest first, as (id, branch code, period code,
        received at, values); only those ``wanted(branch_code, period_code)`` accepts are
        decoded. What a report reads: five columns instead of every column of :meth:`counted`
        and the problems decoded (0.4 s against 0.2 s for 25,000 returns).
        """
        rows = self._db.execute(
            f"""SELECT id, branch_code, period, received_at, payload FROM submissions
                WHERE outcome = '{Outcome.ACCEPTED}' AND payload IS NOT NULL ORDER BY id"""
        )
        for row_id, branch_code, period, received_at, payload in rows:
            if branch_code and period and (wanted is None or wanted(branch_code, period)):
                received = dt.datetime.fromisoformat(received_at)
                yield row_id, branch_code, period, received, json.loads(payload)

    def previous_values(self, branch_code: str, period: Period) -> dict[str, Any] | None:
        """The values of the branch's counted return ending the day before ``period`` starts.

        Any kind of period qualifies (for 2024-H1: 2023, 2023-H2, 2023-Q4 or 2023-12); the
        most recently received one wins.
        """
        day_before = period.start - dt.timedelta(days=1)
        rows = self._rows(
            f"""SELECT * FROM submissions WHERE outcome = '{Outcome.ACCEPTED}' AND branch_code = ?
                AND period_end = ? ORDER BY id DESC LIMIT 1""",
            (branch_code, day_before.isoformat()),
        )
        if not rows or rows[0].values is None:
            return None
        return {**rows[0].values, "period": rows[0].period}

    def drops_with_bytes(self) -> int:
        """How many rows have the file's bytes (a SHA-256)."""
        count: int = self._db.execute(
            "SELECT COUNT(*) FROM submissions WHERE sha256 IS NOT NULL"
        ).fetchone()[0]
        return count

    def drops(self) -> list[tuple[str, str, int, int, dt.datetime]]:
        """(sha256, source_name, size, mtime_ns, received_at) of each row with bytes, in order."""
        rows = self._db.execute(
            """SELECT sha256, source_name, size, mtime_ns, received_at FROM submissions
               WHERE sha256 IS NOT NULL ORDER BY id"""
        )
        return [
            (sha, name, size, mtime_ns, dt.datetime.fromisoformat(received))
            for sha, name, size, mtime_ns, received in rows
        ]

    def known_shas(self) -> set[str]:
        """The SHA-256 of every file the ledger has a row for."""
        rows = self._db.execute("SELECT DISTINCT sha256 FROM submissions WHERE sha256 IS NOT NULL")
        return {sha for (sha,) in rows}

    def count(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
        return count

    def periods(self) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT period FROM submissions WHERE period IS NOT NULL"
        ).fetchall()
        return [r[0] for r in rows]


CountedValues = tuple[int, str, str, dt.datetime, dict[str, Any]]
_COLUMNS_WITHOUT_VALUES = ", ".join(
    "NULL AS payload" if name == "payload" else name for name in SUBMISSION_COLUMNS
)


def _from_row(row: sqlite3.Row) -> Submission:
    return Submission(
        id=row["id"],
        sha256=row["sha256"],
        source_name=row["source_name"],
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        received_at=dt.datetime.fromisoformat(row["received_at"]),
        branch_code=row["branch_code"],
        period=row["period"],
        outcome=Outcome(row["outcome"]),
        judged=Outcome(row["judged"]) if row["judged"] else None,
        duplicate_of=row["duplicate_of"],
        superseded_by=row["superseded_by"],
        problems=[Problem.from_dict(p) for p in json.loads(row["problems"])],
        values=None if row["payload"] is None else json.loads(row["payload"]),
        feedback=row["feedback"],
        receipt=row["receipt"],
        archived_as=row["archived_as"],
        elapsed_ms=row["elapsed_ms"],
    )
