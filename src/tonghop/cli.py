"""The command line: each command turns its arguments into one call on the opened workspace
and the result into Vietnamese text. Errors become a message and an exit code in one place,
:class:`TonghopGroup`. Only click is imported up front; the rest is imported by the command
that needs it, so ``tonghop --help`` starts fast.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from tonghop import __version__, _click_vi
from tonghop.web.commands import desk_beside_watch, serve, web_options, web_password

_click_vi.install()  # before the decorators below: click's own words in Vietnamese

OPTIONS_METAVAR = "[TÙY_CHỌN]"

if TYPE_CHECKING:
    from rich.console import Console

    from tonghop.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
Clock = Callable[[], dt.datetime]
CRASH_LOG = "loi-chuong-trinh.log"


class CliContext:
    """What the commands share: the chosen home and clock, and the workspace once opened."""

    def __init__(self, home: str | None = None, clock: Clock | None = None) -> None:
        self.home = home
        self.clock = clock
        self._workspace: Workspace | None = None

    def open(self) -> Workspace:
        if self._workspace is None:
            from tonghop.workspace import open_workspace

            self._workspace = open_workspace(self.home, clock=self.clock)
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None

    def console(self) -> Console:
        from rich.console import Console

        # Piped or captured output gets a wide table rather than one folded to 80 columns.
        return Console(highlight=False, width=None if sys.stdout.isatty() else 160)

    def crash_folder(self) -> Path:
        from tonghop.layout import Layout

        layout = Layout.locate(self.home)
        return layout.logs if layout.home.is_dir() else Path.cwd()


class TonghopCommand(click.Command):
    """A command whose usage line reads "[TÙY_CHỌN]" instead of click's "[OPTIONS]"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        super().__init__(*args, **kwargs)


class TonghopGroup(click.Group):
    """Runs a command and turns whatever it raises into a Vietnamese message and exit code."""

    command_class = TonghopCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        kwargs.setdefault("subcommand_metavar", "LỆNH [THAM_SỐ]...")
        super().__init__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Đã dừng theo yêu cầu.", err=True)
            ctx.exit(130)
        except Exception as exc:
            _fail(ctx, exc)
        finally:
            if isinstance(ctx.obj, CliContext):
                ctx.obj.close()


def _fail(ctx: click.Context, exc: Exception) -> NoReturn:
    from tonghop.errors import TonghopError

    if not isinstance(exc, TonghopError):
        exc = _storage_error(ctx.obj if isinstance(ctx.obj, CliContext) else CliContext(), exc)
    if isinstance(exc, TonghopError):
        click.secho(f"Lỗi: {exc.message}", fg="red", err=True)
        ctx.exit(exc.exit_code)
    where = _log_crash(ctx.obj if isinstance(ctx.obj, CliContext) else CliContext())
    click.secho(
        "Lỗi không mong đợi của chương trình. Chi tiết kỹ thuật đã được ghi vào "
        f"{where}; hãy gửi tệp này cho người cài đặt.",
        fg="red",
        err=True,
    )
    ctx.exit(1)


def _storage_error(context: CliContext, exc: Exception) -> Exception:
    """A write the disk refused (read-only, full), or a ledger found damaged mid-command, as
    its own message; else ``exc``."""
    import sqlite3

    if not isinstance(exc, sqlite3.DatabaseError | OSError):
        return exc
    from tonghop.integrity import damage_error, storage_error
    from tonghop.layout import Layout

    layout = Layout.locate(context.home)
    return storage_error(exc, layout.archive) or damage_error(exc, layout) or exc


def _log_crash(context: CliContext) -> Path | str:
    import traceback

    try:
        folder = context.crash_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CRASH_LOG
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {dt.datetime.now().isoformat()}\n{traceback.format_exc()}\n")
        return path
    except OSError:
        return "(không ghi được tệp nhật ký)"


def period_option(func: F) -> F:
    return click.option(
        "--period",
        "-k",
        "period_text",
        required=True,
        metavar="KỲ",
        help="Kỳ báo cáo: 2024, 2024-H1, 2024-Q2 hoặc 2024-07.",
    )(func)


pass_context = click.make_pass_decorator(CliContext)


