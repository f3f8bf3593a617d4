"""The desk attacked: forged and replayed requests, rebinding, traversal, hostile names and
bodies, damaged ledgers, decisions racing each other. A defect found and not yet fixed stays
here as a strict xfail naming its fix."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import re
import socket
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from tonghop.config import WebSettings
from tonghop.layout import Layout
from tonghop.ledger import Outcome
from tonghop.web import security, server, upload
from tonghop.web.app import create_app
from tonghop.workspace import Workspace, open_workspace

from .conftest import FakeClock, MakeReturn
from .desk_helpers import PERIOD, fill_workspace, submission_ids, text_of, token
from .helpers import is_vietnamese


@pytest.fixture
def desk_ws(workspace: Layout, make_return: MakeReturn, clock: FakeClock) -> Iterator[Workspace]:
    ws = fill_workspace(workspace, make_return, clock)
    yield ws
    ws.close()


@pytest.fixture
def app(desk_ws: Workspace) -> Flask:
    return create_app(desk_ws, upload_wait=1.0)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def snapshot(ws: Workspace) -> dict[str, Any]:
    """Everything a request could change: each file under the workspace (name, size, bytes'
    hash) and the ledger's rows."""
    files = {}
    for path in sorted(ws.layout.home.rglob("*")):
        if path.is_file() and path.suffix not in (".sqlite3-wal", ".sqlite3-shm", ".lock"):
            if path.name.endswith(("-wal", "-shm")) or path.parent.name == "logs":
                continue
            if path.name.endswith(".sqlite3"):
                continue  # compared by rows below (a reader may touch the file's header)
            files[path.relative_to(ws.layout.home).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    with sqlite3.connect(ws.layout.ledger) as db:
        rows = list(db.iterdump())
    return {"files": files, "ledger": rows}


def urls_of(app: Flask, ws: Workspace, methods: set[str]) -> list[str]:
    """A concrete URL for every rule of the desk that answers one of ``methods``."""
    ref = submission_ids(ws, "LT1")[0]
    values = {"code": PERIOD, "ref": ref, "name": "loai", "kind": "bao-cao.docx"}
    found = []
    for rule in app.url_map.iter_rules():
        if not (rule.methods or set()) & methods:
            continue
        if rule.endpoint == "static":
            found.append("/tep-tinh/desk.css")
            continue
        args = {a: values[a] for a in rule.arguments}
        if rule.endpoint == "pages.branch":
            args["code"] = "LT1"
        if rule.endpoint == "actions.period_action":
            args["name"] = "chot"
        found.append(rule.build(args, append_unknown=False)[1])  # type: ignore[index]
    return sorted(set(found))


# --- CSRF and "GET never changes state" ---------------------------------------------------


def test_every_state_changing_route_refuses_a_post_without_a_valid_token(
    app: Flask, client: FlaskClient, desk_ws: Workspace
) -> None:
    posts = urls_of(app, desk_ws, {"POST"})
    assert f"/ky/{PERIOD}/nop" in posts and "/dang-nhap" in posts
    client.get(f"/ky/{PERIOD}")  # a session with a token exists; it is not sent
    before = snapshot(desk_ws)
    other = create_app(desk_ws).test_client()
    stolen = token(other)  # a valid token, but of another session
    for url in posts:
        for data in ({}, {"csrf_token": "gia-mao"}, {"csrf_token": stolen}, {"csrf_token": ""}):
            answer = client.post(url, data={**data, "ly_do": "thử", "mat_khau": "x"})
            assert answer.status_code == 403, (url, data)
            assert "Không được phép" in answer.get_data(as_text=True)
            assert "Content-Security-Policy" in answer.headers
    assert snapshot(desk_ws) == before


def test_no_get_head_or_options_changes_anything(
    app: Flask, client: FlaskClient, desk_ws: Workspace
) -> None:
    gets = urls_of(app, desk_ws, {"GET"})
    assert f"/ky/{PERIOD}/chot" in gets and f"/tep/{submission_ids(desk_ws, 'LT1')[0]}/goc" in gets
    before = snapshot(desk_ws)
    for url in gets:
        for method in ("GET", "HEAD", "OPTIONS"):
            with client.open(url, method=method, query_string={"ly_do": "x"}) as answer:
                assert answer.status_code in (200, 204, 302, 400, 404), (method, url)
    assert snapshot(desk_ws) == before


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "PROPFIND", "TRACE", "BREW"])
def test_unknown_methods_get_a_vietnamese_405_and_change_nothing(
    client: FlaskClient, desk_ws: Workspace, method: str
) -> None:
    before = snapshot(desk_ws)
    ref = submission_ids(desk_ws, "LT1")[0]
    for url in (f"/tep/{ref}/loai", f"/ky/{PERIOD}/chot", f"/ky/{PERIOD}/nop"):
        answer = client.open(url, method=method, data={"csrf_token": token(client)})
        assert answer.status_code == 405, (method, url)
        assert is_vietnamese(text_of(answer.get_data(as_text=True)))
        assert "Content-Security-Policy" in answer.headers
    assert snapshot(desk_ws) == before


