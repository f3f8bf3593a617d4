"""The docs describe the program that exists: every command, and the README's commands."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

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
