"""``tonghop serve`` and ``tonghop web-password``, and the --host/--port/--no-web options
``tonghop watch`` shares. Only click is imported here; the desk itself when it starts."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from tonghop.cli import CliContext
    from tonghop.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
MIN_PASSWORD = 8


def web_options(func: F) -> F:
    """--host and --port, overriding [web] host and port of tonghop.toml."""
    func = click.option(
        "--port",
        type=click.IntRange(0, 65535),
        metavar="CỔNG",
        help="Cổng của bàn làm việc (mặc định: [web] port trong tonghop.toml, hoặc 8765).",
    )(func)
    return click.option(
        "--host",
        metavar="ĐỊA_CHỈ",
        help="Địa chỉ mở bàn làm việc (mặc định: [web] host, hoặc 127.0.0.1 chỉ cho máy "
        "này); địa chỉ khác cần mật khẩu («tonghop web-password»).",
    )(func)


def _chosen(workspace: Workspace, host: str | None, port: int | None) -> tuple[str, int]:
    web = workspace.config.web
    return host or web.host, web.port if port is None else port


@click.command("serve", options_metavar="[TÙY_CHỌN]")
@web_options
@click.option("--open", "open_browser", is_flag=True, help="Mở bàn làm việc trong trình duyệt.")
@click.pass_obj
def serve(context: CliContext, host: str | None, port: int | None, open_browser: bool) -> None:
    """Mở bàn làm việc (trang web trên máy này) để xem và xử lý báo cáo (Ctrl-C để dừng)."""
    from tonghop.watch.watcher import configure_logging
    from tonghop.web.server import serve as serve_desk

    workspace = context.open()
    host, port = _chosen(workspace, host, port)
    undo_logging = configure_logging(workspace.layout.logs, console=False)
    try:
        serve_desk(workspace, host, port, open_browser=open_browser, echo=click.echo)
    finally:
        undo_logging()


@contextmanager
def desk_beside_watch(
    workspace: Workspace, host: str | None, port: int | None, *, enabled: bool
) -> Iterator[None]:
    """The desk in a thread for as long as ``tonghop watch`` runs (unless --no-web)."""
    if not enabled:
        yield
        return
    from tonghop.errors import PortBusy
    from tonghop.web.server import check_bind, start

    host, port = _chosen(workspace, host, port)
    check_bind(workspace, host)  # no password for the network: refuse to start at all
    try:
        running = start(workspace, host, port)
    except PortBusy as exc:
        # The watcher is the service that must run: without its desk, it still takes files.
        click.secho(
            f"Cảnh báo: {exc.message} Vẫn tiếp tục theo dõi inbox/ (không có bàn làm việc).",
            fg="yellow",
            err=True,
        )
        yield
        return
    click.echo(f"Bàn làm việc: {running.url}")
    try:
        yield
    finally:
        running.stop()


@click.command("web-password", options_metavar="[TÙY_CHỌN]")
@click.pass_obj
def web_password(context: CliContext) -> None:
    """Đặt mật khẩu của bàn làm việc (lưu dạng mã hóa trong tonghop.toml)."""
    from werkzeug.security import generate_password_hash

    from tonghop.errors import UsageError
    from tonghop.tomlfile import set_text_key

    workspace = context.open()
    password = click.prompt(
        "Mật khẩu mới", hide_input=True, confirmation_prompt=True, prompt_suffix=": "
    )
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.")
    path = workspace.layout.config_path
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    updated = set_text_key(text, "web", "password_hash", generate_password_hash(password))
    tomllib.loads(updated)  # the file stays valid TOML, or nothing is written
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(("\ufeff" if bom else "").encode() + updated.encode("utf-8"))
    os.replace(temp, path)
    click.echo(
        f"Đã lưu mật khẩu (dạng mã hóa) vào {path}. Hãy khởi động lại «tonghop serve» hoặc "
        "«tonghop watch» để dùng mật khẩu mới."
    )
