"""The ledger's tables, the outcomes its CHECK constraint allows, and how a ledger written
by an older tonghop is brought up to this schema (every row and id kept)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum

from tonghop.errors import PeriodError
from tonghop.periods import Period

__all__ = [
    "INDEXES",
    "OTHER_TABLES",
    "SCHEMA_VERSION",
    "SUBMISSIONS",
    "SUBMISSION_COLUMNS",
    "Outcome",
    "migrate",
]


class Outcome(StrEnum):
    """What became of a received file; stored as its value in the ledger."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"
    UNREADABLE = "unreadable"
    FAILED = "failed"
    EXCLUDED = "excluded"
    HELD = "held"

    @property
    def label(self) -> str:
        """The Vietnamese words users read for this outcome."""
        return _OUTCOME_LABELS[self]


_OUTCOME_LABELS = {
    Outcome.ACCEPTED: "Đã tiếp nhận",
    Outcome.DUPLICATE: "Trùng tệp đã nhận",
    Outcome.SUPERSEDED: "Đã được thay bằng bản mới hơn",
    Outcome.REJECTED: "Trả lại để sửa",
    Outcome.UNREADABLE: "Không đọc được tệp",
    Outcome.FAILED: "Lỗi khi xử lý",
    Outcome.EXCLUDED: "Đã loại khỏi số liệu",
    Outcome.HELD: "Đã nhận, chưa tính (kỳ đã chốt)",
}
_OUTCOME_CHECK = ", ".join(f"'{outcome}'" for outcome in Outcome)

SCHEMA_VERSION = 4
SUBMISSIONS = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    sha256 TEXT,
    source_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    branch_code TEXT,
    period TEXT,
    period_end TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN (OUTCOMES)),
    judged TEXT,
    duplicate_of INTEGER REFERENCES submissions(id),
    superseded_by INTEGER REFERENCES submissions(id),
    errors INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0,
    problems TEXT NOT NULL DEFAULT '[]',
    payload TEXT,
    feedback TEXT,
    archived_as TEXT,
    elapsed_ms REAL
)
""".replace("OUTCOMES", _OUTCOME_CHECK)
SUBMISSION_COLUMNS = re.findall(r"^ +(\w+) [A-Z]", SUBMISSIONS, re.M)
# The secretary's decisions, the finalize/reopen events of periods, and the reports written
# (tonghop.decisions, tonghop.report.drafts).
OTHER_TABLES = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    kind TEXT NOT NULL CHECK (kind IN ('exclude', 'include', 'accept')),
    reason TEXT NOT NULL,
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS period_events (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('finalize', 'reopen')),
    number TEXT,
    report_date TEXT,
    reason TEXT NOT NULL DEFAULT '',
    counted TEXT NOT NULL DEFAULT '[]',
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    final INTEGER NOT NULL,
    report_date TEXT NOT NULL,
    chosen_date TEXT,
    number TEXT,
    written_at TEXT NOT NULL
);
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS submissions_branch_period ON submissions(branch_code, period);
CREATE INDEX IF NOT EXISTS submissions_sha ON submissions(sha256);
CREATE INDEX IF NOT EXISTS submissions_drop ON submissions(source_name, size, mtime_ns);
CREATE INDEX IF NOT EXISTS submissions_outcome ON submissions(outcome, period);
CREATE INDEX IF NOT EXISTS submissions_branch_end ON submissions(branch_code, period_end);
CREATE INDEX IF NOT EXISTS decisions_submission ON decisions(submission_id);
CREATE INDEX IF NOT EXISTS period_events_period ON period_events(period);
CREATE INDEX IF NOT EXISTS reports_period ON reports(period);
"""


def migrate(
    db: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[None]]
) -> None:
    """Bring a ledger written by an older tonghop up to this schema, keeping every row."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(submissions)")}
    if "period_end" not in columns:
        with transaction():
            db.execute("ALTER TABLE submissions ADD COLUMN period_end TEXT")
            for (code,) in db.execute(
                "SELECT DISTINCT period FROM submissions WHERE period IS NOT NULL"
            ).fetchall():
                try:
                    end = Period.parse(code).end.isoformat()
                except PeriodError:
                    continue
                db.execute("UPDATE submissions SET period_end = ? WHERE period = ?", (end, code))

    table = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'submissions'"
    ).fetchone()[0]
    if any(f"'{outcome}'" not in table for outcome in Outcome):
        _rebuild_for_new_outcomes(db, transaction)
    if "judged" not in table:
        # What the intake found: a superseded return had been accepted.
        with transaction():
            db.execute(
                f"""UPDATE submissions SET judged = CASE outcome
                    WHEN '{Outcome.SUPERSEDED}' THEN '{Outcome.ACCEPTED}' ELSE outcome END
                    WHERE judged IS NULL"""
            )


def _rebuild_for_new_outcomes(
    db: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[None]]
) -> None:
    """A ledger written before the newest outcomes existed: its CHECK constraint refuses
    them, and SQLite cannot alter a constraint, so the table is rebuilt by SQLite's
    documented procedure (new table, copy, drop, rename: the tables referring to it keep
    their references), every row and id kept, in one transaction."""
    old = {row[1] for row in db.execute("PRAGMA table_info(submissions)")}
    listed = ", ".join(name for name in SUBMISSION_COLUMNS if name in old)
    db.execute("PRAGMA foreign_keys=OFF")  # ids referenced by rows stay as they are
    try:
        with transaction():
            db.execute(SUBMISSIONS.replace("IF NOT EXISTS submissions", "submissions_new"))
            db.execute(f"INSERT INTO submissions_new ({listed}) SELECT {listed} FROM submissions")
            db.execute("DROP TABLE submissions")
            db.execute("ALTER TABLE submissions_new RENAME TO submissions")
            problems = db.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise sqlite3.IntegrityError(f"foreign keys broken by migration: {problems}")
    finally:
        db.execute("PRAGMA foreign_keys=ON")
