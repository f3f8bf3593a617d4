"""Render the committee's Word report from a docxtpl template, and convert it to PDF.

The template (``templates/bao-cao.docx``) holds every layout choice; this module only fills
it. The Jinja environment escapes values for XML (a branch may write ``A & B`` or ``<w:p>``),
refuses unknown variables, and knows the Vietnamese filters of :mod:`tonghop.vnformat`.
The context it expects is described in ``docs/report-context.md``.

Files are written atomically: into a temporary file next to the target, then renamed, so a
half-written report never appears where the user (or Word) looks for it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import Environment, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from markupsafe import Markup

from tonghop import office
from tonghop.errors import (
    OfficeError,
    ReportError,
    ReportPdfError,
    ReportTemplateError,
    ReportWriteError,
    VnFormatError,
)
from tonghop.report._docxtemplate import NotADocx, compiled_template, fill, write_package
from tonghop.report.vnformat import FILTERS

__all__ = [
    "ReportError",
    "ReportPdfError",
    "ReportTemplateError",
    "ReportWriteError",
    "make_environment",
    "render_report",
    "write_pdf",
]

# Characters XML 1.0 forbids (Excel cells sometimes carry them); tab and newline are kept,
# docxtpl turns them into a tab and a line break.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TEMPLATE_FILENAME = "<template>"  # what Jinja calls a template made with from_string()


# --------------------------------------------------------------------------------------
# Jinja environment
# --------------------------------------------------------------------------------------
class _ReportEnvironment(SandboxedEnvironment):
    """Looks up ``a.b`` as the key ``b`` of a mapping before the attribute ``b``.

    The context is plain dicts, and some keys shadow dict methods: ``branch.values`` must be
    the branch's figures, not ``dict.values``. Sandboxed, because a template is a document
    that may come from elsewhere: it must not reach Python internals.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        # type() first: the context is plain dicts, and isinstance(obj, Mapping) is an ABC
        # check that costs more than the lookup (100,000 lookups for 5,000 branches)
        if (type(obj) is dict or isinstance(obj, Mapping)) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _finalize(value: Any) -> Any:
    """Applied to every ``{{ ... }}`` before escaping: NFC text, no XML-illegal characters."""
    if value is None:
        return ""
    # numbers, Markup (a str subclass) and the rest as they are; type() first, it is cheaper
    if type(value) is not str and (isinstance(value, Markup) or not isinstance(value, str)):
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _XML_ILLEGAL.sub("", value)
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def make_environment() -> Environment:
    """The Jinja environment reports are rendered with (autoescape, strict, Vietnamese filters)."""
    env = _ReportEnvironment(
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        extensions=["jinja2.ext.loopcontrols"],
    )
    env.filters.update(FILTERS)
    return env


