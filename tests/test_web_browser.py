"""The desk in a real browser: Playwright driving the system Chromium (Debian's package,
launched by its path; no browser is downloaded) against waitress on a free port.

Locally a missing Chromium skips, saying so; in CI (CI=true) it is a failure.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tonghop.layout import Layout
from tonghop.web import server
from tonghop.workspace import open_workspace

from .conftest import FakeClock, MakeReturn
from .desk_helpers import PERIOD, fill_workspace

CHROMIUM = Path(os.environ.get("TONGHOP_CHROMIUM", "/usr/bin/chromium"))
WIDTHS = {"dien-thoai": 390, "may-tinh": 1280}


def _browser_or_skip() -> Any:
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is not installed"
    if problem is None and not CHROMIUM.is_file():
        problem = f"Chromium is not installed at {CHROMIUM} (Debian package «chromium»)"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem}; the browser tests must run in CI.")
        pytest.skip(f"{problem}: browser tests skipped on this machine.")
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def desk(workspace: Layout, make_return: MakeReturn, clock: FakeClock) -> Iterator[Any]:
    ws = fill_workspace(workspace, make_return, clock)
    running = server.start(ws, "127.0.0.1", 0, upload_wait=10.0)
    yield running, ws
    running.stop()
    ws.close()


@pytest.fixture
def page_at(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []
    problems: list[str] = []

    def open_page(width: int) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    # A Content-Security-Policy refusal (an inline script or style) shows up here.
    assert problems == []


def no_sideways_scroll(page: Any) -> None:
    page.wait_for_load_state()
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"the page scrolls sideways: {scroll} > {inner}"


def counted(page: Any) -> int:
    heading = page.locator("#live h2", has_text="Đã tiếp nhận").inner_text()
    return int(heading.split("(")[1].rstrip(")"))


@pytest.mark.parametrize("name", list(WIDTHS))
def test_period_page_fits_the_screen(desk: Any, page_at: Any, tmp_path: Path, name: str) -> None:
    running, _ = desk
    page = page_at(WIDTHS[name])
    page.goto(running.url + f"ky/{PERIOD}")
    assert page.locator("h1").inner_text().startswith("Tình hình nộp báo cáo")
    no_sideways_scroll(page)
    phone = WIDTHS[name] < 700
    assert page.locator("#live thead").first.is_visible() is not phone  # cards on a phone
    for url in ["", "chi-bo/TL1", f"ky/{PERIOD}/chot"]:
        page.goto(running.url + url)
        no_sideways_scroll(page)
    page.goto(running.url + f"ky/{PERIOD}")
    page.screenshot(path=tmp_path / f"ky-{name}.png", full_page=True)
    assert (tmp_path / f"ky-{name}.png").stat().st_size > 10_000


def test_a_return_arriving_shows_without_reloading(
    desk: Any, page_at: Any, make_return: MakeReturn, clock: FakeClock
) -> None:
    running, ws = desk
    page = page_at(1280)
    page.goto(running.url + f"ky/{PERIOD}")
    before = counted(page)
    page.evaluate("window.marker = 'same page'")
    make_return("TP1", PERIOD)
    with open_workspace(ws.layout.home, clock=clock) as other:  # as the watcher would
        other.take_inbox()
    page.locator("#live h2", has_text=f"Đã tiếp nhận ({before + 1})").wait_for(timeout=5000)
    assert page.evaluate("window.marker") == "same page"  # updated, not reloaded


def test_upload_by_picking_a_file_shows_its_answer(
    desk: Any, page_at: Any, make_return: MakeReturn, tmp_path: Path
) -> None:
    running, _ws = desk
    sent = make_return("TP2", PERIOD, folder=tmp_path / "sent")
    page = page_at(390)
    page.goto(running.url + f"ky/{PERIOD}")
    page.set_input_files("#tep", str(sent))  # the page's script sends it at once
    page.locator("h1", has_text="Kết quả nộp tệp").wait_for(timeout=15000)
    answer = page.locator("main table").inner_text()
    assert "Đã tiếp nhận" in answer and "TP2" in answer
    no_sideways_scroll(page)
    page.screenshot(path=tmp_path / "nop-tep.png", full_page=True)
    page.get_by_role("link", name="Quay lại trang").click()
    assert "(TP2)" in page.locator("#live").inner_text()


def test_upload_by_dropping_a_file_shows_its_answer(
    desk: Any, page_at: Any, make_return: MakeReturn, tmp_path: Path
) -> None:
    running, _ = desk
    data = make_return("TL1", PERIOD, folder=tmp_path / "sent", name="sua-lai.xlsx").read_bytes()
    page = page_at(1280)
    page.goto(running.url + f"ky/{PERIOD}")
    page.evaluate(
        """([name, text]) => {
            const bytes = Uint8Array.from(atob(text), c => c.charCodeAt(0));
            const moved = new DataTransfer();
            moved.items.add(new File([bytes], name));
            const zone = document.querySelector("[data-drop]");
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: moved, bubbles: true}));
        }""",
        ["sua-lai.xlsx", base64.b64encode(data).decode()],
    )
    page.locator("h1", has_text="Kết quả nộp tệp").wait_for(timeout=15000)
    answer = page.locator("main table").inner_text()
    assert "sua-lai.xlsx" in answer and "Đã tiếp nhận" in answer and "TL1" in answer


def test_exclude_a_return_through_the_page_and_see_the_figures_change(
    desk: Any, page_at: Any, tmp_path: Path
) -> None:
    running, _ = desk
    page = page_at(390)
    page.goto(running.url + f"ky/{PERIOD}")
    assert counted(page) == 2
    page.locator("#live tr", has_text="(LT2)").get_by_role("link", name="Mã tệp").click()
    page.get_by_role("link", name="Loại khỏi số liệu").click()
    page.wait_for_url("**/loai")
    no_sideways_scroll(page)
    page.fill("#ly_do", "Gửi nhầm bản thử")
    page.get_by_role("button", name="Loại khỏi số liệu").click()
    page.locator(".flash").wait_for()
    assert "Đã loại Mã tệp" in page.locator(".flash").inner_text()
    assert "Gửi nhầm bản thử" in page.locator("main").inner_text()
    page.get_by_role("link", name="6 tháng đầu năm 2024").first.click()
    page.wait_for_url(f"**/ky/{PERIOD}")
    assert counted(page) == 1
    returned = page.locator("#live h2:has-text('trả lại để sửa') + table").inner_text()
    assert "(LT2)" in returned and "Đã loại khỏi số liệu" in returned
    page.screenshot(path=tmp_path / "sau-khi-loai.png", full_page=True)


def test_period_page_prints_without_its_forms(desk: Any, page_at: Any, tmp_path: Path) -> None:
    running, _ = desk
    page = page_at(794)  # an A4 page at 96 dpi
    page.goto(running.url + f"ky/{PERIOD}")
    page.emulate_media(media="print")
    assert not page.locator("[data-drop]").is_visible()
    assert not page.locator("ul.buttons").first.is_visible()
    assert page.locator("#live h2", has_text="Đã tiếp nhận").is_visible()
    no_sideways_scroll(page)
    page.pdf(path=tmp_path / "ky.pdf")
    assert (tmp_path / "ky.pdf").read_bytes().startswith(b"%PDF")


def test_ci_installs_the_chromium_these_tests_launch() -> None:
    script = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert f"command -v {CHROMIUM.name}" in script and "need+=(chromium)" in script


@pytest.mark.parametrize("name", list(WIDTHS))
def test_the_static_status_page_fits_the_screen(
    desk: Any, page_at: Any, tmp_path: Path, name: str
) -> None:
    from tonghop.report.publish import STATUS_NAME

    _, ws = desk
    page_file = ws.write_status_page(ws.period(PERIOD))
    assert page_file.name == STATUS_NAME
    page = page_at(WIDTHS[name])
    page.goto(page_file.as_uri())
    assert page.locator("h1").inner_text().startswith("Tình hình nộp báo cáo")
    no_sideways_scroll(page)
    phone = WIDTHS[name] < 700
    assert page.locator("thead").first.is_visible() is not phone  # cards on a phone
    page.screenshot(path=tmp_path / f"trang-tinh-hinh-{name}.png", full_page=True)