# --- headers on every answer --------------------------------------------------------------


def test_every_kind_of_answer_carries_the_security_headers(
    app: Flask, client: FlaskClient, desk_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = submission_ids(desk_ws, "TL1")[0]
    answers = {
        "page": client.get("/"),
        "static": client.get("/tep-tinh/desk.js"),
        "download": client.get(f"/tep/{ref}/goc"),
        "feedback": client.get(f"/tep/{ref}/phan-hoi"),
        "unchanged": client.get(f"/ky/{PERIOD}/cap-nhat", query_string={"dau": _stamp(client)}),
        "redirect": client.get(f"/ky?ma={PERIOD}"),
        "404": client.get("/khong-co"),
        "405": client.put("/"),
        "403": client.post(f"/ky/{PERIOD}/chot"),
    }
    app.config["MAX_CONTENT_LENGTH"] = 100
    answers["413"] = client.post(f"/ky/{PERIOD}/chot", data={"x": "y" * 1000})

    def broken(*args: object) -> None:
        raise RuntimeError("hỏng")

    monkeypatch.setattr("tonghop.web.pages.known_periods", broken)
    answers["500"] = client.get("/")
    expected = {"page": 200, "static": 200, "download": 200, "feedback": 200, "unchanged": 204}
    expected |= {"redirect": 302, "404": 404, "405": 405, "403": 403, "413": 413, "500": 500}
    for answer in answers.values():
        answer.close()  # before any assertion: a failing one leaves no file open
    for name, answer in answers.items():
        assert answer.status_code == expected[name], name
        headers = answer.headers
        assert headers["Content-Security-Policy"] == security.CONTENT_SECURITY_POLICY, name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Referrer-Policy"] == "no-referrer", name
        if name not in ("static",):
            assert "no-store" in headers["Cache-Control"], name


def _stamp(client: FlaskClient) -> str:
    answer = client.get(f"/ky/{PERIOD}/cap-nhat")
    return str(answer.headers["X-Dau"])


# --- route parameters: traversal, odd and very long ids -----------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/tep/99999999999999999999999",
        "/tep/9223372036854775808/goc",
        "/tep/18446744073709551616/phan-hoi",
        "/tep/9223372036854775808/loai",
    ],
)
def test_a_file_id_beyond_sqlite_integers_is_not_found(client: FlaskClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code == 404, answer.status_code
    assert "Không tìm thấy" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        f"/ky/{PERIOD}/tai/%2e%2e%2f%2e%2e%2farchive%2fledger.sqlite3",
        f"/ky/{PERIOD}/tai/bao-cao.docx%00.xlsx",
        f"/ky/{PERIOD}/tai/bao-cao.docx%2F..%2F..%2Ftonghop.toml",
        f"/ky/{PERIOD}/tai/" + "a" * 5000,
        f"/ky/{PERIOD}/tai/BAO-CAO.DOCX",
        "/ky/2024-H1%2F..%2F..%2Farchive/tai/bao-cao.docx",
        "/ky/2024-H1%00/tai/tong-hop-so-lieu.xlsx",
        "/ky/" + "9" * 5000 + "/tai/bao-cao.docx",
        "/ky/..%5C..%5Ctonghop.toml/tai/bao-cao.docx",
        "/chi-bo/..%2F..%2Ftonghop.toml",
        "/chi-bo/%00",
        "/tep/1%2F..%2F..%2Ftonghop.toml",
        "/tep/%2e%2e/goc",
        "/tep/1/goc%00",
        "/tep/-1/goc",
        "/tep/0/phan-hoi",
        "/tep-tinh/%2e%2e%2f%2e%2e%2fworkspace.py",
        "/tep-tinh/..%5Capp.py",
        "/tep-tinh/templates/base.html",
        "/tep-tinh/../templates/base.html",
    ],
)
def test_no_route_parameter_reaches_the_file_system(client: FlaskClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code in (404, 405), (url, answer.status_code)
    assert b"[committee]" not in answer.data and b"SQLite" not in answer.data
    assert b"{%" not in answer.data and b"def " not in answer.data


def test_the_forms_zip_holds_only_the_forms_never_a_planted_link(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    folder = desk_ws.layout.period_outbox(desk_ws.period(PERIOD)) / "bieu-mau"
    folder.mkdir(parents=True)
    (folder / "LT1.xlsx").write_bytes(b"form")
    (folder / "toml.xlsx").symlink_to(desk_ws.layout.config_path)
    (folder / "ledger.xlsx").symlink_to(desk_ws.layout.ledger)
    with client.get(f"/ky/{PERIOD}/tai/bieu-mau.zip") as answer:
        assert answer.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(answer.data)).namelist()
    assert names == ["LT1.xlsx"]


def test_a_report_recorded_outside_the_period_is_not_served(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    ref = submission_ids(desk_ws, "LT1")[0]
    with sqlite3.connect(desk_ws.layout.ledger) as db:
        db.execute(
            "UPDATE submissions SET receipt = ?, feedback = ? WHERE id = ?",
            ("/etc/passwd", "2024-H1/../../tonghop.toml", ref),
        )
    assert client.get(f"/tep/{ref}/xac-nhan").status_code == 404
    assert client.get(f"/tep/{ref}/phan-hoi").status_code == 404


def test_an_original_whose_name_holds_a_newline_still_downloads(
    client: FlaskClient, desk_ws: Workspace, make_return: MakeReturn
) -> None:
    # A file dropped straight into inbox/ (a share, not the page) keeps its name as given.
    make_return("TP1", PERIOD, name='bao "cao"\r\nX-Bad: 1.xlsx')
    desk_ws.take_inbox()
    ref = submission_ids(desk_ws, "TP1")[0]
    with client.get(f"/tep/{ref}/goc") as answer:
        assert answer.status_code == 200
        assert "X-Bad" not in answer.headers
        assert "\n" not in answer.headers["Content-Disposition"]


# --- the Host header (DNS rebinding) ------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8765",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "localhost@evil.example",
        "[::1",
        "evil.example\\@127.0.0.1",
    ],
)
def test_a_page_asked_for_under_another_name_is_refused(
    client: FlaskClient, desk_ws: Workspace, host: str
) -> None:
    """Without a password a site whose name is made to point at 127.0.0.1 (DNS rebinding)
    would read every page and post with the token it read: only the loopback names are
    served."""
    answer = client.get(f"/ky/{PERIOD}", headers={"Host": host})
    assert answer.status_code == 400
    assert "Tình hình nộp báo cáo" not in answer.get_data(as_text=True)
    assert is_vietnamese(text_of(answer.get_data(as_text=True)))
    assert "Content-Security-Policy" in answer.headers


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "localhost"])
def test_the_loopback_names_are_served(client: FlaskClient, host: str) -> None:
    assert client.get(f"/ky/{PERIOD}", headers={"Host": host}).status_code == 200


