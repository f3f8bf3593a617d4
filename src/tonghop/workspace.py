"""The opened workspace: one object for everything the commands, the watcher and the desk do.

``tonghop.open(home)`` reads tonghop.toml and templates/form.toml, checks them against each
other, and returns a :class:`Workspace` that owns the paths, the ledger (opened on first use),
the locks and the clock. Each operation (take the inbox, check files, make the forms, status,
publish a period) is one method; the command line only turns arguments into a call and the
result into text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .config import Branch, Config
from .errors import ConfigError, UsageError
from .form import FormSpec, Total, load_form
from .layout import Layout
from .ledger import Ledger
from .locking import FileLock
from .periods import Period, local_now

if TYPE_CHECKING:
    # Imported where they are used: the form writer and the intake bring openpyxl and the
    # reader (about 0.1 s of imports) that `tonghop report` and `tonghop status` never use.
    from .checks import CheckResult
    from .intake import Intake, IntakeResult
    from .publish import Published
    from .status import PeriodStatus

Clock = Callable[[], dt.datetime]


def open_workspace(home: str | Path | None = None, *, clock: Clock | None = None) -> Workspace:
    """Open the workspace at ``home`` (default: $TONGHOP_HOME, else the current folder)."""
    layout = Layout.locate(home)
    config = layout.load_config()
    form = load_form(layout.form_path)
    check_config_against_form(config, form)
    return Workspace(layout, config, form, clock=clock or local_now)


def check_config_against_form(config: Config, form: FormSpec) -> None:
    """What tonghop.toml names from the form (targets) must exist in the form."""
    known = set(form.fields) | {d.id for d in form.derived}
    for key in config.targets:
        if key not in known:
            raise ConfigError(
                f"Tệp tonghop.toml, mục [targets]: «{key}» không phải mã trường của biểu mẫu."
            )


@dataclass
class FileCheck:
    """The answer of :meth:`Workspace.check_files` for one file: checked, or unreadable."""

    path: Path
    result: CheckResult | None
    unreadable: str | None = None


@dataclass
class FormsMade:
    folder: Path
    paths: list[Path]
    period: Period


class Workspace:
    """An opened workspace. Close it (or use ``with``) to close the ledger."""

    def __init__(
        self,
        layout: Layout,
        config: Config,
        form: FormSpec,
        *,
        clock: Clock = local_now,
        ledger: Ledger | None = None,
    ) -> None:
        self.layout = layout
        self.config = config
        self.form = form
        self.clock = clock
        self._ledger = ledger

    # --- resources ---------------------------------------------------------------------
    @property
    def ledger(self) -> Ledger:
        """The ledger, opened (and created) on first use."""
        if self._ledger is None:
            self._ledger = Ledger(self.layout.ledger)
        return self._ledger

    def has_ledger(self) -> bool:
        return self._ledger is not None or self.layout.ledger.exists()

    def intake_lock(self) -> FileLock:
        """Held by whoever takes files out of inbox/ (``process`` or the watcher)."""
        return FileLock(self.layout.archive / "intake.lock", what="tiến trình tiếp nhận")

    def watch_lock(self) -> FileLock:
        return FileLock(self.layout.archive / "watch.lock", what="trình theo dõi inbox")

    def intake(self) -> Intake:
        from .intake import Intake

        return Intake(self.layout, self.config, self.form, self.ledger, clock=self.clock)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- lookups -----------------------------------------------------------------------
    def branch(self, code: str) -> Branch:
        branch = self.config.branch(code)
        if branch is None:
            raise UsageError(f"Không có chi bộ mã «{code}» trong tonghop.toml.")
        return branch

    def period(self, code: str) -> Period:
        """A period of a kind the form asks for."""
        period = Period.parse(code)
        if period.kind not in self.form.period_kinds:
            raise UsageError(f"Biểu mẫu không có kỳ báo cáo loại {period.kind.label}.")
        return period

    # --- operations --------------------------------------------------------------------
    def take_inbox(self) -> list[IntakeResult]:
        """Take every file waiting in inbox/, then refresh the status page of each period
        a file was for."""
        with self.intake_lock():
            results = self.intake().process_inbox()
            for code in sorted({r.submission.period for r in results if r.submission.period}):
                self.write_status_page(Period.parse(code))
        return results

    def check_files(self, paths: Iterable[Path]) -> list[FileCheck]:
        """Check files as the intake would, storing nothing."""
        from .checks import check_workbook
        from .reader import Unreadable, read_workbook

        today = self.clock().date()
        previous = self.ledger.previous_values if self.has_ledger() else None
        checks = []
        for path in paths:
            try:
                workbook = read_workbook(path)
            except Unreadable as exc:
                checks.append(FileCheck(path, None, exc.message))
                continue
            result = check_workbook(
                workbook, self.form, self.config, today=today, previous=previous
            )
            checks.append(FileCheck(path, result))
        return checks

    def prefill(self, branch: Branch, period: Period) -> dict[str, Any]:
        """What a new form starts with: each stock_start field opens with the value its
        ``carried_from`` field had in the branch's return for the period just before."""
        if not self.has_ledger():
            return {}
        previous = self.ledger.previous_values(branch.code, period)
        if not previous:
            return {}
        return {
            fld.id: previous.get(fld.carried_from)
            for fld in self.form.fields.values()
            if fld.total == Total.STOCK_START and fld.carried_from
        }

    def make_forms(self, period: Period, branch_codes: Sequence[str] = ()) -> FormsMade:
        """One pre-filled workbook per branch (or per named branch) in outbox/KỲ/bieu-mau/."""
        from .blank import form_file_name, write_blank_form

        branches = [self.branch(c) for c in branch_codes] or list(self.config.branches)
        folder = self.layout.period_outbox(period) / "bieu-mau"
        paths = [
            write_blank_form(
                self.form,
                self.config,
                branch,
                period,
                folder / form_file_name(branch, period),
                prefill=self.prefill(branch, period),
            )
            for branch in branches
        ]
        return FormsMade(folder, paths, period)

    def status(self, period: Period) -> PeriodStatus:
        from .status import period_status

        return period_status(self.config, self.ledger, period, self.clock())

    def write_status_page(self, period: Period) -> Path:
        from .publish import write_status_page

        page, _ = write_status_page(self.layout, self.config, self.ledger, period, self.clock())
        return page

    def publish(
        self, period: Period, *, report_date: dt.date | None = None, pdf: bool = True
    ) -> Published:
        """Rebuild every output of ``period``: the report, the figures workbook, the status."""
        from .publish import publish

        return publish(
            self.layout,
            self.config,
            self.form,
            self.ledger,
            period,
            now=self.clock(),
            report_date=report_date,
            pdf=pdf,
        )
