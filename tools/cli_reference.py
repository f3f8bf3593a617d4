"""Print docs/cac-lenh.md: the help of every command, as `tonghop CMD --help` shows it.

    .venv/bin/python tools/cli_reference.py > docs/cac-lenh.md

tests/test_docs.py checks that the committed file equals this output.
"""

from __future__ import annotations

from click.testing import CliRunner

from tonghop.cli import cli

WIDTH = 88


def help_of(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="tonghop", terminal_width=WIDTH)
    assert result.exit_code == 0, result.output
    return result.output.rstrip() + "\n"


def reference() -> str:
    parts = [
        "# Các lệnh của tonghop\n",
        "Trang này chép đúng phần trợ giúp mà mỗi lệnh in ra (`tonghop LỆNH --help`).\n",
        "## tonghop\n",
        "```text\n" + help_of() + "```\n",
    ]
    for name in sorted(cli.commands):
        parts.append(f"## tonghop {name}\n")
        parts.append("```text\n" + help_of(name) + "```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(reference(), end="")
