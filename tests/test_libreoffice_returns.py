"""Returns saved by LibreOffice Calc, the way branches save them, read like the originals."""

from __future__ import annotations

import datetime as dt

from tonghop.intake.checks import check_workbook
from tonghop.intake.inbox import Intake
from tonghop.intake.reader import Unreadable, read_workbook
from tonghop.office import convert

from .conftest import needs_soffice


def test_return_resaved_by_calc_reads_the_same_values(
    workspace, config, form, ledger, clock, make_return, tmp_path
):
    needs_soffice()
    original = make_return(
        "LT1",
        "2024-H1",
        folder=tmp_path / "goc",
        highlights="Chi bộ «tiêu biểu» & vững mạnh",
        funds_mobilized=450_000_000,
    )
    resaved = convert(original, "xlsx:Calc MS Excel 2007 XML", tmp_path / "calc")
    assert resaved.read_bytes() != original.read_bytes()

    today = dt.date(2024, 7, 5)
    before = check_workbook(read_workbook(original), form, config, today=today)
    after = check_workbook(read_workbook(resaved), form, config, today=today)
    assert before.problems == [] and after.problems == []
    assert after.values == before.values
    assert after.cells == before.cells

    (workspace.inbox / "tu-libreoffice.xlsx").write_bytes(resaved.read_bytes())
    results = Intake(workspace, config, form, ledger, clock=clock).process_inbox()
    assert [r.submission.outcome for r in results] == ["accepted"]
    assert results[0].submission.values["funds_mobilized"] == 450_000_000


def test_return_saved_as_ods_gets_a_save_as_xlsx_message(make_return, tmp_path):
    needs_soffice()
    original = make_return("LT1", "2024-H1", folder=tmp_path / "goc")
    ods = convert(original, "ods", tmp_path / "ods")
    try:
        read_workbook(ods)
    except Unreadable as exc:
        assert exc.kind == "ods"
        assert ".xlsx" in exc.message
    else:
        raise AssertionError("an .ods file must not read as a return")
