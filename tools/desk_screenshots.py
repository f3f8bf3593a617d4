"""Pictures of the desk for the guide (docs/ban-lam-viec-*.png), and whole pages to look at.

    .venv/bin/python tools/desk_screenshots.py [FOLDER]

Builds a workspace of the seed committee in a temporary folder (12 of 15 returns in, one of
them sent back, one file unreadable, the draft written), serves it on a free port and opens
the period page with the system Chromium at 1280 and 390 px. The first screen of each goes
to docs/; every page whole (periods, period, branch, return, confirmation) to FOLDER
(default: a temporary folder, printed).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tonghop.blank import form_file_name, write_blank_form
from tonghop.layout import Layout
from tonghop.periods import Period
from tonghop.samples import sample_values
from tonghop.web import server
from tonghop.workspace import open_workspace

ROOT = Path(__file__).resolve().parent.parent
PERIOD = Period.parse("2024-H1")
CHROMIUM = "/usr/bin/chromium"


def build(home: Path) -> None:
    layout = Layout(home).create(Layout(ROOT))
    clock = iter(dt.datetime(2024, 7, 8, 8, 0) + dt.timedelta(minutes=17 * n) for n in range(99))
    ws = open_workspace(home, clock=lambda: next(clock))
    for number, branch in enumerate(ws.config.branches[:12]):
        values = sample_values(ws.form, PERIOD, branch.code, seed=number)
        if number == 4:
            values["members_end"] = values["members_start"] + 40  # sent back: does not add up
        target = layout.inbox / form_file_name(branch, PERIOD)
        write_blank_form(ws.form, ws.config, branch, PERIOD, target, prefill=values)
        ws.take_inbox()
    (layout.inbox / "anh-chup-bao-cao.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a workbook")
    ws.take_inbox()
    ws.publish(PERIOD, pdf=False)
    ws.close()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="desk-"))
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="desk-ws-")) / "ws"
    build(home)
    ws = open_workspace(home, clock=lambda: dt.datetime(2024, 7, 12, 9, 30))
    running = server.start(ws, "127.0.0.1", 0)
    first = ws.ledger.for_period(PERIOD)[4].id
    pages = {
        "cac-ky": "",
        "ky": f"ky/{PERIOD.code}",
        "chi-bo": f"chi-bo/{ws.config.branches[4].code}",
        "tep": f"tep/{first}",
        "xac-nhan": f"ky/{PERIOD.code}/chot",
    }
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            for device, width, height in (("may-tinh", 1280, 860), ("dien-thoai", 390, 844)):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                for name, url in pages.items():
                    page.goto(running.url + url)
                    page.screenshot(path=out / f"{name}-{device}.png", full_page=True)
                page.goto(running.url + pages["ky"])
                page.screenshot(path=ROOT / "docs" / f"ban-lam-viec-{device}.png")
                context.close()
            browser.close()
    finally:
        running.stop()
        ws.close()
    print(out)


if __name__ == "__main__":
    main()
