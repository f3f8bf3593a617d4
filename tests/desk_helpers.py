"""Shared by the desk's tests: a workspace with returns taken, and its Flask test client."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

from tonghop.layout import Layout
from tonghop.workspace import Workspace, open_workspace

from .conftest import FakeClock, MakeReturn

PERIOD = "2024-H1"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def fill_workspace(layout: Layout, make_return: MakeReturn, clock: FakeClock) -> Workspace:
    """LT1 and LT2 accepted, TL1 sent back (members_end wrong), the rest missing; one file
    that is no workbook at all."""
    make_return("LT1", PERIOD)
    make_return("LT2", PERIOD, members_start=40)
    make_return("TL1", PERIOD, members_end=999)
    (layout.inbox / "ghi-chu.xlsx").write_bytes(b"not a workbook")
    ws = open_workspace(layout.home, clock=clock)
    ws.take_inbox()
    return ws


def token(client: FlaskClient, url: str = f"/ky/{PERIOD}") -> str:
    """The CSRF token of the session, as the page at ``url`` carries it."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, "no CSRF token on the page"
    return found.group(1)


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def section(html: str, title: str) -> str:
    """The part of a period page under the heading that starts with ``title``."""
    start = html.index(f"<h2>{title}")
    end = html.find("<h2>", start + 4)
    return html[start : end if end != -1 else len(html)]


def submission_ids(ws: Workspace, branch: str) -> list[int]:
    return [
        s.id for s in ws.ledger.for_period(ws.period(PERIOD)) if s.branch_code == branch and s.id
    ]


def inbox_files(ws: Workspace) -> list[Path]:
    return sorted(p for p in ws.layout.inbox.iterdir() if p.is_file())
