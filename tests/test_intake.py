"""Intake: every file archived, recorded once, answered, then removed from inbox/."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from contextlib import closing

import pytest

from tonghop.intake import inbox as intake_module
from tonghop.intake.archive import OBJECTS_NAME, Archive
from tonghop.intake.inbox import Intake, is_ignored, owner_file_present, scan_inbox
from tonghop.ledger import Ledger, Outcome
from tonghop.periods import Period


class Crash(Exception):
    """Stands for the process dying at a given point."""


def make_intake(workspace, config, form, ledger, clock) -> Intake:
    return Intake(workspace, config, form, ledger, clock=clock)


def test_accepted_return_is_archived_recorded_and_removed(
    workspace, config, form, ledger, clock, make_return
):
    path = make_return("LT1", "2024-H1")
    data = path.read_bytes()
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()

    assert [r.submission.outcome for r in results] == [Outcome.ACCEPTED]
    sub = results[0].submission
    assert (sub.branch_code, sub.period) == ("LT1", "2024-H1")
    assert sub.values["admitted"] == 2
    assert not path.exists()
    sha = hashlib.sha256(data).hexdigest()
    assert Archive(workspace.archive).read(sha) == data
    assert ledger.count() == 1
    assert results[0].feedback is None


def test_identical_bytes_twice_is_a_duplicate_and_counts_once(
    workspace, config, form, ledger, clock, make_return
):
    first = make_return("LT1", "2024-H1")
    copy = workspace.inbox / "ban-sao.xlsx"
    shutil.copy(first, copy)
    os.utime(copy, ns=(first.stat().st_mtime_ns + 10**9,) * 2)
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()

    outcomes = sorted(r.submission.outcome for r in results)
    assert outcomes == [Outcome.ACCEPTED, Outcome.DUPLICATE]
    dup = next(r.submission for r in results if r.submission.outcome == Outcome.DUPLICATE)
    original = next(r.submission for r in results if r.submission.outcome == Outcome.ACCEPTED)
    assert dup.duplicate_of == original.id
    assert len(ledger.counted()) == 1
    assert list(workspace.inbox.iterdir()) == []


def test_newer_accepted_return_supersedes_older(
    workspace, config, form, ledger, clock, make_return
):
    intake = make_intake(workspace, config, form, ledger, clock)
    make_return("LT1", "2024-H1", admitted=2)
    intake.process_inbox()
    clock.advance(hours=2)
    make_return("LT1", "2024-H1", name="sua-lai.xlsx", admitted=5)
    intake.process_inbox()

    rows = ledger.all()
    assert [r.outcome for r in rows] == [Outcome.SUPERSEDED, Outcome.ACCEPTED]
    assert rows[0].superseded_by == rows[1].id
    counted = ledger.counted()
    assert len(counted) == 1 and counted[0].values["admitted"] == 5


def test_corrected_version_after_a_rejected_one(
    workspace, config, form, ledger, clock, make_return
):
    intake = make_intake(workspace, config, form, ledger, clock)
    make_return("TL1", "2024-H1", members_end=999)
    first = intake.process_inbox()
    assert first[0].submission.outcome == Outcome.REJECTED
    assert first[0].feedback is not None and first[0].feedback.exists()
    clock.advance(days=1)
    make_return("TL1", "2024-H1", name="da-sua.xlsx")
    second = intake.process_inbox()
    assert second[0].submission.outcome == Outcome.ACCEPTED
    assert [r.outcome for r in ledger.all()] == [Outcome.REJECTED, Outcome.ACCEPTED]
    counted = [s for s in ledger.counted() if (s.branch_code, s.period) == ("TL1", "2024-H1")]
    assert [s.id for s in counted] == [second[0].submission.id]


@pytest.mark.parametrize(
    ("name", "content", "expected_word"),
    [
        ("cu.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024, ".xls"),
        ("rong.xlsx", b"", "rỗng"),
        ("bang.csv", "Mã,Số\nLT1,12\n".encode(), "CSV"),
        ("rac.xlsx", os.urandom(3000), "Excel"),
    ],
)
def test_unreadable_files_get_a_note_and_are_recorded(
    workspace, config, form, ledger, clock, name, content, expected_word
):
    (workspace.inbox / name).write_bytes(content)
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()

    assert [r.submission.outcome for r in results] == [Outcome.UNREADABLE]
    note = results[0].feedback
    assert note is not None and note.suffix == ".txt"
    text = note.read_text(encoding="utf-8-sig")
    assert name in text
    assert expected_word.lower() in text.lower()
    assert not (workspace.inbox / name).exists()


@pytest.mark.parametrize("point", ["after-archive", "before-commit"])
def test_crash_after_archiving_before_ledger_then_rerun_records_exactly_once(
    workspace, config, form, clock, make_return, point
):
    for code in ("LT1", "LT2", "TL1"):
        make_return(code, "2024-H1")
    originals = {p.name: p.read_bytes() for p in scan_inbox(workspace.inbox)}

    def die(at: str) -> None:
        if at == point:
            raise Crash

    with Ledger(workspace.ledger) as ledger:
        with pytest.raises(Crash):
            make_intake(workspace, config, form, ledger, clock).process_inbox(crash_hook=die)
        # The ledger's transaction never committed: nothing recorded, nothing removed; the
        # bytes were made durable first.
        assert ledger.count() == 0
    with Archive(workspace.archive) as archive:
        assert all(archive.has(hashlib.sha256(d).hexdigest()) for d in originals.values())
    assert len(scan_inbox(workspace.inbox)) == 3

    with Ledger(workspace.ledger) as ledger:
        results = make_intake(workspace, config, form, ledger, clock).process_inbox()
        assert sorted(r.submission.branch_code for r in results) == ["LT1", "LT2", "TL1"]
        assert ledger.count() == 3
        assert len(ledger.counted()) == 3
        with Archive(workspace.archive) as archive:
            for data in originals.values():
                assert archive.read(hashlib.sha256(data).hexdigest()) == data
        assert {r.outcome for r in ledger.all()} == {Outcome.ACCEPTED}
    assert scan_inbox(workspace.inbox) == []


def test_crash_after_commit_before_removal_is_finished_not_recounted(
    workspace, config, form, clock, make_return
):
    make_return("LT1", "2024-H1")

    def die_after_commit(point: str) -> None:
        if point == "after-commit":
            raise Crash

    with Ledger(workspace.ledger) as ledger:
        with pytest.raises(Crash):
            make_intake(workspace, config, form, ledger, clock).process_inbox(
                crash_hook=die_after_commit
            )
        assert ledger.count() == 1
    assert len(scan_inbox(workspace.inbox)) == 1  # recorded but not yet removed

    with Ledger(workspace.ledger) as ledger:
        results = make_intake(workspace, config, form, ledger, clock).process_inbox()
        assert [r.recovered for r in results] == [True]
        assert ledger.count() == 1
        assert [r.outcome for r in ledger.all()] == [Outcome.ACCEPTED]
    assert scan_inbox(workspace.inbox) == []


def test_owner_temporary_and_hidden_files_are_left_alone(workspace, config, form, ledger, clock):
    names = ["~$bao-cao.xlsx", ".~lock.bao-cao.xlsx#", ".an.xlsx", "tai-ve.crdownload", "x.tmp"]
    for name in names:
        (workspace.inbox / name).write_bytes(b"owner")
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    assert results == []
    assert sorted(p.name for p in workspace.inbox.iterdir()) == sorted(names)
    assert all(is_ignored(workspace.inbox / n) for n in names)


def test_a_file_open_in_excel_waits(workspace, config, form, ledger, clock, make_return):
    path = make_return("LT1", "2024-H1", name="bao-cao.xlsx")
    owner = workspace.inbox / "~$bao-cao.xlsx"
    owner.write_bytes(b"x")
    assert owner_file_present(path)
    assert make_intake(workspace, config, form, ledger, clock).process_inbox() == []
    owner.unlink()
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    assert [r.submission.outcome for r in results] == [Outcome.ACCEPTED]


def test_returns_in_subfolders_are_taken(workspace, config, form, ledger, clock, make_return):
    make_return("LT1", "2024-H1", folder=workspace.inbox / "LT1")
    make_return("LT2", "2024-H1", folder=workspace.inbox / "LT2" / "dot-2")
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    assert sorted(r.submission.source_name for r in results) == [
        "LT1/bao-cao-LT1-2024-H1.xlsx",
        "LT2/dot-2/bao-cao-LT2-2024-H1.xlsx",
    ]


def test_oversize_file_is_moved_to_archive_without_reading(
    workspace, config, form, ledger, clock, monkeypatch
):
    monkeypatch.setattr(intake_module, "MAX_FILE_BYTES", 1000)
    big = workspace.inbox / "video.xlsx"
    with open(big, "wb") as handle:
        handle.truncate(5000)  # sparse
    results = make_intake(workspace, config, form, ledger, clock).process_inbox()
    sub = results[0].submission
    assert sub.outcome == Outcome.UNREADABLE
    assert "quá lớn" in sub.problems[0].message
    assert not big.exists()
    assert (workspace.archive / sub.archived_as).stat().st_size == 5000


def test_warning_return_is_accepted_with_feedback(
    workspace, config, form, ledger, clock, make_return
):
    intake = make_intake(workspace, config, form, ledger, clock)
    make_return("LT1", "2023", members_start=20)
    intake.process_inbox()
    make_return("LT1", "2024-H1", members_start=30)  # 2023 ended with 22
    results = intake.process_inbox()
    sub = results[0].submission
    assert sub.outcome == Outcome.ACCEPTED
    assert sub.warnings == 1 and sub.problems[0].rule == "continuity"
    assert results[0].feedback is not None and results[0].feedback.exists()


def test_each_batch_is_one_commit_of_bytes_and_outcomes_in_this_process_alone(
    workspace, config, form, ledger, clock, make_return
):
    """30 files (more than the old pool's threshold) in batches of 8: every file answered once,
    one commit of its bytes then one of its outcomes per batch, both before the batch's files
    leave inbox/, and no other process or thread started."""
    import threading

    import psutil

    codes = [b.code for b in config.branches]
    made = []
    for i in range(29):
        broken = {"members_end": 999} if i % 5 == 0 else {}
        note = f"Chi bộ sinh hoạt đều đặn, lần {i}."  # every file its own bytes
        name = f"r{i:02d}.xlsx"
        code = codes[i % len(codes)]
        made.append(make_return(code, "2024-H1", name=name, highlights=note, **broken))
    (workspace.inbox / "rac.xlsx").write_bytes(b"PK\x03\x04 not really")
    # Other connections see only what is committed.
    rows = sqlite3.connect(workspace.ledger)
    objects = sqlite3.connect(workspace.archive / OBJECTS_NAME)
    commits: list[tuple[str, int, int, int]] = []  # (point, rows, objects, files in inbox/)

    def watch(point: str) -> None:
        if point in ("after-archive", "after-commit"):
            row_count = rows.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
            object_count = objects.execute("SELECT COUNT(*) FROM objects").fetchone()[0]
            commits.append((point, row_count, object_count, len(scan_inbox(workspace.inbox))))

    threads_before = threading.active_count()
    intake = make_intake(workspace, config, form, ledger, clock)
    results = intake.process_inbox(batch_size=8, crash_hook=watch)
    rows.close()
    objects.close()

    assert commits == [
        ("after-archive", 0, 8, 30),
        ("after-commit", 8, 8, 30),
        ("after-archive", 8, 16, 22),
        ("after-commit", 16, 16, 22),
        ("after-archive", 16, 24, 14),
        ("after-commit", 24, 24, 14),
        ("after-archive", 24, 30, 6),
        ("after-commit", 30, 30, 6),
    ]
    assert psutil.Process().children(recursive=True) == []
    assert threading.active_count() == threads_before
    assert len(results) == ledger.count() == 30
    assert sorted(r.submission.source_name for r in results) == sorted(
        [p.name for p in made] + ["rac.xlsx"]
    )
    assert {r.submission.outcome for r in results} == {
        Outcome.ACCEPTED,
        Outcome.REJECTED,
        Outcome.UNREADABLE,
    }
    assert sum(r.submission.outcome == Outcome.REJECTED for r in results) == 6
    assert scan_inbox(workspace.inbox) == []
    archive = Archive(workspace.archive)
    for sub in ledger.all():
        assert sub.sha256 is not None and sub.archived_as == f"objects/{sub.sha256}"
        assert hashlib.sha256(archive.read(sub.sha256)).hexdigest() == sub.sha256


def test_the_same_bytes_are_kept_once(workspace, config, form, ledger, clock, make_return):
    path = make_return("LT1", "2024-H1")
    data = path.read_bytes()
    intake = make_intake(workspace, config, form, ledger, clock)
    intake.process_inbox()
    (workspace.inbox / "lai.xlsx").write_bytes(data)
    (workspace.inbox / "lai-nua.xlsx").write_bytes(data)
    results = intake.process_inbox()
    assert [r.submission.outcome for r in results] == [Outcome.DUPLICATE] * 2
    with closing(sqlite3.connect(workspace.archive / OBJECTS_NAME)) as db:
        assert db.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 1


def test_archive_and_ledger_commit_durably_in_wal(workspace, ledger):
    """One fsync'd commit each per batch is what makes bytes and outcomes survive a power cut."""
    with Archive(workspace.archive) as archive:
        for db in (ledger._db, archive._db):
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_objects_kept_as_files_by_an_older_version_are_still_read(workspace, ledger):
    data = b"PK\x03\x04 an older archive's object"
    sha = hashlib.sha256(data).hexdigest()
    legacy = workspace.archive / "objects" / sha[:2] / sha
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(data)
    with Archive(workspace.archive) as archive:
        assert archive.has(sha) and archive.read(sha) == data


def test_a_ledger_from_an_older_version_is_migrated(workspace, config, form, clock, make_return):

    path = workspace.ledger
    with Ledger(path) as ledger:
        make_return("LT1", "2023", members_start=40)
        Intake(workspace, config, form, ledger, clock=clock).process_inbox()
    # What version 1 wrote: no period_end column.
    db = sqlite3.connect(path)
    db.execute("DROP INDEX submissions_branch_end")
    db.execute("ALTER TABLE submissions DROP COLUMN period_end")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert ledger.count() == 1
        previous = ledger.previous_values("LT1", Period.parse("2024-H1"))
        assert previous is not None and previous["members_end"] == 42
