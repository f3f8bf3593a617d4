"""Serving the desk with waitress (pure Python, runs on Windows): in the foreground for
``tonghop serve``, or in a thread beside the watcher for ``tonghop watch``."""

from __future__ import annotations

import gc
import ipaddress
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tonghop.errors import PortBusy, UsageError
from tonghop.workspace import Workspace

__all__ = ["Running", "check_bind", "is_loopback", "serve", "start", "url_of"]

THREADS = 8  # a page polling for changes holds no thread: each poll is a short request
# waitress keeps a request's whole body (in a temporary file) before the desk sees it, by
# default up to 1 GB: a body far beyond what the desk takes is refused from its length.
# Twice the desk's limit, so that a file a person might drop by mistake still gets the
# desk's Vietnamese answer; only beyond that waitress answers itself.
BODY_LIMIT_FACTOR = 2


def is_loopback(host: str) -> bool:
    """Only this computer can reach ``host``: localhost or a loopback address."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to the network card


def check_bind(workspace: Workspace, host: str) -> None:
    """Refuse to listen beyond this computer without a password (UsageError, exit 2)."""
    if is_loopback(host) or workspace.config.web.password_hash:
        return
    raise UsageError(
        f"Không mở bàn làm việc trên địa chỉ {host}: địa chỉ này cho các máy khác trong mạng "
        "vào được, nên phải đặt mật khẩu trước. Hãy chạy «tonghop web-password» để đặt mật "
        "khẩu, hoặc bỏ --host để chỉ mở trên máy này (127.0.0.1)."
    )


def url_of(host: str, port: int) -> str:
    # Listening on every address: this computer opens it by its loopback address.
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


@dataclass
class Running:
    """A desk served in a thread; ``stop()`` ends it."""

    server: Any
    thread: threading.Thread
    url: str
    port: int

    def stop(self) -> None:
        _close(self.server, from_outside=True)
        self.thread.join(timeout=10)


def _create(workspace: Workspace, host: str, port: int, **app_options: Any) -> tuple[Any, int]:
    from waitress import create_server

    from tonghop.web.app import REQUEST_LIMIT, create_app

    app = create_app(workspace, **app_options)
    failure = None
    # waitress leaves the socket and wake-up pipe of a server that failed to bind open; they
    # are freed (and collected) here, without their warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            server = create_server(
                app,
                host=host,
                port=port,
                threads=THREADS,
                ident="tonghop",
                max_request_body_size=BODY_LIMIT_FACTOR * REQUEST_LIMIT,
            )
        except OSError as exc:
            failure = exc.strerror or str(exc)
        if failure is not None:
            gc.collect()
    if failure is not None:
        raise PortBusy(
            f"Không mở được bàn làm việc trên {host}, cổng {port}: {failure}. "
            "Có thể cổng đang được chương trình khác dùng (hoặc một «tonghop serve» khác đang "
            "chạy); hãy chọn cổng khác bằng --port, ví dụ --port 8766."
        )
    effective = getattr(server, "effective_port", None)
    if effective is None:  # several addresses (a name resolving to IPv4 and IPv6)
        effective = server.effective_listen[0][1]
    return server, int(effective)


def _close(server: Any, *, from_outside: bool = False) -> None:
    """Stop answering and close the server's sockets. ``from_outside``: the server's loop
    runs in another thread; its sockets are closed by that loop itself (through waitress's
    trigger), never under its feet (which broke it with EBADF now and then)."""
    from waitress import trigger, wasyncore

    server.task_dispatcher.shutdown()
    sockets = getattr(server, "map", None) or server._map
    wake = next((d for d in list(sockets.values()) if isinstance(d, trigger.trigger)), None)
    if from_outside and wake is not None:
        wake.pull_trigger(lambda: wasyncore.close_all(sockets))
    else:
        wasyncore.close_all(sockets)


def start(workspace: Workspace, host: str, port: int, **app_options: Any) -> Running:
    """Serve the desk in a daemon thread; returns once it listens."""
    check_bind(workspace, host)
    server, effective = _create(workspace, host, port, **app_options)
    thread = threading.Thread(target=server.run, name="tonghop-desk", daemon=True)
    thread.start()
    return Running(server, thread, url_of(host, effective), effective)


def serve(
    workspace: Workspace,
    host: str,
    port: int,
    *,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the desk until Ctrl-C."""
    check_bind(workspace, host)
    server, effective = _create(workspace, host, port)
    url = url_of(host, effective)
    echo(f"Bàn làm việc: {url} (nhấn Ctrl-C để dừng)")
    if not is_loopback(host):
        echo(f"Máy khác trong mạng mở bằng địa chỉ IP của máy này, cổng {effective}.")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.run()
    finally:
        _close(server)
