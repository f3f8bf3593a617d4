"""The workspace and its configuration file, tonghop.toml.

A workspace is a folder holding tonghop.toml, templates/, inbox/, outbox/ and archive/.
Every value is validated here, where it enters, so the rest of the code can trust it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tonghop.errors import ConfigError
from tonghop.periods import Period, PeriodKind
from tonghop.tomlfile import (
    TableKind,
    TomlTable,
    key_line,
    nfc,
    read_toml,
    reject_unknown_sections,
)

CONFIG_NAME = "tonghop.toml"
FORM_NAME = "form.toml"
DEFAULT_DEADLINES = {"month": 5, "quarter": 10, "half": 15, "year": 20}
# Every name tonghop.toml may use; anything else is reported as a typo.
CONFIG_SECTIONS: dict[str, TableKind] = {
    "committee": "table",
    "signer": "table",
    "report": "table",
    "targets": "table",
    "deadlines": "table",
    "branches": "array",
    "web": "table",
}
COMMITTEE_KEYS = ("superior", "name", "symbol", "place", "term")
SIGNER_KEYS = ("on_behalf", "title", "name")
REPORT_KEYS = ("number", "template", "recipients")
BRANCH_KEYS = ("code", "name")
WEB_KEYS = ("host", "port", "password_hash")
DEFAULT_WEB_HOST, DEFAULT_WEB_PORT = "127.0.0.1", 8765
# `tonghop init` writes visible placeholders such as "<HỌ VÀ TÊN NGƯỜI KÝ>" for the secretary
# to replace; a report or a form must never go out with one left in.
PLACEHOLDER = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class Committee:
    superior: str
    name: str
    symbol: str
    place: str
    term: str

    @property
    def term_years(self) -> tuple[int, int]:
        first, last = self.term.split("-")
        return int(first), int(last)

    @property
    def term_start(self) -> Period:
        return Period(self.term_years[0], PeriodKind.YEAR)


@dataclass(frozen=True)
class Signer:
    on_behalf: str
    title: str
    name: str


@dataclass(frozen=True)
class Branch:
    code: str
    name: str


@dataclass(frozen=True)
class WebSettings:
    """[web]: where the desk (`tonghop serve`) listens, and its password's hash (werkzeug's
    format, written by `tonghop web-password`; empty: no password)."""

    host: str = DEFAULT_WEB_HOST
    port: int = DEFAULT_WEB_PORT
    password_hash: str = ""


@dataclass(frozen=True)
class Config:
    committee: Committee
    signer: Signer
    recipients: tuple[str, ...]
    branches: tuple[Branch, ...]
    targets: dict[str, float] = field(default_factory=dict)
    deadlines: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    report_number: str = ""
    report_template: str = "bao-cao.docx"
    web: WebSettings = field(default_factory=WebSettings)

    def branch(self, code: str) -> Branch | None:
        return self._branch_by_code.get(normalize_code(code))

    @cached_property
    def _branch_by_code(self) -> dict[str, Branch]:
        # Every return looks its branch up; a committee may have thousands.
        return {branch.code: branch for branch in reversed(self.branches)}  # first wins

    def deadline_days(self, kind: PeriodKind) -> int:
        return self.deadlines.get(kind.value, DEFAULT_DEADLINES[kind.value])


def normalize_code(code: str) -> str:
    """Branch codes compare case- and space-insensitively: " lt1 " is "LT1"."""
    return re.sub(r"\s+", "", nfc(str(code))).upper()


def load_config(path: Path) -> Config:
    data, text = read_toml(path)
    name = path.name
    reject_unknown_sections(data, CONFIG_SECTIONS, text, name)

    committee_section = TomlTable(data.get("committee"), "committee", text, name)
    committee_section.reject_unknown(COMMITTEE_KEYS)
    committee = Committee(
        superior=committee_section.text_value("superior"),
        name=committee_section.text_value("name"),
        symbol=committee_section.text_value("symbol", "ĐU"),
        place=committee_section.text_value("place"),
        term=committee_section.text_value("term"),
    )
    if not re.fullmatch(r"\d{4}-\d{4}", committee.term) or not (
        0 < committee.term_years[1] - committee.term_years[0] <= 10
    ):
        raise committee_section.fail("term", 'phải có dạng "2020-2025" (năm đầu - năm cuối).')

    signer_section = TomlTable(data.get("signer"), "signer", text, name)
    signer_section.reject_unknown(SIGNER_KEYS)
    signer = Signer(
        on_behalf=signer_section.text_value("on_behalf", "T/M ĐẢNG ỦY"),
        title=signer_section.text_value("title", "BÍ THƯ"),
        name=signer_section.text_value("name", "", allow_empty=True),
    )

    report_section = TomlTable(data.get("report"), "report", text, name)
    report_section.reject_unknown(REPORT_KEYS)
    recipients = report_section.text_list("recipients")
    report_number = report_section.text_value("number", "", allow_empty=True)
    report_template = report_section.text_value("template", "bao-cao.docx")

    branches = _load_branches(data.get("branches"), text, name)

    targets_section = TomlTable(data.get("targets"), "targets", text, name)
    targets: dict[str, float] = {}
    for key, value in targets_section.data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise targets_section.fail(
                key, "chỉ tiêu phải là một số không âm, ví dụ admitted = 60."
            )
        targets[key] = value

    deadlines_section = TomlTable(data.get("deadlines"), "deadlines", text, name)
    deadlines = dict(DEFAULT_DEADLINES)
    deadlines_section.reject_unknown(DEFAULT_DEADLINES)
    for key, value in deadlines_section.data.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 366:
            raise deadlines_section.fail(key, "phải là số ngày (số nguyên từ 0 đến 366).")
        deadlines[key] = value

    web = _load_web(TomlTable(data.get("web"), "web", text, name))

    return Config(
        committee=committee,
        signer=signer,
        recipients=recipients,
        branches=branches,
        targets=targets,
        deadlines=deadlines,
        report_number=report_number,
        report_template=report_template,
        web=web,
    )


def _load_web(section: TomlTable) -> WebSettings:
    section.reject_unknown(WEB_KEYS)
    host = section.text_value("host", DEFAULT_WEB_HOST)
    port = section.data.get("port", DEFAULT_WEB_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise section.fail("port", "phải là số cổng (số nguyên từ 1 đến 65535), ví dụ 8765.")
    password_hash = section.text_value("password_hash", "", allow_empty=True)
    if password_hash and not re.fullmatch(
        r"[a-z0-9]+(:[a-z0-9:]+)?\$[^$\s]+\$[0-9a-f]+", password_hash
    ):
        raise section.fail(
            "password_hash",
            "không phải mật khẩu đã mã hóa. Hãy xóa dòng này rồi đặt lại mật khẩu bằng lệnh "
            "«tonghop web-password».",
        )
    return WebSettings(host=host, port=port, password_hash=password_hash)


def _load_branches(raw: Any, text: str, file_name: str) -> tuple[Branch, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f"Tệp {file_name}: chưa khai báo chi bộ nào. Hãy thêm các mục [[branches]] với "
            'code = "..." và name = "...".'
        )
    branches: list[Branch] = []
    seen: set[str] = set()
    for number, item in enumerate(raw, start=1):
        section = TomlTable(item, "branches", text, file_name, occurrence=number)
        section.reject_unknown(BRANCH_KEYS)
        typed = section.text_value("code")
        code = normalize_code(typed)
        if not re.fullmatch(r"[A-Z0-9Đ_.-]{1,20}", code):
            raise section.fail(
                "code",
                f"chi bộ thứ {number}: mã «{typed}» chỉ được gồm chữ cái không dấu, chữ số, "
                "gạch ngang hoặc gạch dưới (tối đa 20 ký tự).",
            )
        if code in seen:
            raise section.fail(
                "code", f"chi bộ thứ {number}: mã chi bộ «{code}» bị khai báo hai lần."
            )
        seen.add(code)
        branches.append(Branch(code=code, name=section.text_value("name")))
    return tuple(branches)


@dataclass(frozen=True)
class Placeholder:
    """A value of tonghop.toml still holding a ``<...>`` placeholder, and where it is."""

    section: str
    key: str
    value: str
    occurrence: int | None = None  # which [[branches]] table


def placeholders(config: Config) -> list[Placeholder]:
    """Every value the secretary has not filled in yet, in file order."""
    candidates: list[Placeholder] = [
        *(Placeholder("committee", k, getattr(config.committee, k)) for k in COMMITTEE_KEYS),
        *(Placeholder("signer", k, getattr(config.signer, k)) for k in SIGNER_KEYS),
        Placeholder("report", "number", config.report_number),
        *(Placeholder("report", "recipients", r) for r in config.recipients),
        *(
            Placeholder("branches", "name", b.name, occurrence=n)
            for n, b in enumerate(config.branches, start=1)
        ),
    ]
    return [p for p in candidates if PLACEHOLDER.search(p.value)]


def require_filled(config: Config, config_path: Path) -> None:
    """Raise ConfigError naming each placeholder written by `tonghop init` that is still in
    tonghop.toml (at ``config_path``), with its line."""
    found = placeholders(config)
    if not found:
        return
    text = config_path.read_text(encoding="utf-8-sig")
    lines = []
    for item in found:
        line = key_line(text, item.section, item.key, item.occurrence)
        where = f" (dòng {line})" if line else ""
        lines.append(f"- mục [{item.section}], khóa «{item.key}»{where}: «{item.value}»")
    raise ConfigError(
        f"Tệp {config_path.name} còn chỗ chưa điền (phần trong dấu < >), nên "
        "chưa tạo được biểu mẫu hay báo cáo:\n"
        + "\n".join(lines)
        + "\nHãy thay bằng thông tin thật của Đảng bộ rồi chạy lại lệnh."
    )
