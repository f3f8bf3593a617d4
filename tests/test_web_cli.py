"""`tonghop serve`, `tonghop web-password`, the desk beside `tonghop watch`, and [web] in
tonghop.toml, through click's CliRunner and a real waitress server on a free port."""

from __future__ import annotations

import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from werkzeug.security import check_password_hash

from tonghop.cli import CliContext, cli
from tonghop.errors import ConfigError
from tonghop.layout import Layout
from tonghop.web import server
from tonghop.workspace import open_workspace

from .conftest import FakeClock
from .helpers import is_vietnamese


def invoke(workspace: Layout, *args: str, clock: FakeClock | None = None, **kw: Any) -> Result:
    return CliRunner().invoke(
        cli,
        ["--home", str(workspace.home), *args],
        obj=CliContext(str(workspace.home), clock),
        **kw,
    )


def set_password(workspace: Layout, password: str = "mat-khau-manh") -> Result:
    return invoke(workspace, "web-password", input=f"{password}\n{password}\n")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "may-chu.local", "::"])
def test_serving_the_network_without_a_password_is_refused(workspace: Layout, host: str) -> None:
    result = invoke(workspace, "serve", "--host", host)
    assert result.exit_code == 2
    assert "tonghop web-password" in result.output and is_vietnamese(result.output)
    assert "Traceback" not in result.output


