"""The look of a workbook: bold frozen headers, the columns sheetcrm fills set apart in grey
with a note saying so, and on Leads the drop-downs and highlighting engine/look.py declares
for Google and the workbook alike (kept up to date at each write)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.formatting.rule import Rule
from openpyxl.styles import Font, PatternFill
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.backends.workbook_cells import METRIC_TABS, SERVICE_CELL
from sheetcrm.engine.look import (
    DROPDOWNS,
    FIRST_ROW,
    HIGHLIGHTS,
    WORD_LISTS,
    Look,
    PlacedHighlight,
    PlacedWords,
    place,
)
from sheetcrm.engine.schema import LEADS, SETTINGS, STAGES, TEAM, Owner, tab_spec
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import format_cell

OVERWRITTEN = "Filled by sheetcrm — your edits here are overwritten."
_PERSON_FILL = "DDEBF7"  # light blue header: people type here
_SERVICE_FILL = "BFBFBF"  # grey header, light grey column, grey tab: sheetcrm writes there
_SERVICE_TAB = "808080"
_LAST_ROW = 1048576  # the look covers the whole column, however many leads arrive


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


def keep_look(wb: Workbook, known: Mapping[str, Sequence[str]] | None = None) -> bool:
    """Give Leads the drop-downs and highlighting engine/look.py declares, at the columns
    where they are now (the same rules Google gets); whether anything had to change.

    Rules sheetcrm made are found by what they are, wherever they sit, and replaced together
    when one is missing or misplaced; a person's own rules are left as they are.
    ``known``: tabs' headers already at hand, by title (measuring a tab walks all its cells).
    """
    sheets = {norm_header(ws.title): ws for ws in wb.worksheets}
    leads = sheets.get(norm_header(LEADS.name))
    if leads is None:
        return False
    headers: dict[str, Sequence[str]] = {}
    for tab in dict.fromkeys((LEADS.name, STAGES.name, TEAM.name, *(w.tab for w in WORD_LISTS))):
        ws = sheets.get(norm_header(tab))
        if ws is None:
            continue
        header = (known or {}).get(ws.title)
        if header is None:
            header = [format_cell(v) for v in next(ws.iter_rows(max_row=1, values_only=True))]
        headers[ws.title] = header
    look = place(headers, _settings_keys(sheets.get(norm_header(SETTINGS.name)), headers))
    changed = _keep_dropdowns(wb, leads, look)
    changed = _keep_words(wb, look) or changed
    return _keep_highlights(leads, look) or changed


def _settings_keys(ws: Worksheet | None, headers: Mapping[str, Sequence[str]]) -> list[str]:
    """The Settings tab's Key column below its header: which row each setting is on."""
    if ws is None:
        return []
    header = [norm_header(h) for h in headers.get(ws.title, ())]
    if norm_header("Key") not in header:
        return []
    col = header.index(norm_header("Key")) + 1
    rows = ws.iter_rows(min_row=2, min_col=col, max_col=col, values_only=True)
    return [format_cell(row[0]) for row in rows]


WORDS_TITLE = "sheetcrm: the usual words"
"""What tells the word lists sheetcrm made from a person's own (their error title, never
shown: the lists give no error)."""


def _keep_words(wb: Workbook, look: Look) -> bool:
    """The fixed-word drop-downs (engine/look.py), as lists without an error message: a value
    typed in other words (French ones, an alias) is accepted as typed, and the sync says at
    its cell whether it reads it. Excel caps such a list at 255 characters."""
    changed = False
    for ws in wb.worksheets:
        placed = [w for w in look.words if w.tab == ws.title]
        wanted = {(_words_formula(w.spec.words), _words_range(w)) for w in placed}
        ours = [dv for dv in ws.data_validations.dataValidation if dv.errorTitle == WORDS_TITLE]
        if {(dv.formula1, str(dv.sqref)) for dv in ours} == wanted and len(ours) == len(wanted):
            continue
        ws.data_validations.dataValidation = [
            dv for dv in ws.data_validations.dataValidation if dv.errorTitle != WORDS_TITLE
        ]
        for w in placed:
            dv = DataValidation(
                type="list",
                formula1=_words_formula(w.spec.words),
                allow_blank=True,
                showErrorMessage=False,  # not strict: any word typed stays
                errorTitle=WORDS_TITLE,
            )
            dv.add(_words_range(w))
            ws.add_data_validation(dv)
        changed = True
    return changed


