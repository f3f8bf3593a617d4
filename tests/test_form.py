"""The branch return form as data: templates/form.toml, and mistakes in a form.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tonghop.errors import ConfigError, ExprError
from tonghop.form import FIELD_KEYS, IDENTITY_FIELDS, FieldType, Rule, load_form
from tonghop.layout import Layout
from tonghop.periods import PeriodKind

from .helpers import FORM, FORM_PATH, is_vietnamese

ALL_KINDS = set(PeriodKind)

# The product spec: field id -> (type, total), section by section.
SPEC: dict[str, tuple[str, str]] = {
    # identity
    "branch_code": ("text", "none"),
    "period": ("text", "none"),
    "prepared_by": ("text", "none"),
    "prepared_on": ("date", "none"),
    # members
    "members_start": ("count", "stock_start"),
    "admitted": ("count", "flow"),
    "restored": ("count", "flow"),
    "transferred_in": ("count", "flow"),
    "deceased": ("count", "flow"),
    "expelled": ("count", "flow"),
    "struck_off": ("count", "flow"),
    "resigned": ("count", "flow"),
    "transferred_out": ("count", "flow"),
    "members_end": ("count", "stock_end"),
    "probationary": ("count", "stock_end"),
    "women": ("count", "stock_end"),
    "exempt": ("count", "stock_end"),
    "candidates": ("count", "stock_end"),
    "confirmed": ("count", "flow"),
    "badges": ("count", "flow"),
    # political
    "commitments": ("count", "stock_end"),
    "study_attendance": ("count", "flow"),
    "regular_meetings": ("count", "flow"),
    "thematic_meetings": ("count", "flow"),
    # inspection
    "inspections_received": ("count", "flow"),
    "members_supervised": ("count", "flow"),
    "branch_violation_checks": ("count", "flow"),
    "member_violation_checks": ("count", "flow"),
    "disciplined": ("count", "flow"),
    # ratings (year only)
    "rated_excellent": ("count", "flow"),
    "rated_good": ("count", "flow"),
    "rated_completed": ("count", "flow"),
    "rated_failed": ("count", "flow"),
    "branch_rating": ("choice", "none"),
    # welfare
    "houses_built": ("count", "flow"),
    "houses_repaired": ("count", "flow"),
    "funds_mobilized": ("money", "flow"),
    "households_supported": ("count", "flow"),
    # narrative
    "highlights": ("text", "none"),
    "shortcomings": ("text", "none"),
    "proposals": ("text", "none"),
    "next_tasks": ("text", "none"),
}
YEAR_ONLY = {"rated_excellent", "rated_good", "rated_completed", "rated_failed", "branch_rating"}
SECTIONS = {
    "identity": ["branch_code", "period", "prepared_by", "prepared_on"],
    "ratings": sorted(YEAR_ONLY),
    "narrative": ["highlights", "shortcomings", "proposals", "next_tasks"],
}


# --- the real form ------------------------------------------------------------------------------


def test_real_form_loads() -> None:
    form = load_form(FORM_PATH)
    assert form.title == "BÁO CÁO KẾT QUẢ CÔNG TÁC XÂY DỰNG ĐẢNG"
    assert form.sheet == "Báo cáo"
    assert set(form.period_kinds) == ALL_KINDS
    assert [s.id for s in form.sections] == [
        "identity",
        "members",
        "political",
        "inspection",
        "ratings",
        "welfare",
        "narrative",
    ]


@pytest.mark.parametrize(("field_id", "spec"), SPEC.items(), ids=list(SPEC))
def test_spec_field_exists_with_its_type_and_total(field_id: str, spec: tuple[str, str]) -> None:
    field = FORM.field(field_id)
    assert (field.type, field.total) == spec
    assert field.label and is_vietnamese(field.label)


def test_form_has_exactly_the_spec_fields() -> None:
    assert set(FORM.fields) == set(SPEC)


@pytest.mark.parametrize(("section", "ids"), SECTIONS.items())
def test_fields_are_in_their_sections(section: str, ids: list[str]) -> None:
    assert sorted(f.id for f in FORM.fields.values() if f.section == section) == sorted(ids)


def test_year_only_fields() -> None:
    for fid, field in FORM.fields.items():
        expected = {PeriodKind.YEAR} if fid in YEAR_ONLY else ALL_KINDS
        assert set(field.periods) == expected, fid
        assert field.asked_in(PeriodKind.YEAR)
        assert field.asked_in(PeriodKind.HALF) is (fid not in YEAR_ONLY)
    half = {f.id for f in FORM.fields_for(PeriodKind.HALF)}
    assert half == set(SPEC) - YEAR_ONLY
    assert {f.id for f in FORM.fields_for(PeriodKind.YEAR)} == set(SPEC)


def test_branch_rating_is_a_choice() -> None:
    rating = FORM.field("branch_rating")
    assert rating.choices == ("HTXSNV", "HTTNV", "HTNV", "KHTNV")
    assert rating.required


def test_required_fields() -> None:
    required = {fid for fid, f in FORM.fields.items() if f.required}
    assert {"branch_code", "period", "prepared_by", "members_start", "admitted"} <= required
    assert {"members_end"} | YEAR_ONLY <= required
    assert "highlights" not in required and "prepared_on" not in required


def test_units_and_number_fields() -> None:
    assert FORM.field("funds_mobilized").unit == "đồng"
    assert FORM.field("houses_built").unit == "căn"
    numbers = {f.id for f in FORM.number_fields()}
    assert numbers == {fid for fid, (kind, _) in SPEC.items() if kind in ("count", "money")}
    assert not YEAR_ONLY & {f.id for f in FORM.number_fields(PeriodKind.QUARTER)}
    assert {f.id for f in FORM.text_fields()} == set(SECTIONS["narrative"])


def test_identity_fields_present() -> None:
    assert set(IDENTITY_FIELDS) <= set(FORM.fields)


def test_rules_of_the_real_form() -> None:
    rules = {r.id: r for r in FORM.rules}
    assert set(rules) == {
        "members_balance",
        "probationary_within_members",
        "women_within_members",
        "exempt_within_members",
        "commitments_within_members",
        "ratings_within_members",
        "confirmed_within_members",
        "disciplined_within_members",
        "continuity",
    }
    assert rules["members_balance"].cells == ("members_end",)
    assert rules["ratings_within_members"].cells == (
        "rated_excellent",
        "rated_good",
        "rated_completed",
        "rated_failed",
    )
    assert {r.id for r in FORM.rules if r.level == "warning"} == {
        "confirmed_within_members",
        "disciplined_within_members",
        "continuity",
    }
    assert "previous" in rules["continuity"].names
    assert all(is_vietnamese(r.message) for r in FORM.rules)


def test_rule_holds_and_describe() -> None:
    rule = next(r for r in FORM.rules if r.id == "women_within_members")
    assert rule.holds({"women": 3, "members_end": 3})
    assert not rule.holds({"women": 4, "members_end": 3})
    assert rule.describe({"women": 4, "members_end": 3}) == (
        "Số đảng viên nữ (4) không được lớn hơn tổng số đảng viên cuối kỳ (3)."
    )


def test_derived_figures_and_shares() -> None:
    derived = {d.id: d for d in FORM.derived}
    assert set(derived) == {"removed", "members_increase", "members_decrease"}
    values = {
        "admitted": 3,
        "restored": 1,
        "transferred_in": 2,
        "deceased": 1,
        "expelled": 2,
        "struck_off": 3,
        "resigned": 4,
        "transferred_out": 5,
    }
    assert derived["removed"].compute(values) == 9
    assert derived["members_increase"].compute(values) == 6
    assert derived["members_decrease"].compute(values) == 15
    assert FORM.shares == {
        "commitments": "members_end",
        "women": "members_end",
        "probationary": "members_end",
        "exempt": "members_end",
    }


# --- bad form.toml variants ---------------------------------------------------------------------

MINI = """\
[form]
title = "BÁO CÁO"
period_kinds = ["year", "half"]

