"""The secretary decides (issue 9, items 1 and 2): drafts never overwrite an edited report,
finalize and reopen, exclude / include / accept with a trail, all through the command line
and read back from the files written."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from docx import Document

import tonghop
from tonghop.cli import CliContext, cli
from tonghop.ledger import Ledger, Outcome
from tonghop.report.drafts import file_sha256
from tonghop.report.publish import build
from tonghop.watch._rebuild import Publisher

from .conftest import FakeClock

P = "2024-H1"


@pytest.fixture
def run(workspace, clock: FakeClock):
    def invoke(*args: str):
        context = CliContext(str(workspace.home), clock)
        return CliRunner().invoke(cli, ["--home", str(workspace.home), *args], obj=context)

    return invoke


@pytest.fixture(autouse=True)
def _user(monkeypatch):
    # who decides: the OS user, as getpass reads it
    monkeypatch.setenv("LOGNAME", "thuky")
    monkeypatch.setenv("USER", "thuky")


def text_of(path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    parts += [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join(parts)


def history(run, *args: str) -> list[dict]:
    result = run("history", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def counted_total(workspace, field: str = "members_end") -> int:
    with tonghop.open(workspace.home) as ws:
        agg, _ = build(ws.layout, ws.config, ws.form, ws.ledger, ws.period(P))
        return int(agg.total[field])


def take(run, clock) -> None:
    result = run("process")
    assert result.exit_code == 0, result.output
    clock.advance(minutes=5)


# --- draft and final ---------------------------------------------------------------------
def test_an_edited_report_survives_report_and_the_watchers_rebuild(
    run, workspace, clock, make_return
):
    make_return("LT1", P, members_start=20)
    make_return("LT2", P, members_start=30)
    take(run, clock)
    first = run("report", "--period", P, "--no-pdf", "--date", "2024-07-10")
    assert first.exit_code == 0, first.output
    draft = workspace.outbox / P / f"bao-cao-{P}.docx"
    assert "ngày 10 tháng 7 năm 2024" in text_of(draft)

    # The secretary edits the draft in Word.
    doc = Document(str(draft))
    doc.add_paragraph("Ý kiến bổ sung của Thường trực Đảng ủy.")
    doc.save(str(draft))
    edited = file_sha256(draft)

    make_return("TL1", P, members_start=40)
    take(run, clock)
    again = run("report", "--period", P, "--no-pdf")
    assert again.exit_code == 0, again.output
    assert "đã được sửa tay" in again.output
    assert file_sha256(draft) == edited  # untouched
    beside = workspace.outbox / P / f"bao-cao-{P}-du-thao.docx"
    assert beside.is_file()
    text = text_of(beside)
    assert "Ý kiến bổ sung" not in text
    assert "ngày 10 tháng 7 năm 2024" in text  # the chosen --date is kept
    assert f"bao-cao-{P}.docx" in run("status", "--period", P).output

    # A late return, rebuilt by the watcher's own publisher: the edit survives again, and the
    # unedited new draft is the one rewritten.
    make_return("TL2", P, members_start=50)
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
        Publisher(ws).build(P, full=True)
        assert Publisher(ws).report_path(P) == beside
    assert file_sha256(draft) == edited
    assert not (workspace.outbox / P / f"bao-cao-{P}-du-thao-2.docx").exists()
    assert counted_total(workspace) > 0
    assert "Ý kiến bổ sung" not in text_of(beside)


def test_a_report_nobody_recorded_is_kept_as_the_secretarys(run, workspace, clock, make_return):
    make_return("LT1", P)
    take(run, clock)
    hand_made = workspace.outbox / P / f"bao-cao-{P}.docx"
    hand_made.parent.mkdir(parents=True, exist_ok=True)
    doc = Document()
    doc.add_paragraph("Bản do Văn phòng tự soạn.")
    doc.save(str(hand_made))
    result = run("report", "--period", P, "--no-pdf")
    assert result.exit_code == 0, result.output
    assert "không phải bản chương trình đã ghi" in result.output  # not said to be an edit
    assert text_of(hand_made) == "Bản do Văn phòng tự soạn."
    assert (workspace.outbox / P / f"bao-cao-{P}-du-thao.docx").is_file()


def test_finalize_fixes_the_count_and_a_late_return_waits_for_reopen(
    run, workspace, clock, make_return
):
    make_return("LT1", P, members_start=20)
    make_return("LT2", P, members_start=30)
    take(run, clock)
    before = counted_total(workspace)

    done = run("finalize", "--period", P, "--number", "45", "--date", "2024-07-12")
    assert done.exit_code == 0, done.output
    final = workspace.outbox / P / f"bao-cao-{P}-chinh-thuc.docx"
    assert final.is_file(), done.output
    assert "45" in text_of(final) and "ngày 12 tháng 7 năm 2024" in text_of(final)
    sealed = file_sha256(final)
    assert "Đã chốt" in run("status", "--period", P).output
    assert json.loads(run("status", "--period", P, "--json").output)["final"] is True

    make_return("TL1", P, members_start=40)
    take(run, clock)
    late = [f for f in history(run, "--period", P) if f["branch"] == "TL1"]
    assert [f["outcome"] for f in late] == [Outcome.HELD]
    assert file_sha256(final) == sealed
    assert counted_total(workspace) == before

    # Nothing changes a finalized period until it is reopened.
    refused = run("report", "--period", P, "--no-pdf")
    assert refused.exit_code == 2 and "đã chốt" in refused.output
    lt1 = next(f for f in history(run) if f["branch"] == "LT1")
    assert run("exclude", lt1["id"], "--reason", "thử").exit_code == 2
    assert run("finalize", "--period", P).exit_code == 2
    with tonghop.open(workspace.home, clock=clock) as ws:
        Publisher(ws).build(P, full=True)  # the watcher's rebuild writes only the status page
    assert file_sha256(final) == sealed

    reopened = run("reopen", "--period", P, "--reason", "Chi bộ TL1 nộp bổ sung")
    assert reopened.exit_code == 0, reopened.output
    late = [f for f in history(run, "--period", P) if f["branch"] == "TL1"]
    assert [f["outcome"] for f in late] == [Outcome.ACCEPTED]
    assert counted_total(workspace) > before
    assert file_sha256(final) == sealed  # the first final report stays as it was
    again = run("finalize", "--period", P, "--number", "46")
    assert again.exit_code == 0, again.output
    assert (workspace.outbox / P / f"bao-cao-{P}-chinh-thuc-2.docx").is_file()
    assert file_sha256(final) == sealed


# --- corrections with a trail --------------------------------------------------------------
def test_exclude_include_and_accept_change_the_figures_and_show_in_history(
    run, workspace, clock, make_return
):
    make_return("LT1", P, name="lan-1.xlsx", members_start=20)
    take(run, clock)
    make_return("LT1", P, name="lan-2.xlsx", members_start=30)
    take(run, clock)
    with_second = counted_total(workspace)
    first, second = history(run, "--branch", "LT1")
    assert (first["outcome"], second["outcome"]) == (Outcome.SUPERSEDED, Outcome.ACCEPTED)

    out = run("exclude", second["id"], "--reason", "Gửi nhầm bản nháp")
    assert out.exit_code == 0, out.output
    assert f"nay được tính theo tệp mã {first['id']}" in out.output
    assert counted_total(workspace) == with_second - 10
    first, second = history(run, "--branch", "LT1")
    assert (first["outcome"], second["outcome"]) == (Outcome.ACCEPTED, Outcome.EXCLUDED)
    [decision] = second["decisions"]
    assert decision["kind"] == "exclude" and decision["reason"] == "Gửi nhầm bản nháp"
    assert decision["who"] == "thuky" and decision["at"].startswith("2024-07-05")
    draft = workspace.outbox / P / f"bao-cao-{P}.docx"
    assert draft.is_file()  # the outputs were rebuilt

    out = run("include", second["id"])
    assert out.exit_code == 0, out.output
    assert counted_total(workspace) == with_second
    assert [d["kind"] for d in history(run, "--branch", "LT1")[1]["decisions"]] == [
        "exclude",
        "include",
    ]

    # A rejected return (its members do not balance) counted despite its errors.
    make_return("LT2", P, members_start=25, members_end=999)
    take(run, clock)
    [rejected] = history(run, "--branch", "LT2")
    assert rejected["outcome"] == Outcome.REJECTED
    out = run("accept", rejected["id"], "--reason", "Đã gọi điện, chi bộ xác nhận số liệu")
    assert out.exit_code == 0, out.output
    assert history(run, "--branch", "LT2")[0]["outcome"] == Outcome.ACCEPTED
    assert counted_total(workspace) == with_second + 999
    table = run("history", "--period", P).output
    assert "Chấp nhận dù có lỗi" in table and "Loại khỏi số liệu" in table


def test_decisions_explain_what_they_refuse(run, workspace, clock, make_return):
    make_return("LT1", P)
    take(run, clock)
    [counted] = history(run)
    unknown = run("exclude", "999", "--reason", "x")
    assert unknown.exit_code == 2 and "Không có tệp nào mã «999»" in unknown.output
    no_reason = run("exclude", counted["id"])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    blank_reason = run("exclude", counted["id"], "--reason", "  ")
    assert blank_reason.exit_code == 2 and "lý do" in blank_reason.output
    not_rejected = run("accept", counted["id"], "--reason", "x")
    assert not_rejected.exit_code == 2 and "trả lại để sửa" in not_rejected.output
    not_excluded = run("include", counted["id"])
    assert not_excluded.exit_code == 2 and "không bị loại" in not_excluded.output
    assert "Traceback" not in unknown.output + no_reason.output + not_rejected.output
    assert history(run)[0]["outcome"] == Outcome.ACCEPTED and not history(run)[0]["decisions"]


def test_the_file_id_is_on_its_feedback(run, workspace, clock, make_return):
    from openpyxl import load_workbook

    make_return("LT1", P, members_start=25, members_end=999)
    take(run, clock)
    [row] = history(run)
    book = load_workbook(workspace.outbox / row["feedback"])
    texts = [str(c.value) for r in book["Phản hồi"].iter_rows() for c in r if c.value]
    assert any(f"Mã tệp: {row['id']}" in t for t in texts)


def test_a_rebuilt_ledger_keeps_the_decisions_and_the_finalized_period(
    run, workspace, clock, make_return
):
    make_return("LT1", P, name="lan-1.xlsx", members_start=20)
    take(run, clock)
    make_return("LT1", P, name="lan-2.xlsx", members_start=30)
    make_return("LT2", P, members_start=25, members_end=999)
    take(run, clock)
    files = {f["file"]: f for f in history(run)}
    assert run("exclude", files["lan-2.xlsx"]["id"], "--reason", "nhầm").exit_code == 0
    clock.advance(minutes=1)
    lt2 = next(f for f in files.values() if f["branch"] == "LT2")
    assert run("accept", lt2["id"], "--reason", "đã xác nhận").exit_code == 0
    clock.advance(minutes=1)
    assert run("finalize", "--period", P).exit_code == 0
    clock.advance(minutes=1)
    make_return("TL1", P)
    take(run, clock)
    before = [(f["file"], f["outcome"], len(f["decisions"])) for f in history(run)]
    total = counted_total(workspace)

    rebuilt = run("verify", "--rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert [(f["file"], f["outcome"], len(f["decisions"])) for f in history(run)] == before
    assert counted_total(workspace) == total
    assert "Đã chốt" in run("status", "--period", P).output
    # the reports written are known again: the final report is not rewritten by a rebuild
    final = workspace.outbox / P / f"bao-cao-{P}-chinh-thuc.docx"
    assert run("report", "--period", P).exit_code == 2
    assert final.is_file()


def test_a_version_3_ledger_gains_judged_and_the_new_outcomes(
    workspace, config, form, clock, make_return
):
    from tonghop.intake.inbox import Intake

    path = workspace.ledger
    with Ledger(path) as ledger:
        make_return("LT1", P, name="a.xlsx", admitted=1)
        Intake(workspace, config, form, ledger, clock=clock).process_inbox()
        clock.advance(hours=1)
        make_return("LT1", P, name="b.xlsx", admitted=2)
        Intake(workspace, config, form, ledger, clock=clock).process_inbox()
    db = sqlite3.connect(path)
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'submissions'").fetchone()[0]
    old_sql = sql.replace(", 'excluded', 'held'", "").replace("judged TEXT,", "")
    assert old_sql != sql
    columns = [r[1] for r in db.execute("PRAGMA table_info(submissions)") if r[1] != "judged"]
    listed = ", ".join(columns)
    db.executescript(
        f"""PRAGMA foreign_keys=OFF; BEGIN;
        DROP TABLE decisions; ALTER TABLE submissions RENAME TO s3; {old_sql};
        INSERT INTO submissions ({listed}) SELECT {listed} FROM s3; DROP TABLE s3; COMMIT;
        PRAGMA user_version=3;"""
    )
    db.close()
    with Ledger(path) as ledger:
        rows = ledger.all()
        assert [(r.outcome, r.judged) for r in rows] == [
            (Outcome.SUPERSEDED, Outcome.ACCEPTED),
            (Outcome.ACCEPTED, Outcome.ACCEPTED),
        ]
    with tonghop.open(workspace.home, clock=clock, user="thuky") as ws:
        ws.exclude(rows[1].ref, "thử sau khi nâng cấp")
        assert [s.outcome for s in ws.history()] == [Outcome.ACCEPTED, Outcome.EXCLUDED]


def test_a_crash_between_recording_and_renaming_the_report_is_not_taken_for_an_edit(
    run, workspace, clock, make_return, monkeypatch
):
    from tonghop.report import render

    make_return("LT1", P)
    take(run, clock)
    assert run("report", "--period", P, "--no-pdf").exit_code == 0
    make_return("LT2", P)
    take(run, clock)

    def killed(temporary, target):
        raise KeyboardInterrupt  # the process dies after the record, before the rename

    monkeypatch.setattr(render, "_replace", killed)
    run("report", "--period", P, "--no-pdf")
    monkeypatch.undo()
    result = run("report", "--period", P, "--no-pdf")
    assert result.exit_code == 0, result.output
    assert "sửa tay" not in result.output
    assert not (workspace.outbox / P / f"bao-cao-{P}-du-thao.docx").exists()


def test_an_accepted_rejected_return_gets_its_receipt(run, workspace, clock, make_return):
    make_return("LT2", P, members_start=25, members_end=999)
    take(run, clock)
    [rejected] = history(run)
    assert not list((workspace.outbox / P).glob("xac-nhan/*.html"))
    assert run("accept", rejected["id"], "--reason", "đã xác nhận").exit_code == 0
    [receipt] = (workspace.outbox / P).glob("xac-nhan/*.html")
    assert f"Mã tệp {rejected['id']}" in receipt.read_text(encoding="utf-8")
    with tonghop.open(workspace.home) as ws:
        assert ws.find(rejected["id"]).receipt == f"{P}/xac-nhan/{receipt.name}"


def test_a_draft_leaves_its_number_blank_and_the_final_report_carries_it(
    run, workspace, clock, make_return
):
    config = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(
        config.replace('number = ""', 'number = "17"', 1), encoding="utf-8"
    )
    make_return("LT1", P)
    take(run, clock)
    assert run("report", "--period", P, "--no-pdf").exit_code == 0
    draft = text_of(workspace.outbox / P / f"bao-cao-{P}.docx")
    assert "DỰ THẢO" in draft and "17-BC" not in draft
    assert run("finalize", "--period", P).exit_code == 0
    final = text_of(workspace.outbox / P / f"bao-cao-{P}-chinh-thuc.docx")
    assert "17-BC" in final and "DỰ THẢO" not in final


def test_a_file_naming_no_period_refreshes_every_status_page(run, workspace, clock, make_return):
    from tonghop.report.publish import STATUS_NAME

    make_return("LT1", P)
    make_return("LT1", "2024-Q3")
    take(run, clock)
    (workspace.inbox / "anh-chup.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    take(run, clock)
    for code in (P, "2024-Q3"):
        page = (workspace.outbox / code / STATUS_NAME).read_text(encoding="utf-8")
        assert "anh-chup.xlsx" in page, code


def test_the_secretarys_own_pdf_of_an_edited_draft_is_kept(run, workspace, clock, make_return):
    import os

    make_return("LT1", P)
    take(run, clock)
    assert run("report", "--period", P, "--no-pdf").exit_code == 0
    draft = workspace.outbox / P / f"bao-cao-{P}.docx"
    doc = Document(str(draft))
    doc.add_paragraph("Sửa tay.")
    doc.save(str(draft))
    exported = draft.with_suffix(".pdf")  # "Save as PDF" from Word, after the edit
    exported.write_bytes(b"%PDF-1.4 the secretary's export")
    later = draft.stat().st_mtime_ns + 1_000_000_000
    os.utime(exported, ns=(later, later))
    make_return("LT2", P)
    take(run, clock)
    assert run("report", "--period", P, "--no-pdf").exit_code == 0
    assert exported.read_bytes() == b"%PDF-1.4 the secretary's export"
