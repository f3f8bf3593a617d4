"""The docs describe the program that exists: every command, and the README's commands."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from tools.cli_reference import reference

from tonghop.cli import cli

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "huong-dan-su-dung.md"


def test_every_user_command_is_in_the_vietnamese_guide_and_the_readme():
    guide = GUIDE.read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in cli.commands:
        if name == "demo":
            continue
        assert f"tonghop {name}" in guide, f"«tonghop {name}» is missing from the guide"
        assert f"tonghop {name}" in readme, f"«tonghop {name}» is missing from the README"


def test_readme_starts_with_the_two_commands_and_they_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_user_documents_are_nfc():
    for path in [GUIDE, ROOT / "templates" / "form.toml", ROOT / "tonghop.toml"]:
        text = path.read_text(encoding="utf-8")
        assert unicodedata.is_normalized("NFC", text), path


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_link_in_the_docs_points_inside_the_clone():
    """A user's clone has only the repository: no link may leave it or point at nothing."""
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)|`(\.\./[^`]+)`")
    for doc in _documents():
        text = doc.read_text(encoding="utf-8")
        for match in link.finditer(text):
            target = match.group(1) or match.group(2)
            if re.match(r"[a-z]+://", target):
                continue
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{doc.name}: {target} leaves the repository"
            assert resolved.exists(), f"{doc.name}: {target} does not exist"


def test_command_reference_is_what_the_commands_print():
    committed = (ROOT / "docs" / "cac-lenh.md").read_text(encoding="utf-8")
    assert committed == reference(), (
        "docs/cac-lenh.md is stale: run .venv/bin/python tools/cli_reference.py > docs/cac-lenh.md"
    )
