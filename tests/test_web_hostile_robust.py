"""The desk attacked, part two: hostile uploads and names on pages, a damaged ledger, a config
with placeholders, decisions racing each other and the watcher, the real server. (Part one,
tests/test_web_hostile.py, holds the security points and the defects still open.)"""

from __future__ import annotations

import dataclasses
import io
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tonghop.layout import Layout
from tonghop.ledger import Outcome
from tonghop.web import upload
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


# --- downloads of what the ledger records --------------------------------------------------


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


XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


# --- XSS ------------------------------------------------------------------------------------


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
