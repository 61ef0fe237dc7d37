"""``sheetcrm import``: map an export's columns onto Leads and append its rows, tidied.

Columns map by header: the user's ``--map`` pairs first, then an exact match, then a case-
and spacing-insensitive one (including the schema's aliases, "E-mail" -> Email). Rows the
service creates itself are normalised on the way in (email, E.164 phone, numbers, dates);
the sync then gives them IDs, scores and owners.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sheetcrm.errors import ImportFileError
from sheetcrm.plan import Plan
from sheetcrm.schema import LEADS, Kind
from sheetcrm.settings import Settings
from sheetcrm.table import Snapshot, Table, norm_header
from sheetcrm.validation import country_region, normalise_email, normalise_phone
from sheetcrm.values import format_datetime, format_number, is_blank, parse_date, parse_number


@dataclass
class Mapping:
    pairs: list[tuple[str, str]]  # (source column, Leads header)
    unmapped: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # source columns added to Leads as they are


def map_columns(
    source: list[str], leads_header: list[str], explicit: list[str], add_columns: bool = False
) -> Mapping:
    """Decide where each source column goes. ``explicit``: "source column=Leads header"."""
    targets = {norm_header(h): h for h in leads_header}
    for column in LEADS.columns:
        targets.setdefault(norm_header(column.header), column.header)
        for alias in column.aliases:
            targets.setdefault(norm_header(alias), column.header)
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    for item in explicit:
        if "=" not in item:
            raise ImportFileError(f"--map {item!r} has no '='", 'write --map "source=Leads header"')
        src, dst = (p.strip() for p in item.split("=", 1))
        match = next((s for s in source if s == src), None) or next(
            (s for s in source if norm_header(s) == norm_header(src)), None
        )
        if match is None:
            raise ImportFileError(
                f"--map: the file has no column {src!r}", "its columns are: " + ", ".join(source)
            )
        if norm_header(dst) not in targets:
            raise ImportFileError(
                f"--map: Leads has no column {dst!r}",
                "use a Leads header, e.g. " + ", ".join(LEADS.headers[:8]),
            )
        pairs.append((match, targets[norm_header(dst)]))
        used.add(match)
    taken = {dst for _, dst in pairs}
    mapping = Mapping(pairs)
    for s in source:
        if s in used:
            continue
        exact = next((h for h in leads_header if h == s), None)
        target = exact or targets.get(norm_header(s))
        if target and target not in taken:
            pairs.append((s, target))
            taken.add(target)
        elif add_columns and s.strip() and norm_header(s) not in targets:
            pairs.append((s, s.strip()))
            mapping.added.append(s.strip())
        else:
            mapping.unmapped.append(s)
    return mapping


def _tidy(value: str, header: str, kind: Kind | None, country: str, settings: Settings) -> str:
    value = value.strip()
    if is_blank(value) and header != "Notes":
        return ""  # "Select", "n/a"...: an unanswered field, not a value
    if kind is Kind.EMAIL:
        return normalise_email(value)[0] or value
    if kind is Kind.PHONE:
        region = country_region(country) or settings["Default phone region"]
        return normalise_phone(value, region)[0] or value
    if kind in (Kind.NUMBER, Kind.MONEY):
        number = parse_number(value)
        return format_number(number) if number is not None else value
    if kind in (Kind.DATE, Kind.DATETIME):
        parsed = parse_date(value, settings.dayfirst)
        return format_datetime(parsed) if parsed is not None else value
    return value


def plan_import(snapshot: Snapshot, source: Table, mapping: Mapping, settings: Settings) -> Plan:
    """A plan that appends every source row to Leads (and adds mapped extra columns)."""
    plan = Plan(snapshot.version)
    leads = snapshot.table(LEADS.name)
    plan.new_columns = [c for c in mapping.added if leads.col(c) is None]
    country_src = next((s for s, d in mapping.pairs if d == "Country"), None)
    positions = {s: i for i, s in enumerate(source.header)}
    for row in source.rows:
        country = row[positions[country_src]] if country_src else ""
        record = {}
        for src, dst in mapping.pairs:
            spec = LEADS.column(dst)
            kind = spec.kind if spec else None
            record[dst] = _tidy(row[positions[src]], dst, kind, country, settings)
        if any(record.values()):
            plan.appends.append(record)
    return plan
