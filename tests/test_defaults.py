"""The repository root is a ready workspace, and `tonghop init` ships the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tonghop.form import load_form
from tonghop.layout import DEFAULTS, Layout

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["tonghop.toml", "templates/form.toml", "templates/bao-cao.docx"])
def test_package_defaults_match_the_repository_workspace(name):
    assert (DEFAULTS / name).read_bytes() == (ROOT / name).read_bytes(), (
        f"copy {name} to src/tonghop/data/defaults/{name}"
    )


def test_repository_root_is_a_ready_workspace():
    ws = Layout(ROOT)
    config = ws.load_config()
    assert config.committee.name == "ĐẢNG ỦY PHƯỜNG TÂN LỘC"
    assert config.committee.superior == "ĐẢNG BỘ QUẬN THỐT NỐT"
    assert config.targets["admitted"] == 60
    assert load_form(ws.form_path).fields["admitted"].total == "flow"
    for folder in ("inbox", "outbox", "templates"):
        assert (ROOT / folder).is_dir()
