"""The ledger is never replaced silently: a damaged ledger stops intake, ``tonghop verify``
checks ledger and archive against each other, ``--rebuild`` restores the ledger from the
archive so that status and reports come out as before."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

import tonghop
from tonghop.cli import CliContext, cli
from tonghop.errors import LedgerDamaged
from tonghop.layout import Layout
from tonghop.ledger import Ledger, Outcome
from tonghop.periods import Period

from .conftest import FakeClock, MakeReturn
from .helpers import is_vietnamese

AGGREGATE = Path("outbox") / "2024-H1" / "tong-hop-so-lieu.xlsx"


@pytest.fixture
def run(workspace: Layout, clock: FakeClock):
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(
            cli, ["--home", str(workspace.home), *args], obj=CliContext(str(workspace.home), clock)
        )

    return invoke


def _history(workspace: Layout, make_return: MakeReturn, clock: FakeClock) -> None:
    """Two runs of returns of every kind: counted, superseded, rejected, duplicate,
    unreadable, and one checked against the branch's previous period."""
    make_return("TL1", "2023", members_start=30)
    make_return("LT1", "2024-H1", name="lt1-ban-dau.xlsx", members_start=20)
    make_return("LT2", "2024-H1", members_end=1)  # an error: returned
    (workspace.inbox / "cu.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
    clock.advance(hours=2)
    newer = make_return("LT1", "2024-H1", name="lt1-sua.xlsx", members_start=25)
    shutil.copy(newer, workspace.inbox / "lt1-gui-lai.xlsx")  # the same bytes again
    make_return("TL1", "2024-H1", members_start=32)  # 2023 ended with 32
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()


def _rows(workspace: Layout) -> list[tuple[Any, ...]]:
    with Ledger(workspace.ledger) as ledger:
        return [
            (
                s.source_name,
                s.size,
                s.mtime_ns,
                s.received_at,
                s.outcome,
                s.branch_code,
                s.period,
                s.duplicate_of,
                s.superseded_by,
                [p.to_dict() for p in s.problems],
                s.values,
                s.feedback,
            )
            for s in ledger.all()
        ]


def _figures(path: Path) -> list[list[Any]]:
    book = load_workbook(path, read_only=True, data_only=True)
    return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book]