def test_with_a_password_a_network_name_is_served(locked_desk: Flask) -> None:
    answer = locked_desk.test_client().get("/dang-nhap", headers={"Host": "may-van-phong:8765"})
    assert answer.status_code == 200


# --- the password --------------------------------------------------------------------------


@pytest.fixture
def locked_desk(desk_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(security, "FAILED_LOGIN_DELAY", 0)
    hashed = generate_password_hash("mat-khau-dung")
    config = dataclasses.replace(desk_ws.config, web=WebSettings(password_hash=hashed))
    return create_app(Workspace(desk_ws.layout, config, desk_ws.form, clock=desk_ws.clock))


def test_with_a_password_nothing_but_the_login_is_served(
    locked_desk: Flask, desk_ws: Workspace
) -> None:
    client = locked_desk.test_client()
    for url in urls_of(locked_desk, desk_ws, {"GET"}):
        if url in ("/dang-nhap", "/tep-tinh/desk.css"):
            continue
        answer = client.get(url)
        assert answer.status_code == 302, url
        assert answer.headers["Location"].startswith("/dang-nhap"), url
        assert "Mã tệp".encode() not in answer.data and b"<table" not in answer.data, url
    assert client.get("/khong-co").status_code == 302  # not even whether a page exists


def test_with_a_password_a_post_with_the_login_token_decides_nothing(
    locked_desk: Flask, desk_ws: Workspace
) -> None:
    client = locked_desk.test_client()
    login_token = token(client, "/dang-nhap")  # a valid token of a session not signed in
    before = snapshot(desk_ws)
    for url in urls_of(locked_desk, desk_ws, {"POST"}):
        if url in ("/dang-nhap",):
            continue
        answer = client.post(url, data={"csrf_token": login_token, "ly_do": "lý do"})
        assert answer.status_code == 302 and "/dang-nhap" in answer.headers["Location"], url
    assert snapshot(desk_ws) == before


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/%09/evil.example/",
        "///evil.example/",
        "\\\\evil.example",
        "/%5Cevil.example",
        "javascript:alert(1)",
        " //evil.example",
        "http:evil.example",
    ],
)
def test_login_next_stays_on_the_desk(locked_desk: Flask, target: str) -> None:
    client = locked_desk.test_client()
    answer = client.post(
        "/dang-nhap",
        data={
            "csrf_token": token(client, "/dang-nhap"),
            "mat_khau": "mat-khau-dung",
            "next": target,
        },
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    # As a browser reads it: tabs and newlines dropped, a backslash taken for a slash.
    read = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    assert read.startswith("/") and not read.startswith("//"), location
    assert not urlsplit(read).netloc and not urlsplit(read).scheme, location


@pytest.mark.parametrize("target", ["/\r\nSet-Cookie: a=b", "/ky\x00", "/\x7f"])
def test_login_next_with_control_characters_goes_home(locked_desk: Flask, target: str) -> None:
    client = locked_desk.test_client()
    answer = client.post(
        "/dang-nhap",
        data={
            "csrf_token": token(client, "/dang-nhap"),
            "mat_khau": "mat-khau-dung",
            "next": target,
        },
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_a_session_signed_in_before_the_login_is_not_kept(locked_desk: Flask) -> None:
    """A planted (pre-login) session gets a new token once the password is given."""
    client = locked_desk.test_client()
    before = token(client, "/dang-nhap")
    client.post("/dang-nhap", data={"csrf_token": before, "mat_khau": "mat-khau-dung"})
    after = token(client, f"/ky/{PERIOD}")
    assert after != before


# --- bad bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b'--x\r\nContent-Disposition: form-data; name="tep"\r\n\r\n'),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nabc"),
        ("multipart/form-data; boundary=x", b"\x00\xff" * 100),
        ("multipart/form-data; boundary=" + "x" * 5000, b"--x"),
        ("application/x-www-form-urlencoded", b"%%%=%%%&csrf_token=%ZZ"),
        ("application/json", b"{not json"),
        ("text/plain; charset=utf-99", b"abc"),
    ],
)
def test_a_malformed_body_gets_a_vietnamese_page_never_a_traceback(
    client: FlaskClient, desk_ws: Workspace, content_type: str, body: bytes
) -> None:
    token(client)  # a session exists
    before = snapshot(desk_ws)
    answer = client.post(f"/ky/{PERIOD}/nop", data=body, content_type=content_type)
    assert answer.status_code in (400, 403, 413), answer.status_code
    html = answer.get_data(as_text=True)
    assert is_vietnamese(text_of(html)) and "Traceback" not in html
    assert snapshot(desk_ws) == before