@click.group(cls=TonghopGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    envvar="TONGHOP_HOME",
    metavar="THƯ_MỤC",
    help="Thư mục làm việc (mặc định: thư mục hiện tại, hoặc biến TONGHOP_HOME).",
)
@click.version_option(__version__, prog_name="tonghop", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """tonghop: tổng hợp báo cáo của các chi bộ thành báo cáo của Đảng ủy."""
    if ctx.obj is None:
        ctx.obj = CliContext(home)
    elif home:
        ctx.obj.home = home


@cli.command()
@click.argument("directory", metavar="THƯ_MỤC", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Tạo một thư mục làm việc mới (cấu hình, mẫu biểu, inbox, outbox, archive)."""
    from tonghop.layout import create_workspace

    layout = create_workspace(directory)
    click.echo(f"Đã tạo thư mục làm việc {layout.home}.")
    click.echo(
        "Hãy sửa tonghop.toml trước khi dùng: điền tên Đảng ủy, người ký, nơi nhận và danh sách"
        " chi bộ vào các chỗ trong dấu < >; lệnh forms và report chưa chạy khi còn chỗ chưa điền."
    )


@cli.command()
@period_option
@click.option("--branch", "-b", "branch_codes", multiple=True, metavar="MÃ", help="Chỉ chi bộ này.")
@pass_context
def forms(context: CliContext, period_text: str, branch_codes: tuple[str, ...]) -> None:
    """Tạo biểu mẫu Excel cho từng chi bộ để gửi đi (outbox/KỲ/bieu-mau/)."""
    workspace = context.open()
    made = workspace.make_forms(workspace.period(period_text), branch_codes)
    click.echo(f"Đã tạo {len(made.paths)} biểu mẫu {made.period.label} trong {made.folder}.")


@cli.command()
@click.argument("files", metavar="TỆP...", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_context
def check(context: CliContext, files: tuple[Path, ...]) -> None:
    """Kiểm tra tệp báo cáo mà không lưu (mã thoát 0: hợp lệ, 1: có lỗi, 2: không đọc được)."""
    worst = 0
    for checked in context.open().check_files(files):
        click.secho(f"{checked.path.name}:", bold=True)
        if checked.result is None:
            click.secho(f"  Không đọc được: {checked.unreadable}", fg="red")
            worst = 2
            continue
        result = checked.result
        for problem in result.problems:
            click.secho(f"  - {problem.describe()}", fg="red" if problem.is_error else "yellow")
        if result.errors:
            click.secho(f"  Có {len(result.errors)} lỗi: báo cáo sẽ bị trả lại.", fg="red")
            worst = max(worst, 1)
        else:
            note = f" ({len(result.warnings)} cảnh báo)" if result.warnings else ""
            click.secho(f"  Hợp lệ{note}.", fg="green")
    sys.exit(worst)


@cli.command()
@pass_context
def process(context: CliContext) -> None:
    """Tiếp nhận mọi tệp trong inbox/: lưu trữ, kiểm tra, phản hồi, ghi sổ."""
    from tonghop.ledger import Outcome
    from tonghop.watch.watcher import LOG_NAME, configure_logging

    workspace = context.open()
    # What the intake logs (a file left alone, a defect's traceback) goes to logs/, not here.
    undo_logging = configure_logging(workspace.layout.logs, console=False)
    try:
        results = workspace.take_inbox()
    finally:
        undo_logging()
    failed = sum(r.submission.outcome == Outcome.FAILED for r in results)
    if failed:
        click.secho(
            f"{failed} tệp gặp lỗi bất thường khi xử lý (đã lưu tệp và ghi sổ); chi tiết kỹ "
            f"thuật trong {workspace.layout.logs / LOG_NAME}.",
            fg="red",
            err=True,
        )
    if not results:
        click.echo("Không có tệp nào mới trong inbox/.")
        return
    from rich.table import Table

    counted = sum(r.submission.counted for r in results)
    # «Đã tiếp nhận» is what counts everywhere else: the title says what came in.
    table = Table(title=f"Đã nhận {len(results)} tệp, tiếp nhận {counted}")
    for column in ("Mã", "Tệp", "Chi bộ", "Kỳ", "Kết quả", "Lỗi", "Cảnh báo"):
        table.add_column(column)
    for r in results:
        sub = r.submission
        table.add_row(
            sub.ref,
            sub.source_name,
            sub.branch_code or "",
            sub.period or "",
            sub.outcome_label,
            str(sub.errors),
            str(sub.warnings),
        )
    context.console().print(table)


@cli.command()
@period_option
@click.option("--json", "as_json", is_flag=True, help="In dạng JSON (cho chương trình khác).")
@pass_context
def status(context: CliContext, period_text: str, as_json: bool) -> None:
    """Tình hình nộp báo cáo của các chi bộ trong một kỳ."""
    from tonghop.periods import Period

    state = context.open().status(Period.parse(period_text))
    if as_json:
        import json

        click.echo(json.dumps(state.to_dict(), ensure_ascii=False, indent=2))
        return
    from tonghop.report.status import print_status

    print_status(state, context.console())


@cli.command()
@period_option
@click.option("--date", "report_date", metavar="NGÀY", help="Ngày ghi trên báo cáo (YYYY-MM-DD).")
@click.option("--no-pdf", is_flag=True, help="Không tạo bản PDF.")
@pass_context
def report(context: CliContext, period_text: str, report_date: str | None, no_pdf: bool) -> None:
    """Viết báo cáo Word của Đảng ủy, bảng tổng hợp số liệu và trang tình hình nộp."""
    from tonghop.periods import Period, parse_date

    when = parse_date(report_date) if report_date else None
    done = context.open().publish(Period.parse(period_text), report_date=when, pdf=not no_pdf)
    if done.kept_edited is not None:
        why = (
            "không phải bản chương trình đã ghi (có thể đã sửa tay, hoặc do phiên bản trước viết)"
            if done.kept_unrecorded
            else "đã được sửa tay"
        )
        click.secho(
            f"Báo cáo {done.kept_edited.name} {why} nên được giữ nguyên; bản dự thảo mới được "
            f"ghi bên cạnh dưới tên {done.report.name if done.report else ''}.",
            fg="yellow",
        )
    click.echo(f"Báo cáo dự thảo: {done.report}")
    if done.pdf:
        click.echo(f"Bản PDF: {done.pdf}")
    elif done.pdf_problem:
        click.secho(f"Chưa tạo được bản PDF: {done.pdf_problem}", fg="yellow")
    elif not no_pdf:
        click.echo("Không có LibreOffice trên máy nên chưa tạo bản PDF.")
    click.echo(f"Tổng hợp số liệu: {done.workbook}")
    click.echo(f"Tình hình nộp báo cáo: {done.status_page}")
    missing, returned = done.status.missing, done.status.in_group("returned")
    if returned:
        names = ", ".join(b.name for b in returned)
        click.secho(f"{len(returned)} chi bộ đã nộp nhưng bị trả lại để sửa: {names}.", fg="yellow")
    if missing:
        names = ", ".join(b.name for b in missing)
        click.secho(f"Còn {len(missing)} chi bộ chưa nộp: {names}.", fg="yellow")


@cli.command()
@click.argument(
    "directory",
    metavar="[THƯ_MỤC]",
    required=False,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--no-pdf", is_flag=True, help="Không tạo bản PDF.")
@pass_context
def demo(context: CliContext, directory: Path | None, no_pdf: bool) -> None:
    """Chạy thử: báo cáo các năm 2020-2023 và 6 tháng đầu năm 2024 của Đảng bộ mẫu."""
    from tonghop.demo import run_demo
    from tonghop.layout import DEFAULTS, Layout

    from .config import placeholders

    # The demo is the seed committee's, unless this folder holds a committee of its own
    # (a folder just made by `tonghop init` still has placeholders: the seed's then).
    here = Layout.locate(context.home)
    own = here.config_path.exists() and not placeholders(here.load_config())
    source = here if own else Layout(DEFAULTS)
    target = directory or (here.home / "demo")
    click.echo(f"Đang tạo dữ liệu mẫu trong {target} ...")
    result = run_demo(target, source, pdf=not no_pdf)
    counted = sum(r.submission.counted for r in result.results)
    click.echo(f"Đã tiếp nhận {counted}/{len(result.results)} báo cáo của các chi bộ.")
    published = result.published
    click.echo(f"Báo cáo {published.period.label}: {published.report}")
    if published.pdf:
        click.echo(f"Bản PDF: {published.pdf}")
    click.echo(f"Tổng hợp số liệu: {published.workbook}")
    click.echo(f"Tình hình nộp báo cáo: {published.status_page}")


@cli.command()
@click.option(
    "--rebuild",
    is_flag=True,
    help="Dựng lại sổ ghi nhận từ kho lưu trữ (sổ cũ được giữ lại bên cạnh, không bị xoá).",
)
@pass_context
def verify(context: CliContext, rebuild: bool) -> None:
    """Đối chiếu sổ ghi nhận với kho lưu trữ (mã thoát 0: khớp nhau, 1: có sai lệch)."""
    workspace = context.open()
    if rebuild:
        done = workspace.rebuild_ledger()
        for path in done.kept_aside:
            click.echo(f"Đã giữ sổ cũ tại {path}.")
        click.echo(
            f"Đã dựng lại sổ ghi nhận {done.ledger}: {done.rows} tệp, {done.counted} báo cáo "
            "được tính."
        )
        for line in done.skipped:
            click.secho(f"  - {line}", fg="yellow")
    result = workspace.verify()
    if result.ok:
        click.secho("Sổ và kho lưu trữ khớp nhau.", fg="green")
        return
    click.secho(f"Sổ và kho lưu trữ không khớp ({len(result.problems)} chỗ):", fg="red")
    for line in result.problems:
        click.secho(f"  - {line}", fg="red")
    if result.archive_wrong:
        click.echo(
            "Kho lưu trữ thiếu hoặc hỏng tệp: hãy chép lại archive/objects.sqlite3 (và "
            "archive/oversize/) từ bản sao lưu rồi chạy lại «tonghop verify». Đừng dựng lại sổ "
            "khi kho còn thiếu: các dòng thiếu tệp sẽ không dựng lại được."
        )
    elif result.ledger_wrong and not rebuild:
        click.echo("Hãy chạy «tonghop verify --rebuild» để dựng lại sổ từ kho lưu trữ.")
    sys.exit(1)


@cli.command()
@click.option(
    "--poll",
    is_flag=True,
    help="Dò thư mục định kỳ thay vì chờ sự kiện (dùng cho ổ mạng dùng chung).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    metavar="GIÂY",
    help="Quét lại toàn bộ inbox/ sau mỗi chừng này giây.",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0.05, max=60),
    default=1.0,
    show_default=True,
    metavar="GIÂY",
    help="Tệp phải đứng yên (không đổi cỡ, không đổi giờ sửa) chừng này giây mới được nhận.",
)
@click.option("--no-pdf", is_flag=True, help="Không tạo bản PDF của báo cáo.")
@click.option("--no-web", is_flag=True, help="Không mở bàn làm việc (trang web) kèm theo.")
@web_options
@pass_context
def watch(
    context: CliContext,
    poll: bool,
    interval: float,
    settle: float,
    no_pdf: bool,
    no_web: bool,
    host: str | None,
    port: int | None,
) -> None:
    """Theo dõi inbox/: nhận từng tệp ngay khi chép xong, cập nhật báo cáo (Ctrl-C để dừng)."""
    from tonghop.watch.watcher import WatchOptions, run_watch

    workspace = context.open()
    options = WatchOptions(poll=poll, interval=interval, settle=settle, pdf=not no_pdf)
    with desk_beside_watch(workspace, host, port, enabled=not no_web):
        click.echo(f"Đang theo dõi {workspace.layout.inbox} (nhấn Ctrl-C để dừng) ...")
        watcher = run_watch(workspace, options, echo=click.echo)
    click.echo(f"Đã dừng. Đã xử lý {watcher.taken} tệp trong lần chạy này.")


cli.add_command(serve)
cli.add_command(web_password)
# The secretary's commands live in their own module; imported here, once `cli` exists, so that
# they are registered on it.
from tonghop import cli_decisions  # noqa: E402, F401


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    cli(prog_name="tonghop")
