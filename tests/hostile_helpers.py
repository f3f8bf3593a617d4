"""Shared by the hostile tests of the desk: a snapshot of everything a request could change,
a URL for every rule, and a session with the real server."""

from __future__ import annotations

import contextlib
import hashlib
import http.cookiejar
import re
import socket
import sqlite3
import urllib.error
import urllib.request
from typing import Any

from flask import Flask

from tonghop.workspace import Workspace

from .desk_helpers import PERIOD, submission_ids


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


def raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := conn.recv(65536):
                answer += chunk
    return answer


class Browser:
    """A session with the real server: cookies kept, the token read from a page."""

    def __init__(self, base: str) -> None:
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
        request = urllib.request.Request(
            self.base + path.lstrip("/"), data=body, headers={"Content-Type": content_type}
        )
        try:
            with self.opener.open(request, timeout=60) as answer:
                return answer.status, answer.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8")


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
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
