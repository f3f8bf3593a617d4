"""The desk through Flask's test client: every page, downloads, upload, and the security
points (CSRF, traversal, password, headers, Vietnamese error pages)."""

from __future__ import annotations

import dataclasses
import io
import re
import sqlite3
import zipfile
from collections.abc import Iterator

import docx
import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from werkzeug.security import generate_password_hash

from tonghop.config import WebSettings
from tonghop.layout import Layout
from tonghop.web import security, upload
from tonghop.web.app import create_app
from tonghop.workspace import Workspace, open_workspace

from .conftest import FakeClock, MakeReturn
from .desk_helpers import (
    PERIOD,
    fill_workspace,
    inbox_files,
    section,
    submission_ids,
    text_of,
    token,
)
from .helpers import is_vietnamese


@pytest.fixture
def desk_ws(workspace: Layout, make_return: MakeReturn, clock: FakeClock) -> Iterator[Workspace]:
    ws = fill_workspace(workspace, make_return, clock)
    yield ws
    ws.close()


@pytest.fixture
def app(desk_ws: Workspace) -> Flask:
    return create_app(desk_ws, upload_wait=2.0)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- pages -------------------------------------------------------------------------------


def test_periods_page_lists_the_period_with_its_figures(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    text = text_of(page.get_data(as_text=True))
    assert "6 tháng đầu năm 2024" in text
    assert "Quý II năm 2024" in text  # the quarter just ended, its numeral kept upper case
    assert "2/15" in text  # LT1 and LT2 counted of 15 branches
    assert "Dự thảo" in text
    assert f'href="/ky/{PERIOD}"' in page.get_data(as_text=True)


def test_period_page_shows_the_three_groups_and_the_unreadable_file(client: FlaskClient) -> None:
    html = client.get(f"/ky/{PERIOD}").get_data(as_text=True)
    received = section(html, "Đã tiếp nhận")
    returned = section(html, "Đã nộp nhưng trả lại để sửa")
    missing = section(html, "Chưa nộp")
    assert "Đã tiếp nhận (2)" in received and "(LT1)" in received and "(LT2)" in received
    assert (
        "Đã nộp nhưng trả lại để sửa (1)" in returned
        and "(TL1)" in returned
        and "(LT1)" not in returned
    )
    assert "Chưa nộp (12)" in missing and "(TL2)" in missing and "(TL1)" not in missing
    assert "Đúng hạn" in received
    unknown = section(html, "Tệp không rõ chi bộ")
    assert "ghi-chu.xlsx" in unknown and "Không đọc được tệp" in unknown
    assert "Phản hồi" in returned  # the answer sent back to TL1 can be downloaded


def test_live_part_answers_only_when_something_changed(
    client: FlaskClient, desk_ws: Workspace, make_return: MakeReturn
) -> None:
    page = client.get(f"/ky/{PERIOD}").get_data(as_text=True)
    stamp = re.search(r'data-stamp="([0-9a-f]+)"', page).group(1)
    unchanged = client.get(f"/ky/{PERIOD}/cap-nhat?dau={stamp}")
    assert unchanged.status_code == 204
    make_return("TL2", PERIOD)
    desk_ws.take_inbox()
    changed = client.get(f"/ky/{PERIOD}/cap-nhat?dau={stamp}")
    assert changed.status_code == 200
    assert changed.headers["X-Dau"] != stamp
    assert "(TL2)" in section(changed.get_data(as_text=True), "Đã tiếp nhận")
    again = client.get(f"/ky/{PERIOD}/cap-nhat?dau={changed.headers['X-Dau']}")
    assert again.status_code == 204


def test_branch_page_lists_every_file_of_the_branch(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    html = client.get("/chi-bo/TL1").get_data(as_text=True)
    ref = submission_ids(desk_ws, "TL1")[0]
    assert f'href="/tep/{ref}"' in html
    assert "Trả lại để sửa" in text_of(html)
    assert client.get("/chi-bo/KHONG-CO").status_code == 404


def test_return_page_shows_values_problems_with_cells_and_the_original(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    ref = submission_ids(desk_ws, "TL1")[0]
    sub = desk_ws.ledger.get(ref)
    html = client.get(f"/tep/{ref}").get_data(as_text=True)
    text = text_of(html)
    error = next(p for p in sub.problems if p.is_error and p.cell)
    assert error.cell in text
    assert str(escape(error.message)) in html
    assert "999" in text  # members_end as read
    assert desk_ws.form.field("members_end").label in text
    original = client.get(f"/tep/{ref}/goc")
    assert original.status_code == 200
    assert original.data == desk_ws.archive.read(sub.sha256)  # the archive's bytes, untouched
    assert "attachment" in original.headers["Content-Disposition"]
    assert client.get("/tep/99999").status_code == 404


# --- downloads and actions without decisions ---------------------------------------------


def test_rebuild_the_draft_then_download_report_and_workbook(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    confirm = client.get(f"/ky/{PERIOD}/lap-lai")
    assert confirm.status_code == 200 and "Lập lại dự thảo" in confirm.get_data(as_text=True)
    done = client.post(
        f"/ky/{PERIOD}/lap-lai", data={"csrf_token": token(client)}, follow_redirects=True
    )
    assert done.status_code == 200
    assert "Đã lập lại bản dự thảo" in done.get_data(as_text=True)
    with client.get(f"/ky/{PERIOD}/tai/bao-cao.docx") as report:
        assert report.status_code == 200
        words = "\n".join(p.text for p in docx.Document(io.BytesIO(report.data)).paragraphs)
    assert "6 tháng đầu năm 2024" in words
    with client.get(f"/ky/{PERIOD}/tai/tong-hop-so-lieu.xlsx") as book:
        assert book.status_code == 200
        data = book.data
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert any("Lân Thạnh 1" in c for c in cells)


def test_make_the_forms_then_download_them_as_one_zip(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    assert client.get(f"/ky/{PERIOD}/tai/bieu-mau.zip").status_code == 404  # none made yet
    done = client.post(
        f"/ky/{PERIOD}/tao-bieu-mau", data={"csrf_token": token(client)}, follow_redirects=True
    )
    assert "Đã tạo 15 biểu mẫu" in done.get_data(as_text=True)
    forms = client.get(f"/ky/{PERIOD}/tai/bieu-mau.zip")
    assert forms.status_code == 200
    with zipfile.ZipFile(io.BytesIO(forms.data)) as archive:
        names = archive.namelist()
        assert len(names) == 15 and f"bao-cao-LT1-{PERIOD}.xlsx" in names
        book = openpyxl.load_workbook(io.BytesIO(archive.read(names[0])))
        assert book.sheetnames


# --- security ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"/ky/{PERIOD}/tao-bieu-mau",
        f"/ky/{PERIOD}/lap-lai",
        f"/ky/{PERIOD}/nop",
        "/dang-xuat",
    ],
)
def test_a_post_without_the_token_is_refused_in_vietnamese(
    client: FlaskClient, desk_ws: Workspace, url: str
) -> None:
    client.get(f"/ky/{PERIOD}")  # a session exists, the token is not sent
    for data in ({}, {"csrf_token": "gia-mao"}):
        answer = client.post(url, data=data)
        assert answer.status_code == 403
        assert is_vietnamese(text_of(answer.get_data(as_text=True)))
        assert "Không được phép" in answer.get_data(as_text=True)
    assert not (desk_ws.layout.period_outbox(desk_ws.period(PERIOD)) / "bieu-mau").exists()


@pytest.mark.parametrize(
    "url",
    [
        f"/ky/{PERIOD}/tai/..%2F..%2Ftonghop.toml",
        f"/ky/{PERIOD}/tai/../../tonghop.toml",
        f"/ky/{PERIOD}/tai/%2e%2e%2ftonghop.toml",
        "/ky/..%2F..%2Ftonghop.toml/tai/bao-cao.docx",
        "/tep/1/..%2F..%2F..%2Ftonghop.toml",
        "/tep-tinh/..%2F..%2F..%2Ftonghop.toml",
        "/tep-tinh/../app.py",
        "/ky/%2Fetc%2Fpasswd/tai/bao-cao.docx",
    ],
)
def test_no_path_from_the_request_reaches_the_file_system(client: FlaskClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code == 404, url
    assert b"[committee]" not in answer.data and b"def " not in answer.data


def test_an_accepted_return_links_its_receipt(client: FlaskClient, desk_ws: Workspace) -> None:
    ref = submission_ids(desk_ws, "LT1")[0]
    sub = desk_ws.ledger.get(ref)
    assert sub is not None and sub.receipt  # written by the intake
    received = section(client.get(f"/ky/{PERIOD}").get_data(as_text=True), "Đã tiếp nhận")
    assert f'href="/tep/{ref}/xac-nhan"' in received
    with client.get(f"/tep/{ref}/xac-nhan") as answer:
        assert answer.status_code == 200
        assert answer.data == (desk_ws.layout.outbox / sub.receipt).read_bytes()
    rejected = submission_ids(desk_ws, "TL1")[0]
    assert client.get(f"/tep/{rejected}/xac-nhan").status_code == 404


def test_a_feedback_path_leaving_outbox_is_not_served(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    ref = submission_ids(desk_ws, "TL1")[0]
    with client.get(f"/tep/{ref}/phan-hoi") as answer:
        assert answer.status_code == 200 and answer.data
    with sqlite3.connect(desk_ws.layout.ledger) as db:
        db.execute("UPDATE submissions SET feedback = '../tonghop.toml' WHERE id = ?", (ref,))
    assert client.get(f"/tep/{ref}/phan-hoi").status_code == 404


def test_every_answer_carries_a_strict_policy_and_pages_have_no_inline_code(
    client: FlaskClient,
) -> None:
    for url in ["/", f"/ky/{PERIOD}", "/chi-bo/LT1", f"/ky/{PERIOD}/chot", "/khong-co"]:
        answer = client.get(url)
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        html = answer.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url  # no inline script
        assert " style=" not in html and "<style" not in html, url
        assert not re.search(r'(src|href)="(https?:)?//', html), url  # nothing from elsewhere
    with client.get("/tep-tinh/desk.js") as script:
        assert script.status_code == 200 and b"fetch(" in script.data


def test_error_pages_are_vietnamese_and_never_a_traceback(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = client.get("/khong-co-trang-nay")
    assert missing.status_code == 404 and "Không tìm thấy" in missing.get_data(as_text=True)
    wrong_method = client.get("/dang-xuat")
    assert wrong_method.status_code == 405
    assert is_vietnamese(text_of(wrong_method.get_data(as_text=True)))
    bad_period = client.get("/ky?ma=ky-nao-do")
    assert bad_period.status_code == 400 and is_vietnamese(
        text_of(bad_period.get_data(as_text=True))
    )

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail of a defect")

    monkeypatch.setattr("tonghop.web.pages.known_periods", broken)
    crash = client.get("/")
    assert crash.status_code == 500
    body = crash.get_data(as_text=True)
    assert "Lỗi của chương trình" in body
    assert "Traceback" not in body and "secret detail" not in body


def test_too_large_a_request_gets_a_vietnamese_413(app: Flask, client: FlaskClient) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    answer = client.post(
        f"/ky/{PERIOD}/nop",
        data={"csrf_token": token(client), "tep": (io.BytesIO(b"x" * 20_000), "lon.xlsx")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 413 and "Tệp quá lớn" in answer.get_data(as_text=True)


@pytest.fixture
def locked_desk(desk_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(security, "FAILED_LOGIN_DELAY", 0)
    hashed = generate_password_hash("mat-khau-dung")
    config = dataclasses.replace(desk_ws.config, web=WebSettings(password_hash=hashed))
    locked = Workspace(desk_ws.layout, config, desk_ws.form, clock=desk_ws.clock)
    return create_app(locked)


def test_with_a_password_every_page_asks_for_it_first(locked_desk: Flask) -> None:
    client = locked_desk.test_client()
    first = client.get(f"/ky/{PERIOD}")
    assert first.status_code == 302 and "/dang-nhap" in first.headers["Location"]
    assert client.get(f"/ky/{PERIOD}/tai/bao-cao.docx").status_code == 302
    login = token(client, "/dang-nhap")
    wrong = client.post("/dang-nhap", data={"csrf_token": login, "mat_khau": "sai"})
    assert wrong.status_code == 401 and "Mật khẩu không đúng" in wrong.get_data(as_text=True)
    right = client.post(
        "/dang-nhap",
        data={"csrf_token": login, "mat_khau": "mat-khau-dung", "next": f"/ky/{PERIOD}"},
    )
    assert right.status_code == 302 and right.headers["Location"].endswith(f"/ky/{PERIOD}")
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get(f"/ky/{PERIOD}").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_sends_the_visitor_to_another_site(locked_desk: Flask, target: str) -> None:
    client = locked_desk.test_client()
    login = token(client, "/dang-nhap")
    answer = client.post(
        "/dang-nhap", data={"csrf_token": login, "mat_khau": "mat-khau-dung", "next": target}
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_without_a_password_the_session_cookie_is_still_strict(client: FlaskClient) -> None:
    answer = client.get(f"/ky/{PERIOD}")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


# --- upload ------------------------------------------------------------------------------


def _send(client: FlaskClient, *files: tuple[bytes, str]) -> str:
    data = {"csrf_token": token(client), "tep": [(io.BytesIO(b), n) for b, n in files]}
    answer = client.post(f"/ky/{PERIOD}/nop", data=data, content_type="multipart/form-data")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_upload_goes_through_the_intake_and_shows_its_answer(
    client: FlaskClient, desk_ws: Workspace, make_return: MakeReturn, tmp_path
) -> None:
    good = make_return("TP1", PERIOD, folder=tmp_path / "sent").read_bytes()
    bad = make_return("TP2", PERIOD, folder=tmp_path / "sent", members_end=1).read_bytes()
    html = _send(client, (good, "bao-cao TP1.xlsx"), (bad, "TP2.xlsx"))
    text = text_of(html)
    assert "Đã tiếp nhận" in text and "Trả lại để sửa" in text
    assert "TP1" in text and "TP2" in text
    assert inbox_files(desk_ws) == []
    counted = {
        s.branch_code for s in desk_ws.ledger.for_period(desk_ws.period(PERIOD)) if s.counted
    }
    assert "TP1" in counted and "TP2" not in counted
    names = {s.source_name for s in desk_ws.ledger.for_period(desk_ws.period(PERIOD))}
    assert "bao-cao TP1.xlsx" in names


def test_upload_too_large_a_file_is_refused_and_nothing_enters_inbox(
    client: FlaskClient, desk_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload, "MAX_FILE_BYTES", 1000)
    html = _send(client, (b"x" * 5000, "qua-lon.xlsx"))
    assert "Không nhận" in text_of(html)
    assert list(desk_ws.layout.inbox.iterdir()) == []


def test_upload_while_another_holds_the_intake_waits_then_says_so(
    client: FlaskClient, desk_ws: Workspace, make_return: MakeReturn, tmp_path
) -> None:
    good = make_return("TP1", PERIOD, folder=tmp_path / "sent").read_bytes()
    with desk_ws.intake_lock():  # as a running watcher holds it
        html = _send(client, (good, "TP1.xlsx"))
    assert "đang chờ xử lý" in text_of(html)
    assert [p.name for p in inbox_files(desk_ws)] == ["TP1.xlsx"]  # left for the watcher


def test_upload_of_the_same_name_twice_keeps_both(
    client: FlaskClient, desk_ws: Workspace, make_return: MakeReturn, tmp_path
) -> None:
    first = make_return("TP1", PERIOD, folder=tmp_path / "a").read_bytes()
    second = make_return("TP1", PERIOD, folder=tmp_path / "b", members_start=25).read_bytes()
    with desk_ws.intake_lock():
        _send(client, (first, "TP1.xlsx"))
        _send(client, (second, "TP1.xlsx"))
    assert [p.name for p in inbox_files(desk_ws)] == ["TP1-2.xlsx", "TP1.xlsx"]
    assert sorted(p.read_bytes() for p in inbox_files(desk_ws)) == sorted([first, second])


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../tonghop.toml", "tonghop.toml"),
        ("C:\\Users\\chi bo\\bao cao.xlsx", "bao cao.xlsx"),
        (".an.xlsx", "tai-len-an.xlsx"),
        ("~$mo.xlsx", "tai-len-mo.xlsx"),
        ("tam.tmp", "tai-len-tam.tmp-tep"),
        ("..", "tep-tai-len"),
        ("a\x00b\n.xlsx", "ab.xlsx"),
    ],
)
def test_inbox_names_stay_inside_inbox_and_are_taken(sent: str, kept: str) -> None:
    assert upload.inbox_name(sent) == kept


def test_the_upload_answer_names_a_return_of_another_period(
    client: FlaskClient, desk_ws: Workspace, make_return: MakeReturn, tmp_path
) -> None:
    other = make_return("LT1", "2023", folder=tmp_path / "sent").read_bytes()
    text = text_of(_send(client, (other, "LT1-2023.xlsx")))
    assert "năm 2023" in text


def test_a_desk_over_a_fresh_workspace_shows_the_periods_to_report(
    workspace, clock: FakeClock
) -> None:
    fresh = open_workspace(workspace.home, clock=clock)
    client = create_app(fresh).test_client()
    text = text_of(client.get("/").get_data(as_text=True))
    assert "6 tháng đầu năm 2024" in text and "0/15" in text
    fresh.close()


def test_a_try_right_after_a_wrong_password_waits_its_turn(
    locked_desk: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tonghop.web._desk import EXTENSION

    monkeypatch.setattr(security, "FAILED_LOGIN_DELAY", 60)
    the_desk = locked_desk.extensions[EXTENSION]
    client = locked_desk.test_client()
    login = token(client, "/dang-nhap")
    wrong = client.post("/dang-nhap", data={"csrf_token": login, "mat_khau": "sai"})
    assert wrong.status_code == 401
    # even the right password is not checked while a wrong one is this fresh
    again = client.post("/dang-nhap", data={"csrf_token": login, "mat_khau": "mat-khau-dung"})
    assert again.status_code == 429 and "hãy đợi một giây" in again.get_data(as_text=True)
    the_desk.last_failed_login = float("-inf")  # the delay has passed
    right = client.post("/dang-nhap", data={"csrf_token": login, "mat_khau": "mat-khau-dung"})
    assert right.status_code == 302