def test_too_many_form_parts_is_a_vietnamese_413(client: FlaskClient, desk_ws: Workspace) -> None:
    data: dict[str, Any] = {f"f{n}": "1" for n in range(2000)}
    data["csrf_token"] = token(client)
    answer = client.post(f"/ky/{PERIOD}/nop", data=data, content_type="multipart/form-data")
    assert answer.status_code == 413
    assert is_vietnamese(text_of(answer.get_data(as_text=True)))
    assert list(desk_ws.layout.inbox.iterdir()) == []


# werkzeug leaves the spooled part it was writing when the limit struck to the collector.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_body_without_length_beyond_the_limit_is_refused(
    app: Flask, client: FlaskClient, desk_ws: Workspace
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f'{token(client)}\r\n--{boundary}\r\nContent-Disposition: form-data; name="tep"; '
            f'filename="lon.xlsx"\r\n\r\n'
        ).encode()
        + b"x" * 50_000
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = client.post(
        f"/ky/{PERIOD}/nop",
        input_stream=io.BytesIO(body),
        content_type=f"multipart/form-data; boundary={boundary}",
        environ_overrides={"wsgi.input_terminated": True},
        headers={"Transfer-Encoding": "chunked"},
    )
    assert answer.status_code == 413
    assert "Tệp quá lớn" in answer.get_data(as_text=True)
    assert list(desk_ws.layout.inbox.iterdir()) == []


# --- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        "CON.xlsx",
        "nul",
        "COM1.xlsx",
        "lpt9.xls",
        "aux.tar.xlsx",
        "bao:cao.xlsx",
        "bao cao.xlsx:an",
        'ten<>"|?*.xlsx',
        "bao cao.xlsx.",
    ],
)
def test_an_inbox_name_is_one_windows_can_hold(sent: str) -> None:
    """The desk runs on the secretary's Windows computer; a browser elsewhere (a phone, a
    Mac) may send names Windows refuses or reads as a device or an alternate stream."""
    name = upload.inbox_name(sent)
    stem = name.split(".")[0].strip().upper()
    assert stem not in {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10))}
    assert stem not in {f"LPT{n}" for n in range(1, 10)}
    assert not set(name) & set('<>:"|?*'), name
    assert not name.endswith((".", " ")), name


@pytest.mark.parametrize(
    "sent",
    [
        "ệ" * 200 + ".xlsx",
        "/" * 300,
        "..\\..\\..\\..\\Windows\\win.ini",
        "/etc/passwd",
        "\x00",
        "\u202ebao-cao\u202dxlsx.exe",
        " " * 20,
    ],
)
def test_a_hostile_upload_name_lands_inside_inbox_and_gets_an_answer(
    client: FlaskClient, desk_ws: Workspace, sent: str
) -> None:
    data = {"csrf_token": token(client), "tep": (io.BytesIO(b"not a workbook"), sent)}
    answer = client.post(f"/ky/{PERIOD}/nop", data=data, content_type="multipart/form-data")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, text_of(html)[:300]
    assert "Mã tệp" in html
    assert len(list(desk_ws.ledger.all())) == 5
    kept = [s for s in desk_ws.ledger.all() if s.id == max(s.id or 0 for s in desk_ws.ledger.all())]
    assert len(kept[0].source_name.encode()) <= 255 and "/" not in kept[0].source_name
    assert not (desk_ws.layout.home / "passwd").exists()


