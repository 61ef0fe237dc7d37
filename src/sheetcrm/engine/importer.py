"""``sheetcrm import``: map an export's columns onto Leads and append its rows, tidied.

Columns map by header: the user's ``--map`` pairs first, then an exact match, then a case-
and spacing-insensitive one (including the schema's aliases, "E-mail" -> Email, and the
names HubSpot, Salesforce, Pipedrive and Zoho exports use). A whole-name column ("Name",
"Person - Name") fills First name and Last name when the file has neither. Rows the
service creates itself are normalised on the way in (email, E.164 phone, numbers, dates);
the sync then gives them IDs, scores and owners. Lines of the file that do not line up
with its header are not imported, but said, and kept on History.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sheetcrm.engine.config import Problem
from sheetcrm.engine.names import WHOLE_NAME, split_name
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import (
    HISTORY,
    LEADS,
    MAX_ROW_PROBLEMS,
    SERVICE_BY,
    Kind,
    canonical_header,
)
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot, Table, norm_header
from sheetcrm.engine.validation import tidy
from sheetcrm.engine.values import clamp, format_datetime
from sheetcrm.errors import ImportFileError

SPLIT = "First name + Last name"  # where a whole-name column goes
_WHOLE_NAME = frozenset(map(norm_header, WHOLE_NAME))


@dataclass(frozen=True)
class Misfit:
    """A line of the file whose values do not line up with its header's columns."""

    line: int  # where it starts in the file, from 1
    values: int  # how many values it has
    text: str  # the line as written


@dataclass
class Export(Table):
    """A file to import, as read: its header, the rows that line up with it, and the lines
    that do not (which column a value of theirs belongs to cannot be known)."""

    name: str = ""
    misfits: list[Misfit] = field(default_factory=list)
    delimiter: str = ","


@dataclass
class Mapping:
    source: list[str]  # the file's header
    columns: list[tuple[int, str]] = field(default_factory=list)  # (position in it, Leads header)
    unmapped: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # source columns added to Leads as they are
    whole_name: int | None = None  # the position of a name split into First and Last name

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """(source column, Leads header) for each column imported."""
        pairs = [(self.source[i], dst) for i, dst in self.columns]
        if self.whole_name is not None:
            pairs.append((self.source[self.whole_name], SPLIT))
        return pairs


def map_columns(
    source: list[str], leads_header: list[str], explicit: list[str], add_columns: bool = False
) -> Mapping:
    """Decide where each source column goes. ``explicit``: "source column=Leads header".

    Columns are taken by position, so two with the same header are two columns: the first
    one claims the Leads column, the other is reported as not imported."""
    # a sheet's own name for a Leads column ("Prénom" in b2b-fr or an adopted sheet) is that
    # column: the import writes and tidies by the schema's header, as for an alias
    targets = {norm_header(h): canonical_header(h) for h in leads_header}
    for column in LEADS.columns:
        targets.setdefault(norm_header(column.header), column.header)
        for alias in column.aliases:
            targets.setdefault(norm_header(alias), column.header)
    headers = {*leads_header, *LEADS.headers}
    mapping = Mapping(list(source))
    by_map: dict[str, str] = {}  # Leads header -> the --map that fills it
    for item in explicit:
        if "=" not in item:
            raise ImportFileError(f"--map {item!r} has no '='", 'write --map "source=Leads header"')
        src, dst = (p.strip() for p in item.split("=", 1))
        position = _find(source, src)
        if position is None:
            raise ImportFileError(
                f"--map: the file has no column {src!r}", "its columns are: " + ", ".join(source)
            )
        target = targets.get(norm_header(dst))
        if target is None:
            raise ImportFileError(
                f"--map: Leads has no column {dst!r}",
                "use a Leads header, e.g. " + ", ".join(LEADS.headers[:8]),
            )
        if target in by_map:
            raise ImportFileError(
                f"--map {by_map[target]!r} and --map {item!r} both fill {target}",
                "keep one of them",
            )
        by_map[target] = item
        mapping.columns.append((position, target))
    taken = set(by_map)
    explicit_columns = {p for p, _ in mapping.columns}
    rest = [i for i in range(len(source)) if i not in explicit_columns]
    found: dict[int, str] = {}
    # An exact header first ("Email" over "email", "Source" over the alias "Lead Source"),
    # then one equal but for case and spacing, aliases included; left to right in each pass.
    for exact in (True, False):
        for i in rest:
            target = targets.get(norm_header(source[i]))
            if i in found or target is None or target in taken:
                continue
            if not exact or source[i] in headers:
                found[i] = target
                taken.add(target)
    if not taken & {"First name", "Last name"}:
        whole = (i for i in rest if i not in found and norm_header(source[i]) in _WHOLE_NAME)
        mapping.whole_name = next(whole, None)
    added: set[str] = set()
    for i in rest:
        name = source[i].strip()
        if i == mapping.whole_name:
            continue
        if i in found:
            mapping.columns.append((i, found[i]))
        elif add_columns and name and norm_header(name) not in {*targets, *added}:
            mapping.columns.append((i, name))
            mapping.added.append(name)
            added.add(norm_header(name))
        elif source.count(source[i]) > 1:
            mapping.unmapped.append(f"{source[i]} (column {i + 1})")
        else:
            mapping.unmapped.append(source[i])
    return mapping