def _words_formula(words: Sequence[str]) -> str:
    return '"' + ",".join(words) + '"'


def _words_range(w: PlacedWords) -> str:
    if w.row is None:
        return _column(w.col)
    return f"{get_column_letter(w.col + 1)}{w.row}"


def _column(col: int) -> str:
    letter = get_column_letter(col + 1)
    return f"{letter}{FIRST_ROW}:{letter}{_LAST_ROW}"


def _keep_dropdowns(wb: Workbook, ws: Worksheet, look: Look) -> bool:
    """Each list goes through a defined name: Excel stores a list that points straight at
    another tab in a worksheet extension, which openpyxl drops on the next save."""
    names = {d.name for d in DROPDOWNS}
    wanted = {(d.spec.name, _column(d.col), d.source) for d in look.dropdowns}
    ours = [dv for dv in ws.data_validations.dataValidation if dv.formula1 in names]
    have = {
        (dv.formula1, str(dv.sqref), getattr(wb.defined_names.get(dv.formula1), "attr_text", ""))
        for dv in ours
    }
    if have == wanted and len(ours) == len(wanted):
        return False
    ws.data_validations.dataValidation = [
        dv for dv in ws.data_validations.dataValidation if dv.formula1 not in names
    ]
    for name in names & set(wb.defined_names):
        del wb.defined_names[name]
    for d in look.dropdowns:
        spec = d.spec
        wb.defined_names[spec.name] = DefinedName(spec.name, attr_text=d.source)
        # A warning, not a stop: the sync flags an unknown stage or owner with a hint anyway.
        dv = DataValidation(
            type="list",
            formula1=spec.name,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=f"Not in the {spec.source_tab} tab",
            error=f"{spec.column} is usually one of the {spec.source_tab} tab's "
            f"{spec.source_header} column.",
        )
        dv.add(_column(d.col))
        ws.add_data_validation(dv)
    return True


Signature = tuple[str, str, str | None, tuple[str, ...]]
"""A highlighting rule as compared: its cells, type, operator and formulas (colours aside,
as on Google: a person may recolour one)."""


def _signature(placed: PlacedHighlight) -> Signature:
    if placed.spec.equals is not None:
        return _column(placed.col), "cellIs", "equal", (f'"{placed.spec.equals}"',)
    return _column(placed.col), "expression", None, (placed.formula,)


def _rule(placed: PlacedHighlight) -> Rule:
    _, kind, operator, formula = _signature(placed)
    colour = placed.spec.colour
    rule = Rule(type=kind, operator=operator, formula=list(formula))
    rule.dxf = DifferentialStyle(fill=PatternFill("solid", start_color=colour, end_color=colour))
    return rule


def _ours(sqref: str, rule: Rule) -> bool:
    """Whether ``rule`` on ``sqref`` is one of the declared highlights, on any column."""
    bounds = range_boundaries(sqref) if " " not in sqref else None
    if bounds is None or bounds[0] != bounds[2] or bounds[1:4:2] != (FIRST_ROW, _LAST_ROW):
        return False
    found = (sqref, rule.type, rule.operator, tuple(rule.formula))
    return any(_signature(PlacedHighlight(h, bounds[0] - 1)) == found for h in HIGHLIGHTS)


def _keep_highlights(ws: Worksheet, look: Look) -> bool:
    rules = ws.conditional_formatting._cf_rules
    have = [
        (str(cf.sqref), r.type, r.operator, tuple(r.formula))
        for cf, kept in rules.items()
        for r in kept
        if _ours(str(cf.sqref), r)
    ]
    wanted = [_signature(h) for h in look.highlights]
    if sorted(have, key=repr) == sorted(wanted, key=repr):
        return False
    for cf in list(rules):
        rules[cf] = [r for r in rules[cf] if not _ours(str(cf.sqref), r)]
        if not rules[cf]:
            del rules[cf]
    for placed in look.highlights:
        ws.conditional_formatting.add(_column(placed.col), _rule(placed))
    return True
