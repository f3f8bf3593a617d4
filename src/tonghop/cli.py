"""The command line: a thin layer over the library. Every message here is Vietnamese."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from .blank import form_file_name, write_blank_form
from .checks import check_workbook
from .config import Config, Workspace
from .errors import ConfigError, TonghopError
from .form import FormSpec, load_form
from .intake import Intake, local_now
from .ledger import Ledger
from .locking import FileLock
from .periods import Period, PeriodError
from .publish import publish, write_status_page
from .reader import Unreadable, read_workbook
from .status import period_status

F = TypeVar("F", bound=Callable[..., Any])
DATA = Path(__file__).parent / "data"
DEFAULTS = DATA / "defaults"


class Env:
    """What every command needs, loaded lazily from the chosen workspace."""

    def __init__(self, home: str | None, clock: Callable[[], dt.datetime] = local_now) -> None:
        self.workspace = Workspace.locate(home)
        self.clock = clock
        # Piped or captured output gets a wide table rather than one folded to 80 columns.
        self.out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
        self._config: Config | None = None
        self._form: FormSpec | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = self.workspace.load_config()
            _check_targets(self._config, self.form)
        return self._config

    @property
    def form(self) -> FormSpec:
        if self._form is None:
            self._form = load_form(self.workspace.form_path)
        return self._form

    def ledger(self) -> Ledger:
        return Ledger(self.workspace.archive / "ledger.sqlite3")


def _check_targets(config: Config, form: FormSpec) -> None:
    known = set(form.fields) | {d.id for d in form.derived}
    for key in config.targets:
        if key not in known:
            raise ConfigError(
                f"Tệp tonghop.toml, mục [targets]: «{key}» không phải mã trường của biểu mẫu."
            )


def friendly(func: F) -> F:
    """Turn every failure into a Vietnamese message and an exit code; never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        env: Env | None = click.get_current_context().find_object(Env)
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except TonghopError as exc:
            click.secho(f"Lỗi: {exc.message}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except PeriodError as exc:
            click.secho(f"Lỗi: {exc}", fg="red", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Đã dừng theo yêu cầu.", err=True)
            sys.exit(130)
        except Exception:
            where = _log_crash(env)
            click.secho(
                "Lỗi không mong đợi của chương trình. Chi tiết kỹ thuật đã được ghi vào "
                f"{where}; hãy gửi tệp này cho người cài đặt.",
                fg="red",
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _log_crash(env: Env | None) -> Path:
    folder = env.workspace.logs if env and env.workspace.home.is_dir() else Path.cwd()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "loi-chuong-trinh.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {dt.datetime.now().isoformat()}\n{traceback.format_exc()}\n")
        return path
    except OSError:
        return Path("(không ghi được)")


def period_option(required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--period",
        "-k",
        "period_text",
        required=required,
        metavar="KỲ",
        help="Kỳ báo cáo: 2024, 2024-H1, 2024-Q2 hoặc 2024-07.",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
        ctx.obj = Env(home)
    elif home:
        ctx.obj.workspace = Workspace.locate(home)


pass_env = click.make_pass_decorator(Env)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@friendly
def init(directory: Path) -> None:
    """Tạo một thư mục làm việc mới (cấu hình, mẫu biểu, inbox, outbox, archive)."""
    workspace = Workspace(directory.resolve())
    if workspace.config_path.exists():
        raise TonghopError(f"Thư mục {directory} đã có tonghop.toml; không ghi đè.")
    workspace.create(Workspace(DEFAULTS))
    click.echo(f"Đã tạo thư mục làm việc {workspace.home}.")
    click.echo("Hãy sửa tonghop.toml (tên Đảng ủy, danh sách chi bộ, người ký) trước khi dùng.")


@cli.command()
@period_option()
@click.option("--branch", "-b", "branch_codes", multiple=True, metavar="MÃ", help="Chỉ chi bộ này.")
@pass_env
@friendly
def forms(env: Env, period_text: str, branch_codes: tuple[str, ...]) -> None:
    """Tạo biểu mẫu Excel cho từng chi bộ để gửi đi (outbox/KỲ/bieu-mau/)."""
    period = Period.parse(period_text)
    config, form = env.config, env.form
    if period.kind not in form.period_kinds:
        raise TonghopError(f"Biểu mẫu không có kỳ báo cáo loại {period.kind.label}.")
    branches = list(config.branches)
    if branch_codes:
        branches = []
        for code in branch_codes:
            branch = config.branch(code)
            if branch is None:
                raise TonghopError(f"Không có chi bộ mã «{code}» trong tonghop.toml.")
            branches.append(branch)
    out_dir = env.workspace.period_outbox(period) / "bieu-mau"
    with env.ledger() as ledger:
        for branch in branches:
            previous = ledger.previous_values(branch.code, period)
            prefill = {"members_start": previous.get("members_end")} if previous else None
            write_blank_form(
                form,
                config,
                branch,
                period,
                out_dir / form_file_name(branch, period),
                prefill=prefill,
            )
    click.echo(f"Đã tạo {len(branches)} biểu mẫu {period.label} trong {out_dir}.")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_env
@friendly
def check(env: Env, files: tuple[Path, ...]) -> None:
    """Kiểm tra tệp báo cáo mà không lưu (mã thoát 0: hợp lệ, 1: có lỗi, 2: không đọc được)."""
    config, form = env.config, env.form
    worst = 0
    today = env.clock().date()
    ledger = env.ledger() if (env.workspace.archive / "ledger.sqlite3").exists() else None
    try:
        for path in files:
            click.secho(f"{path.name}:", bold=True)
            try:
                workbook = read_workbook(path)
            except Unreadable as exc:
                click.secho(f"  Không đọc được: {exc.message}", fg="red")
                worst = 2
                continue
            result = check_workbook(
                workbook,
                form,
                config,
                today=today,
                previous=ledger.previous_values if ledger else None,
            )
            for problem in result.problems:
                color = "red" if problem.is_error else "yellow"
                click.secho(f"  - {problem.describe()}", fg=color)
            if result.errors:
                click.secho(f"  Có {len(result.errors)} lỗi: báo cáo sẽ bị trả lại.", fg="red")
                worst = max(worst, 1)
            else:
                note = f" ({len(result.warnings)} cảnh báo)" if result.warnings else ""
                click.secho(f"  Hợp lệ{note}.", fg="green")
    finally:
        if ledger:
            ledger.close()
    sys.exit(worst)


@cli.command()
@pass_env
@friendly
def process(env: Env) -> None:
    """Tiếp nhận mọi tệp trong inbox/: lưu trữ, kiểm tra, phản hồi, ghi sổ."""
    config, form = env.config, env.form
    lock = FileLock(env.workspace.archive / "intake.lock", what="tiến trình tiếp nhận")
    with lock, env.ledger() as ledger:
        results = Intake(env.workspace, config, form, ledger, clock=env.clock).process_inbox()
        touched = {r.submission.period for r in results if r.submission.period}
        for code in sorted(touched):
            write_status_page(env.workspace, config, ledger, Period.parse(code), env.clock())
    if not results:
        click.echo("Không có tệp nào mới trong inbox/.")
        return
    table = Table(title=f"Đã tiếp nhận {len(results)} tệp")
    for column in ("Tệp", "Chi bộ", "Kỳ", "Kết quả", "Lỗi", "Cảnh báo"):
        table.add_column(column)
    for r in results:
        sub = r.submission
        table.add_row(
            sub.source_name,
            sub.branch_code or "",
            sub.period or "",
            sub.outcome_label,
            str(sub.errors),
            str(sub.warnings),
        )
    env.out.print(table)


@cli.command()
@period_option()
@click.option("--json", "as_json", is_flag=True, help="In dạng JSON (cho chương trình khác).")
@pass_env
@friendly
def status(env: Env, period_text: str, as_json: bool) -> None:
    """Tình hình nộp báo cáo của các chi bộ trong một kỳ."""
    period = Period.parse(period_text)
    with env.ledger() as ledger:
        state = period_status(env.config, ledger, period, env.clock())
    if as_json:
        click.echo(json.dumps(state.to_dict(), ensure_ascii=False, indent=2))
        return
    table = Table(
        title=f"Tình hình nộp báo cáo {period.label} (hạn {state.deadline:%d/%m/%Y})",
        caption=f"Đã tiếp nhận {state.counted}/{len(state.branches)}; chưa nộp "
        f"{len(state.missing)}; nộp muộn {state.late}.",
    )
    for column in ("Mã", "Chi bộ", "Tình trạng", "Thời điểm", "Đúng hạn", "Lần gửi", "Vấn đề"):
        table.add_column(column)
    for b in state.branches:
        on_time = {True: "Đúng hạn", False: "Muộn", None: ""}[b.on_time]
        table.add_row(
            b.code,
            b.name,
            b.outcome_label,
            b.received_at.strftime("%d/%m/%Y %H:%M") if b.received_at else "",
            on_time,
            str(b.versions or ""),
            f"{b.errors} lỗi, {b.warnings} cảnh báo" if b.problems else "",
        )
    env.out.print(table)


@cli.command()
@period_option()
@click.option("--date", "report_date", metavar="NGÀY", help="Ngày ghi trên báo cáo (YYYY-MM-DD).")
@click.option("--no-pdf", is_flag=True, help="Không tạo bản PDF.")
@pass_env
@friendly
def report(env: Env, period_text: str, report_date: str | None, no_pdf: bool) -> None:
    """Viết báo cáo Word của Đảng ủy, bảng tổng hợp số liệu và trang tình hình nộp."""
    period = Period.parse(period_text)
    when = _parse_date(report_date) if report_date else None
    with env.ledger() as ledger:
        done = publish(
            env.workspace,
            env.config,
            env.form,
            ledger,
            period,
            now=env.clock(),
            report_date=when,
            pdf=not no_pdf,
        )
    click.echo(f"Báo cáo: {done.report}")
    if done.pdf:
        click.echo(f"Bản PDF: {done.pdf}")
    elif done.pdf_problem:
        click.secho(f"Chưa tạo được bản PDF: {done.pdf_problem}", fg="yellow")
    elif not no_pdf:
        click.echo("Không có LibreOffice trên máy nên chưa tạo bản PDF.")
    click.echo(f"Tổng hợp số liệu: {done.workbook}")
    click.echo(f"Tình hình nộp báo cáo: {done.status_page}")
    missing = done.aggregate.missing
    if missing:
        names = ", ".join(r.branch.name for r in missing)
        click.secho(f"Còn {len(missing)} chi bộ chưa nộp: {names}.", fg="yellow")


def _parse_date(text: str) -> dt.date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise TonghopError(f"Không hiểu ngày «{text}». Hãy viết dạng 2024-07-10 hoặc 10/07/2024.")


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-pdf", is_flag=True, help="Không tạo bản PDF.")
@pass_env
@friendly
def demo(env: Env, directory: Path | None, no_pdf: bool) -> None:
    """Chạy thử: báo cáo các năm 2020-2023 và 6 tháng đầu năm 2024 của Đảng bộ mẫu."""
    from .demo import run_demo

    source = env.workspace if env.workspace.config_path.exists() else Workspace(DEFAULTS)
    target = directory or (env.workspace.home / "demo")
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
@pass_env
@friendly
def watch(env: Env, poll: bool, interval: float, settle: float, no_pdf: bool) -> None:
    """Theo dõi inbox/: nhận từng tệp ngay khi chép xong, cập nhật báo cáo (Ctrl-C để dừng)."""
    from .watch import WatchOptions, run_watch

    options = WatchOptions(poll=poll, interval=interval, settle=settle, pdf=not no_pdf)
    click.echo(f"Đang theo dõi {env.workspace.inbox} (nhấn Ctrl-C để dừng) ...")
    watcher = run_watch(env.workspace, env.config, env.form, options, echo=click.echo)
    click.echo(f"Đã dừng. Đã xử lý {watcher.taken} tệp trong lần chạy này.")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    cli(prog_name="tonghop")