def test_a_ledger_truncated_to_zero_bytes_stops_process_and_rebuild_restores_it(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock, run
) -> None:
    _history(workspace, make_return, clock)
    assert run("report", "--period", "2024-H1", "--no-pdf").exit_code == 0
    figures_before = _figures(workspace.home / AGGREGATE)
    rows_before = _rows(workspace)
    status_before = run("status", "--period", "2024-H1", "--json").output
    outcomes = {row[4] for row in rows_before}
    assert outcomes == {
        Outcome.ACCEPTED,
        Outcome.SUPERSEDED,
        Outcome.REJECTED,
        Outcome.DUPLICATE,
        Outcome.UNREADABLE,
    }
    assert run("verify").exit_code == 0

    workspace.ledger.write_bytes(b"")
    waiting = make_return("TP1", "2024-H1")
    before = waiting.read_bytes()
    result = run("process")
    assert result.exit_code == 2, result.output
    assert str(workspace.ledger) in result.output and "tonghop verify --rebuild" in result.output
    assert "Lỗi không mong đợi" not in result.output
    assert waiting.read_bytes() == before  # inbox/ untouched
    assert workspace.ledger.stat().st_size == 0  # not replaced by an empty ledger
    checked = run("verify")
    assert checked.exit_code == 1 and "tonghop verify --rebuild" in checked.output

    rebuilt = run("verify", "--rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Sổ và kho lưu trữ khớp nhau." in rebuilt.output
    aside = sorted(workspace.archive.glob("ledger-hong-*.sqlite3"))
    assert [p.stat().st_size for p in aside] == [0]  # the damaged file, kept
    assert _rows(workspace) == rows_before
    assert run("status", "--period", "2024-H1", "--json").output == status_before
    (workspace.home / AGGREGATE).unlink()
    assert run("report", "--period", "2024-H1", "--no-pdf").exit_code == 0
    assert _figures(workspace.home / AGGREGATE) == figures_before
    assert waiting.exists()  # the rebuild did not take it; the next process does
    assert not (workspace.archive / ".dung-lai").exists()
    assert run("process").exit_code == 0 and not waiting.exists()


def test_an_archive_object_deleted_makes_verify_fail_and_name_it(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock, run
) -> None:
    make_return("LT1", "2024-H1")
    make_return("LT2", "2024-H1")
    assert run("process").exit_code == 0
    with Ledger(workspace.ledger) as ledger:
        gone = ledger.all()[0]
    assert gone.sha256 is not None
    with sqlite3.connect(workspace.archive / "objects.sqlite3") as db:
        db.execute("DELETE FROM objects WHERE sha256 = ?", (gone.sha256,))
    db.close()
    result = run("verify")
    assert result.exit_code == 1
    assert gone.sha256 in result.output and gone.source_name in result.output
    assert "Sổ và kho lưu trữ khớp nhau." not in result.output
    assert "bản sao lưu" in result.output and "--rebuild» để" not in result.output


def test_an_object_changed_in_the_archive_is_found_by_its_hash(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        (taken,) = ws.take_inbox()
        sha = taken.submission.sha256
        assert ws.verify().ok
    with sqlite3.connect(workspace.archive / "objects.sqlite3") as db:
        db.execute("UPDATE objects SET data = ? WHERE sha256 = ?", (b"khac", sha))
    db.close()
    with tonghop.open(workspace.home, clock=clock) as ws:
        found = ws.verify()
    assert not found.ok and len(found.problems) == 1
    assert f"objects/{sha}" in found.problems[0] and "SHA-256" in found.problems[0]


def test_objects_the_ledger_does_not_know_stop_intake(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
    with sqlite3.connect(workspace.ledger) as db:
        db.execute("DELETE FROM submissions")
    db.close()
    waiting = make_return("LT2", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        with pytest.raises(LedgerDamaged, match="kho lưu trữ có 1 tệp") as caught:
            ws.take_inbox()
        assert caught.value.exit_code == 2 and is_vietnamese(caught.value.message)
        assert waiting.exists()
        found = ws.verify()
        assert not found.ok and "không có dòng nào trong sổ" in found.problems[0]
        rebuilt = ws.rebuild_ledger()
        assert rebuilt.rows == 1 and rebuilt.counted == 1
        assert ws.verify().ok
        assert [r.submission.branch_code for r in ws.take_inbox()] == ["LT2"]


def test_a_missing_ledger_beside_kept_files_is_damage_but_a_new_workspace_is_not(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        assert ws.verify().ok  # nothing yet: consistent
        assert len(ws.take_inbox()) == 1  # a new workspace: the ledger is created
    workspace.ledger.unlink()
    with tonghop.open(workspace.home, clock=clock) as ws:
        with pytest.raises(LedgerDamaged, match="không còn tệp sổ"):
            ws.take_inbox()
        with pytest.raises(LedgerDamaged):
            ws.status(Period.parse("2024-H1"))  # no command makes an empty ledger instead
        assert not workspace.ledger.exists()
        assert ws.rebuild_ledger().counted == 1
        assert ws.status(Period.parse("2024-H1")).counted == 1


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(b"khong phai co so du lieu" * 200), id="garbage"),
        pytest.param(
            lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), id="half"
        ),
    ],
)
def test_an_unreadable_or_truncated_ledger_stops_intake(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock, damage: Any
) -> None:
    for code in ("LT1", "LT2", "TL1", "TL2", "TP1", "TP2"):
        make_return(code, "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
    damage(workspace.ledger)
    waiting = make_return("TH", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        with pytest.raises(LedgerDamaged, match="tonghop verify --rebuild"):
            ws.take_inbox()
        assert waiting.exists()
        assert ws.rebuild_ledger().counted == 6
        assert ws.verify().ok


def test_a_crash_between_the_archive_and_the_ledger_commits_is_not_damage(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    """Bytes committed, outcomes not: the files are still in inbox/ and are taken next time."""
    waiting = make_return("LT1", "2024-H1")

    def crash(point: str) -> None:
        if point == "before-commit":
            raise RuntimeError("crash")

    with tonghop.open(workspace.home, clock=clock) as ws:
        with pytest.raises(RuntimeError):
            ws.intake().process_inbox(crash_hook=crash)
        assert waiting.exists() and ws.ledger.count() == 0
        assert ws.verify().ok
        assert [r.submission.outcome for r in ws.take_inbox()] == [Outcome.ACCEPTED]
        assert len(ws.archive.arrivals()) == 1  # taken again: one arrival, not two


def test_rebuild_keeps_an_older_archive_without_arrivals_rebuildable(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    """Rows recorded before the archive kept arrivals get them at the next intake."""
    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
    with sqlite3.connect(workspace.archive / "objects.sqlite3") as db:
        db.execute("DELETE FROM arrivals")
    db.close()
    with tonghop.open(workspace.home, clock=clock) as ws:
        assert ws.take_inbox() == []
        assert [a.source_name for a in ws.archive.arrivals()] == ["bao-cao-LT1-2024-H1.xlsx"]
    workspace.ledger.write_bytes(b"")
    with tonghop.open(workspace.home, clock=clock) as ws:
        assert ws.rebuild_ledger().counted == 1


def test_a_read_only_ledger_gets_its_own_message_and_loses_nothing(
    workspace: Layout, make_return: MakeReturn, monkeypatch: pytest.MonkeyPatch, run
) -> None:
    """chmod cannot make a file read-only for root (the tests run as root here), so the
    ledger's write fails the way SQLite fails on a read-only file."""
    waiting = make_return("LT1", "2024-H1")

    def refuse(self: Ledger) -> Any:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(Ledger, "transaction", refuse)
    result = run("process")
    assert result.exit_code == 2, result.output
    assert "chỉ cho đọc" in result.output and str(workspace.archive) in result.output
    assert "Lỗi không mong đợi" not in result.output
    assert waiting.exists()


def test_a_full_disk_gets_its_own_message_and_loses_nothing(
    workspace: Layout, make_return: MakeReturn, monkeypatch: pytest.MonkeyPatch, run
) -> None:
    waiting = make_return("LT1", "2024-H1")

    def full(self: Any, blobs: Any, arrivals: Any = ()) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("tonghop.intake.archive.Archive.put_batch", full)
    result = run("process")
    assert result.exit_code == 2, result.output
    assert "đã đầy" in result.output and "Lỗi không mong đợi" not in result.output
    assert waiting.exists()


def test_an_os_error_of_a_full_or_read_only_disk_names_the_file(
    workspace: Layout, make_return: MakeReturn, monkeypatch: pytest.MonkeyPatch, run
) -> None:
    import errno

    target = workspace.outbox / "2024-H1" / "tinh-hinh-nop-bao-cao.html"
    cases = (
        ("LT1", errno.ENOSPC, "đã đầy"),
        ("LT2", errno.EROFS, "chỉ cho đọc"),
        ("TL1", errno.EACCES, "không có quyền"),
    )
    for branch, code, words in cases:
        make_return(branch, "2024-H1")

        def fail(*args: Any, code: int = code, **kwargs: Any) -> Path:
            raise OSError(code, "refused", str(target))

        monkeypatch.setattr("tonghop.workspace.Workspace.write_status_page", fail)
        result = run("process")
        assert result.exit_code == 2, result.output
        assert words in result.output and str(target) in result.output


def test_verify_and_rebuild_say_it_in_vietnamese(run) -> None:
    help_text = run("verify", "--help").output
    assert "Đối chiếu sổ ghi nhận với kho lưu trữ" in help_text and "--rebuild" in help_text
    fresh = run("verify")
    assert fresh.exit_code == 0 and "Sổ và kho lưu trữ khớp nhau." in fresh.output


def test_temporary_files_a_failed_write_left_are_removed_on_the_next_run(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    import os

    folder = workspace.outbox / "2024-H1"
    folder.mkdir(parents=True)
    dead = folder / ".tong-hop-so-lieu.4194399.tmp.xlsx"  # above Linux's highest pid
    dead.write_bytes(b"half")
    ours = folder / f".ghi-chu.txt.{os.getpid()}.tmp"  # its process still runs
    ours.write_bytes(b"half")
    old = folder / f".cu.txt.{os.getpid()}.tmp"  # its process runs, but no write lasts an hour
    old.write_bytes(b"half")
    an_hour_ago = old.stat().st_mtime - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    kept = folder / "bao-cao-2024-H1.docx"
    kept.write_bytes(b"not temporary")
    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        assert len(ws.take_inbox()) == 1
    assert not dead.exists() and not old.exists()
    assert ours.exists() and kept.exists()


def test_other_commands_on_a_damaged_ledger_say_so_too(
    workspace: Layout, make_return: MakeReturn, run
) -> None:
    for code in ("LT1", "LT2", "TL1", "TL2", "TP1", "TP2"):
        make_return(code, "2024-H1")
    assert run("process").exit_code == 0
    data = workspace.ledger.read_bytes()
    for damaged in (b"", b"khong phai co so du lieu" * 200, data[: len(data) // 2]):
        workspace.ledger.write_bytes(damaged)
        for command in (("status", "--period", "2024-H1"), ("report", "--period", "2024-H1")):
            result = run(*command, "--no-pdf") if command[0] == "report" else run(*command)
            assert result.exit_code == 2, (damaged[:8], command, result.output)
            assert "tonghop verify --rebuild" in result.output
            assert "Lỗi không mong đợi" not in result.output


def test_watch_does_not_start_on_a_damaged_ledger(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    from tonghop.watch.watcher import WatchOptions, run_watch

    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
    workspace.ledger.write_bytes(b"")
    waiting = make_return("LT2", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        with pytest.raises(LedgerDamaged):
            run_watch(ws, WatchOptions(pdf=False))
    assert waiting.exists() and workspace.ledger.stat().st_size == 0


def test_a_row_deleted_from_the_ledger_is_found_even_when_its_bytes_are_known(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    """A duplicate's row deleted: its object is still known (to the first row), its arrival
    is not."""
    first = make_return("LT1", "2024-H1")
    shutil.copy(first, workspace.inbox / "gui-lai.xlsx")
    with tonghop.open(workspace.home, clock=clock) as ws:
        assert len(ws.take_inbox()) == 2
        assert ws.verify().ok
    with sqlite3.connect(workspace.ledger) as db:
        db.execute("DELETE FROM submissions WHERE outcome = 'duplicate'")
    db.close()
    with tonghop.open(workspace.home, clock=clock) as ws:
        found = ws.verify()
        assert [p for p in found.problems if "gui-lai.xlsx" in p] == found.problems
        assert len(found.problems) == 1
        ws.rebuild_ledger()
        assert [s.outcome for s in ws.ledger.all()] == [Outcome.ACCEPTED, Outcome.DUPLICATE]


def test_rebuild_records_the_files_too_large_to_read_as_they_were(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept (moved, not copied) in archive/oversize/, not in the objects: re-taken in place."""
    import os

    monkeypatch.setattr("tonghop.intake.inbox.MAX_FILE_BYTES", 20_000)
    big = workspace.inbox / "phim.mp4"
    big.write_bytes(bytes(30_000))
    os.utime(big, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # the oldest
    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
    clock.advance(hours=1)
    make_return("LT2", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
    rows_before = _rows(workspace)
    assert [r[4] for r in rows_before] == [Outcome.UNREADABLE, Outcome.ACCEPTED, Outcome.ACCEPTED]
    kept = list((workspace.archive / "oversize").iterdir())
    workspace.ledger.write_bytes(b"")
    with tonghop.open(workspace.home, clock=clock) as ws:
        assert ws.rebuild_ledger().rows == 3
        assert ws.verify().ok
    assert _rows(workspace) == rows_before
    assert list((workspace.archive / "oversize").iterdir()) == kept


@pytest.mark.parametrize("damage", ["empty", "deleted"])
def test_an_emptied_or_deleted_archive_stops_intake_too(
    workspace: Layout, make_return: MakeReturn, run, damage: str
) -> None:
    """The archive is never replaced silently either: the ledger's rows would point at
    nothing while the next files left inbox/."""
    make_return("LT1", "2024-H1")
    assert run("process").exit_code == 0
    objects = workspace.archive / "objects.sqlite3"
    if damage == "empty":
        objects.write_bytes(b"")
    else:
        objects.unlink()
    waiting = make_return("LT2", "2024-H1")
    result = run("process")
    assert result.exit_code == 2, result.output
    assert str(objects) in result.output and "bản sao lưu" in result.output
    assert "Lỗi không mong đợi" not in result.output
    assert waiting.exists()
    assert run("process").exit_code == 2  # and again: never taken as a new archive