def test_watch_refuses_the_same_before_watching(
    workspace: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the watcher started")

    monkeypatch.setattr("tonghop.watch.watcher.run_watch", never)
    result = invoke(workspace, "watch", "--host", "0.0.0.0")
    assert result.exit_code == 2 and "mật khẩu" in result.output


def test_the_host_in_the_config_is_held_to_the_same_rule(workspace: Layout) -> None:
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(text + '\n[web]\nhost = "0.0.0.0"\n', encoding="utf-8")
    assert invoke(workspace, "serve").exit_code == 2


def test_web_password_stores_a_hash_and_keeps_the_comments(workspace: Layout) -> None:
    before = workspace.config_path.read_text(encoding="utf-8")
    result = set_password(workspace)
    assert result.exit_code == 0, result.output
    after = workspace.config_path.read_text(encoding="utf-8")
    assert "mat-khau-manh" not in after
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(line in after.splitlines() for line in comments)
    stored = tomllib.loads(after)["web"]["password_hash"]
    assert check_password_hash(stored, "mat-khau-manh")
    ws = open_workspace(workspace.home)
    assert check_password_hash(ws.config.web.password_hash, "mat-khau-manh")
    server.check_bind(ws, "0.0.0.0")  # a password now: the network may be served
    ws.close()
    again = set_password(workspace, "mat-khau-khac")
    assert again.exit_code == 0
    text = workspace.config_path.read_text(encoding="utf-8")
    assert text.count("password_hash") == 1
    assert check_password_hash(tomllib.loads(text)["web"]["password_hash"], "mat-khau-khac")


def test_web_password_refuses_a_short_or_mismatched_one(workspace: Layout) -> None:
    before = workspace.config_path.read_bytes()
    short = set_password(workspace, "ngan")
    assert short.exit_code == 2 and "ít nhất" in short.output
    mismatch = invoke(workspace, "web-password", input="mat-khau-mot\nmat-khau-hai\n" * 3)
    assert mismatch.exit_code != 0
    assert "không khớp" in mismatch.output
    assert workspace.config_path.read_bytes() == before


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ('port = "tám"', "port"),
        ("port = 70000", "65535"),
        ('hots = "127.0.0.1"', "có phải"),
        ('password_hash = "matkhau"', "web-password"),
    ],
)
def test_web_section_is_checked_like_the_rest(workspace: Layout, lines: str, words: str) -> None:
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(text + f"\n[web]\n{lines}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        workspace.load_config()
    assert words in caught.value.message and "[web]" in caught.value.message


def test_serve_prints_the_url_and_opens_the_browser(
    workspace: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    monkeypatch.setattr("waitress.server.TcpWSGIServer.run", lambda self: None)
    result = invoke(workspace, "serve", "--port", "0", "--open")
    assert result.exit_code == 0, result.output
    url = opened[0]
    assert url.startswith("http://127.0.0.1:") and url in result.output
    assert not url.endswith(":0/")


def fetch(url: str) -> tuple[int, str, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read().decode("utf-8"), dict(answer.headers)


def test_the_server_serves_the_desk_on_a_free_port(workspace: Layout, clock: FakeClock) -> None:
    ws = open_workspace(workspace.home, clock=clock)
    running = server.start(ws, "127.0.0.1", 0)
    try:
        status, body, headers = fetch(running.url + "ky/2024-H1")
        assert status == 200 and "Tình hình nộp báo cáo" in body
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    finally:
        running.stop()
        ws.close()
    assert not running.thread.is_alive()


def test_watch_serves_the_desk_beside_the_watcher_unless_no_web(
    workspace: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    started: list[server.Running] = []
    real_start = server.start

    def recording_start(*args: Any, **kwargs: Any) -> server.Running:
        started.append(real_start(*args, **kwargs))
        return started[-1]

    def fake_watch(workspace: Any, options: Any, **kwargs: Any) -> Any:
        if started:
            seen.append(fetch(started[-1].url)[1])

        class Done:
            taken = 0

        return Done()

    monkeypatch.setattr(server, "start", recording_start)
    monkeypatch.setattr("tonghop.watch.watcher.run_watch", fake_watch)
    result = invoke(workspace, "watch", "--port", "0")
    assert result.exit_code == 0, result.output
    assert len(started) == 1 and started[0].url in result.output
    assert "Các kỳ báo cáo" in seen[0]
    assert not started[0].thread.is_alive()  # stopped with the watcher
    started.clear()
    quiet = invoke(workspace, "watch", "--no-web")
    assert quiet.exit_code == 0, quiet.output
    assert started == [] and "Bàn làm việc" not in quiet.output


def test_a_port_in_use_is_a_message_not_a_crash(workspace: Layout, clock: FakeClock) -> None:
    ws = open_workspace(workspace.home, clock=clock)
    first = server.start(ws, "127.0.0.1", 0)
    try:
        result = invoke(workspace, "serve", "--port", str(first.port))
        assert result.exit_code == 2 and "--port" in result.output and is_vietnamese(result.output)
    finally:
        first.stop()
        ws.close()


def test_watch_goes_on_without_its_desk_when_the_port_is_taken(
    workspace: Layout, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched: list[bool] = []

    def fake_watch(workspace: Any, options: Any, **kwargs: Any) -> Any:
        watched.append(True)

        class Done:
            taken = 0

        return Done()

    monkeypatch.setattr("tonghop.watch.watcher.run_watch", fake_watch)
    ws = open_workspace(workspace.home, clock=clock)
    first = server.start(ws, "127.0.0.1", 0)
    try:
        result = invoke(workspace, "watch", "--port", str(first.port))
    finally:
        first.stop()
        ws.close()
    assert result.exit_code == 0, result.output
    assert watched == [True]
    assert "Cảnh báo" in result.output and "Vẫn tiếp tục theo dõi" in result.output


def test_loopback_addresses_are_told_apart_from_the_network() -> None:
    assert server.is_loopback("127.0.0.1") and server.is_loopback("localhost")
    assert server.is_loopback("::1") and server.is_loopback("127.8.9.1")
    for host in ["0.0.0.0", "::", "10.0.0.5", "example.org", ""]:
        assert not server.is_loopback(host), host


def test_the_desk_ships_in_the_package() -> None:
    import tonghop.web

    folder = Path(tonghop.web.__file__).parent
    assert (folder / "static" / "desk.css").is_file() and (folder / "static" / "desk.js").is_file()
    assert (folder / "templates" / "period.html").is_file()
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]["tonghop"]
    assert "web/templates/*" in data and "web/static/*" in data
