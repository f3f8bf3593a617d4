"""``create_app(workspace)``: the desk's Flask application for one opened workspace."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from tonghop.intake.inbox import MAX_FILE_BYTES
from tonghop.web import actions, downloads, pages, security, upload
from tonghop.web._desk import EXTENSION, Desk
from tonghop.workspace import Workspace

__all__ = ["Desk", "create_app"]

SESSION_COOKIE = "tonghop_phien"
# A form also carries its fields and the multipart boundaries: room for those beside a file
# as large as the intake reads (each file is held to MAX_FILE_BYTES on its own in .upload).
REQUEST_LIMIT = MAX_FILE_BYTES + 1024 * 1024


def create_app(
    workspace: Workspace,
    *,
    secret_key: bytes | None = None,
    upload_wait: float = 15.0,
    testing: bool = False,
) -> Flask:
    """The desk over ``workspace`` (its paths, configuration and clock; each server thread
    opens its own ledger). ``upload_wait``: how long an upload waits for a watcher (or
    another process) holding the intake to take the file before answering "waiting"."""
    app = Flask(__name__, static_url_path="/tep-tinh")
    app.config.update(
        # A new key each start: sessions end with the process, no secret is kept on disk.
        SECRET_KEY=secret_key or secrets.token_bytes(32),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        MAX_CONTENT_LENGTH=REQUEST_LIMIT,
        WTF_CSRF_TIME_LIMIT=None,  # a page left open all day still works; the session ends
        TESTING=testing,
        TEMPLATES_AUTO_RELOAD=False,
    )
    the_desk = Desk(workspace, upload_wait=upload_wait)
    app.extensions[EXTENSION] = the_desk
    app.teardown_appcontext(lambda _error: the_desk.release())
    CSRFProtect(app)
    security.install(app)
    for blueprint in (pages.blueprint, actions.blueprint, upload.blueprint, downloads.blueprint):
        app.register_blueprint(blueprint)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals.update(committee=workspace.config.committee)
    app.jinja_env.filters.update(when=_when, day=_day, number=_number, sentence=_sentence)
    return app


def _sentence(text: str) -> str:
    """«Quý II năm 2024» from «quý II năm 2024» (Jinja's capitalize would lower the rest)."""
    return text[:1].upper() + text[1:]


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%H:%M ngày %d/%m/%Y") if value else ""


def _day(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _number(value: Any) -> str:
    """A figure as the report writes it: 1.234.567 (a Vietnamese thousands separator)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{int(value):,}".replace(",", ".")
