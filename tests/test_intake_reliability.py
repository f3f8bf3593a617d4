"""The intake against file-system tricks and its own defects: only regular files inside inbox/
are opened, each file is judged and answered on its own, nothing a name says forges a log line.

Every test puts a good return beside the hostile entry and asserts it is counted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from tonghop.intake import _files
from tonghop.intake import inbox as intake_module
from tonghop.intake.archive import Archive
from tonghop.intake.inbox import Intake
from tonghop.ledger import Ledger, Outcome

from .helpers import is_vietnamese

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file-system objects")
LOGGER = "tonghop.intake.inbox"


def make_intake(workspace, config, form, ledger, clock) -> Intake:
    return Intake(workspace, config, form, ledger, clock=clock)


def notes(workspace, pattern: str = "*.txt") -> list[Path]:
    return sorted((workspace.outbox / "khong-doc-duoc").glob(pattern))


def counted_branches(ledger: Ledger) -> list[str]:
    return sorted(s.branch_code or "" for s in ledger.counted())


def archived_hashes(workspace) -> set[str]:
    with Archive(workspace.archive) as archive:
        rows = archive._db.execute("SELECT sha256 FROM objects").fetchall()
    return {row[0] for row in rows}


# --- 1. only regular files inside inbox/ are opened -----------------------------------------


@posix_only
def test_a_link_to_a_system_file_is_left_alone_answered_once_and_never_archived(
    workspace, config, form, ledger, clock, make_return, caplog
):
    make_return("LT1", "2024-H1")
    link = workspace.inbox / "x.xlsx"
    link.symlink_to("/etc/passwd")
    caplog.set_level(logging.INFO, logger=LOGGER)
    intake = make_intake(workspace, config, form, ledger, clock)

    results = intake.process_inbox()
    assert [r.submission.outcome for r in results] == [Outcome.ACCEPTED]
    assert counted_branches(ledger) == ["LT1"]
    assert ledger.count() == 1 and all(s.source_name != "x.xlsx" for s in ledger.all())
    assert link.is_symlink()  # left where it is
    passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    assert passwd not in archived_hashes(workspace)
    [note] = notes(workspace, "*khong-mo.txt")
    text = note.read_text(encoding="utf-8-sig")
    assert "x.xlsx" in text and "lối tắt" in text and is_vietnamese(text)
    assert "root:" not in text
    written = note.stat().st_mtime_ns

    assert intake.process_inbox() == []  # the same run rescans: no second line, same note
    assert make_intake(workspace, config, form, ledger, clock).process_inbox() == []
    lines = [r for r in caplog.records if "x.xlsx" in r.getMessage()]
    assert len(lines) == 2  # one per run
    assert notes(workspace, "*khong-mo.txt") == [note]
    assert note.stat().st_mtime_ns == written  # written once, not on every run


@posix_only
def test_a_link_to_a_folder_outside_inbox_is_never_entered(
    workspace, config, form, ledger, clock, make_return, tmp_path
):
    outside = tmp_path / "ngoai"
    secret = make_return("LT2", "2024-H1", folder=outside, highlights="Bí mật ngoài inbox.")
    make_return("LT1", "2024-H1")
    (workspace.inbox / "LT2").symlink_to(outside, target_is_directory=True)

    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    assert [r.submission.branch_code for r in results] == ["LT1"]
    assert counted_branches(ledger) == ["LT1"]
    assert secret.exists()  # never taken
    assert hashlib.sha256(secret.read_bytes()).hexdigest() not in archived_hashes(workspace)
    [note] = notes(workspace, "*khong-mo.txt")
    text = note.read_text(encoding="utf-8-sig")
    assert "LT2" in text and "thư mục" in text
    assert "Bí mật" not in text


@posix_only
def test_a_fifo_never_blocks_the_intake_nor_the_files_beside_it(
    workspace, config, form, clock, make_return
):
    make_return("LT1", "2024-H1")
    fifo = workspace.inbox / "y.xlsx"
    os.mkfifo(fifo)
    done: list[list] = []

    def run() -> None:  # SQLite connections belong to the thread that opens them
        with Ledger(workspace.ledger) as ledger:
            done.append(make_intake(workspace, config, form, ledger, clock).process_inbox())

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # unblock the reader so the test run can end, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the intake blocked on a FIFO")
    assert [r.submission.branch_code for r in done[0]] == ["LT1"]
    with Ledger(workspace.ledger) as ledger:
        assert counted_branches(ledger) == ["LT1"]
    [note] = notes(workspace, "*khong-mo.txt")
    assert "FIFO" in note.read_text(encoding="utf-8-sig")
    assert fifo.exists()


@posix_only
def test_a_socket_is_left_alone(workspace, config, form, ledger, clock, make_return, monkeypatch):
    make_return("LT1", "2024-H1")
    monkeypatch.chdir(workspace.inbox)  # a socket's path is limited to ~100 bytes
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("s.xlsx")
        results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    assert [r.submission.branch_code for r in results] == ["LT1"]
    [note] = notes(workspace, "*khong-mo.txt")
    assert "socket" in note.read_text(encoding="utf-8-sig")


@posix_only
def test_a_device_is_left_alone(workspace, config, form, ledger, clock, make_return):
    import stat

    make_return("LT1", "2024-H1")
    try:
        os.mknod(workspace.inbox / "z.xlsx", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # zero
    except (PermissionError, AttributeError):
        pytest.skip("making a device needs CAP_MKNOD")
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    assert [r.submission.branch_code for r in results] == ["LT1"]
    [note] = notes(workspace, "*khong-mo.txt")
    assert "thiết bị" in note.read_text(encoding="utf-8-sig")


def test_open_regular_refuses_what_is_not_a_regular_file_and_bounds_what_it_reads(tmp_path):
    small = tmp_path / "a.xlsx"
    small.write_bytes(b"x" * 100)
    assert _files.open_regular(small, 100).data == b"x" * 100
    assert _files.open_regular(small, 99).data is None
    assert _files.open_regular(tmp_path, 100) == _files.Strange("folder")
    if sys.platform != "win32":
        (tmp_path / "l.xlsx").symlink_to(small)
        assert _files.open_regular(tmp_path / "l.xlsx", 100) == _files.Strange("link")
        os.mkfifo(tmp_path / "f.xlsx")
        assert _files.open_regular(tmp_path / "f.xlsx", 100) == _files.Strange("fifo")


# --- 2. each file judged, recorded and answered on its own ----------------------------------


@pytest.mark.parametrize("where", ["reader", "feedback"])
def test_a_defect_with_one_file_records_it_as_failed_and_the_batch_goes_on(
    workspace, config, form, ledger, clock, make_return, monkeypatch, caplog, where
):
    make_return("LT1", "2024-H1")
    victim = make_return("LT2", "2024-H1", name="hong.xlsx", members_end=999)  # has problems
    make_return("TL1", "2024-H1")
    data = victim.read_bytes()
    if where == "reader":
        from tonghop.intake import checks as checks_module

        real = checks_module.read_workbook

        def reader(raw: bytes):
            if raw == data:
                raise RuntimeError("defect in the reader")
            return real(raw)

        monkeypatch.setattr(checks_module, "read_workbook", reader)
    else:

        def feedback(*args, **kwargs):
            raise RuntimeError("defect in the feedback writer")

        monkeypatch.setattr(intake_module, "write_feedback", feedback)
    caplog.set_level(logging.INFO, logger=LOGGER)

    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    outcomes = {r.submission.source_name: r.submission.outcome for r in results}
    assert outcomes["hong.xlsx"] == Outcome.FAILED
    assert counted_branches(ledger) == ["LT1", "TL1"]  # the batch's commit was kept
    failed = next(s for s in ledger.all() if s.outcome == Outcome.FAILED)
    assert failed.outcome_label == "Lỗi khi xử lý"
    assert failed.values is None and failed.branch_code is None
    with Archive(workspace.archive) as archive:
        assert archive.read(hashlib.sha256(data).hexdigest()) == data
    note = workspace.outbox / failed.feedback
    text = note.read_text(encoding="utf-8-sig")
    assert "hong.xlsx" in text and "lỗi" in text and is_vietnamese(text)
    assert not victim.exists() and list(workspace.inbox.iterdir()) == []
    [logged] = [r for r in caplog.records if r.exc_info]
    assert "hong.xlsx" in logged.getMessage() and "defect" in str(logged.exc_info[1])

    # Never again: it left inbox/, and the next run has nothing to fail on.
    assert make_intake(workspace, config, form, ledger, clock).process_inbox() == []
    # Sent again once the defect is gone, the same bytes are judged, not a duplicate.
    monkeypatch.undo()
    victim.write_bytes(data)
    [again] = make_intake(workspace, config, form, ledger, clock).process_inbox()
    assert again.submission.outcome == Outcome.REJECTED


def test_process_answers_a_failed_file_and_logs_its_traceback_to_the_log_file(
    workspace, clock, make_return, monkeypatch
):
    from click.testing import CliRunner

    from tonghop.cli import CliContext, cli

    make_return("LT1", "2024-H1")
    make_return("LT2", "2024-H1", name="hong.xlsx", members_end=999)

    def feedback(*args, **kwargs):
        raise RuntimeError("defect in the feedback writer")

    monkeypatch.setattr(intake_module, "write_feedback", feedback)
    result = CliRunner().invoke(
        cli, ["--home", str(workspace.home), "process"], obj=CliContext(str(workspace.home), clock)
    )
    assert result.exit_code == 0, result.output  # the run did its work: every file answered
    assert "Lỗi khi xử lý" in result.output and "Đã tiếp nhận" in result.output
    assert "tonghop.log" in result.output and "Traceback" not in result.output
    log_text = (workspace.logs / "tonghop.log").read_text(encoding="utf-8")
    assert "Traceback" in log_text and "defect in the feedback writer" in log_text
    assert list(workspace.inbox.iterdir()) == []


def test_a_control_character_typed_in_a_count_cell_is_answered_and_others_counted(
    workspace, config, form, ledger, clock, make_return
):
    make_return("LT1", "2024-H1")
    poison = make_return("LT2", "2024-H1", name="doc.xlsx", admitted="x_x0001_y")
    intake = make_intake(workspace, config, form, ledger, clock)
    results = intake.process_inbox()
    outcome = {r.submission.source_name: r for r in results}["doc.xlsx"]
    # The feedback writer shows the control character; the branch gets its annotated workbook.
    assert outcome.submission.outcome == Outcome.REJECTED
    assert outcome.feedback is not None and outcome.feedback.suffix == ".xlsx"
    assert outcome.feedback.exists()
    assert outcome.feedback.is_relative_to(workspace.outbox)
    assert counted_branches(ledger) == ["LT1"]
    assert not poison.exists()
    assert intake.process_inbox() == []  # nothing stays behind to fail the next run


def test_a_ledger_written_before_failed_existed_is_rebuilt_keeping_every_row(
    workspace, config, form, clock, make_return
):
    path = workspace.ledger
    with Ledger(path) as ledger:
        make_return("LT1", "2024-H1", admitted=1)
        Intake(workspace, config, form, ledger, clock=clock).process_inbox()
        clock.advance(hours=1)
        make_return("LT1", "2024-H1", name="lai.xlsx", admitted=2)
        Intake(workspace, config, form, ledger, clock=clock).process_inbox()
        before = [(s.id, s.outcome, s.superseded_by, s.values) for s in ledger.all()]
    # The table as schema version 2 made it: a CHECK without 'failed'.
    db = sqlite3.connect(path)
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'submissions'").fetchone()[0]
    old_sql = sql.replace(", 'failed'", "")
    assert old_sql != sql
    db.executescript(
        f"""PRAGMA foreign_keys=OFF; BEGIN;
        ALTER TABLE submissions RENAME TO s2; {old_sql};
        INSERT INTO submissions SELECT * FROM s2; DROP TABLE s2; COMMIT;
        PRAGMA user_version=2;"""
    )
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO submissions (source_name, size, mtime_ns, received_at, outcome)"
            " VALUES ('a', 1, 1, '2024-07-05T09:00:00', 'failed')"
        )
    db.close()

    with Ledger(path) as ledger:
        assert [(s.id, s.outcome, s.superseded_by, s.values) for s in ledger.all()] == before
        (workspace.inbox / "rac.xlsx").write_bytes(b"PK\x03\x04 broken")

        def broken(*args, **kwargs):
            raise RuntimeError("defect")

        from tonghop.intake import checks as checks_module

        intake = Intake(workspace, config, form, ledger, clock=clock)
        real_reader = checks_module.read_workbook
        try:
            checks_module.read_workbook = broken  # type: ignore[assignment]
            [result] = intake.process_inbox()
        finally:
            checks_module.read_workbook = real_reader
        assert result.submission.outcome == Outcome.FAILED
        assert ledger.count() == 3
        assert ledger._db.execute("PRAGMA foreign_key_check").fetchall() == []


# --- 3. bounded memory --------------------------------------------------------------------


def test_batches_are_bounded_by_bytes_as_well_as_by_count(
    workspace, config, form, ledger, clock, make_return
):
    made = [
        make_return("LT1", "2024-H1", name=f"r{i}.xlsx", highlights=f"Lần {i}.") for i in range(6)
    ]
    size = max(p.stat().st_size for p in made)
    intake = make_intake(workspace, config, form, ledger, clock)
    intake.batch_bytes = 2 * size  # two files a batch, whatever the count allows
    commits: list[str] = []
    results = intake.process_inbox(batch_size=50, crash_hook=commits.append)
    assert commits.count("after-commit") == 3
    assert len(results) == 6 and ledger.count() == 6


@pytest.mark.parametrize(
    "name",
    [
        "b" * 245 + ".xlsx",  # 250 characters
        "báo-cáo-" + "ệ" * 78 + ".xlsx",  # 91 characters, 252 bytes of UTF-8
    ],
)
def test_an_oversize_file_with_a_long_name_is_never_opened_and_answered(
    workspace, config, form, ledger, clock, make_return, monkeypatch, name
):
    monkeypatch.setattr(intake_module, "MAX_FILE_BYTES", 100_000)
    make_return("LT1", "2024-H1")
    assert len(name.encode()) <= 255
    big = workspace.inbox / name
    with open(big, "wb") as handle:
        handle.truncate(200_000)
    opened: list[str] = []
    real_open = _files.os.open

    def spy(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_files.os, "open", spy)
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    by_name = {r.submission.source_name: r for r in results}
    sub = by_name[name].submission
    assert sub.outcome == Outcome.UNREADABLE and "quá lớn" in sub.problems[0].message
    assert str(big) not in opened
    assert not big.exists()
    assert (workspace.archive / sub.archived_as).stat().st_size == 200_000
    assert by_name[name].feedback is not None and by_name[name].feedback.exists()
    assert counted_branches(ledger) == ["LT1"]


# --- 4. log lines ---------------------------------------------------------------------------


@posix_only
def test_a_newline_in_a_file_name_does_not_forge_a_log_line(
    workspace, config, form, ledger, clock, make_return, caplog
):
    forged = "a.xlsx\t-\t-\tĐã tiếp nhận\t1 ms\n2024-07-05 09:00:00\tgia.xlsx"
    make_return("LT1", "2024-H1", name=forged)
    caplog.set_level(logging.INFO, logger=LOGGER)
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    assert [r.submission.outcome for r in results] == [Outcome.ACCEPTED]
    [line] = [r.getMessage() for r in caplog.records if "gia.xlsx" in r.getMessage()]
    assert "\n" not in line and "\\n" in line
    assert line.count("\t") == 4  # the intake's five columns, no more
    assert "\n" not in results[0].summary


def test_for_log_escapes_controls_and_keeps_vietnamese():
    assert _files.for_log("Báo cáo\nLT1\x1b[31m\u202e.xlsx") == "Báo cáo\\nLT1\\x1b[31m\\u202e.xlsx"


# --- 7. a period far from the term ----------------------------------------------------------


@pytest.mark.parametrize("period", ["1900", "2999-H1", "2010-H2"])
def test_a_period_far_from_the_term_is_an_error_naming_the_cell(
    workspace, config, form, ledger, clock, make_return, period
):
    make_return("LT1", "2024-H1")
    make_return("LT2", period, name="xa.xlsx")
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    far = next(r for r in results if r.submission.source_name == "xa.xlsx")
    assert far.submission.outcome == Outcome.REJECTED
    assert far.submission.period is None
    [problem] = [p for p in far.submission.problems if p.field_id == "period"]
    assert problem.is_error and problem.cell and "nhiệm kỳ 2020-2025" in problem.message
    assert far.feedback is not None and far.feedback.exists()
    assert counted_branches(ledger) == ["LT1"]


@pytest.mark.parametrize("period", ["1900", "2999-H1"])
def test_no_command_fails_on_a_far_period_even_one_an_older_version_accepted(
    workspace, clock, make_return, monkeypatch, period
):
    from click.testing import CliRunner

    from tonghop.cli import CliContext, cli
    from tonghop.intake import checks

    def run(*args: str):
        return CliRunner().invoke(
            cli, ["--home", str(workspace.home), *args], obj=CliContext(str(workspace.home), clock)
        )

    make_return("LT1", "2024-H1")
    if period == "2999-H1":
        clock.now = clock.now.replace(year=3000)  # a clock gone wrong lets it end
    with monkeypatch.context() as patch:  # what a version without the term check recorded
        patch.setattr(checks, "TERM_MARGIN_YEARS", 10_000)
        make_return("LT2", period, name="xa-cu.xlsx")
        assert run("process").exit_code == 0
    make_return("TL1", period, name="xa-moi.xlsx")
    assert run("process").exit_code == 0
    with Ledger(workspace.ledger) as ledger:
        outcomes = {s.source_name: s.outcome for s in ledger.all()}
    assert outcomes["xa-moi.xlsx"] == Outcome.REJECTED

    for args in (
        ("status", "--period", period),
        ("status", "--period", period, "--json"),
        ("status", "--period", "2024-H1"),
        ("report", "--period", period, "--no-pdf", "--date", "3000-07-10"),
        ("report", "--period", "2024-H1", "--no-pdf", "--date", "2024-07-10"),
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output and "không mong đợi" not in result.output


@posix_only
def test_a_file_that_cannot_be_read_now_is_logged_once_a_run_and_holds_back_nothing(
    workspace, config, form, ledger, clock, make_return, caplog, monkeypatch
):
    make_return("LT1", "2024-H1")
    locked = workspace.inbox / "khoa.xlsx"
    locked.write_bytes(b"PK\x03\x04")
    real_open = _files.os.open

    def denied(path, *args, **kwargs):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_files.os, "open", denied)
    caplog.set_level(logging.INFO, logger=LOGGER)
    intake = make_intake(workspace, config, form, ledger, clock)
    assert [r.submission.branch_code for r in intake.process_inbox()] == ["LT1"]
    assert intake.process_inbox() == []
    assert len([r for r in caplog.records if "khoa.xlsx" in r.getMessage()]) == 1
    assert locked.exists() and ledger.count() == 1
