"""The desk attacked through the real waitress server: another Host, a huge body, uploads and
a decision beside a real watcher in one process, stopping the server."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from tonghop.config import WebSettings
from tonghop.layout import Layout
from tonghop.web import security, server
from tonghop.web.app import create_app
from tonghop.workspace import Workspace, open_workspace

from .conftest import FakeClock, MakeReturn
from .desk_helpers import PERIOD, fill_workspace, submission_ids, text_of
from .hostile_helpers import Browser, multipart, raw


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


@pytest.fixture
def running(desk_ws: Workspace) -> Iterator[server.Running]:
    desk = server.start(desk_ws, "127.0.0.1", 0)
    yield desk
    desk.stop()


def test_the_real_server_refuses_another_host_name(running: server.Running) -> None:
    answer = raw(
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
    answer = raw(running.port, head + b"--x\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


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
            body, kind = multipart({"csrf_token": browser.token()}, sent)
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


def test_wrong_passwords_in_flight_never_stop_the_desk_answering(desk_ws: Workspace) -> None:
    """A wrong try is slowed by refusing the next ones for a while (429), never by holding a
    server thread: a burst of wrong tries leaves the desk answering at once."""
    import time
    import urllib.parse

    hashed = generate_password_hash("mat-khau-dung")
    config = dataclasses.replace(desk_ws.config, web=WebSettings(password_hash=hashed))
    locked = Workspace(desk_ws.layout, config, desk_ws.form, clock=desk_ws.clock)
    running = server.start(locked, "127.0.0.1", 0)
    guessers = [Browser(running.url) for _ in range(2 * server.THREADS)]
    tokens = [
        re.search(r'name="csrf_token" value="([^"]+)"', b.get("/dang-nhap")).group(1)  # type: ignore[union-attr]
        for b in guessers
    ]
    try:
        threads = [
            threading.Thread(
                target=b.post,
                args=(
                    "/dang-nhap",
                    urllib.parse.urlencode({"csrf_token": t, "mat_khau": "sai"}).encode(),
                    "application/x-www-form-urlencoded",
                ),
            )
            for b, t in zip(guessers, tokens, strict=True)
        ]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        raw_answer = raw(
            running.port,
            b"GET /dang-nhap HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            timeout=5.0,
        )
        waited = time.monotonic() - started
        for thread in threads:
            thread.join(60)
    finally:
        running.stop()
    assert raw_answer.startswith(b"HTTP/1.1 200")
    assert waited < security.FAILED_LOGIN_DELAY, waited  # not queued behind slowed tries