def _find(source: list[str], name: str) -> int | None:
    """The position of the column ``name`` names: exactly, else but for case and spacing."""
    for same in (lambda s: s == name, lambda s: norm_header(s) == norm_header(name)):
        position = next((i for i, s in enumerate(source) if same(s)), None)
        if position is not None:
            return position
    return None


@dataclass
class ImportPlan(Plan):
    empty_because: str = ""
    """Why ``appends`` is empty, said to the user as "Nothing to import: <this>."; "" if not."""
    refused: list[Problem] = field(default_factory=list)
    """The file's lines not imported, each with its line number and a hint."""

    @property
    def refusal(self) -> str:
        """What is said above the lines refused."""
        lines = f"{len(self.refused)} line" + ("s" if len(self.refused) > 1 else "")
        return (
            f"{lines} not imported: the values do not line up with the header's columns "
            f"(each line is kept, as it was, on the {HISTORY.name} tab):"
        )


def plan_import(
    snapshot: Snapshot, source: Export, mapping: Mapping, settings: Settings, at: datetime
) -> ImportPlan:
    """A plan that appends every source row to Leads (and adds mapped extra columns)."""
    plan = ImportPlan(snapshot.version)
    leads = snapshot.table(LEADS.name)
    plan.new_columns = [c for c in mapping.added if leads.col(c) is None]
    country = next((i for i, dst in mapping.columns if dst == "Country"), None)
    kinds = [
        (i, dst, spec.kind if (spec := LEADS.column(dst)) else None) for i, dst in mapping.columns
    ]
    whole = mapping.whole_name
    for cells in source.rows:
        region = cells[country] if country is not None else ""
        record = {
            dst: clamp(tidy(cells[i], dst, kind, region, settings), snapshot.cell_limit)
            for i, dst, kind in kinds
        }
        if whole is not None:
            for dst, name in zip(
                ("First name", "Last name"), split_name(cells[whole]), strict=True
            ):
                record[dst] = clamp(
                    tidy(name, dst, Kind.TEXT, region, settings), snapshot.cell_limit
                )
        if any(record.values()):
            plan.appends.append(record)
    _refuse(plan, source, format_datetime(at))
    if not source.rows and source.misfits:
        plan.empty_because = "no line of the file has one value per column of its header"
    elif not source.rows:
        plan.empty_because = "the file has no rows under its header"
    elif not mapping.pairs:
        plan.empty_because = "no column of the file matches a Leads column"
    elif not plan.appends:
        plan.empty_because = "its rows are empty in every column that matches Leads"
    return plan


def _refuse(plan: ImportPlan, source: Export, stamp: str) -> None:
    """Say which lines are not imported: to the user, and on History, which people read and
    no sync rewrites (Problems is rewritten by the sync that follows the import)."""
    width = len(source.header)
    sign = "tab" if source.delimiter == "\t" else f'"{source.delimiter}"'
    for misfit in source.misfits:
        if misfit.values > width:
            hint = (
                f"a {sign} inside a value that has no quotes around it? Put quotes around "
                "that value, then import the line again (under the header line)"
            )
        else:
            hint = (
                "a value missing, or two run together? Give the line one value per column "
                "(empty or not), then import it again (under the header line)"
            )
        where = f"{source.name} line {misfit.line}"
        problem = f"{misfit.values} values under a header of {width} columns"
        plan.refused.append(Problem(source.name, where, problem, hint))
        if len(plan.history) < MAX_ROW_PROBLEMS:
            why = f"not imported: {where} has {problem} — {hint}"
            row = [stamp, "", "", clamp(misfit.text), "", SERVICE_BY, clamp(why)]
            plan.history.append((-1, row, ""))
    more = len(source.misfits) - MAX_ROW_PROBLEMS
    if more > 0:
        why = f"not imported: {more} more lines of {source.name} like the ones above"
        plan.history.append((-1, [stamp, "", "", "", "", SERVICE_BY, why], ""))
