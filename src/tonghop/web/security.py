"""The desk's guards: the password and its login page, the headers every answer carries, and
Vietnamese error pages that never show a traceback.

CSRF is Flask-WTF's CSRFProtect (every POST needs the session's token; a missing or wrong
token is answered 403 here); the session is Flask's signed cookie, HttpOnly and
SameSite=Strict; the password is checked against werkzeug's hash from tonghop.toml.
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash

from tonghop.errors import (
    ArchiveDamaged,
    LedgerDamaged,
    LockBusy,
    StorageError,
    TonghopError,
)
from tonghop.web._desk import desk

log = logging.getLogger("tonghop.web")

# No script, style, image or font from anywhere but the desk itself; no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SIGNED_IN = "da_dang_nhap"
# Endpoints a visitor without the password may reach.
OPEN_ENDPOINTS = {"auth.login", "static"}
FAILED_LOGIN_DELAY = 1.0  # seconds: guessing passwords from the network stays slow

ERRORS = {
    400: (
        "Yêu cầu không hợp lệ",
        "Trang nhận được yêu cầu không đúng dạng. Hãy quay lại và thử lại.",
    ),
    403: (
        "Không được phép",
        "Yêu cầu này không kèm mã bảo vệ hợp lệ của trang (có thể trang đã mở quá lâu hoặc "
        "chương trình vừa khởi động lại). Hãy tải lại trang rồi làm lại thao tác.",
    ),
    404: ("Không tìm thấy", "Không có trang hay tệp này. Hãy quay về trang chính và chọn lại."),
    405: ("Không dùng được cách này", "Trang này không nhận yêu cầu kiểu đó."),
    413: (
        "Tệp quá lớn",
        "Tệp gửi lên lớn hơn mức chương trình nhận. Một báo cáo của chi bộ chỉ vài chục KB: "
        "hãy kiểm tra lại có đúng tệp Excel báo cáo không.",
    ),
    503: (
        "Chưa làm được việc này",
        "Sổ ghi nhận hoặc kho lưu trữ đang bận hay bị hỏng. Hãy thử lại sau ít phút.",
    ),
    500: (
        "Lỗi của chương trình",
        "Chương trình gặp lỗi bất thường khi làm việc này. Chi tiết kỹ thuật đã được ghi vào "
        "nhật ký trong thư mục logs/; hãy báo cho người cài đặt.",
    ),
}

OTHER_HOST = (
    "Bàn làm việc chỉ mở bằng địa chỉ của chính máy này, ví dụ http://127.0.0.1:8765 hoặc "
    "http://localhost:8765 (như chương trình in ra khi khởi động). Nếu cần mở từ máy khác "
    "trong mạng, hãy đặt mật khẩu bằng «tonghop web-password»."
)

auth = Blueprint("auth", __name__)
_login_guard = threading.Lock()


def install(app: Flask) -> None:
    app.register_blueprint(auth)
    # First of all, before even the CSRF check reads the form.
    app.before_request_funcs.setdefault(None, []).insert(0, _require_local_host)
    app.before_request(_require_password)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(TonghopError, _tonghop_error)
    app.register_error_handler(sqlite3.Error, _sqlite_error)
    app.register_error_handler(Exception, _unexpected)


def password_required() -> bool:
    return bool(desk().password_hash)


def is_local_name(host: str) -> bool:
    """``host`` (a Host header, port included) is "localhost" or an address: a name no other
    site can make its own."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # "[::1" and the like
        return False
    if name in ("localhost", "localhost."):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _require_local_host() -> ResponseReturnValue | None:
    """Without a password, only a page asked for by this computer's names is served: a web
    site whose own name it makes point at 127.0.0.1 (DNS rebinding) is, to the browser, the
    desk's own origin, and could read every page and the CSRF token on it. With a password
    (a desk opened to the network, maybe by the computer's name) the password guards."""
    if password_required():
        return None
    try:
        host = request.host
    except ValueError:
        host = ""
    if is_local_name(host):
        return None
    return error_page(400, OTHER_HOST)


def _require_password() -> ResponseReturnValue | None:
    if not password_required() or session.get(SIGNED_IN):
        return None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@auth.route("/dang-nhap", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    wrong = False
    target = _safe_next(request.values.get("next", ""))
    if not password_required():
        return redirect(target)
    if request.method == "POST":
        # Guessing is slowed without holding a server thread: a try within the delay of the
        # last failed one is refused unchecked (a sleeping thread per wrong try would let a
        # few in flight stop the desk answering anyone).
        with _login_guard:
            too_soon = time.monotonic() - desk().last_failed_login < FAILED_LOGIN_DELAY
        if too_soon:
            return render_template("login.html", wrong=True, too_soon=True, next=target), 429
        password = request.form.get("mat_khau", "")
        if check_password_hash(desk().password_hash, password):
            session.clear()  # a new session: nothing set before signing in survives it
            session[SIGNED_IN] = True
            return redirect(target)
        with _login_guard:
            desk().last_failed_login = time.monotonic()
        wrong = True
    return render_template("login.html", wrong=wrong, next=target), 401 if wrong else 200


@auth.route("/dang-xuat", methods=["POST"])
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("auth.login") if password_required() else url_for("pages.index"))


def _safe_next(target: str) -> str:
    """Only a path of this desk: never another site (``//evil``, ``https://...``)."""
    parts = urlsplit(target)
    # Browsers read a backslash as a slash: "/\\evil" is "//evil", another site. No control
    # character either: a header cannot hold a newline, and browsers drop tabs.
    if not target.startswith("/") or "\\" in target or target.startswith("//"):
        return url_for("pages.index")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return url_for("pages.index")
    if parts.scheme or parts.netloc:
        return url_for("pages.index")
    return target


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Nothing but the desk's own script and style is kept by the browser: a report or a
    # branch's file downloaded on a shared computer stays out of its cache.
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(code: int, detail: str | None = None) -> tuple[str, int]:
    title, text = ERRORS.get(code, ERRORS[400] if code < 500 else ERRORS[500])
    return render_template("error.html", code=code, title=title, text=detail or text), code


def _csrf_failed(error: Any) -> ResponseReturnValue:
    return error_page(403)


def _http_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    if 300 <= code < 400:  # a redirect raised by routing (a missing trailing slash)
        return error
    return error_page(code)


# The workspace's state, not the request, is at fault: the page can only say what to do.
_UNAVAILABLE = (LockBusy, LedgerDamaged, ArchiveDamaged, StorageError)


def _tonghop_error(error: TonghopError) -> ResponseReturnValue:
    """An error the program explains (a damaged or busy ledger, a bad value): its message."""
    log.warning("Trang làm việc, %s %s: %s", request.method, request.path, error.message)
    return error_page(503 if isinstance(error, _UNAVAILABLE) else 400, error.message)


def _sqlite_error(error: sqlite3.Error) -> ResponseReturnValue:
    """SQLite's own error, as the commands would explain it: a disk that refuses writes, a
    busy or a damaged ledger (probed as ``tonghop verify`` does)."""
    from tonghop.integrity import probe_ledger, storage_error
    from tonghop.ledger import ledger_damaged

    layout = desk().layout
    explained: TonghopError | None = storage_error(error, layout.archive)
    if explained is None and isinstance(error, sqlite3.DatabaseError):
        try:
            reason = probe_ledger(layout.ledger, desk().workspace().archive)
        except (sqlite3.Error, TonghopError, OSError):
            reason = None
        if reason is not None:
            explained = ledger_damaged(layout.ledger, reason)
    if explained is None:
        return _unexpected(error)
    return _tonghop_error(explained)


def _unexpected(error: Exception) -> ResponseReturnValue:
    log.exception(
        "Lỗi bất thường của trang làm việc khi trả lời %s %s", request.method, request.path
    )
    return error_page(500)
