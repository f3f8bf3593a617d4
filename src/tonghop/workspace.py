"""The opened workspace: one object for everything the commands, the watcher and the desk do.

``tonghop.open(home)`` reads tonghop.toml and templates/form.toml, checks them against each
other, and returns a :class:`Workspace` that owns the paths, the ledger (opened on first use),
the locks and the clock. Each operation (take the inbox, check files, make the forms, status,
publish a period) is one method; the command line only turns arguments into a call and the
result into text.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tonghop import _deciding
from tonghop.config import Branch, Config
from tonghop.decisions import (
    Decision,
    DecisionKind,
    Decisions,
    PeriodState,
    os_user,
)
from tonghop.errors import ConfigError, UsageError
from tonghop.form import FormSpec, Total, load_form
from tonghop.intake.archive import OBJECTS_NAME, Archive, Event, archive_damaged
from tonghop.integrity import (
    RebuildResult,
    VerifyResult,
    backfill_arrivals,
    probe_ledger,
    rebuild_ledger,
    sweep_temporary,
    unknown_objects,
    verify,
)
from tonghop.layout import Layout
from tonghop.ledger import Ledger, Submission, ledger_damaged
from tonghop.locking import FileLock
from tonghop.periods import Period, local_now

if TYPE_CHECKING:
    # Imported where they are used: the form writer and the intake bring openpyxl and the
    # reader (about 0.1 s of imports) that `tonghop report` and `tonghop status` never use.
    from tonghop.intake.checks import CheckResult
    from tonghop.intake.inbox import Intake, IntakeResult
    from tonghop.report.publish import Published
    from tonghop.report.status import PeriodStatus

Clock = Callable[[], dt.datetime]
log = logging.getLogger("tonghop.workspace")


def open_workspace(
    home: str | Path | None = None, *, clock: Clock | None = None, user: str | None = None
) -> Workspace:
    """Open the workspace at ``home`` (default: $TONGHOP_HOME, else the current folder).
    ``user`` is who the decisions are recorded as (default: the OS user)."""
    layout = Layout.locate(home)
    config = layout.load_config()
    form = load_form(layout.form_path)
    check_config_against_form(config, form, layout.config_path)
    return Workspace(layout, config, form, clock=clock or local_now, user=user)


def check_config_against_form(
    config: Config, form: FormSpec, config_path: Path | None = None
) -> None:
    """What tonghop.toml names from the form (targets) must exist in the form."""
    import difflib

    from tonghop.tomlfile import key_line

    known = set(form.fields) | {d.id for d in form.derived}
    for key in config.targets:
        if key not in known:
            line = None
            if config_path is not None and config_path.is_file():
                line = key_line(config_path.read_text(encoding="utf-8-sig"), "targets", key)
            where = f", dòng {line}" if line else ""
            near = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" Có phải «{near[0]}»?" if near else ""
            raise ConfigError(
                f"Tệp tonghop.toml, mục [targets]{where}: «{key}» không phải mã trường của "
                f"biểu mẫu.{hint}"
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
    """An opened workspace. Close it (or use ``with``) to close the ledger. The secretary's
    operations (history, exclude, include, accept, finalize, reopen) are carried out by
    :mod:`tonghop._deciding`."""

    def __init__(
        self,
        layout: Layout,
        config: Config,
        form: FormSpec,
        *,
        clock: Clock = local_now,
        ledger: Ledger | None = None,
        user: str | None = None,
    ) -> None:
        self.layout = layout
        self.config = config
        self.form = form
        self.clock = clock
        self.user = user or os_user()
        self._ledger = ledger
        self._archive: Archive | None = None

    # --- resources ---------------------------------------------------------------------
    @property
    def ledger(self) -> Ledger:
        """The ledger, opened on first use; created only in a new workspace (a missing ledger
        beside kept files is damage, never replaced by an empty one)."""
        if self._ledger is None:
            if not self.layout.ledger.exists():
                reason = probe_ledger(self.layout.ledger, self.archive)
                if reason is not None:
                    raise ledger_damaged(self.layout.ledger, reason)
            self._ledger = Ledger(self.layout.ledger)
        return self._ledger

    @property
    def archive(self) -> Archive:
        """The kept bytes of every file received, opened on first use."""
        if self._archive is None:
            self._archive = Archive(self.layout.archive)
        return self._archive

    def has_ledger(self) -> bool:
        return self._ledger is not None or self.layout.ledger.exists()

    def intake_lock(self) -> FileLock:
        """Held by whoever takes files out of inbox/ (``process`` or the watcher)."""
        return FileLock(self.layout.archive / "intake.lock", what="tiến trình tiếp nhận")

    def publish_lock(self) -> FileLock:
        """Held while a period's report is written and recorded: two writers (a decision in
        one process, the watcher in another) must not both judge the same file as theirs."""
        return FileLock(self.layout.archive / "publish.lock", what="tiến trình viết báo cáo")

    def watch_lock(self) -> FileLock:
        return FileLock(self.layout.archive / "watch.lock", what="trình theo dõi inbox")

    def check_ledger(self) -> None:
        """Refuse to take anything while the ledger is damaged (empty, truncated, unreadable)
        or does not know objects the archive holds; raises LedgerDamaged (exit 2). Gives the
        archive the arrivals of rows an older tonghop recorded without them, and removes the
        temporary files a failed write (a full disk) left in outbox/."""
        path = self.layout.ledger
        reason = probe_ledger(path, self.archive)
        if reason is not None:
            raise ledger_damaged(path, reason)
        unknown = unknown_objects(self.ledger, self.archive, self.layout.inbox)
        if unknown:
            raise ledger_damaged(
                path,
                f"kho lưu trữ có {len(unknown)} tệp đã nhận mà sổ không ghi "
                f"(ví dụ {self.archive.name_of(unknown[0])})",
            )
        kept = set(self.archive.shas())
        known = self.ledger.known_shas()
        if known and not known & kept:
            raise archive_damaged(
                self.layout.archive / OBJECTS_NAME,
                f"không còn tệp nào trong {len(known)} tệp sổ ghi nhận đã ghi",
            )
        if not known <= kept:
            log.warning(
                "Kho lưu trữ thiếu %d tệp mà sổ ghi nhận có ghi; chạy «tonghop verify» để xem.",
                len(known - kept),
            )
        backfill_arrivals(self.ledger, self.archive)
        sweep_temporary(self.layout.outbox)

    def intake(self) -> Intake:
        """The intake, after :meth:`check_ledger` (every intake, ``process`` or ``watch``,
        starts here)."""
        from tonghop.intake.inbox import Intake

        self.check_ledger()
        return Intake(
            self.layout, self.config, self.form, self.ledger, clock=self.clock, archive=self.archive
        )

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._archive is not None:
            self._archive.close()
            self._archive = None

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
            periods = {r.submission.period for r in results}
            if None in periods:  # a file naming no period is listed on every period's page
                periods |= set(self.ledger.periods())
            for code in sorted(p for p in periods if p):
                self.write_status_page(Period.parse(code))
        return results

    def verify(self) -> VerifyResult:
        """Check the ledger and the archive against each other (``tonghop verify``)."""
        return verify(self.layout, self.archive)

    def rebuild_ledger(self) -> RebuildResult:
        """Keep the ledger aside and rebuild it from the archive (``tonghop verify --rebuild``),
        then refresh the status page of every period."""
        with self.intake_lock():
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None
            result = rebuild_ledger(self.layout, self.config, self.form, self.archive, self.clock())
            for code in result.periods:
                self.write_status_page(Period.parse(code))
        return result

    def check_files(self, paths: Iterable[Path]) -> list[FileCheck]:
        """Check files as the intake would, storing nothing."""
        from tonghop.intake.checks import check_workbook
        from tonghop.intake.reader import Unreadable, read_workbook

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

    def require_ready(self) -> None:
        """Refuse to make anything a branch or the superior will read while tonghop.toml
        still holds a placeholder written by `tonghop init`, naming each one."""
        from tonghop.config import require_filled

        require_filled(self.config, self.layout.config_path)

    def make_forms(self, period: Period, branch_codes: Sequence[str] = ()) -> FormsMade:
        """One pre-filled workbook per branch (or per named branch) in outbox/KỲ/bieu-mau/."""
        from tonghop.blank import form_file_name, write_blank_form

        self.require_ready()

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
        from tonghop.report.status import period_status

        status = period_status(self.config, self.ledger, period, self.clock())
        self._describe_state(status)
        return status

    def _describe_state(self, status: PeriodStatus) -> None:
        """Draft or final, and the reports kept, on the status (see report.drafts)."""
        from tonghop.report.drafts import describe_state

        describe_state(status, self.decisions.state(status.period), self.ledger, self.layout)

    def write_status_page(self, period: Period) -> Path:
        from tonghop.report.publish import write_status_page

        page, _ = write_status_page(
            self.layout, self.config, self.ledger, period, self.clock(), self._describe_state
        )
        return page

    def publish(
        self, period: Period, *, report_date: dt.date | None = None, pdf: bool = True
    ) -> Published:
        """Rebuild every output of ``period`` with a new draft report; refused once the
        period is finalized (its final report stays as written)."""
        self._refuse_final(period)
        self.require_ready()
        with self.publish_lock().waiting():
            # Again, the lock held: a finalize may have run while this waited for it (the
            # watcher's refresh racing with `tonghop finalize`).
            self._refuse_final(period)
            done = self._publish(period, report_date=report_date, pdf=False)
            self._keep_report_record(done)
        if not pdf:
            return done
        from tonghop.report.publish import add_pdf

        return add_pdf(done)

    def refresh(self, period: Period) -> None:
        """After a file or a decision: the draft and the workbook of a draft period (while
        tonghop.toml is filled in), else only the status page (and a finalized period's
        final report, when it went missing)."""
        if self.decisions.state(period).final:
            self.complete_final(period)
            self.write_status_page(period)
            return
        if self._placeholders():
            self.write_status_page(period)
            return
        try:
            self.publish(period, pdf=False)
        except UsageError:
            if not self.decisions.state(period).final:
                raise
            self.write_status_page(period)  # finalized meanwhile: its final report stays

    def _refuse_final(self, period: Period) -> None:
        if self.decisions.state(period).final:
            raise UsageError(
                f"Kỳ {period.label} đã chốt số liệu; báo cáo chính thức đã viết và không viết "
                f'lại. Muốn sửa, hãy mở lại kỳ: tonghop reopen --period {period.code} --reason "..."'
            )

    def _placeholders(self) -> bool:
        from tonghop.config import placeholders

        return bool(placeholders(self.config))

    def _publish(self, period: Period, **options: Any) -> Published:
        from tonghop.report.publish import publish

        return publish(
            self.layout,
            self.config,
            self.form,
            self.ledger,
            period,
            now=self.clock(),
            describe=self._describe_state,
            **options,
        )

    def _keep_report_record(self, done: Published) -> None:
        if done.record is not None:
            self.archive.add_event(Event(done.record.written_at, "report", done.record.to_event()))

    # --- the secretary's decisions (tonghop._deciding) -----------------------------------
    @property
    def decisions(self) -> Decisions:
        return Decisions(self.ledger)

    def period_state(self, period: Period) -> PeriodState:
        return self.decisions.state(period)

    def history(self, period: Period | None = None, branch: str | None = None) -> list[Submission]:
        """Every file received, oldest first, with the decisions taken on it."""
        return _deciding.history(self, period, branch)

    def find(self, ref: str | int) -> Submission:
        """The file whose short id is ``ref`` (``12``, or ``#12`` as printed)."""
        return _deciding.find(self, ref)

    def exclude(self, ref: str | int, reason: str) -> Decision:
        """Take a counted return out of the count (the branch's previous one counts again)."""
        return _deciding.decide(self, ref, DecisionKind.EXCLUDE, reason)

    def include(self, ref: str | int, reason: str = "") -> Decision:
        """Undo :meth:`exclude`."""
        return _deciding.decide(self, ref, DecisionKind.INCLUDE, reason)

    def accept(self, ref: str | int, reason: str) -> Decision:
        """Count a rejected return despite its errors."""
        return _deciding.decide(self, ref, DecisionKind.ACCEPT, reason)

    def finalize(
        self, period: Period, *, number: str | None = None, report_date: dt.date | None = None
    ) -> Published:
        """Fix the counted set of ``period`` and write its final report, once."""
        return _deciding.finalize(self, period, number=number, report_date=report_date)

    def reopen(self, period: Period, reason: str) -> PeriodState:
        """Open a finalized period again; the returns held since it was finalized count."""
        return _deciding.reopen(self, period, reason)

    def complete_final(self, period: Period) -> Published | None:
        """Write again a finalized period's final report that went missing."""
        return _deciding.complete_final(self, period)
