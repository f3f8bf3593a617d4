"""The wheel ships the repository's workspace defaults (tonghop.toml, templates/) as
tonghop/data/defaults/, copied at build time from their one copy at the repository root."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DEFAULT_FILES = ("tonghop.toml", "templates/form.toml", "templates/bao-cao.docx")


class BuildWithDefaults(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "tonghop" / "data" / "defaults"
        for name in DEFAULT_FILES:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, target / name)


setup(cmdclass={"build_py": BuildWithDefaults})
