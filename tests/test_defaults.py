"""The repository root is a ready workspace, and `tonghop init` ships its templates (its
tonghop.toml is the neutral src/tonghop/data/tonghop-moi.toml instead).

There is one copy of each default: the repository's tonghop.toml and templates/. setup.py
copies them into the wheel as tonghop/data/defaults/; a source tree (editable install) reads
them at the root. The slow test below builds that wheel from the tracked files, installs it
into a fresh virtual environment and runs `tonghop init` from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tonghop.form import load_form
from tonghop.layout import DEFAULTS, Layout

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILES = ["tonghop.toml", "templates/form.toml", "templates/bao-cao.docx"]


@pytest.mark.parametrize("name", DEFAULT_FILES)
def test_package_defaults_are_the_repository_workspace(name):
    assert (DEFAULTS / name).read_bytes() == (ROOT / name).read_bytes()
    assert not (ROOT / "src" / "tonghop" / "data" / "defaults").exists(), "no second copy"


def test_no_file_in_src_is_a_twin_of_a_top_level_one():
    top_level = {p.read_bytes() for p in [ROOT / "tonghop.toml", *(ROOT / "templates").iterdir()]}
    twins = [
        path
        for path in (ROOT / "src").rglob("*")
        if path.is_file() and not path.is_symlink() and path.read_bytes() in top_level
    ]
    assert twins == []


def test_repository_root_is_a_ready_workspace():
    ws = Layout(ROOT)
    config = ws.load_config()
    assert config.committee.name == "ĐẢNG ỦY PHƯỜNG TÂN LỘC"
    assert config.committee.superior == "ĐẢNG BỘ QUẬN THỐT NỐT"
    assert config.targets["admitted"] == 60
    assert load_form(ws.form_path).fields["admitted"].total == "flow"
    for folder in ("inbox", "outbox", "templates"):
        assert (ROOT / folder).is_dir()


def clean_copy(target: Path) -> Path:
    """What a clean clone holds for a build: the sources, no build or egg-info leftovers."""
    target.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "tonghop.toml"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "templates", target / "templates")
    shutil.copytree(
        ROOT / "src",
        target / "src",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return target


@pytest.mark.slow
def test_the_wheel_ships_the_defaults_and_init_works_from_it(tmp_path):
    source = clean_copy(tmp_path / "clone")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(wheels)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("tonghop-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    subprocess.run(
        [*install, "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # tonghop's own dependencies come from this test environment, after the new venv's
    # site-packages (where the wheel went), so what is imported as tonghop is the wheel.
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site_packages) / "test-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    shown = subprocess.run(
        [
            str(python),
            "-c",
            "import tonghop.layout as c; print(c.__file__); print(c.DEFAULTS)",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    installed_module, defaults = Path(shown[0]), Path(shown[1])
    assert installed_module.is_relative_to(venv)
    for name in DEFAULT_FILES:
        shipped = defaults / name
        assert shipped.is_file() and not shipped.is_symlink(), shipped
        assert shipped.read_bytes() == (ROOT / name).read_bytes(), name

    home = tmp_path / "xa-moi"
    environment = {k: v for k, v in os.environ.items() if k != "TONGHOP_HOME"}
    result = subprocess.run(
        [str(venv / "bin" / "tonghop"), "init", str(home)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in DEFAULT_FILES[1:]:  # the templates are the repository's own
        assert (home / name).read_bytes() == (ROOT / name).read_bytes(), name
    # tonghop.toml is the neutral one shipped in the package, never the seed committee's
    neutral = ROOT / "src" / "tonghop" / "data" / "tonghop-moi.toml"
    written = (home / "tonghop.toml").read_text(encoding="utf-8")
    assert written == neutral.read_text(encoding="utf-8")
    assert Layout(home).load_config().committee.name == "ĐẢNG ỦY XÃ <TÊN XÃ>"
