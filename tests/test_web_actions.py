"""The secretary's decisions through the desk: each a confirmation page, then the same
Workspace operation as the command; the figures and the trail change as they should."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import docx
import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tonghop.layout import Layout
from tonghop.ledger import Outcome
from tonghop.web.app import create_app
from tonghop.workspace import Workspace

from .conftest import FakeClock, MakeReturn
from .desk_helpers import PERIOD, fill_workspace, section, submission_ids, text_of, token


@pytest.fixture
def desk_ws(workspace: Layout, make_return: MakeReturn, clock: FakeClock) -> Iterator[Workspace]:
    ws = fill_workspace(workspace, make_return, clock)
    yield ws
    ws.close()


@pytest.fixture
def client(desk_ws: Workspace) -> FlaskClient:
    app: Flask = create_app(desk_ws)
    return app.test_client()


def post(client: FlaskClient, url: str, **fields: str) -> Any:
    return client.post(url, data={"csrf_token": token(client), **fields}, follow_redirects=True)


def members_start_total(client: FlaskClient) -> Any:
    """The total of «members at the start» in the aggregate workbook the desk serves."""
    with client.get(f"/ky/{PERIOD}/tai/tong-hop-so-lieu.xlsx") as answer:
        assert answer.status_code == 200
        data = answer.data
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    column = next(r.index("members_start") for r in rows if "members_start" in r)
    total = next(r for r in rows if any(str(c).startswith("Tổng cộng") for c in r if c))
    return total[column]


def outcome_of(ws: Workspace, ref: int) -> Outcome:
    sub = ws.ledger.get(ref)
    assert sub is not None
    return sub.outcome


def test_exclude_then_include_through_the_page(client: FlaskClient, desk_ws: Workspace) -> None:
    lt2 = submission_ids(desk_ws, "LT2")[0]
    post(client, f"/ky/{PERIOD}/lap-lai")
    assert members_start_total(client) == 60  # LT1 20 + LT2 40
    confirm = client.get(f"/tep/{lt2}/loai")
    assert confirm.status_code == 200 and "Lý do" in confirm.get_data(as_text=True)
    done = post(client, f"/tep/{lt2}/loai", ly_do="Gửi nhầm bản thử")
    assert f"Đã loại Mã tệp {lt2}" in done.get_data(as_text=True)
    assert outcome_of(desk_ws, lt2) == Outcome.EXCLUDED
    assert members_start_total(client) == 20
    html = client.get(f"/ky/{PERIOD}").get_data(as_text=True)
    returned = section(html, "Đã nộp nhưng trả lại để sửa")
    assert "Đã tiếp nhận (1)" in html and "(LT2)" in returned and "Đã loại khỏi số liệu" in returned
    page = text_of(client.get(f"/tep/{lt2}").get_data(as_text=True))
    assert "Loại khỏi số liệu" in page and "Gửi nhầm bản thử" in page and desk_ws.user in page
    assert "Gửi nhầm bản thử" in text_of(client.get("/chi-bo/LT2").get_data(as_text=True))

    post(client, f"/tep/{lt2}/tinh-lai")
    assert outcome_of(desk_ws, lt2) == Outcome.ACCEPTED
    assert members_start_total(client) == 60


def test_a_decision_needing_a_reason_is_refused_without_one(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    lt1 = submission_ids(desk_ws, "LT1")[0]
    answer = client.post(f"/tep/{lt1}/loai", data={"csrf_token": token(client), "ly_do": "  "})
    assert answer.status_code == 400 and "Hãy ghi lý do" in answer.get_data(as_text=True)
    assert outcome_of(desk_ws, lt1) == Outcome.ACCEPTED


def test_accept_a_returned_return_despite_its_errors(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    tl1 = submission_ids(desk_ws, "TL1")[0]
    assert "Chấp nhận dù có lỗi" in client.get(f"/tep/{tl1}").get_data(as_text=True)
    post(client, f"/tep/{tl1}/chap-nhan", ly_do="Đã gọi điện xác minh: số cuối kỳ đúng")
    assert outcome_of(desk_ws, tl1) == Outcome.ACCEPTED
    html = client.get(f"/ky/{PERIOD}").get_data(as_text=True)
    assert "(TL1)" in section(html, "Đã tiếp nhận") and "trả lại để sửa (0)" in html


def test_a_wrong_decision_is_explained_not_done(client: FlaskClient, desk_ws: Workspace) -> None:
    lt1 = submission_ids(desk_ws, "LT1")[0]
    answer = post(client, f"/tep/{lt1}/tinh-lai")
    assert answer.status_code == 400
    assert "không bị loại" in answer.get_data(as_text=True)
    assert client.get(f"/tep/{lt1}/xoa").status_code == 404  # no such action


def test_finalize_then_reopen_through_the_page(client: FlaskClient, desk_ws: Workspace) -> None:
    done = post(client, f"/ky/{PERIOD}/chot", so="15-BC/ĐU", ngay="2024-07-20")
    assert "Đã chốt số liệu" in done.get_data(as_text=True)
    state = desk_ws.period_state(desk_ws.period(PERIOD))
    assert state.final and state.number == "15-BC/ĐU"
    html = client.get(f"/ky/{PERIOD}").get_data(as_text=True)
    assert "Đã chốt" in text_of(html)
    assert f"/ky/{PERIOD}/mo-lai" in html and f"/ky/{PERIOD}/chot" not in html
    with client.get(f"/ky/{PERIOD}/tai/bao-cao.docx") as report:
        assert report.status_code == 200
        document = docx.Document(io.BytesIO(report.data))
    words = "\n".join(p.text for p in document.paragraphs)
    words += "\n".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    assert "15-BC/ĐU" in words and "DỰ THẢO" not in words

    lt1 = submission_ids(desk_ws, "LT1")[0]
    refused = post(client, f"/tep/{lt1}/loai", ly_do="thử")
    assert refused.status_code == 400 and "đã chốt" in refused.get_data(as_text=True)
    assert outcome_of(desk_ws, lt1) == Outcome.ACCEPTED
    rebuilt = post(client, f"/ky/{PERIOD}/lap-lai")
    assert rebuilt.status_code == 400 and "mở lại kỳ" in rebuilt.get_data(as_text=True)

    assert post(client, f"/ky/{PERIOD}/mo-lai").status_code == 400  # a reason is required
    post(client, f"/ky/{PERIOD}/mo-lai", ly_do="Chi bộ TL1 gửi bản sửa")
    assert not desk_ws.period_state(desk_ws.period(PERIOD)).final
    assert f"/ky/{PERIOD}/chot" in client.get(f"/ky/{PERIOD}").get_data(as_text=True)


def test_the_live_part_changes_after_a_decision(client: FlaskClient, desk_ws: Workspace) -> None:
    first = client.get(f"/ky/{PERIOD}/cap-nhat?dau=x")
    stamp = first.headers["X-Dau"]
    post(client, f"/tep/{submission_ids(desk_ws, 'LT1')[0]}/loai", ly_do="thử")
    changed = client.get(f"/ky/{PERIOD}/cap-nhat?dau={stamp}")
    assert changed.status_code == 200 and "Đã tiếp nhận (1)" in changed.get_data(as_text=True)
