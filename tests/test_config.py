"""The workspace configuration, tonghop.toml: loading, and errors that name the key and line."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonghop.config import DEFAULT_DEADLINES, load_config, normalize_code
from tonghop.errors import ConfigError
from tonghop.layout import Layout
from tonghop.periods import Period, PeriodKind
from tonghop.tomlfile import TomlTable, key_line, read_toml

from .helpers import CONFIG_PATH, ROOT, is_vietnamese

BASE = """\
[committee]
superior = "ĐẢNG BỘ QUẬN THỐT NỐT"
name = "ĐẢNG ỦY PHƯỜNG TÂN LỘC"
place = "Tân Lộc"
term = "2020-2025"

[signer]
name = "Nguyễn Thị Thu Bạch"

[report]
recipients = ["Ban Thường vụ Quận ủy (báo cáo)", "Lưu VP"]

[targets]
admitted = 60

[deadlines]
half = 15

[[branches]]
code = "LT1"
name = "Chi bộ Khu vực Lân Thạnh 1"

[[branches]]
code = "LT2"
name = "Chi bộ Khu vực Lân Thạnh 2"

[[branches]]
code = "TL1"
name = "Chi bộ Khu vực Tân Lộc 1"
"""


def write(tmp_path: Path, text: str, name: str = "tonghop.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the ``occurrence``-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def config_error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    error = info.value
    assert error.exit_code == 2
    assert is_vietnamese(str(error))
    assert "tonghop.toml" in str(error)
    return error


# --- the repository's own configuration ---------------------------------------------------------


def test_repository_config_loads() -> None:
    config = load_config(CONFIG_PATH)
    assert len(config.branches) == 15
    assert config.committee.term == "2020-2025"
    assert config.committee.term_years == (2020, 2025)
    assert config.committee.term_start.code == "2020"
    assert config.committee.name == "ĐẢNG ỦY PHƯỜNG TÂN LỘC"
    assert config.committee.symbol == "ĐU"
    assert config.signer.title == "BÍ THƯ"
    assert config.targets == {"admitted": 60}
    assert config.deadlines == {"month": 5, "quarter": 10, "half": 15, "year": 20}
    assert config.report_template == "bao-cao.docx"
    assert config.report_number == ""
    assert len(config.recipients) == 4
    codes = [b.code for b in config.branches]
    assert codes[:3] == ["LT1", "LT2", "TL1"]
    assert len(set(codes)) == 15
    assert all(code == normalize_code(code) for code in codes)
    branch = config.branch("tp2")
    assert branch is not None and branch.name == "Chi bộ Khu vực Tân Phước 2"


def test_all_texts_are_nfc() -> None:
    config = load_config(CONFIG_PATH)
    texts = [b.name for b in config.branches] + [config.committee.name, config.signer.name]
    assert all(unicodedata.is_normalized("NFC", t) for t in texts)


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.committee.symbol == "ĐU"
    assert config.signer.on_behalf == "T/M ĐẢNG ỦY"
    assert config.signer.title == "BÍ THƯ"
    assert config.deadlines == DEFAULT_DEADLINES | {"half": 15}
    assert config.deadline_days(PeriodKind.MONTH) == DEFAULT_DEADLINES["month"]
    assert config.deadline_days(PeriodKind.HALF) == 15
    assert config.recipients == ("Ban Thường vụ Quận ủy (báo cáo)", "Lưu VP")


def test_nfd_values_are_normalised(tmp_path: Path) -> None:
    text = BASE.replace(
        'place = "Tân Lộc"', 'place = "' + unicodedata.normalize("NFD", " Tân Lộc ") + '"'
    )
    config = load_config(write(tmp_path, text))
    assert config.committee.place == "Tân Lộc"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tonghop.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    assert load_config(path).committee.place == "Tân Lộc"


# --- branch codes -------------------------------------------------------------------------------


def test_branch_code_with_spaces_and_lower_case_is_normalised(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE.replace('code = "LT1"', 'code = " lt1 "')))
    assert config.branches[0].code == "LT1"
    assert config.branch("LT1") is config.branches[0]


@pytest.mark.parametrize("asked", ["LT1", "lt1", " lt1 ", "L T 1", "Lt1\t", "\u00a0lt1"])
def test_branch_lookup_ignores_case_and_spaces(asked: str) -> None:
    config = load_config(CONFIG_PATH)
    branch = config.branch(asked)
    assert branch is not None and branch.code == "LT1"


def test_unknown_branch_is_none() -> None:
    config = load_config(CONFIG_PATH)
    assert config.branch("XX9") is None
    assert config.branch("") is None


@given(st.sampled_from([b.code for b in load_config(CONFIG_PATH).branches]), st.data())
def test_any_spacing_and_case_finds_the_branch(code: str, data: st.DataObject) -> None:
    config = load_config(CONFIG_PATH)
    typed = "".join(
        data.draw(st.sampled_from([" ", "", "\t"])) + data.draw(st.sampled_from([ch, ch.lower()]))
        for ch in code
    )
    found = config.branch(typed)
    assert found is not None and found.code == code


def test_duplicate_branch_code_names_key_and_line_of_the_second(tmp_path: Path) -> None:
    text = BASE.replace('code = "TL1"', 'code = " lt2 "')
    message = str(config_error(tmp_path, text))
    assert "LT2" in message
    assert "hai lần" in message
    assert "«code»" in message
    assert f"dòng {line_of(text, 'lt2')}" in message


def test_bad_branch_code_names_the_line(tmp_path: Path) -> None:
    text = BASE.replace('code = "LT2"', 'code = "Lân Thạnh/2"')
    message = str(config_error(tmp_path, text))
    assert "chi bộ thứ 2" in message
    assert f"dòng {line_of(text, 'Lân Thạnh/2')}" in message


def test_error_in_third_branch_points_at_the_third_branch(tmp_path: Path) -> None:
    text = BASE.replace('name = "Chi bộ Khu vực Tân Lộc 1"', "name = 7")
    message = str(config_error(tmp_path, text))
    assert "«name»" in message and "[branches]" in message
    assert f"dòng {line_of(text, 'name = 7')}" in message


def test_missing_branch_name_points_at_its_table(tmp_path: Path) -> None:
    text = BASE.replace('name = "Chi bộ Khu vực Lân Thạnh 2"\n', "")
    message = str(config_error(tmp_path, text))
    assert "«name»" in message and "thiếu" in message
    assert f"dòng {line_of(text, '[[branches]]', 2)}" in message


def test_no_branches(tmp_path: Path) -> None:
    text = BASE[: BASE.index("[[branches]]")]
    message = str(config_error(tmp_path, text))
    assert "[[branches]]" in message


# --- committee ----------------------------------------------------------------------------------


def test_missing_committee_name_names_key_and_line(tmp_path: Path) -> None:
    text = BASE.replace('name = "ĐẢNG ỦY PHƯỜNG TÂN LỘC"\n', "")
    message = str(config_error(tmp_path, text))
    assert "«name»" in message and "[committee]" in message
    assert "thiếu giá trị" in message
    assert f"dòng {line_of(text, '[committee]')}" in message


def test_empty_committee_name(tmp_path: Path) -> None:
    text = BASE.replace('name = "ĐẢNG ỦY PHƯỜNG TÂN LỘC"', 'name = "   "')
    message = str(config_error(tmp_path, text))
    assert "không được để trống" in message
    assert f"dòng {line_of(text, 'name = ' + chr(34) + '   ')}" in message


def test_committee_name_not_a_string(tmp_path: Path) -> None:
    text = BASE.replace('name = "ĐẢNG ỦY PHƯỜNG TÂN LỘC"', "name = 12")
    message = str(config_error(tmp_path, text))
    assert "ngoặc kép" in message and f"dòng {line_of(text, 'name = 12')}" in message


def test_missing_committee_section(tmp_path: Path) -> None:
    text = BASE[BASE.index("[signer]") :]
    message = str(config_error(tmp_path, text))
    assert "[committee]" in message


@pytest.mark.parametrize(
    "term", ["2020", "2025-2020", "2020-2020", "2020-2040", "20-25", "2020–2025"]
)
def test_bad_term(tmp_path: Path, term: str) -> None:
    text = BASE.replace('term = "2020-2025"', f'term = "{term}"')
    message = str(config_error(tmp_path, text))
    assert "«term»" in message
    assert "2020-2025" in message  # the example of the right form
    assert f"dòng {line_of(text, 'term =')}" in message


# --- targets and deadlines ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ['"sáu mươi"', "-1", "true", "[60]"])
def test_target_not_a_number(tmp_path: Path, value: str) -> None:
    text = BASE.replace("admitted = 60", f"admitted = {value}")
    message = str(config_error(tmp_path, text))
    assert "«admitted»" in message and "[targets]" in message
    assert f"dòng {line_of(text, 'admitted =')}" in message


def test_float_target_is_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE.replace("admitted = 60", "admitted = 60.5")))
    assert config.targets == {"admitted": 60.5}


def test_unknown_deadline_key(tmp_path: Path) -> None:
    text = BASE.replace("half = 15", "half = 15\nweek = 3")
    message = str(config_error(tmp_path, text))
    assert "«week»" in message and "[deadlines]" in message
    assert f"dòng {line_of(text, 'week =')}" in message


@pytest.mark.parametrize("value", ["-1", "400", "1.5", '"15"', "true"])
def test_bad_deadline_value(tmp_path: Path, value: str) -> None:
    text = BASE.replace("half = 15", f"half = {value}")
    message = str(config_error(tmp_path, text))
    assert "«half»" in message and f"dòng {line_of(text, 'half =')}" in message


def test_recipients_must_be_a_list_of_strings(tmp_path: Path) -> None:
    text = BASE.replace(
        'recipients = ["Ban Thường vụ Quận ủy (báo cáo)", "Lưu VP"]', "recipients = 3"
    )
    message = str(config_error(tmp_path, text))
    assert "«recipients»" in message and f"dòng {line_of(text, 'recipients =')}" in message


# --- syntax and files ---------------------------------------------------------------------------


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    text = BASE.replace('place = "Tân Lộc"', "place = Tân Lộc")
    message = str(config_error(tmp_path, text))
    assert "cú pháp" in message
    assert f"dòng {line_of(text, 'place = Tân Lộc')}" in message


def test_unterminated_string_at_end_of_file_gives_a_line(tmp_path: Path) -> None:
    text = BASE + 'note = "chưa đóng'
    message = str(config_error(tmp_path, text))
    assert "cú pháp" in message
    assert re.search(r"dòng \d+", message)


def test_table_declared_twice(tmp_path: Path) -> None:
    text = BASE + '\n[committee]\nname = "X"\n'
    message = str(config_error(tmp_path, text))
    assert f"dòng {line_of(text, '[committee]', 2)}" in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "tonghop.toml"
    path.write_bytes(BASE.encode("utf-16"))
    with pytest.raises(ConfigError, match="UTF-8") as info:
        load_config(path)
    assert info.value.exit_code == 2


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    text = 'committee = "x"\n' + BASE[BASE.index("[signer]") :]
    message = str(config_error(tmp_path, text))
    assert "[committee]" in message


# --- tomlfile helpers ---------------------------------------------------------------------------


def test_key_line_finds_the_key_in_its_section_only() -> None:
    text = '[a]\nname = "1"\n[b]\nname = "2"\n'
    assert key_line(text, "a", "name") == 2
    assert key_line(text, "b", "name") == 4
    assert key_line(text, "c", "name") is None
    assert key_line(text, "a", "missing") is None


def test_key_line_picks_the_occurrence_of_an_array_of_tables() -> None:
    text = '[[x]]\ncode = "A"\n\n[[x]]\nname = "B"\n\n[[x]]\ncode = "C"\n'
    assert key_line(text, "x", "code") == 2
    assert key_line(text, "x", "code", occurrence=3) == 8
    assert key_line(text, "x", "code", occurrence=2) is None


def test_toml_table_rejects_a_non_table() -> None:
    with pytest.raises(ConfigError, match=r"\[report\]"):
        TomlTable([1, 2], "report", "", "tonghop.toml")


def test_text_list_drops_blank_entries() -> None:
    table = TomlTable({"r": ["A", "  ", "B "]}, "report", "", "tonghop.toml")
    assert table.text_list("r") == ("A", "B")
    assert table.text_list("missing") == ()


def test_read_toml_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Không đọc được"):
        read_toml(tmp_path / "none.toml")


# --- the workspace ------------------------------------------------------------------------------


def test_locate_with_an_explicit_home(tmp_path: Path) -> None:
    ws = Layout.locate(tmp_path)
    assert ws.home == tmp_path.resolve()
    assert ws.config_path == tmp_path.resolve() / "tonghop.toml"
    assert ws.form_path == tmp_path.resolve() / "templates" / "form.toml"
    assert ws.inbox.name == "inbox" and ws.outbox.name == "outbox"
    assert ws.archive.name == "archive" and ws.logs.name == "logs"
    assert ws.period_outbox(Period.parse("2024-H1")) == (tmp_path.resolve() / "outbox" / "2024-H1")


def test_locate_uses_tonghop_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGHOP_HOME", str(tmp_path))
    assert Layout.locate().home == tmp_path.resolve()
    other = tmp_path / "other"
    assert Layout.locate(other).home == other.resolve()  # an explicit home wins


def test_locate_defaults_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TONGHOP_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Layout.locate().home == tmp_path.resolve()


def test_locate_relative_path_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Layout.locate("ws").home == (tmp_path / "ws").resolve()
    assert Layout.locate("ws").home.is_absolute()


def test_workspace_loads_its_config(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    assert len(Layout.locate(tmp_path).load_config().branches) == 3


def test_workspace_without_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Layout.locate(tmp_path).load_config()
    assert "tonghop init" in str(info.value)
    assert info.value.exit_code == 2


def test_repository_is_a_workspace() -> None:
    ws = Layout.locate(ROOT)
    assert ws.load_config().committee.place == "Tân Lộc"
    assert ws.form_path.is_file()


# --- unknown sections and keys are typos, named with their line and the near valid name ------


def _status_through_cli(workspace: Layout) -> tuple[int, str]:
    from click.testing import CliRunner

    from tonghop.cli import CliContext, cli

    home = workspace.home
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--home", str(home), "status", "--period", "2024-H1"], obj=CliContext(str(home))
    )
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        ("[signer]", "[signr]", "[signr]", "[signr]: có phải [signer]?"),
        ("recipients = [", "recipient = [", "recipient = [", "recipient: có phải recipients?"),
        ("[[branches]]", "[[branch]]", "[[branch]]", "[[branch]]: có phải [[branches]]?"),
    ],
)
def test_typo_in_config_exits_2_naming_it_and_its_line(
    workspace: Layout, old: str, new: str, needle: str, expected: str
) -> None:
    text = workspace.config_path.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    workspace.config_path.write_text(text, encoding="utf-8")
    code, output = _status_through_cli(workspace)
    assert code == 2
    assert expected in output
    assert f"dòng {line_of(text, needle)}" in output
    assert "Traceback" not in output


def test_unknown_key_without_a_near_one_lists_the_valid_ones(tmp_path: Path) -> None:
    text = BASE.replace("[signer]\n", '[signer]\nxyz = "1"\n')
    message = str(config_error(tmp_path, text))
    assert "«xyz»" in message
    assert f"dòng {line_of(text, 'xyz')}" in message
    assert "on_behalf, title, name" in message
    assert "có phải" not in message


def test_typo_in_deadlines_suggests_the_kind(tmp_path: Path) -> None:
    text = BASE.replace("half = 15", "haf = 15")
    message = str(config_error(tmp_path, text))
    assert "haf: có phải half?" in message
    assert f"dòng {line_of(text, 'haf')}" in message


def test_unknown_top_level_key_before_any_section(tmp_path: Path) -> None:
    text = 'comitee = "x"\n' + BASE
    message = str(config_error(tmp_path, text))
    assert "dòng 1" in message
    assert "comitee: có phải [committee]?" in message


def test_the_neutral_config_init_writes_loads_and_names_no_one() -> None:
    from tonghop.config import placeholders
    from tonghop.layout import NEW_CONFIG

    text = NEW_CONFIG.read_text(encoding="utf-8")
    config = load_config(NEW_CONFIG)
    seed = load_config(CONFIG_PATH)
    for real in (seed.committee.superior, seed.committee.name, seed.committee.place):
        assert real not in text
    assert seed.signer.name not in text and "Quận" not in text
    assert config.committee.name == "ĐẢNG ỦY XÃ <TÊN XÃ>"
    assert config.signer.name == "<HỌ VÀ TÊN NGƯỜI KÝ>"
    assert len(config.branches) == 2
    found = {(p.section, p.key, p.occurrence) for p in placeholders(config)}
    assert {("committee", "name", None), ("signer", "name", None)} <= found
    assert {("branches", "name", 1), ("branches", "name", 2)} <= found
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(is_vietnamese(c) or not c.strip("# ") for c in comments[:3])
    assert placeholders(seed) == []  # the seed workspace is ready as it is