def test_an_empty_upload_gets_the_intakes_answer(client: FlaskClient, desk_ws: Workspace) -> None:
    data = {"csrf_token": token(client), "tep": (io.BytesIO(b""), "rong.xlsx")}
    answer = client.post(f"/ky/{PERIOD}/nop", data=data, content_type="multipart/form-data")
    assert answer.status_code == 200
    newest = max(desk_ws.ledger.all(), key=lambda s: s.id or 0)
    assert newest.source_name == "rong.xlsx" and newest.outcome != Outcome.ACCEPTED
    assert "Mã tệp" in answer.get_data(as_text=True)


def _zip_bomb() -> bytes:
    """An .xlsx-shaped zip whose one sheet inflates to 200 MB (about 200 KB on the wire)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b"\x20" * (1024 * 1024)
            for _ in range(200):
                sheet.write(block)
    return buffer.getvalue()


def test_a_zip_bomb_goes_to_the_intake_and_is_never_opened_by_the_desk(
    client: FlaskClient, desk_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real = zipfile.ZipFile.open

    def spying(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(threading.current_thread().name)
        return real(self, name, *args, **kwargs)

    bomb = _zip_bomb()
    monkeypatch.setattr(upload, "take", lambda the_desk, stored: None)  # leave it in inbox/
    monkeypatch.setattr(zipfile.ZipFile, "open", spying)
    data = {"csrf_token": token(client), "tep": (io.BytesIO(bomb), "bom.xlsx")}
    answer = client.post(f"/ky/{PERIOD}/nop", data=data, content_type="multipart/form-data")
    assert answer.status_code == 200 and opened == []
    monkeypatch.undo()
    results = desk_ws.take_inbox()
    assert len(results) == 1 and results[0].submission.outcome != Outcome.ACCEPTED


# --- XSS ------------------------------------------------------------------------------------


XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_autoescape_is_on_for_every_template(app: Flask) -> None:
    folder = Path(app.root_path) / "templates"
    names = [p.name for p in folder.iterdir()]
    assert names and all(app.jinja_env.autoescape(n) for n in names)  # type: ignore[operator]


def test_hostile_names_reasons_and_problems_are_shown_as_text(
    desk_ws: Workspace, make_return: MakeReturn, tmp_path: Path
) -> None:
    config = desk_ws.config
    branches = (dataclasses.replace(config.branches[0], name=f"Chi bộ {XSS}"), *config.branches[1:])
    hostile = dataclasses.replace(
        config, branches=branches, committee=dataclasses.replace(config.committee, name=XSS)
    )
    ws = Workspace(desk_ws.layout, hostile, desk_ws.form, clock=desk_ws.clock)
    client = create_app(ws, upload_wait=1.0).test_client()
    good = make_return("TP1", PERIOD, folder=tmp_path / "s", highlights=XSS).read_bytes()
    files = [(io.BytesIO(good), f"{XSS}.xlsx"), (io.BytesIO(b"junk"), f"{XSS}-2.xlsx")]
    data = {"csrf_token": token(client), "tep": files}
    answer = client.post(f"/ky/{PERIOD}/nop", data=data, content_type="multipart/form-data")
    pages = [answer.get_data(as_text=True)]
    ref = submission_ids(desk_ws, "LT1")[0]
    client.post(
        f"/tep/{ref}/loai",
        data={"csrf_token": token(client), "ly_do": XSS},
        follow_redirects=True,
    )
    newest = max(s.id or 0 for s in desk_ws.ledger.all())
    for url in [
        "/",
        f"/ky/{PERIOD}",
        "/chi-bo/LT1",
        "/chi-bo/TP1",
        f"/tep/{ref}",
        f"/tep/{newest}",
    ]:
        pages.append(client.get(url).get_data(as_text=True))
    pages.append(client.get(f"/ky?ma={XSS}").get_data(as_text=True))
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
    assert any("&lt;script&gt;alert(2)" in html for html in pages)
    ws.close()


# --- a damaged ledger, a config with placeholders -----------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)


@pytest.mark.parametrize(
    "damage",
    [_garbage, lambda path: path.write_bytes(b""), lambda path: path.unlink()],
    ids=["garbage", "empty", "missing"],
)
def test_a_damaged_ledger_gets_a_vietnamese_page_saying_what_to_do(
    workspace: Layout, make_return: MakeReturn, clock: FakeClock, damage: Any
) -> None:
    ws = fill_workspace(workspace, make_return, clock)
    ws.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{workspace.ledger}{suffix}").unlink(missing_ok=True)
    damage(workspace.ledger)
    existed = workspace.ledger.exists()
    client = create_app(open_workspace(workspace.home, clock=clock)).test_client()
    for url in ["/", f"/ky/{PERIOD}", "/tep/1"]:
        answer = client.get(url)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 503, (url, answer.status_code)
        assert "verify --rebuild" in html, url
        assert "Traceback" not in html
    assert workspace.ledger.exists() == existed  # no empty ledger made in its place


def test_a_busy_ledger_says_so_in_vietnamese(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr("tonghop.web.pages.known_periods", busy)
    answer = client.get("/")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 503
    assert is_vietnamese(text_of(html)) and "database is locked" not in html


def test_a_config_with_placeholders_says_which_before_forms_or_a_draft(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tonghop.cli import cli

    home = tmp_path / "moi"
    assert CliRunner().invoke(cli, ["init", str(home)]).exit_code == 0
    ws = open_workspace(home)
    client = create_app(ws).test_client()
    assert client.get("/").status_code == 200
    period = client.get("/").get_data(as_text=True).split('href="/ky/')[1].split('"')[0]
    for name in ("tao-bieu-mau", "lap-lai"):
        answer = client.post(
            f"/ky/{period}/{name}", data={"csrf_token": token(client, f"/ky/{period}")}
        )
        html = answer.get_data(as_text=True)
        assert answer.status_code == 400, name
        assert "tonghop.toml" in html and "dòng" in html, name
    assert not (ws.layout.outbox / period / "bieu-mau").exists()
    ws.close()


# --- threads: two decisions at once, a decision while files are taken ----------------------


def test_two_decisions_on_one_file_at_once_record_one(app: Flask, desk_ws: Workspace) -> None:
    ref = submission_ids(desk_ws, "LT1")[0]
    clients = [app.test_client() for _ in range(2)]
    tokens = [token(c) for c in clients]
    answers: list[int] = []
    start = threading.Barrier(2)

    def decide(n: int) -> None:
        start.wait()
        answer = clients[n].post(
            f"/tep/{ref}/loai", data={"csrf_token": tokens[n], "ly_do": f"lần {n}"}
        )
        answers.append(answer.status_code)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == [302, 400]  # one done, the other told it was done already
    decisions = desk_ws.decisions.of([ref])[ref]
    assert [d.kind for d in decisions] == ["exclude"]
    sub = desk_ws.ledger.get(ref)
    assert sub is not None and sub.outcome == Outcome.EXCLUDED


def test_a_decision_while_files_are_taken_keeps_both(
    app: Flask, desk_ws: Workspace, make_return: MakeReturn
) -> None:
    client = app.test_client()
    ref = submission_ids(desk_ws, "LT1")[0]
    csrf = token(client)
    for code in ("TP1", "TP2", "TH", "TM"):
        make_return(code, PERIOD)
    taken: list[int] = []

    def take() -> None:
        with open_workspace(desk_ws.layout.home, clock=desk_ws.clock) as taker:
            taken.append(len(taker.take_inbox()))

    worker = threading.Thread(target=take)
    worker.start()
    answer = client.post(f"/tep/{ref}/loai", data={"csrf_token": csrf, "ly_do": "thử"})
    worker.join(120)
    assert answer.status_code == 302, text_of(answer.get_data(as_text=True))[:300]
    assert taken == [4]
    counted = {
        s.branch_code for s in desk_ws.ledger.for_period(desk_ws.period(PERIOD)) if s.counted
    }
    assert counted == {"LT2", "TP1", "TP2", "TH", "TM"}


@pytest.mark.parametrize(
    ("url", "gone"),
    [
        (f"/ky/{PERIOD}/chot", "bao-cao-2024-H1-chinh-thuc.docx"),
        (f"/ky/{PERIOD}/tao-bieu-mau", "bieu-mau"),
        (f"/ky/{PERIOD}/lap-lai", "bao-cao-2024-H1-du-thao.docx"),
    ],
)
def test_a_head_request_never_runs_an_action(
    client: FlaskClient, desk_ws: Workspace, url: str, gone: str
) -> None:
    """HEAD is what any web page may have the secretary's browser send to 127.0.0.1 (fetch
    with mode no-cors, no preflight); CSRF checks no HEAD, so only POST may act."""
    before = snapshot(desk_ws)
    answer = client.head(url)
    assert answer.status_code == 200
    assert not (desk_ws.layout.period_outbox(desk_ws.period(PERIOD)) / gone).exists()
    assert not desk_ws.period_state(desk_ws.period(PERIOD)).final
    assert snapshot(desk_ws) == before


def test_a_head_request_never_includes_an_excluded_file(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    ref = submission_ids(desk_ws, "LT1")[0]
    desk_ws.exclude(ref, "thử")
    assert client.head(f"/tep/{ref}/tinh-lai").status_code == 200
    sub = desk_ws.ledger.get(ref)
    assert sub is not None and sub.outcome == Outcome.EXCLUDED


# --- through the real server ----------------------------------------------------------------


def _raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := conn.recv(65536):
                answer += chunk
    return answer


@pytest.fixture
def running(desk_ws: Workspace) -> Iterator[server.Running]:
    desk = server.start(desk_ws, "127.0.0.1", 0)
    yield desk
    desk.stop()


def test_the_real_server_refuses_another_host_name(running: server.Running) -> None:
    answer = _raw(
        running.port, b"GET /ky/2024-H1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400") and "Tình hình nộp báo cáo".encode() not in answer
    assert b"Content-Security-Policy" in answer


def test_a_huge_body_is_refused_before_it_is_sent(running: server.Running) -> None:
    """waitress keeps a request's whole body (up to 1 GB, in a temporary file) before the
    desk sees it: a client, signed in or not, could fill the disk with bodies the desk then
    refuses. A body far beyond the desk's limit is refused from its Content-Length."""
    head = (
        f"POST /ky/{PERIOD}/nop HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {900 * 1024 * 1024}\r\n\r\n"
    ).encode()
    answer = _raw(running.port, head + b"--x\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# --- finalize: what is typed goes into the final report --------------------------------------


@pytest.mark.parametrize("number", ["15\x0b-BC/ĐU", "15-BC\x00", "15-BC\x1b[31m"])
def test_a_number_with_control_characters_is_recorded_as_the_report_prints_it(
    client: FlaskClient, desk_ws: Workspace, number: str
) -> None:
    """The report drops characters XML cannot hold; the ledger (and every page, the status
    and the history showing the number) kept them."""
    answer = client.post(
        f"/ky/{PERIOD}/chot", data={"csrf_token": token(client), "so": number, "ngay": ""}
    )
    state = desk_ws.period_state(desk_ws.period(PERIOD))
    outbox = desk_ws.layout.period_outbox(desk_ws.period(PERIOD))
    final_report = outbox / "bao-cao-2024-H1-chinh-thuc.docx"
    assert answer.status_code in (302, 400), text_of(answer.get_data(as_text=True))[:300]
    assert state.final and final_report.exists()
    assert state.number and state.number.isprintable(), repr(state.number)


def test_a_number_longer_than_the_page_allows_is_refused(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    answer = client.post(
        f"/ky/{PERIOD}/chot", data={"csrf_token": token(client), "so": "9" * 5000, "ngay": ""}
    )
    assert answer.status_code == 400
    assert not desk_ws.period_state(desk_ws.period(PERIOD)).final


def test_a_reason_keeps_its_lines_and_drops_control_characters(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    ref = submission_ids(desk_ws, "LT1")[0]
    reason = "Gọi điện\r\nchi bộ\x00 xác nhận\x1b[2J"
    answer = client.post(f"/tep/{ref}/loai", data={"csrf_token": token(client), "ly_do": reason})
    assert answer.status_code == 302
    [decision] = desk_ws.decisions.of([ref])[ref]
    assert decision.reason == "Gọi điện\nchi bộ xác nhận[2J"


# --- an upload without a watcher -----------------------------------------------------------


def _report_words(client: FlaskClient) -> str:
    import docx

    with client.get(f"/ky/{PERIOD}/tai/bao-cao.docx") as answer:
        assert answer.status_code == 200
        document = docx.Document(io.BytesIO(answer.data))
    words = [p.text for p in document.paragraphs]
    words += [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join(words)


@pytest.mark.xfail(
    strict=True,
    reason="under `tonghop serve` (no watcher) an upload is taken by Workspace.take_inbox, "
    "which writes only the status page: the draft offered for download stays the one "
    "before the upload while the page counts the new return; fix: upload.take refreshes "
    "(Workspace.refresh) each period its files were for, as a decision does",
)
def test_an_upload_without_a_watcher_rebuilds_the_draft_it_counts_in(
    client: FlaskClient, desk_ws: Workspace, make_return: MakeReturn, tmp_path: Path
) -> None:
    desk_ws.publish(desk_ws.period(PERIOD), pdf=False)
    assert "2/15" in _report_words(client)
    good = make_return("TP1", PERIOD, folder=tmp_path / "sent").read_bytes()
    data = {"csrf_token": token(client), "tep": (io.BytesIO(good), "TP1.xlsx")}
    answer = client.post(f"/ky/{PERIOD}/nop", data=data, content_type="multipart/form-data")
    assert answer.status_code == 200 and "Đã tiếp nhận" in answer.get_data(as_text=True)
    assert "Đã tiếp nhận (3)" in client.get(f"/ky/{PERIOD}").get_data(as_text=True)
    assert "3/15" in _report_words(client)


# --- the desk beside a real watcher, in one process ----------------------------------------


class Browser:
    """A session with the real server: cookies kept, the token read from a page."""

    def __init__(self, base: str) -> None:
        import http.cookiejar
        import urllib.request

        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path.lstrip("/"), timeout=60) as answer:
            return str(answer.read().decode("utf-8"))

    def token(self) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.get(f"/ky/{PERIOD}"))
        assert found
        return found.group(1)

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, str]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            self.base + path.lstrip("/"), data=body, headers={"Content-Type": content_type}
        )
        try:
            with self.opener.open(request, timeout=60) as answer:
                return answer.status, answer.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8")