[[sections]]
id = "identity"
title = "THÔNG TIN"

[[sections.fields]]
id = "branch_code"
label = "Mã chi bộ"
type = "text"

[[sections.fields]]
id = "period"
label = "Kỳ báo cáo"
type = "text"

[[sections]]
id = "members"
title = "ĐẢNG VIÊN"

[[sections.fields]]
id = "members_end"
label = "Đảng viên cuối kỳ"

[[sections.fields]]
id = "women"
label = "Đảng viên nữ"
total = "stock_end"

[[sections.fields]]
id = "rating"
label = "Xếp loại"
type = "choice"
choices = ["Tốt", "Khá"]
periods = ["year"]

[[rules]]
id = "women_within"
check = "women <= members_end"
message = "Số nữ ({{ women }}) lớn hơn tổng số ({{ members_end }})."
"""


def write_form(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "form.toml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def form_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_form(write_form(tmp_path, text))
    assert info.value.exit_code == 2
    message = str(info.value)
    assert is_vietnamese(message), message
    assert "form.toml" in message
    return message


def with_rule(check: str, message: str = "Sai rồi.", rule_id: str = "extra") -> str:
    return MINI + f'\n[[rules]]\nid = "{rule_id}"\ncheck = {check!r}\nmessage = "{message}"\n'


def test_mini_form_loads(tmp_path: Path) -> None:
    form = load_form(write_form(tmp_path, MINI))
    assert list(form.fields) == ["branch_code", "period", "members_end", "women", "rating"]
    assert form.field("members_end").type == "count"  # default type
    assert form.field("members_end").total == "flow"  # default total of a count
    assert form.field("branch_code").total == "none"  # default total of text
    assert form.field("women").total == "stock_end"
    assert form.field("rating").periods == (PeriodKind.YEAR,)
    assert form.field("members_end").periods == (PeriodKind.YEAR, PeriodKind.HALF)
    assert form.rules[0].cells == ("members_end",)  # first field used, alphabetically
    assert form.rules[0].level == "error"


def test_unknown_type(tmp_path: Path) -> None:
    text = MINI.replace('label = "Đảng viên nữ"', 'label = "Đảng viên nữ"\ntype = "number"')
    message = form_error(tmp_path, text)
    assert "«number»" in message and "«type»" in message
    for kind in FieldType:
        assert kind in message
    assert f"dòng {line_of(text, 'type = ' + chr(34) + 'number')}" in message


def test_unknown_total(tmp_path: Path) -> None:
    text = MINI.replace('total = "stock_end"', 'total = "sum"')
    message = form_error(tmp_path, text)
    assert "«sum»" in message and f"dòng {line_of(text, 'total = ' + chr(34) + 'sum')}" in message


def test_duplicate_id_names_the_second_one(tmp_path: Path) -> None:
    text = MINI.replace('id = "women"', 'id = "members_end"')
    message = form_error(tmp_path, text)
    assert "«members_end»" in message and "trùng" in message
    assert f"dòng {line_of(text, 'id = ' + chr(34) + 'members_end', 2)}" in message


@pytest.mark.parametrize("bad_id", ["Women", "1women", "đảng_viên", "women-count", ""])
def test_bad_field_id(tmp_path: Path, bad_id: str) -> None:
    message = form_error(tmp_path, MINI.replace('id = "women"', f'id = "{bad_id}"'))
    assert "«id»" in message


def test_choice_without_choices(tmp_path: Path) -> None:
    message = form_error(tmp_path, MINI.replace('choices = ["Tốt", "Khá"]\n', ""))
    assert "«choices»" in message


def test_bad_periods(tmp_path: Path) -> None:
    text = MINI.replace('periods = ["year"]', 'periods = ["week"]')
    message = form_error(tmp_path, text)
    assert "«periods»" in message and f"dòng {line_of(text, 'periods = ')}" in message


def test_bad_required(tmp_path: Path) -> None:
    text = MINI.replace('total = "stock_end"', 'total = "stock_end"\nrequired = "có"')
    message = form_error(tmp_path, text)
    assert "«required»" in message and f"dòng {line_of(text, 'required =')}" in message


def test_missing_identity_field(tmp_path: Path) -> None:
    text = MINI.replace('id = "period"', 'id = "ky_bao_cao"')
    message = form_error(tmp_path, text)
    assert "«period»" in message


def test_no_sections(tmp_path: Path) -> None:
    assert "[[sections]]" in form_error(tmp_path, '[form]\ntitle = "X"\n')


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Không tìm thấy"):
        load_form(tmp_path / "form.toml")


def test_rule_referencing_an_unknown_field(tmp_path: Path) -> None:
    text = with_rule("womenn <= members_end", rule_id="typo")
    message = form_error(tmp_path, text)
    assert "«typo»" in message and "womenn" in message
    assert f"dòng {line_of(text, 'womenn')}" in message


def test_rule_with_syntax_error(tmp_path: Path) -> None:
    text = with_rule("women <= ", rule_id="half_done")
    message = form_error(tmp_path, text)
    assert "«half_done»" in message and "cú pháp" in message
    assert f"dòng {line_of(text, chr(39) + 'women <= ' + chr(39))}" in message


@pytest.mark.parametrize("check", ["women }}{{ members_end", "women <=> 1", "(women"])
def test_rule_syntax_errors_of_several_kinds(tmp_path: Path, check: str) -> None:
    assert "«broken»" in form_error(tmp_path, with_rule(check, rule_id="broken"))


def test_rule_message_with_syntax_error(tmp_path: Path) -> None:
    text = with_rule("women <= members_end", message="Số nữ {{ women ", rule_id="msg")
    message = form_error(tmp_path, text)
    assert "«msg»" in message and "«message»" in message


@pytest.mark.parametrize(
    "check",
    ["members_end / women > 1", "women.missing > 1", "women < 'a'", "members_end % women == 0"],
)
def test_rule_that_cannot_be_evaluated(tmp_path: Path, check: str) -> None:
    text = with_rule(check, rule_id="cannot")
    message = form_error(tmp_path, text)
    assert "«cannot»" in message and "không tính được" in message
    assert f"dòng {line_of(text, check)}" in message


def test_rule_with_unknown_level(tmp_path: Path) -> None:
    text = MINI.replace('id = "women_within"', 'id = "women_within"\nlevel = "fatal"')
    message = form_error(tmp_path, text)
    assert "«level»" in message and f"dòng {line_of(text, 'level =')}" in message


def test_rule_with_unknown_cell(tmp_path: Path) -> None:
    text = MINI.replace('id = "women_within"', 'id = "women_within"\ncells = ["nobody"]')
    assert "nobody" in form_error(tmp_path, text)


def test_second_rule_error_points_at_the_second_rule(tmp_path: Path) -> None:
    text = with_rule("members_end >= 0", rule_id="fine") + (
        '\n[[rules]]\nid = "bad"\ncheck = "members_end >= 0"\n'
    )  # no message
    message = form_error(tmp_path, text)
    assert "«message»" in message
    assert f"dòng {line_of(text, '[[rules]]', 3)}" in message


@pytest.mark.parametrize(
    "check",
    [
        "members_end.__class__.__mro__",
        "().__class__",
        "members_end.__class__ == 1",
        "women.__class__.__mro__[1].__subclasses__()",
        "''.__class__.__mro__[1].__subclasses__() | length > 0",
        "cycler.__init__.__globals__",
        "lipsum.__globals__['os'].system('echo pwned')",
        "members_end.__add__(1) > 0",
    ],
)
def test_rules_cannot_escape_the_sandbox(
    tmp_path: Path, check: str, capfd: pytest.CaptureFixture[str]
) -> None:
    message = form_error(tmp_path, with_rule(check, rule_id="escape"))
    assert "«escape»" in message
    assert "pwned" not in capfd.readouterr().out


def test_sandbox_blocks_attribute_access_at_evaluation_time() -> None:
    # Even a rule built by hand (not through load_form) cannot reach Python internals.
    rule = Rule("x", "error", "members_end.__class__.__name__ == 'int'", "m", (), frozenset())
    with pytest.raises(ExprError, match="không được phép"):
        rule.holds({"members_end": 3})


def test_rules_may_not_mutate_values() -> None:
    values = {"items": [1, 2]}
    rule = Rule("x", "error", "items.append(3) or true", "m", (), frozenset())
    with pytest.raises(ExprError, match="chỉ được gọi các hàm"):
        rule.holds(values)
    assert values["items"] == [1, 2]


def test_derived_unknown_field(tmp_path: Path) -> None:
    text = MINI + '\n[derived.total]\nlabel = "Tổng"\nformula = "women + men"\n'
    message = form_error(tmp_path, text)
    assert "men" in message and "«formula»" in message
    assert f"dòng {line_of(text, 'formula =')}" in message


def test_derived_syntax_error(tmp_path: Path) -> None:
    text = MINI + '\n[derived.total]\nlabel = "Tổng"\nformula = "women +"\n'
    assert "cú pháp" in form_error(tmp_path, text)


def test_derived_name_clashing_with_a_field(tmp_path: Path) -> None:
    text = MINI + '\n[derived.women]\nlabel = "Nữ"\nformula = "members_end"\n'
    assert "«women»" in form_error(tmp_path, text)


def test_share_of_unknown_field(tmp_path: Path) -> None:
    text = MINI + '\n[shares]\nwomen = "everyone"\n'
    message = form_error(tmp_path, text)
    assert (
        "«women»" in message
        and f"dòng {line_of(text, 'women = ' + chr(34) + 'everyone')}" in message
    )


def test_rules_must_be_an_array_of_tables(tmp_path: Path) -> None:
    text = MINI.replace("[[rules]]", "[rules]")
    assert "[[rules]]" in form_error(tmp_path, text)


def test_sheet_name_is_cut_to_excel_limit(tmp_path: Path) -> None:
    text = MINI.replace('title = "BÁO CÁO"', 'title = "BÁO CÁO"\nsheet = "' + "x" * 40 + '"')
    assert load_form(write_form(tmp_path, text)).sheet == "x" * 31


# --- unknown sections and keys are typos, named with their line and the near valid name ------


def test_typo_in_a_field_key_exits_2_through_the_cli(workspace: Layout) -> None:
    from click.testing import CliRunner

    from tonghop.cli import CliContext, cli

    text = workspace.form_path.read_text(encoding="utf-8")
    typo = text.replace('unit = "người"', 'unti = "người"', 1)
    assert typo != text
    workspace.form_path.write_text(typo, encoding="utf-8")
    home = workspace.home
    result = CliRunner().invoke(
        cli, ["--home", str(home), "status", "--period", "2024-H1"], obj=CliContext(str(home))
    )
    assert result.exit_code == 2
    assert "unti: có phải unit?" in result.output
    assert f"dòng {line_of(typo, 'unti =')}" in result.output
    assert "[sections.fields]" in result.output


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        ("[[rules]]", "[[rule]]", "[[rule]]", "[[rule]]: có phải [[rules]]?"),
        ("[form]", "[from]", "[from]", "[from]: có phải [form]?"),
        ('title = "THÔNG TIN"', 'titel = "THÔNG TIN"', "titel", "titel: có phải title?"),
        ('check = "women', 'chek = "women', "chek", "chek: có phải check?"),
    ],
)
def test_typos_in_the_form_name_the_near_valid_name(
    tmp_path: Path, old: str, new: str, needle: str, expected: str
) -> None:
    assert old in MINI
    text = MINI.replace(old, new, 1)
    message = form_error(tmp_path, text)
    assert expected in message
    assert f"dòng {line_of(text, needle)}" in message


def test_typo_in_a_derived_figure(tmp_path: Path) -> None:
    text = MINI + '\n[derived.total]\nlabel = "Tổng"\nformla = "women + members_end"\n'
    message = form_error(tmp_path, text)
    assert "formla: có phải formula?" in message
    assert f"dòng {line_of(text, 'formla')}" in message


def test_fields_accept_carried_from() -> None:
    assert "carried_from" in FIELD_KEYS
    assert load_form(FORM_PATH).fields  # the repository's own form uses every kind of key


@pytest.mark.parametrize(
    ("field", "unit", "problem"),
    [
        ('id = "prepared_by"', "người", "chỉ trường số (count, money) mới có đơn vị"),
        (
            'id = "funds_mobilized"',
            "triệu",
            'trường tiền (money) được ghi bằng đồng: unit = "đồng"',
        ),
    ],
)
def test_a_unit_is_a_number_fields_and_money_is_in_dong(tmp_path, field, unit, problem):
    text = FORM_PATH.read_text(encoding="utf-8")
    if field == 'id = "funds_mobilized"':
        text = text.replace('unit = "đồng"\ntype = "money"', f'unit = "{unit}"\ntype = "money"')
    else:
        text = text.replace(field, f'{field}\nunit = "{unit}"', 1)
    path = tmp_path / "form.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_form(path)
    assert problem in str(caught.value) and "unit" in str(caught.value)


def test_money_is_in_dong_even_when_the_form_gives_no_unit(tmp_path: Path) -> None:
    text = MINI.replace(
        'id = "women"',
        'id = "funds"\nlabel = "Kinh phí"\ntype = "money"\n\n[[sections.fields]]\nid = "women"',
    )
    form = load_form(write_form(tmp_path, text))
    assert form.field("funds").unit == "đồng"
    assert form.field("members_end").unit == ""  # a count's unit is the form's to give