# --------------------------------------------------------------------------------------
# Error messages
# --------------------------------------------------------------------------------------
def _display(path: Path) -> str:
    """A path as the user knows it: relative to the working folder when inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


_DOCXTPL_TAGS = {"p", "tr", "tc", "r"}
_SYNTAX_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"Unexpected end of template.*?innermost block that needs to be closed "
            r"is '(\w+)'",
            re.S,
        ),
        "thẻ {{%% {0} %%}} chưa được đóng (thiếu {{%% end{0} %%}})",
    ),
    (
        re.compile(r"Encountered unknown tag 'end(\w+)'"),
        "thẻ {{%% end{0} %%}} không có thẻ {{%% {0} %%}} mở tương ứng",
    ),
    (re.compile(r"Encountered unknown tag '(\w+)'"), "thẻ «{0}» không hợp lệ"),
    (re.compile(r"No filter named '([^']+)'"), "bộ lọc «{0}» không tồn tại"),
    (re.compile(r"No test named '([^']+)'"), "phép thử «{0}» không tồn tại"),
    (
        re.compile(r"Expected an expression"),
        "thẻ thiếu biểu thức hoặc điều kiện (ví dụ {{%% if %%}} mà không có điều kiện)",
    ),
    (re.compile(r"unexpected end of template", re.I), "thẻ chưa được đóng (thiếu }}}} hoặc %%}})"),
    (re.compile(r"unexpected char '(.)'"), "ký tự «{0}» không hợp lệ trong thẻ"),
    (re.compile(r"unexpected '(.+?)'"), "ký tự «{0}» đặt sai chỗ trong thẻ"),
    (re.compile(r"expected token '([^']+)', got '([^']+)'"), "thẻ viết sai, không hiểu «{1}»"),
]


def _syntax_problem(exc: TemplateSyntaxError) -> str:
    message = exc.message or ""
    unknown = re.search(r"Encountered unknown tag '(\w+)'", message)
    if unknown and unknown.group(1) in _DOCXTPL_TAGS:
        tag = unknown.group(1)
        return (
            f"thẻ {{%{tag} ... %}} đặt sai chỗ ({{%p %}} dùng cho đoạn văn, {{%tr %}} cho hàng "
            "bảng, {%tc %} cho ô bảng, {%r %} cho một đoạn chữ)"
        )
    for pattern, text in _SYNTAX_PATTERNS:
        match = pattern.search(message)
        if match:
            return text.replace("%%", "%").format(*match.groups())
    return "cú pháp thẻ {{ }} hoặc {% %} không đúng"


def _undefined_problem(message: str) -> str:
    match = re.match(r"'([^']*)' is undefined", message)
    if match:
        return f"biến «{match.group(1)}» không có trong dữ liệu"
    match = re.match(r"'([^']*)' has no (?:attribute|element) '?([^']*?)'?$", message)
    if match:
        owner, name = match.groups()
        if owner == "None":
            return f"không lấy được «{name}» vì giá trị chứa nó bị trống"
        return f"trường «{name}» không có trong dữ liệu"
    return "có biến không có trong dữ liệu"


def _problem(exc: BaseException) -> str:
    """The Vietnamese description of what went wrong while rendering."""
    if isinstance(exc, TemplateSyntaxError):
        return _syntax_problem(exc)
    if isinstance(exc, jinja2.UndefinedError):
        return _undefined_problem(exc.message or "")
    if isinstance(exc, VnFormatError):
        return f"không định dạng được giá trị: {str(exc).rstrip('.')}"
    if isinstance(exc, SecurityError):
        return "mẫu dùng một thao tác không được phép"
    if isinstance(exc, TypeError | ArithmeticError):
        return "phép tính hoặc so sánh không thực hiện được (có giá trị bị trống hoặc sai kiểu)"
    if isinstance(exc, TemplateError):
        return "thẻ mẫu không thực hiện được"
    return "dữ liệu không khớp với mẫu"


def _template_line(tb: TracebackType | None) -> int | None:
    """The line of the Jinja source where a runtime error happened, from the traceback."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _snippet(xml_line: str, limit: int = 90) -> str:
    """Visible text of one line of template XML (one paragraph), shortened."""
    text = re.sub(r"<[^>]+>", "", xml_line)
    text = " ".join(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _annotate(exc: BaseException, source: str, partname: str) -> None:
    """Note on ``exc`` which part, and which paragraph of it, a Jinja error came from."""
    if isinstance(exc, TemplateSyntaxError):
        # at the end of the template the line says nothing about where the block opened
        unclosed = "end of template" in (exc.message or "").lower()
        line = None if unclosed else exc.lineno
    else:
        line = _template_line(exc.__traceback__)
    lines = source.splitlines()  # one paragraph a line, as docxtpl numbers them
    if line and 0 < line <= len(lines):
        exc.tonghop_snippet = _snippet(lines[line - 1])  # type: ignore[attr-defined]
    exc.tonghop_part = str(partname)  # type: ignore[attr-defined]


def _template_error(template_path: Path, exc: BaseException) -> ReportTemplateError:
    where = ""
    part = getattr(exc, "tonghop_part", "")
    if "header" in part:
        where = " (ở phần đầu trang)"
    elif "footer" in part:
        where = " (ở phần chân trang)"
    snippet = getattr(exc, "tonghop_snippet", "")
    if snippet:
        where += f", tại đoạn «{snippet}»"
    message = f"Mẫu báo cáo {_display(template_path)} có lỗi: {_problem(exc)}{where}."
    return ReportTemplateError(message)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def _temporary_sibling(target: Path, suffix: str) -> Path:
    """A new empty file beside ``target``, created with the mode the process's umask gives
    (0644 by default) and not mkstemp's 0600: the report is renamed over from it, and a
    secretary reading the shared folder must be able to open it like every other output."""
    while True:
        # ".NAME.PID.tmp.docx": what tonghop.integrity.sweep_temporary removes once the
        # process is gone (killed between writing and renaming)
        token = secrets.token_hex(6)
        name = target.with_name(f".{target.stem}-{token}.{os.getpid()}.tmp{suffix}")
        try:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # pragma: no cover - 48 random bits taken already
            continue
        return name


def _replace(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
    except OSError as exc:
        source.unlink(missing_ok=True)
        raise ReportWriteError(
            f"Không ghi được tệp {_display(target)}: tệp đang mở trong Word hoặc thư mục "
            "không cho phép ghi. Hãy đóng tệp rồi thử lại."
        ) from exc


def render_report(
    template_path: Path,
    context: dict[str, Any],
    out_path: Path,
    *,
    before_replace: Callable[[Path], None] | None = None,
    place: bool = True,
) -> Path:
    """Fill the docxtpl template ``template_path`` with ``context`` and write ``out_path``.

    Returns ``out_path``. Raises :class:`ReportTemplateError` when the template is missing,
    is not a Word file, or has a Jinja problem (unknown variable, syntax error, misplaced
    tag), and :class:`ReportWriteError` when the result cannot be written. An existing
    ``out_path`` is left untouched on failure.
    """
    template_path = Path(template_path)
    out_path = Path(out_path)
    if not template_path.is_file():
        raise ReportTemplateError(f"Không tìm thấy mẫu báo cáo {_display(template_path)}.")
    try:
        template, _ = compiled_template(template_path, make_environment, _annotate)
        rendered = fill(template, context, _annotate)
    except OSError as exc:
        raise ReportTemplateError(f"Không đọc được mẫu báo cáo {_display(template_path)}.") from exc
    except NotADocx as exc:
        raise ReportTemplateError(
            f"Mẫu báo cáo {_display(template_path)} không phải tệp Word (.docx) hợp lệ."
        ) from exc
    except etree.XMLSyntaxError as exc:
        raise ReportTemplateError(
            f"Mẫu báo cáo {_display(template_path)} có lỗi: sau khi điền dữ liệu, tệp Word "
            "không còn hợp lệ (có thể do thẻ {%p %}, {%tr %} đặt sai chỗ)."
        ) from exc
    except Exception as exc:  # any failure inside the template is the template's problem
        raise _template_error(template_path, exc) from exc

    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = _temporary_sibling(out_path, ".docx")
    except OSError as exc:
        raise ReportWriteError(
            f"Không tạo được thư mục hoặc tệp trong {_display(out_path.parent)}."
        ) from exc
    try:
        write_package(template, rendered, temporary)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ReportWriteError(f"Không ghi được tệp {_display(out_path)}.") from exc
    if before_replace is not None:
        try:
            before_replace(temporary)  # the report is recorded before it appears
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    if not place:
        return temporary  # the caller renames it to out_path when it may appear
    _replace(temporary, out_path)
    return out_path


def write_pdf(docx_path: Path) -> Path | None:
    """Convert ``docx_path`` to a PDF next to it with LibreOffice; ``None`` if it is absent.

    The conversion runs in a temporary folder beside the report and the PDF is then renamed
    into place, so a half-written PDF never appears. Raises :class:`ReportPdfError` when
    LibreOffice fails (its Vietnamese message from :mod:`tonghop.office`) and
    :class:`ReportWriteError` when the PDF cannot be put in place.
    """
    docx_path = Path(docx_path)
    if office.find_soffice() is None:
        return None
    target = docx_path.with_suffix(".pdf")
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{docx_path.stem}-pdf-", dir=docx_path.parent))
    except OSError as exc:
        raise ReportWriteError(
            f"Không ghi được tệp PDF vào thư mục {_display(docx_path.parent)}."
        ) from exc
    try:
        produced = office.convert(docx_path, "pdf", work)
        _replace(produced, target)
    except OfficeError as exc:
        raise ReportPdfError(str(exc)) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
