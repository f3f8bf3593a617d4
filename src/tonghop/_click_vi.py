"""click's own messages in Vietnamese ("Usage:", "Show this message and exit.", "Missing
option", "No such command" ...).

Why a patch: click translates through ``gettext.gettext`` in the ``messages`` domain with the
languages of the environment (LANGUAGE, LC_ALL, LANG), so a .mo file would be found only on a
machine set to Vietnamese, and an English-locale Windows or a service never is. Every click
module that speaks binds ``_`` (and ``ngettext``) at module level, and looks them up at call
time, so ``install`` rebinds them to the table below. Placeholders are click's own, so each
message still receives its fields; a translation may leave a field out (``{number_type}``
and ``{name}`` are click's English words) because ``str.format`` ignores unused fields.
A message missing from the table passes through unchanged.
"""

from __future__ import annotations

import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.shell_completion
import click.termui
import click.types
import click.utils

__all__ = ["MESSAGES", "PLURALS", "install", "ngettext", "translate"]

MESSAGES: dict[str, str] = {
    # help
    "Usage:": "Cách dùng:",
    "Options": "Tùy chọn",
    "Commands": "Lệnh",
    "Positional arguments": "Tham số",
    "Show this message and exit.": "Hiện hướng dẫn này rồi thoát.",
    "Show the version and exit.": "Hiện số phiên bản rồi thoát.",
    "%(prog)s, version %(version)s": "%(prog)s, phiên bản %(version)s",
    "default: {default}": "mặc định: {default}",
    "env var: {var}": "biến môi trường: {var}",
    # a no-break space: click's wrapping would otherwise leave "[bắt" and "buộc]" on two lines
    "required": "bắt\u00a0buộc",
    "(dynamic)": "(tính khi chạy)",
    "deprecated": "không còn dùng",
    "Confirm the action without prompting.": "Xác nhận luôn, không hỏi lại.",
    # errors
    "Error: {message}": "Lỗi: {message}",
    "Try '{command} {option}' for help.": "Hãy chạy '{command} {option}' để xem hướng dẫn.",
    "Aborted!": "Đã hủy.",
    "unknown error": "lỗi không rõ",
    "Invalid value for {param_hint}: {message}": "Giá trị không hợp lệ cho {param_hint}: {message}",
    "Invalid value: {message}": "Giá trị không hợp lệ: {message}",
    "Missing argument": "Thiếu tham số",
    "Missing option": "Thiếu tùy chọn",
    "Missing parameter": "Thiếu tham số",
    "Missing {param_type}": "Thiếu giá trị",
    "Missing parameter: {param_name}": "Thiếu tham số: {param_name}",
    "Missing command.": "Thiếu lệnh.",
    "No such command {name!r}.": "Không có lệnh {name!r}.",
    "No such option {name!r}.": "Không có tùy chọn {name!r}.",
    "Option {name!r} does not take a value.": "Tùy chọn {name!r} không nhận giá trị.",
    "Invalid start character for option ({option})": (
        "Ký tự đầu không hợp lệ cho tùy chọn ({option})"
    ),
    "Argument {name!r} takes {nargs} values.": "Tham số {name!r} cần {nargs} giá trị.",
    "Value must be an iterable.": "Giá trị phải là một dãy giá trị.",
    "Choose from:\n\t{choices}": "Hãy chọn một trong:\n\t{choices}",
    "Could not open file {filename!r}: {message}": "Không mở được tệp {filename!r}: {message}",
    "{name} {filename!r} does not exist.": "Không tìm thấy {filename!r}.",
    "{name} {filename!r} is a directory.": "{filename!r} là thư mục, không phải tệp.",
    "{name} {filename!r} is a file.": "{filename!r} là tệp, không phải thư mục.",
    "{name} {filename!r} is not readable.": "Không đọc được {filename!r}.",
    "{name} {filename!r} is not writable.": "Không ghi được vào {filename!r}.",
    "{name} {filename!r} is not executable.": "{filename!r} không chạy được.",
    "directory": "thư mục",
    "file": "tệp",
    "path": "đường dẫn",
    "{value!r} is not a valid {number_type}.": "{value!r} không phải là số hợp lệ.",
    "{value} is not in the range {range}.": "{value} nằm ngoài khoảng cho phép ({range}).",
    "{value!r} is not a valid boolean. Recognized values: {states}": (
        "{value!r} không phải giá trị có/không hợp lệ. Các giá trị được nhận: {states}"
    ),
    "{value!r} is not a valid UUID.": "{value!r} không phải là UUID hợp lệ.",
    # prompts
    "Repeat for confirmation": "Nhập lại để xác nhận",
    "Error: The two entered values do not match.": "Lỗi: hai giá trị đã nhập không khớp nhau.",
    "Error: invalid input": "Lỗi: giá trị nhập không hợp lệ",
    "Do you want to continue?": "Có tiếp tục không?",
    "Press any key to continue...": "Nhấn một phím bất kỳ để tiếp tục...",
    # warnings and shell completion
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}": (
        "Cảnh báo: lệnh {name!r} không còn được dùng.{extra_message}"
    ),
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}": (
        "Cảnh báo: {name!r} không còn được dùng.{extra_message}"
    ),
    "Couldn't detect Bash version, shell completion is not supported.": (
        "Không xác định được phiên bản Bash; không hỗ trợ tự hoàn thành lệnh."
    ),
    "Shell completion is not supported for Bash versions older than 4.4.": (
        "Không hỗ trợ tự hoàn thành lệnh cho Bash cũ hơn bản 4.4."
    ),
}

# singular msgid -> (Vietnamese for one, Vietnamese for several)
PLURALS: dict[str, tuple[str, str]] = {
    "Got unexpected extra argument ({args})": ("Thừa tham số: {args}.", "Thừa tham số: {args}."),
    "Takes {nargs} values but 1 was given.": (
        "Cần {nargs} giá trị nhưng chỉ có 1.",
        "Cần {nargs} giá trị nhưng có {len}.",
    ),
    "Did you mean {possibility}?": (
        "Có phải ý bạn là {possibility}?",
        "(Có phải ý bạn là một trong: {possibilities}?)",
    ),
    "Option {name!r} requires an argument.": (
        "Tùy chọn {name!r} cần một giá trị.",
        "Tùy chọn {name!r} cần {nargs} giá trị.",
    ),
    "{value!r} is not {choice}.": (
        "{value!r} không phải là {choice}.",
        "{value!r} không thuộc các giá trị {choices}.",
    ),
    "{value!r} does not match the format {format}.": (
        "{value!r} không đúng dạng {format}.",
        "{value!r} không đúng dạng nào trong {formats}.",
    ),
    "{len_type} values are required, but {len_value} was given.": (
        "Cần {len_type} giá trị nhưng có {len_value}.",
        "Cần {len_type} giá trị nhưng có {len_value}.",
    ),
}

_MODULES = (
    click.core,
    click.decorators,
    click.exceptions,
    click.formatting,
    click.parser,
    click.shell_completion,
    click.termui,
    click.types,
    click.utils,
)


def translate(message: str) -> str:
    return MESSAGES.get(message, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    if singular in PLURALS:
        one, several = PLURALS[singular]
        return one if count == 1 else several
    return singular if count == 1 else plural


def install() -> None:
    """Rebind click's ``_`` and ``ngettext``; idempotent. Call before click's decorators run
    (``version_option`` translates its help text when applied)."""
    for module in _MODULES:
        names = vars(module)  # the module's globals, where click's functions look them up
        if "_" in names:
            names["_"] = translate
        if "ngettext" in names:
            names["ngettext"] = ngettext
