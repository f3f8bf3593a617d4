"""click's own words (help headings, usage, errors) come out Vietnamese (issue 9, item 7)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tonghop._click_vi import MESSAGES, PLURALS
from tonghop.cli import cli

CLICK_ENGLISH = (
    "Usage",
    "Options",
    "Commands",
    "Show this",
    "Show the version",
    "Missing",
    "Error",
    "Try ",
    "No such",
    "Invalid value",
    "is not",
    "Did you mean",
    "Got unexpected",
    "OPTIONS",
    "COMMAND",
    "ARGS",
    "required",
)


def invoke(tmp_path, *args: str):
    return CliRunner().invoke(cli, ["--home", str(tmp_path / "ws"), *args], prog_name="tonghop")


def assert_no_click_english(text: str) -> None:
    left = [word for word in CLICK_ENGLISH if word in text]
    assert not left, (left, text)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["report", "--help"],
        ["watch", "--help"],
        ["check", "--help"],
        ["init", "--help"],
    ],
)
def test_help_is_vietnamese(tmp_path, args):
    result = invoke(tmp_path, *args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Cách dùng: tonghop")
    assert "Tùy chọn:" in result.output and "Hiện hướng dẫn này rồi thoát." in result.output
    assert_no_click_english(result.output)


def test_the_groups_help_lists_its_commands_and_version_option_in_vietnamese(tmp_path):
    result = invoke(tmp_path, "--help")
    assert "Cách dùng: tonghop [TÙY_CHỌN] LỆNH [THAM_SỐ]..." in result.output
    assert "\nLệnh:\n" in result.output and "Hiện số phiên bản rồi thoát." in result.output
    for command in ("report", "finalize", "exclude"):  # never cut as "[bắt" / "buộc]"
        assert "[bắt\u00a0buộc]" in invoke(tmp_path, command, "--help").output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["report"], "Lỗi: Thiếu tùy chọn '--period' / '-k'."),
        (["watch", "--interval", "abc"], "'abc' không phải là số hợp lệ."),
        (["watch", "--interval", "abc"], "Giá trị không hợp lệ cho '--interval'"),
        (["watch", "--interval", "0.1"], "nằm ngoài khoảng cho phép"),
        (["nosuch"], "Lỗi: Không có lệnh 'nosuch'."),
        (["repor"], "Có phải ý bạn là 'report'?"),
        (["report", "-k", "2024", "--bogus"], "Lỗi: Không có tùy chọn '--bogus'."),
        (["init"], "Lỗi: Thiếu tham số 'THƯ_MỤC'."),
        (["check"], "Lỗi: Thiếu tham số 'TỆP...'."),
        (["status", "-k", "2024", "thua"], "Lỗi: Thừa tham số: thua."),
        (["report", "--period"], "Tùy chọn '--period' cần một giá trị."),
    ],
)
def test_every_usage_error_is_vietnamese(tmp_path, args, expected):
    result = invoke(tmp_path, *args)
    assert result.exit_code == 2
    assert expected in result.output, result.output
    assert result.output.count("Lỗi: ") == 1
    if "Cách dùng:" in result.output:  # click gives the hint wherever it shows the usage
        assert "Hãy chạy 'tonghop" in result.output and "--help' để xem hướng dẫn." in result.output
    assert_no_click_english(result.output)


def test_the_table_keeps_clicks_placeholders():
    """A translation may drop one of click's fields, never add one click does not give."""
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for msgid, vietnamese in MESSAGES.items():
        assert fields(vietnamese) <= fields(msgid), msgid
        assert ("%(" in vietnamese) == ("%(" in msgid), msgid
    for msgid, (one, several) in PLURALS.items():
        assert fields(one) | fields(several) <= fields(msgid) | {
            "len",
            "nargs",
            "possibilities",
            "choices",
            "formats",
        }, msgid
