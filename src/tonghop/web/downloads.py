"""Downloads: only files the workspace lists, looked up by a period's kind of output or a
file's id. No part of a request's path is ever joined to a folder: a name that is not listed
(``../tonghop.toml`` included) is simply not found."""

from __future__ import annotations

import io
import mimetypes
import unicodedata
import zipfile
from pathlib import Path

from flask import Blueprint, send_file
from flask.typing import ResponseReturnValue

from tonghop.ledger import Submission
from tonghop.periods import Period
from tonghop.report.drafts import DRAFT_NAME, Reports
from tonghop.report.publish import AGGREGATE_NAME
from tonghop.web._desk import not_found, period_or_404, submission_or_404, workspace
from tonghop.workspace import Workspace

blueprint = Blueprint("downloads", __name__)

FORMS_FOLDER = "bieu-mau"
# The kinds of a period's outputs a page links to, and the Vietnamese words of the link.
KINDS = {
    "bao-cao.docx": "Báo cáo (Word)",
    "bao-cao.pdf": "Báo cáo (PDF)",
    "tong-hop-so-lieu.xlsx": "Bảng tổng hợp số liệu (Excel)",
    "bieu-mau.zip": "Tất cả biểu mẫu trống (.zip)",
}


def _regular(path: Path, inside: Path) -> Path | None:
    """``path`` when it is a regular file (not a link) inside ``inside``; else None."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        if not path.resolve().is_relative_to(inside.resolve()):
            return None
    except OSError:
        return None
    return path


def report_path(ws: Workspace, period: Period) -> Path:
    """The report a reader wants now: the final one of a finalized period, else the draft
    last written (never a path from the request: the ledger records where it wrote)."""
    final = ws.period_state(period).final
    current = Reports(ws.ledger, ws.layout).current(period, final=final)
    if current is not None:
        return current
    return ws.layout.period_outbox(period) / f"{DRAFT_NAME.format(period=period.code)}.docx"


def form_paths(ws: Workspace, period: Period) -> list[Path]:
    folder = ws.layout.period_outbox(period) / FORMS_FOLDER
    if not folder.is_dir():
        return []
    found = (_regular(p, folder) for p in sorted(folder.glob("*.xlsx")))
    return [p for p in found if p is not None and not p.name.startswith((".", "~"))]


def period_file(ws: Workspace, period: Period, kind: str) -> Path | None:
    """The file behind one of ``KINDS`` for ``period``, when it exists."""
    outbox = ws.layout.period_outbox(period)
    report = report_path(ws, period)
    listed = {
        "bao-cao.docx": report,
        "bao-cao.pdf": report.with_suffix(".pdf"),
        "tong-hop-so-lieu.xlsx": outbox / AGGREGATE_NAME,
    }
    path = listed.get(kind)
    return _regular(path, outbox) if path is not None else None


def period_files(ws: Workspace, period: Period) -> dict[str, str]:
    """Kind -> the link's words, for each output of ``period`` there is to download."""
    found = {kind: label for kind, label in KINDS.items() if period_file(ws, period, kind)}
    if form_paths(ws, period):
        found["bieu-mau.zip"] = KINDS["bieu-mau.zip"]
    return found


def feedback_of(ws: Workspace, sub: Submission) -> Path | None:
    """The answer written for ``sub`` (the ledger keeps its path under outbox/)."""
    if not sub.feedback:
        return None
    return _regular(ws.layout.outbox / sub.feedback, ws.layout.outbox)


def receipt_of(ws: Workspace, sub: Submission) -> Path | None:
    """The receipt of an accepted return, when one was written (outbox/KỲ/xac-nhan/)."""
    if not sub.receipt:
        return None
    return _regular(ws.layout.outbox / sub.receipt, ws.layout.outbox)


def _send(path: Path, name: str | None = None) -> ResponseReturnValue:
    return send_file(path, as_attachment=True, download_name=name or path.name, max_age=0)


@blueprint.route("/ky/<code>/tai/<kind>")
def period_download(code: str, kind: str) -> ResponseReturnValue:
    ws = workspace()
    period = period_or_404(code)
    if kind == "bieu-mau.zip":
        return _forms_zip(ws, period)
    path = period_file(ws, period, kind) if kind in KINDS else None
    if path is None:
        not_found()
    return _send(path)


def _forms_zip(ws: Workspace, period: Period) -> ResponseReturnValue:
    paths = form_paths(ws, period)
    if not paths:
        not_found()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, arcname=path.name)
    buffer.seek(0)
    return send_file(
        buffer,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"bieu-mau-{period.code}.zip",
        max_age=0,
    )


@blueprint.route("/tep/<int:ref>/goc")
def original(ref: int) -> ResponseReturnValue:
    """The file as the branch sent it, from the archive."""
    ws = workspace()
    sub = submission_or_404(ref)
    if not sub.sha256 or not ws.archive.has(sub.sha256):
        not_found()
    data = ws.archive.read(sub.sha256)
    kind = mimetypes.guess_type(sub.source_name)[0] or "application/octet-stream"
    return send_file(
        io.BytesIO(data),
        mimetype=kind,
        as_attachment=True,
        download_name=_header_safe(Path(sub.source_name).name) or f"tep-{ref}",
        max_age=0,
    )


def _header_safe(name: str) -> str:
    """``name`` without control characters: a file dropped straight into inbox/ may carry a
    newline in its name, which no header may hold."""
    return "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()


@blueprint.route("/tep/<int:ref>/phan-hoi")
def feedback(ref: int) -> ResponseReturnValue:
    path = feedback_of(workspace(), submission_or_404(ref))
    if path is None:
        not_found()
    return _send(path)


@blueprint.route("/tep/<int:ref>/xac-nhan")
def receipt(ref: int) -> ResponseReturnValue:
    path = receipt_of(workspace(), submission_or_404(ref))
    if path is None:
        not_found()
    return _send(path)
