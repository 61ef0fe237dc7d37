"""The look of a provisioned workbook: bold frozen headers, the columns sheetcrm fills set
apart in grey with a note saying so, and the Stage and Owner drop-downs on Leads."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.backends.workbook_cells import METRIC_TABS, SERVICE_CELL
from sheetcrm.engine.schema import LEADS, STAGES, TEAM, Owner, tab_spec
from sheetcrm.engine.table import Table

OVERWRITTEN = "Filled by sheetcrm — your edits here are overwritten."
_PERSON_FILL = "DDEBF7"  # light blue header: people type here
_SERVICE_FILL = "BFBFBF"  # grey header, light grey column, grey tab: sheetcrm writes there
_SERVICE_TAB = "808080"
_LAST_ROW = 1048576  # drop-downs cover the whole column, however many leads arrive


def _solid(colour: str) -> PatternFill:
    return PatternFill("solid", fgColor=colour)


def dress(ws: Worksheet, first: int = 1) -> None:
    """Bold frozen header; service-owned columns set apart so people know not to type there.
    ``first``: the first column to dress (a tab sheetcrm adopted keeps the look of the
    person's own columns, and its frozen rows if it has some)."""
    spec = tab_spec(ws.title)
    if first == 1 or ws.freeze_panes is None:
        ws.freeze_panes = "A2"
    for cell in ws[1][first - 1 :]:
        column = spec.column(str(cell.value)) if spec and cell.value else None
        letter = get_column_letter(cell.column)
        service = column is not None and column.owner is Owner.SERVICE
        cell.font = Font(bold=True)
        cell.fill = _solid(_SERVICE_FILL if service else _PERSON_FILL)
        if column is not None:
            ws.column_dimensions[letter].width = column.width
        help_text = column.help if column else ""
        note = f"{OVERWRITTEN} {help_text}".strip() if service else help_text
        if note:
            cell.comment = Comment(note, "sheetcrm")
        if service:
            ws.column_dimensions[letter].fill = SERVICE_CELL
    if ws.title in METRIC_TABS or (spec is not None and spec.edited_by == "the service"):
        ws.sheet_properties.tabColor = _SERVICE_TAB


def add_dropdowns(wb: Workbook, tabs: dict[str, Table]) -> None:
    """Stage and Owner drop-downs on Leads, listing the Stages and Team tabs.

    The lists go through a defined name: Excel stores a list that points straight at another
    tab in a worksheet extension, which openpyxl drops on the next save.
    """
    leads = tabs.get(LEADS.name)
    if leads is None:
        return
    for target, source_tab, source_header, name in (
        ("Stage", STAGES.name, "Stage", "sheetcrm_stages"),
        ("Owner", TEAM.name, "Name", "sheetcrm_team"),
    ):
        col = leads.col(target)
        source = tabs.get(source_tab)
        src = source.col(source_header) if source else None
        if col is None or src is None:
            continue
        letter = get_column_letter(src + 1)
        wb.defined_names[name] = DefinedName(
            name, attr_text=f"{quote_sheetname(source_tab)}!${letter}$2:${letter}$1000"
        )
        # A warning, not a stop: the sync flags an unknown stage or owner with a hint anyway.
        dv = DataValidation(
            type="list",
            formula1=name,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=f"Not in the {source_tab} tab",
            error=f"{target} is usually one of the {source_tab} tab's {source_header} column.",
        )
        letter = get_column_letter(col + 1)
        dv.add(f"{letter}2:{letter}{_LAST_ROW}")
        wb[LEADS.name].add_data_validation(dv)
