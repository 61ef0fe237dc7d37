"""``sheetcrm import``: map an export's columns onto Leads and append its rows, tidied.

Columns map by header: the user's ``--map`` pairs first, then an exact match, then a case-
and spacing-insensitive one (including the schema's aliases, "E-mail" -> Email). Rows the
service creates itself are normalised on the way in (email, E.164 phone, numbers, dates);
the sync then gives them IDs, scores and owners.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot, Table, norm_header
from sheetcrm.engine.validation import tidy
from sheetcrm.engine.values import clamp
from sheetcrm.errors import ImportFileError


@dataclass
class Mapping:
    source: list[str]  # the file's header
    columns: list[tuple[int, str]] = field(default_factory=list)  # (position in it, Leads header)
    unmapped: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # source columns added to Leads as they are

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """(source column, Leads header) for each column imported."""
        return [(self.source[i], dst) for i, dst in self.columns]


def map_columns(
    source: list[str], leads_header: list[str], explicit: list[str], add_columns: bool = False
) -> Mapping:
    """Decide where each source column goes. ``explicit``: "source column=Leads header".

    Columns are taken by position, so two with the same header are two columns: the first
    one claims the Leads column, the other is reported as not imported."""
    targets = {norm_header(h): h for h in leads_header}
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
    added: set[str] = set()
    for i in rest:
        name = source[i].strip()
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


def plan_import(
    snapshot: Snapshot, source: Table, mapping: Mapping, settings: Settings
) -> ImportPlan:
    """A plan that appends every source row to Leads (and adds mapped extra columns)."""
    plan = ImportPlan(snapshot.version)
    leads = snapshot.table(LEADS.name)
    plan.new_columns = [c for c in mapping.added if leads.col(c) is None]
    country = next((i for i, dst in mapping.columns if dst == "Country"), None)
    kinds = [
        (i, dst, spec.kind if (spec := LEADS.column(dst)) else None) for i, dst in mapping.columns
    ]
    for row in source.rows:
        cells = row + [""] * (len(source.header) - len(row))  # a short CSV line
        region = cells[country] if country is not None else ""
        record = {
            dst: clamp(tidy(cells[i], dst, kind, region, settings), snapshot.cell_limit)
            for i, dst, kind in kinds
        }
        if any(record.values()):
            plan.appends.append(record)
    if not source.rows:
        plan.empty_because = "the file has no rows under its header"
    elif not mapping.columns:
        plan.empty_because = "no column of the file matches a Leads column"
    elif not plan.appends:
        plan.empty_because = "its rows are empty in every column that matches Leads"
    return plan