def _multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "ranh-gioi-7f3a"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    for name, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="tep"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_uploads_and_a_decision_at_once_beside_a_real_watcher(
    desk_ws: Workspace, make_return: MakeReturn, tmp_path: Path
) -> None:
    from tonghop.watch.watcher import Watcher, WatchOptions, run_watch

    ready = threading.Event()
    watchers: list[Watcher] = []

    def started(watcher: Watcher) -> None:
        watchers.append(watcher)
        ready.set()

    def watch() -> None:
        with open_workspace(desk_ws.layout.home, clock=desk_ws.clock) as watching:
            run_watch(
                watching, WatchOptions(pdf=False, console_log=False, settle=0.2), started=started
            )

    thread = threading.Thread(target=watch)
    thread.start()
    assert ready.wait(60)
    running = server.start(desk_ws, "127.0.0.1", 0, upload_wait=20.0)
    try:
        sent = [
            (f"{code}.xlsx", make_return(code, PERIOD, folder=tmp_path / code).read_bytes())
            for code in ("TP1", "TP2", "TH")
        ]
        ref = submission_ids(desk_ws, "LT1")[0]
        results: dict[str, tuple[int, str]] = {}

        def upload_all() -> None:
            browser = Browser(running.url)
            body, kind = _multipart({"csrf_token": browser.token()}, sent)
            results["upload"] = browser.post(f"/ky/{PERIOD}/nop", body, kind)

        def decide() -> None:
            browser = Browser(running.url)
            body = f"csrf_token={browser.token()}&ly_do=th%E1%BB%AD".encode()
            results["decide"] = browser.post(
                f"/tep/{ref}/loai", body, "application/x-www-form-urlencoded"
            )

        workers = [threading.Thread(target=upload_all), threading.Thread(target=decide)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
    finally:
        running.stop()
        for watcher in watchers:
            watcher.stop()
        thread.join(60)
    status, html = results["upload"]
    assert status == 200 and html.count("Đã tiếp nhận") >= 3, text_of(html)[:500]
    assert results["decide"][0] == 200 and "Đã loại" in results["decide"][1]
    counted = {
        s.branch_code for s in desk_ws.ledger.for_period(desk_ws.period(PERIOD)) if s.counted
    }
    assert counted == {"LT2", "TP1", "TP2", "TH"}
    assert list(desk_ws.layout.inbox.iterdir()) == []


@pytest.mark.xfail(
    strict=True,
    reason="each server thread's Workspace (its ledger and archive connections) stays open "
    "after Running.stop(): Desk keeps them in _opened and nothing closes them (Python 3.13 "
    "warns of every unclosed sqlite3 connection; on Windows the files stay held); fix: "
    "_desk.Desk closes a thread's workspace in the thread (teardown of the request, or "
    "connections opened with check_same_thread=False and Desk.close_all() from Running.stop)",
)
def test_stopping_the_server_closes_every_ledger_it_opened(
    desk_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tonghop.web import app as app_module

    desks: list[Any] = []

    class Recorded(app_module.Desk):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            desks.append(self)

    monkeypatch.setattr(app_module, "Desk", Recorded)
    running = server.start(desk_ws, "127.0.0.1", 0)
    [desk] = desks
    try:
        browser = Browser(running.url)
        for _ in range(3):
            browser.get(f"/ky/{PERIOD}")
    finally:
        running.stop()
    assert all(ws._ledger is None and ws._archive is None for ws in desk._opened)


def test_stopping_the_server_never_breaks_its_thread(desk_ws: Workspace) -> None:
    """Running.stop() closed the sockets from the calling thread while the server's loop
    was waiting on them: now and then EBADF in the tonghop-desk thread, a traceback on
    the console when `tonghop watch` ends (and a failing test)."""
    broken: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: broken.append(args.exc_value)
    try:
        for _ in range(12):
            running = server.start(desk_ws, "127.0.0.1", 0)
            Browser(running.url).get("/tep-tinh/desk.css")
            running.stop()
            assert not running.thread.is_alive()
    finally:
        threading.excepthook = previous
    assert broken == []


def test_a_final_period_never_offers_its_old_draft_as_the_report(
    client: FlaskClient, desk_ws: Workspace
) -> None:
    period = desk_ws.period(PERIOD)
    desk_ws.publish(period, pdf=False)
    desk_ws.finalize(period, number="15")
    outbox = desk_ws.layout.period_outbox(period)
    final = outbox / "bao-cao-2024-H1-chinh-thuc.docx"
    assert final.exists()
    final.unlink()  # lost (deleted by hand, a failed copy): written again on the next refresh
    words = ""
    with client.get(f"/ky/{PERIOD}/tai/bao-cao.docx") as answer:
        if answer.status_code == 200:
            import docx

            document = docx.Document(io.BytesIO(answer.data))
            words = "\n".join(p.text for p in document.paragraphs)
    assert "DỰ THẢO" not in words
