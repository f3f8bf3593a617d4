"""`status`, the status page and the desk on three things a secretary reads there: «nộp muộn»
means a file received after the deadline (not a branch that sent nothing: that one is «Chưa
nộp», marked «Quá hạn»); a return held after finalizing is listed apart from the three groups;
the draft state is said once, and a final period's note says when and by whom."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from docx import Document

from tonghop.cli import CliContext, cli
from tonghop.layout import Layout
from tonghop.periods import Period
from tonghop.report.status import render_status_html
from tonghop.workspace import open_workspace

from .conftest import FakeClock, MakeReturn

PERIOD = "2024-H1"
Run = Callable[..., Result]


@pytest.fixture
def run(workspace: Layout, clock: FakeClock) -> Run:
    def invoke(*args: str) -> Result:
        home = str(workspace.home)
        return CliRunner().invoke(cli, ["--home", home, *args], obj=CliContext(home, clock))

    return invoke


def status_json(run: Run) -> dict:  # type: ignore[type-arg]
    result = run("status", "--period", PERIOD, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def desk_page(workspace: Layout, clock: FakeClock) -> str:
    from tonghop.web.app import create_app

    client = create_app(open_workspace(workspace.home, clock=clock), testing=True).test_client()
    page = client.get(f"/ky/{PERIOD}")
    assert page.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)))


def test_late_is_a_file_received_after_the_deadline(
    run: Run, workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    make_return("LT1", PERIOD)
    assert run("process").exit_code == 0  # on time (the clock starts on 05/07/2024)
    deadline = dt.date.fromisoformat(status_json(run)["deadline"])
    clock.now = dt.datetime.combine(deadline + dt.timedelta(days=3), dt.time(9))
    make_return("LT2", PERIOD)  # counted, late
    make_return("TL1", PERIOD, members_end=999)  # sent back, late
    assert run("process").exit_code == 0

    data = status_json(run)
    rows = {b["code"]: b for b in data["branches"]}
    assert rows["LT1"]["on_time"] is True and rows["LT1"]["overdue"] is False
    assert rows["LT2"]["on_time"] is False
    assert rows["TL1"]["group"] == "returned" and rows["TL1"]["on_time"] is False
    silent = [b for b in data["branches"] if not b["received"]]
    assert silent and all(b["on_time"] is None and b["overdue"] for b in silent)
    assert data["late"] == 2 and data["overdue"] == len(silent)

    text = run("status", "--period", PERIOD).output
    assert "nộp muộn 2;" in text and "Quá hạn" in text
    page = desk_page(workspace, clock)
    assert "Nộp muộn 2 " in page and "Quá hạn" in page


def test_before_the_deadline_nobody_is_late_or_overdue(run: Run) -> None:
    data = status_json(run)
    assert data["late"] == 0 and data["overdue"] == 0
    assert "Quá hạn" not in run("status", "--period", PERIOD).output


def test_a_return_held_after_finalizing_is_listed_apart(
    run: Run, workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    make_return("LT1", PERIOD)
    assert run("process").exit_code == 0
    assert run("finalize", "--period", PERIOD, "--number", "07").exit_code == 0
    make_return("LT2", PERIOD)
    assert run("process").exit_code == 0

    data = status_json(run)
    assert data["held"] == ["LT2"] and data["returned"] == 0
    assert "LT2" not in data["groups"]["returned"] + data["groups"]["missing"]
    assert {b["code"]: b["group"] for b in data["branches"]}["LT2"] == "held"

    text = run("status", "--period", PERIOD).output
    assert "Đã nộp nhưng trả lại để sửa 0/" in text
    assert "đã nhận sau khi chốt, chưa tính 1;" in text
    assert "Đã nhận sau khi chốt, chưa tính (1)" in text

    with open_workspace(workspace.home, clock=clock) as ws:
        page = render_status_html(ws.status(Period.parse(PERIOD)), "ĐẢNG ỦY")
    assert "Đã nhận sau khi chốt, chưa tính (1/" in page
    assert re.search(r"Đã nộp nhưng trả lại để sửa \(0/\d+ chi bộ\)", page)
    desk = desk_page(workspace, clock)
    assert (
        "Đã nhận sau khi chốt, chưa tính (1)" in desk and "Đã nộp nhưng trả lại để sửa (0)" in desk
    )


def test_the_draft_state_is_said_once_and_a_final_one_says_when(
    run: Run, workspace: Layout, make_return: MakeReturn, clock: FakeClock
) -> None:
    make_return("LT1", PERIOD)
    assert run("process").exit_code == 0
    assert run("report", "--period", PERIOD, "--no-pdf").exit_code == 0
    draft = workspace.outbox / PERIOD / f"bao-cao-{PERIOD}.docx"
    document = Document(str(draft))
    document.add_paragraph("Đoạn sửa tay.")
    document.save(str(draft))
    assert run("report", "--period", PERIOD, "--no-pdf").exit_code == 0

    data = status_json(run)
    assert not any("Dự thảo" in note for note in data["notes"])
    [kept] = data["notes"]
    assert "đã được sửa tay" in kept
    # the desk showed every note but the first, which used to be the state's own
    assert kept in desk_page(workspace, clock)

    assert run("finalize", "--period", PERIOD, "--number", "07").exit_code == 0
    data = status_json(run)
    assert data["notes"][0].startswith("Đã chốt số liệu lúc")
    assert "báo cáo số 07" in data["notes"][0]
    assert run("status", "--period", PERIOD).output.count("Đã chốt số liệu lúc") == 1
    assert desk_page(workspace, clock).count("Đã chốt số liệu lúc") == 1
