"""The folders and files of a workspace, and making a new one.

A workspace is a folder holding tonghop.toml, templates/, inbox/, outbox/, archive/ and logs/.
:class:`Layout` only names the paths; nothing is read until asked.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tonghop.config import CONFIG_NAME, FORM_NAME, Branch, Config, load_config
from tonghop.errors import ConfigError, UsageError
from tonghop.periods import Period

__all__ = ["DEFAULTS", "NEW_CONFIG", "Layout", "create_workspace"]

LEDGER_NAME = "ledger.sqlite3"


def _defaults() -> Path:
    """The workspace `tonghop init` copies. A wheel ships it in tonghop/data/defaults/ (copied
    by setup.py at build time); a source tree (an editable install) has its one copy at the
    repository root."""
    packaged = Path(__file__).parent / "data" / "defaults"
    if (packaged / CONFIG_NAME).is_file():
        return packaged
    return Path(__file__).resolve().parent.parent.parent


DEFAULTS = _defaults()
# The tonghop.toml `tonghop init` writes: neutral, Vietnamese comments, "<...>" placeholders
# the secretary must replace (Workspace.require_ready refuses forms and reports until then).
NEW_CONFIG = Path(__file__).parent / "data" / "tonghop-moi.toml"


@dataclass(frozen=True)
class Layout:
    """Paths of a workspace folder."""

    home: Path

    @classmethod
    def locate(cls, home: str | os.PathLike[str] | None = None) -> Layout:
        chosen = home or os.environ.get("TONGHOP_HOME") or "."
        return cls(Path(chosen).resolve())

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def templates(self) -> Path:
        return self.home / "templates"

    @property
    def form_path(self) -> Path:
        return self.templates / FORM_NAME

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def ledger(self) -> Path:
        return self.archive / LEDGER_NAME

    def period_outbox(self, period: Period) -> Path:
        return self.outbox / period.code

    def create(
        self,
        source: Layout,
        *,
        branches: Sequence[Branch] | None = None,
        config_text: str | None = None,
    ) -> Layout:
        """Make this folder a workspace: ``source``'s tonghop.toml (or ``config_text``) and
        templates/, empty inbox/, outbox/ and archive/. With ``branches``, they replace the
        copied list. Templates already in the folder are kept."""
        self.templates.mkdir(parents=True, exist_ok=True)
        if config_text is None:
            config_text = source.config_path.read_text(encoding="utf-8-sig")
        text = config_text
        if branches is not None:
            text = text.split("[[branches]]", 1)[0].rstrip() + "\n"
            text += "".join(
                f'\n[[branches]]\ncode = "{b.code}"\nname = "{b.name}"\n' for b in branches
            )
        self.config_path.write_text(text, encoding="utf-8")
        for item in source.templates.iterdir():
            if item.is_file() and not (self.templates / item.name).exists():
                shutil.copy2(item, self.templates / item.name)
        for folder in (self.inbox, self.outbox, self.archive):
            folder.mkdir(exist_ok=True)
        return self

    def load_config(self) -> Config:
        if not self.config_path.is_file():
            raise ConfigError(
                f"Không tìm thấy tệp cấu hình {self.config_path}. Hãy chạy lệnh trong thư mục "
                "làm việc, dùng --home THƯ_MỤC, hoặc tạo thư mục mới bằng «tonghop init THƯ_MỤC»."
            )
        return load_config(self.config_path)


def create_workspace(folder: str | os.PathLike[str], *, source: Layout | None = None) -> Layout:
    """Make ``folder`` a new workspace from ``source``'s tonghop.toml and templates; refuses a
    folder that already has a tonghop.toml. Without ``source`` (`tonghop init`): the package's
    templates and the neutral tonghop-moi.toml, never the seed committee's own people."""
    layout = Layout(Path(folder).resolve())
    if layout.config_path.exists():
        raise UsageError(
            f"Thư mục {layout.home} đã có tonghop.toml; không ghi đè. Hãy chọn một thư mục "
            "khác (chưa có), hoặc dùng thư mục làm việc này như đang có."
        )
    if source is not None:
        return layout.create(source)
    return layout.create(Layout(DEFAULTS), config_text=NEW_CONFIG.read_text(encoding="utf-8"))
