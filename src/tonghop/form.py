"""The branch return form as data: sections, fields and rules read from templates/form.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tonghop.errors import ConfigError, ExprError
from tonghop.expr import Expr
from tonghop.periods import PeriodKind
from tonghop.problems import Level
from tonghop.tomlfile import TableKind, TomlTable, read_toml, reject_unknown_sections

__all__ = [
    "IDENTITY_FIELDS",
    "Derived",
    "Field",
    "FieldType",
    "FormSpec",
    "Rule",
    "Section",
    "Total",
    "load_form",
]


class FieldType(StrEnum):
    """What a field holds: a count (whole number >= 0), money (đồng), text, a date, a choice."""

    COUNT = "count"
    MONEY = "money"
    TEXT = "text"
    DATE = "date"
    CHOICE = "choice"


class Total(StrEnum):
    """How a field adds up over several periods."""

    FLOW = "flow"  # summed
    STOCK_START = "stock_start"  # the first period's value
    STOCK_END = "stock_end"  # the last period's value
    NONE = "none"  # not added up


IDENTITY_FIELDS = ("branch_code", "period")
# The defined name of a hidden cell of each blank form holding the period it was made for: a
# period cell typed over with another period is then noticed (tonghop.intake.checks).
FORM_PERIOD_NAME = "form_period"
# Names a rule may use besides field ids.
RULE_CONTEXT_NAMES = frozenset({"previous", "period_kind"})
_ID = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

# Messages are Jinja templates rendered in a sandbox; checks and derived formulas are compiled
# by expr.Expr (a whitelist of syntax, no eval), which also raises on unknown names.
_RULE_ENV = ImmutableSandboxedEnvironment(autoescape=False)


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    type: FieldType
    total: Total
    section: str
    unit: str = ""
    required: bool = False
    periods: tuple[PeriodKind, ...] = tuple(PeriodKind)
    choices: tuple[str, ...] = ()
    help: str = ""
    # For a stock_start field: the stock_end field of the previous return it opens with, e.g.
    # members_start carries members_end over; new forms are pre-filled with that value.
    carried_from: str | None = None
    # A key figure: shown on the receipt a branch gets for an accepted return, so that it
    # can see at a glance that its main figures were read as it meant them.
    key: bool = False

    @property
    def is_number(self) -> bool:
        return self.type in (FieldType.COUNT, FieldType.MONEY)

    def asked_in(self, kind: PeriodKind) -> bool:
        return kind in self.periods


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    check: str
    message: str
    cells: tuple[str, ...]
    names: frozenset[str]

    @cached_property
    def _compiled(self) -> Expr:
        return Expr(self.check)

    @cached_property
    def _message_template(self) -> Any:
        return _RULE_ENV.from_string(self.message)

    def holds(self, values: dict[str, Any]) -> bool:
        return bool(self._compiled(values))

    def describe(self, values: dict[str, Any]) -> str:
        return str(self._message_template.render(**values))

    def __getstate__(self) -> dict[str, Any]:
        # Compiled expressions and templates are rebuilt on demand, never pickled.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass(frozen=True)
class Derived:
    """A figure computed from totals, e.g. removed = expelled + struck_off + resigned."""

    id: str
    label: str
    unit: str
    formula: str

    @cached_property
    def _compiled(self) -> Expr:
        return Expr(self.formula)

    def compute(self, values: dict[str, Any]) -> Any:
        return self._compiled(values)

    def __getstate__(self) -> dict[str, Any]:
        # Compiled expressions and templates are rebuilt on demand, never pickled.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass(frozen=True)
class FormSpec:
    title: str
    sheet: str
    period_kinds: tuple[PeriodKind, ...]
    sections: tuple[Section, ...]
    rules: tuple[Rule, ...] = field(default=())
    derived: tuple[Derived, ...] = field(default=())
    shares: dict[str, str] = field(default_factory=dict)

    @cached_property
    def fields(self) -> dict[str, Field]:
        return {f.id: f for s in self.sections for f in s.fields}

    def field(self, field_id: str) -> Field:
        return self.fields[field_id]

    def fields_for(self, kind: PeriodKind) -> list[Field]:
        return [f for f in self.fields.values() if f.asked_in(kind)]

    def number_fields(self, kind: PeriodKind | None = None) -> list[Field]:
        return [
            f for f in self.fields.values() if f.is_number and (kind is None or f.asked_in(kind))
        ]

    def key_fields(self, kind: PeriodKind) -> list[Field]:
        """The figures a receipt repeats for a return of ``kind``: the fields marked
        ``key = true``, else (a form that marks none) its required number fields."""
        asked = self.fields_for(kind)
        return [f for f in asked if f.key] or [f for f in asked if f.is_number and f.required]

    def text_fields(self) -> list[Field]:
        return [
            f
            for f in self.fields.values()
            if f.type == FieldType.TEXT and f.id not in IDENTITY_FIELDS and f.section != "identity"
        ]


# Every name form.toml may use; anything else is reported as a typo.
FORM_SECTIONS: dict[str, TableKind] = {
    "form": "table",
    "sections": "array",
    "rules": "array",
    "derived": "table",
    "shares": "table",
}
FORM_KEYS = ("title", "sheet", "period_kinds")
SECTION_KEYS = ("id", "title", "fields")
FIELD_KEYS = (
    "id",
    "label",
    "type",
    "total",
    "unit",
    "required",
    "periods",
    "choices",
    "help",
    "carried_from",
    "key",
)
RULE_KEYS = ("id", "level", "check", "message", "cells")
DERIVED_KEYS = ("formula", "label", "unit")


def load_form(path: Path) -> FormSpec:
    """Read and validate form.toml; every mistake is a ConfigError naming the key."""
    if not path.is_file():
        raise ConfigError(f"Không tìm thấy tệp biểu mẫu {path}.")
    data, text = read_toml(path)
    name = path.name
    reject_unknown_sections(data, FORM_SECTIONS, text, name)
    head = TomlTable(data.get("form"), "form", text, name)
    head.reject_unknown(FORM_KEYS)
    kinds = _kinds(
        head, "period_kinds", head.data.get("period_kinds", [k.value for k in PeriodKind])
    )

    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        raise ConfigError(f"Tệp {name}: chưa có mục [[sections]] nào.")
    sections: list[Section] = []
    seen: set[str] = set()
    field_number = 0  # which [[sections.fields]] of the file, to name the right line
    for section_number, raw in enumerate(raw_sections, start=1):
        part = TomlTable(raw, "sections", text, name, occurrence=section_number)
        part.reject_unknown(SECTION_KEYS)
        section_id = part.text_value("id")
        fields = []
        for raw_field in part.data.get("fields", []):
            field_number += 1
            item = TomlTable(raw_field, "sections.fields", text, name, occurrence=field_number)
            item.reject_unknown(FIELD_KEYS)
            new = _field(item, section_id, kinds)
            if new.id in seen:
                raise item.fail("id", f"mã trường «{new.id}» bị trùng.")
            seen.add(new.id)
            fields.append(new)
        sections.append(Section(section_id, part.text_value("title"), tuple(fields)))
    _check_carried_from(sections, text, name)
    for required in IDENTITY_FIELDS:
        if required not in seen:
            raise ConfigError(f"Tệp {name}: biểu mẫu phải có trường «{required}».")

    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ConfigError(f"Tệp {name}: các quy tắc phải viết thành các mục [[rules]].")
    tables = [
        TomlTable(r, "rules", text, name, occurrence=n) for n, r in enumerate(raw_rules, start=1)
    ]
    rules = tuple(_rule(table, seen) for table in tables)
    _check_rules_run(rules, tables, seen)
    derived = _derived(data.get("derived", {}), seen, text, name)
    shares_table = TomlTable(data.get("shares"), "shares", text, name)
    shares: dict[str, str] = {}
    for key, whole in shares_table.data.items():
        if key not in seen or not isinstance(whole, str) or whole not in seen:
            raise shares_table.fail(key, 'phải là mã trường, ví dụ commitments = "members_end".')
        shares[key] = whole
    return FormSpec(
        title=head.text_value("title", "BÁO CÁO"),
        sheet=head.text_value("sheet", "Báo cáo")[:31],
        period_kinds=kinds,
        sections=tuple(sections),
        rules=rules,
        derived=derived,
        shares=shares,
    )


def _check_carried_from(sections: list[Section], text: str, name: str) -> None:
    """carried_from links a stock_start field to a stock_end field of the same type."""
    fields = {f.id: f for s in sections for f in s.fields}
    number = 0
    for section in sections:
        for fld in section.fields:
            number += 1
            if fld.carried_from is None:
                continue
            item = TomlTable({}, "sections.fields", text, name, occurrence=number)
            source = fields.get(fld.carried_from)
            if fld.total != Total.STOCK_START:
                raise item.fail("carried_from", 'chỉ dùng cho trường có total = "stock_start".')
            if source is None or source.total != Total.STOCK_END or source.type != fld.type:
                raise item.fail(
                    "carried_from",
                    f'«{fld.carried_from}» phải là mã một trường cùng kiểu có total = "stock_end".',
                )


def _check_rules_run(rules: tuple[Rule, ...], tables: list[TomlTable], field_ids: set[str]) -> None:
    """Run every rule once on zeros so a rule that cannot be evaluated fails here, not later."""
    zeros: dict[str, Any] = dict.fromkeys(field_ids, 0)
    zeros["previous"] = None
    zeros["period_kind"] = PeriodKind.YEAR.value
    for rule, table in zip(rules, tables, strict=True):
        try:
            rule.holds(zeros)
        except Exception as exc:
            raise table.fail(
                "check", f"quy tắc «{rule.id}» không tính được trên số liệu mẫu ({exc})."
            ) from exc


def _derived(raw: Any, field_ids: set[str], text: str, name: str) -> tuple[Derived, ...]:
    if not isinstance(raw, dict):
        raise ConfigError(f"Tệp {name}: mục [derived] phải là các bảng [derived.ten_so_lieu].")
    out = []
    for derived_id, body in raw.items():
        table = TomlTable(body, f"derived.{derived_id}", text, name)
        table.reject_unknown(DERIVED_KEYS)
        if not _ID.match(derived_id) or derived_id in field_ids:
            raise table.fail("formula", f"tên «{derived_id}» không hợp lệ hoặc trùng mã trường.")
        formula = table.text_value("formula")
        try:
            names = Expr(formula).names
        except ExprError as exc:
            raise table.fail("formula", f"công thức {exc}") from exc
        unknown = sorted(names - field_ids)
        if unknown:
            raise table.fail("formula", f"dùng trường không có: {', '.join(unknown)}.")
        out.append(
            Derived(
                id=derived_id,
                label=table.text_value("label"),
                unit=table.text_value("unit", "", allow_empty=True),
                formula=formula,
            )
        )
    return tuple(out)


def _kinds(section: TomlTable, key: str, raw: Any) -> tuple[PeriodKind, ...]:
    allowed = {k.value: k for k in PeriodKind}
    if not isinstance(raw, list) or not raw or any(k not in allowed for k in raw):
        raise section.fail(key, 'phải là danh sách gồm "year", "half", "quarter", "month".')
    return tuple(allowed[k] for k in raw)


def _field(item: TomlTable, section_id: str, form_kinds: tuple[PeriodKind, ...]) -> Field:
    field_id = item.text_value("id")
    if not _ID.match(field_id):
        raise item.fail("id", f"«{field_id}» chỉ được gồm chữ thường không dấu, chữ số và _.")
    kind_text = item.text_value("type", FieldType.COUNT)
    if kind_text not in {t.value for t in FieldType}:
        known = ", ".join(FieldType)
        raise item.fail("type", f"«{kind_text}» không hợp lệ; dùng một trong: {known}.")
    kind = FieldType(kind_text)
    numeric = kind in (FieldType.COUNT, FieldType.MONEY)
    total_text = item.text_value("total", Total.FLOW if numeric else Total.NONE)
    if total_text not in {t.value for t in Total}:
        known = ", ".join(Total)
        raise item.fail("total", f"«{total_text}» không hợp lệ; dùng một trong: {known}.")
    total = Total(total_text)
    required = item.data.get("required", False)
    if not isinstance(required, bool):
        raise item.fail("required", "phải là true hoặc false.")
    key = item.data.get("key", False)
    if not isinstance(key, bool):
        raise item.fail("key", "phải là true hoặc false.")
    periods = form_kinds
    if "periods" in item.data:
        periods = _kinds(item, "periods", item.data["periods"])
    # The report writes a number field's figures followed by this unit ("12 đồng chí").
    unit = item.text_value("unit", "", allow_empty=True)
    if unit and not numeric:
        raise item.fail("unit", "chỉ trường số (count, money) mới có đơn vị; hãy bỏ khóa unit.")
    if kind == FieldType.MONEY and unit not in ("", "đồng"):
        raise item.fail("unit", 'trường tiền (money) được ghi bằng đồng: unit = "đồng".')
    if kind == FieldType.MONEY:
        unit = "đồng"  # money is always in đồng, whether the form says so or not
    choices = item.text_list("choices")
    if kind == FieldType.CHOICE and not choices:
        raise item.fail("choices", "trường kiểu choice phải có danh sách lựa chọn.")
    return Field(
        id=field_id,
        label=item.text_value("label"),
        type=kind,
        total=total,
        section=section_id,
        unit=unit,
        required=required,
        periods=periods,
        choices=choices,
        help=item.text_value("help", "", allow_empty=True),
        carried_from=item.text_value("carried_from", "", allow_empty=True) or None,
        key=key,
    )


def _rule(item: TomlTable, field_ids: set[str]) -> Rule:
    item.reject_unknown(RULE_KEYS)
    rule_id = item.text_value("id")
    level = item.text_value("level", Level.ERROR)
    if level not in {lv.value for lv in Level}:
        raise item.fail("level", 'phải là "error" (trả lại) hoặc "warning" (cảnh báo).')
    check = item.text_value("check")
    try:
        names = frozenset(Expr(check).names)
    except ExprError as exc:
        raise item.fail("check", f"quy tắc «{rule_id}»: {exc}") from exc
    unknown = sorted(names - field_ids - RULE_CONTEXT_NAMES)
    if unknown:
        raise item.fail("check", f"quy tắc «{rule_id}» dùng trường không có: {', '.join(unknown)}.")
    message = item.text_value("message")
    try:
        _RULE_ENV.parse(message)
    except TemplateSyntaxError as exc:
        raise item.fail(
            "message", f"thông báo của quy tắc «{rule_id}» sai cú pháp: {exc.message}"
        ) from exc
    cells = item.text_list("cells") or tuple(sorted(names & field_ids))[:1]
    bad_cells = [c for c in cells if c not in field_ids]
    if bad_cells:
        raise item.fail("cells", f"không có trường {', '.join(bad_cells)}.")
    return Rule(rule_id, Level(level), check, message, cells, names)
