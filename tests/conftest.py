"""Shared fixtures: a fresh workspace in tmp_path and filled returns made by the real writer."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tonghop.blank import form_file_name, write_blank_form
from tonghop.config import Config
from tonghop.form import FormSpec, load_form
from tonghop.layout import Layout
from tonghop.ledger import Ledger
from tonghop.office import find_soffice
from tonghop.periods import Period
from tonghop.samples import sample_values

from .helpers import FORM

ROOT = Path(__file__).resolve().parent.parent


def needs_soffice() -> None:
    """Skip locally when LibreOffice is absent; in CI (CI=true) its absence is a failure."""
    if find_soffice() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice (soffice) is required in CI but is not installed.")
        pytest.skip("LibreOffice (soffice) is not installed on this machine.")


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The report's prepared templates (kept in the user's cache folder) stay in tmp."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("user-cache")))
        yield


@pytest.fixture
def workspace(tmp_path: Path) -> Layout:
    """A copy of the repository's workspace (the seed committee) with empty folders."""
    return Layout(tmp_path / "ws").create(Layout(ROOT))


@pytest.fixture
def config(workspace: Layout) -> Config:
    return workspace.load_config()


@pytest.fixture
def form(workspace: Layout) -> FormSpec:
    return load_form(workspace.form_path)


@pytest.fixture
def ledger(workspace: Layout):
    with Ledger(workspace.ledger) as led:
        yield led


def balanced_values(period: Period, members_start: int = 20, **changes: Any) -> dict[str, Any]:
    """A valid return's values (the one factory, tonghop.samples, from the numbers below);
    ``changes`` are kept as given, the rest follows the form's rules."""
    start: dict[str, Any] = {
        "members_start": members_start,
        "admitted": 2,
        "restored": 0,
        "transferred_in": 1,
        "deceased": 0,
        "expelled": 0,
        "struck_off": 1,
        "resigned": 0,
        "transferred_out": 0,
        "probationary": 2,
        "confirmed": 1,
        "women": 7,
        "exempt": 1,
        "candidates": 3,
        "badges": 0,
        "commitments": 22,
        "study_attendance": 20,
        "regular_meetings": period.kind.months,
        "thematic_meetings": 1,
        "inspections_received": 1,
        "members_supervised": 2,
        "branch_violation_checks": 0,
        "member_violation_checks": 0,
        "disciplined": 0,
        "houses_built": 1,
        "houses_repaired": 0,
        "funds_mobilized": 50_000_000,
        "households_supported": 3,
        "highlights": "Chi bộ duy trì sinh hoạt đều đặn.",
        "shortcomings": "",
        "proposals": "",
        "next_tasks": "Tiếp tục kết nạp đảng viên.",
        "prepared_by": "Nguyễn Văn A",
        "prepared_on": "05/07/2024",
    }
    if period.kind.value == "year":
        start |= {
            "rated_excellent": 3,
            "rated_good": 15,
            "rated_completed": 3,
            "rated_failed": 0,
            "branch_rating": "HTTNV",
        }
    return sample_values(FORM, period, "LT1", start=start, given=changes)


MakeReturn = Callable[..., Path]


@pytest.fixture
def make_return(workspace: Layout, config: Config, form: FormSpec) -> MakeReturn:
    """Write a filled return for ``branch`` and ``period`` into inbox/ (or ``folder``)."""

    def make(
        branch: str = "LT1",
        period: str = "2024-H1",
        *,
        name: str | None = None,
        folder: Path | None = None,
        **values: Any,
    ) -> Path:
        the_period = Period.parse(period)
        the_branch = config.branch(branch)
        assert the_branch is not None, branch
        filled = balanced_values(the_period, **values)
        target = (folder or workspace.inbox) / (name or form_file_name(the_branch, the_period))
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_blank_form(form, config, the_branch, the_period, target, prefill=filled)

    return make


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime = dt.datetime(2024, 7, 5, 9, 0)) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
