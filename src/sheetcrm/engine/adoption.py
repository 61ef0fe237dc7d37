"""Adopting a spreadsheet a team already keeps its leads in: what ``sheetcrm init`` adds.

Nothing a person typed is moved, rewritten or deleted. The leads tab is the one named Leads,
else the one whose headers best match lead fields (a ``Sheet1`` or ``Prospects``); it is
renamed Leads, since the sync, the forms and the Apps Script menu find it by that name.

Headers stay as the person typed them. The sync reads a header by the same aliases
``sheetcrm import`` maps by ("E-mail" and "Courriel" are Email, "Société" is Company), so
the person's formulas, filters and scripts that name those headers keep working, and there
is no second mapping to keep in step. A header is renamed only where keeping it would lose
data: a column the person typed in under a name the sync writes to (their own "Status" of
each lead would be overwritten by the sync's Status); it is kept under a new name, said.
What adoption adds: the Leads columns missing, at the right, and the tabs missing, from the
blank template (stages, example scoring rules, an empty Team and Routing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sheetcrm.engine.importer import SPLIT, map_columns
from sheetcrm.engine.not_leads import why_not_a_lead
from sheetcrm.engine.plan import find_column
from sheetcrm.engine.schema import FILLED_FROM_ACTIVITIES, LEADS, METRIC_TABS, SETTINGS, TABS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.tab_headers import canonical_table
from sheetcrm.engine.table import Snapshot, Table, a1, column_letter, norm_header

KEPT_AS = {"status": "Lead status"}
"""New names for a person's column that carries a name the sync writes to; others get
" (own)" added."""
LEAD_FIELDS_NEEDED = 2  # headers that must be lead fields for a tab to be taken as the leads


@dataclass
class Adoption:
    """What adopting a spreadsheet adds to it; empty when it is set up already."""

    tab: str  # the tab holding the leads as found ("" when none: a Leads tab is added)
    found: str  # how it was found, said to the person
    header: list[str]  # its header row as typed
    leads: int = 0
    mapped: list[tuple[str, str]] = field(default_factory=list)  # (as typed, read as)
    kept: list[str] = field(default_factory=list)  # headers no lead field: kept as typed
    renamed: dict[int, str] = field(default_factory=dict)  # column -> its new header
    new_columns: list[str] = field(default_factory=list)  # added at the right of Leads
    new_tabs: dict[str, Table] = field(default_factory=dict)  # added whole
    existing_tabs: list[str] = field(default_factory=list)  # sheetcrm tabs already there
    not_leads: list[str] = field(default_factory=list)  # rows left alone, and why
    unnamed: list[str] = field(default_factory=list)  # columns with data and no header
    settings_note: str = ""  # a setting adoption chose from the sheet's own data

    @property
    def leads_header(self) -> list[str]:
        """The Leads header once adopted."""
        header = [self.renamed.get(i, h) for i, h in enumerate(self.header)]
        return header + self.new_columns

    @property
    def rename_tab(self) -> bool:
        return bool(self.tab) and self.tab != LEADS.name

    def __bool__(self) -> bool:
        return bool(self.rename_tab or self.renamed or self.new_columns or self.new_tabs)

    def describe(self) -> list[str]:
        """What it found and what it adds, in plain words (``init --dry-run`` prints it)."""
        if not self.tab:
            lines = [f"No tab holds leads ({self.found}): add an empty {LEADS.name} tab."]
        else:
            leads = f"{self.leads} lead" + ("" if self.leads == 1 else "s")
            lines = [f"Leads: the tab {self.tab!r} ({self.found}), {leads}."]
            if self.rename_tab:
                lines.append(f"  rename the tab {self.tab!r} to {LEADS.name!r}")
        if self.mapped:
            pairs = ", ".join(f"{h} = {c}" for h, c in self.mapped if h.strip() != c)
            same = [h for h, c in self.mapped if h.strip() == c]
            if pairs:
                lines.append(f"  headers kept as typed, read as: {pairs}")
            if same:
                lines.append(f"  headers sheetcrm knows: {', '.join(same)}")
        if self.kept:
            lines.append(
                f"  not lead fields sheetcrm knows, kept as they are (usable in rules by "
                f"their header): {', '.join(self.kept)}"
            )
        for col, new in self.renamed.items():
            lines.append(
                f"  rename {a1(LEADS.name, 1, col)} {self.header[col]!r} to {new!r}: the "
                f"sync writes its own {self.header[col].strip()} column, yours is kept as it is"
            )
        lines += [f"  {u}" for u in self.unnamed]
        lines += [f"  not a lead, left where it is: {n}" for n in self.not_leads]
        if self.new_columns:
            first = column_letter(len(self.header))
            lines.append(f"  add columns from {first}1 on: {', '.join(self.new_columns)}")
        for name, table in self.new_tabs.items():
            rows = f"{len(table.rows)} rows" if table.rows else "empty"
            lines.append(f"add the tab {name} ({rows})")
        if SETTINGS.name in self.new_tabs:
            said = {
                norm_header(r[0]): r[1] for r in self.new_tabs[SETTINGS.name].rows if len(r) > 1
            }
            lines.append(
                f"  {self.settings_note + '; ' if self.settings_note else ''}check Time zone "
                f"({said.get('time zone', '')}), Date order ({said.get('date order', '')}), "
                f"Default phone region ({said.get('default phone region', '')}) and Currency "
                f"({said.get('currency', '')}) on Settings before the first sync"
            )
        if self.existing_tabs:
            lines.append(f"tabs already there, left as they are: {', '.join(self.existing_tabs)}")
        if not self:
            lines.append("Nothing to add: the spreadsheet is set up already.")
        return lines


def find_leads_tab(snapshot: Snapshot) -> tuple[str, str]:
    """The tab holding the leads and how it was found; ("", why none) when none does."""
    for name in snapshot.tabs:
        if norm_header(name) == norm_header(LEADS.name):
            return name, "by its name"
    ours = {norm_header(t.name) for t in (*TABS, *METRIC_TABS)}
    best, best_count, width = "", 0, 0
    for name, table in snapshot.tabs.items():
        if norm_header(name) in ours:
            continue
        mapping = map_columns(table.header, LEADS.headers, [])
        count = len(mapping.pairs)
        if count > best_count:
            best, best_count, width = name, count, sum(1 for h in table.header if h.strip())
    if best_count < LEAD_FIELDS_NEEDED:
        return "", "none is named Leads, and none has two headers that are lead fields"
    return best, f"found by its headers: {best_count} of {width} are lead fields"


def plan_adoption(snapshot: Snapshot, blank: dict[str, Table], now: datetime) -> Adoption:
    """What adopting ``snapshot`` adds, with ``blank`` as the tabs to add (their rules and
    settings); ``now`` is the sheet's time, for the trial sync that finds which of the
    person's columns the sync would overwrite."""
    tab, found = find_leads_tab(snapshot)
    table = snapshot.tabs[tab] if tab else Table([])
    adoption = Adoption(tab, found, list(table.header))
    for name, spec_table in blank.items():
        present = snapshot.get(name) is not None or (
            name == LEADS.name and tab and snapshot.get(tab) is not None
        )
        if not present:
            adoption.new_tabs[name] = spec_table.copy()
        elif name != LEADS.name:
            adoption.existing_tabs.append(name)
    if not tab:
        return adoption
    mapping = map_columns(table.header, LEADS.headers, [])
    adoption.mapped = [(h, c) for h, c in mapping.pairs if c != SPLIT]
    # a whole name stays one column: the sync does not split what a person typed
    adoption.kept = [h for h, c in mapping.pairs if c == SPLIT]
    adoption.kept += [h for h in mapping.unmapped if h.strip()]
    for col, header in enumerate(table.header):
        if not header.strip() and any(col < len(r) and r[col].strip() for r in table.rows):
            adoption.unnamed.append(
                f"column {column_letter(col)} has values and no header (part of a merged "
                "header cell?): kept as it is, not a lead field"
            )
    names = {norm_header(h) for h in table.header}
    has_whole_name = mapping.whole_name is not None
    spelled = blank[LEADS.name].header if LEADS.name in blank else []  # b2b-fr: "Classe"
    adoption.new_columns = _missing(table.header, has_whole_name, spelled)
    for col in _overwritten(snapshot, tab, adoption, now):
        old = table.header[col].strip()
        new = KEPT_AS.get(norm_header(old), f"{old} (own)")
        while norm_header(new) in names:
            new += " (own)"
        adoption.renamed[col] = new
        names.add(norm_header(new))
    if adoption.renamed:  # the sync's own columns of those names are now missing
        renamed = [adoption.renamed.get(i, h) for i, h in enumerate(table.header)]
        adoption.new_columns = _missing(renamed, has_whole_name, spelled)
    order = date_order(table)
    settings = adoption.new_tabs.get(SETTINGS.name)
    if order and settings is not None and _set(settings, "Date order", order):
        adoption.settings_note = f"Settings: Date order {order}, as the dates on {tab!r} are"
    rows = [r for r in table.rows if any(c.strip() for c in r)]
    adoption.leads = len(rows)
    id_col = find_column(table, "Lead ID")
    for number, row in enumerate(table.rows, start=2):
        why = "" if id_col is not None and row[id_col].strip() else why_not_a_lead(row)
        if why:  # as the sync tells them: a row with a Lead ID is a lead
            adoption.not_leads.append(f"{a1(LEADS.name, number, 0)}: {why}")
            adoption.leads -= 1
    return adoption


_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")


def date_order(table: Table) -> str:
    """DMY or MDY when the tab's dates say so without doubt (a 25/03 and no 03/25), else ""."""
    day_first = month_first = False
    for row in table.rows:
        for cell in row:
            if (m := _DATE.match(cell)) is not None:
                first, second = int(m[1]), int(m[2])
                day_first |= first > 12 >= second
                month_first |= second > 12 >= first
    if day_first != month_first:
        return "DMY" if day_first else "MDY"
    return ""


def _set(settings: Table, key: str, value: str) -> bool:
    """Set ``key`` on a Settings table; whether it changed."""
    read = canonical_table(settings, SETTINGS)  # b2b-fr's "Clé", "Valeur"
    k, v = read.col("Key"), read.col("Value")
    for row in settings.rows:
        if k is not None and v is not None and norm_header(row[k]) == norm_header(key):
            changed = row[v] != value
            row[v] = value
            return changed
    return False


def _missing(header: list[str], has_whole_name: bool, spelled: list[str]) -> list[str]:
    """The Leads columns ``header`` lacks, in the template's order and named as the
    template's Leads tab names them (``spelled``: "Vérification" in b2b-fr): First name and
    Last name not where one column holds the whole name."""
    present = {spec.header for h in header if (spec := LEADS.column(h)) is not None}
    skip = {"First name", "Last name"} if has_whole_name else set()
    names = {spec.header: h for h in spelled if (spec := LEADS.column(h)) is not None}
    return [names.get(h, h) for h in LEADS.headers if h not in present and h not in skip]


def _overwritten(snapshot: Snapshot, tab: str, adoption: Adoption, now: datetime) -> list[int]:
    """The person's columns a first sync would write over typed values in: found by planning
    that sync on the adopted sheet, so it is what the sync does, not a guess of it."""
    tabs = {n: t for n, t in snapshot.tabs.items() if n != tab}
    table = snapshot.tabs[tab]
    width = len(table.header) + len(adoption.new_columns)
    tabs[LEADS.name] = Table(
        table.header + adoption.new_columns, [(r + [""] * width)[:width] for r in table.rows]
    )
    tabs.update(adoption.new_tabs)
    plan = plan_sync(Snapshot(tabs, snapshot.version, snapshot.cell_limit), now, metrics=False)
    hit: set[int] = set()
    for write in plan.writes:
        if write.column in FILLED_FROM_ACTIVITIES:
            continue  # the people's own touches on the Activities tab: their data, moved
        col = next(
            (
                i
                for i, h in enumerate(table.header)
                if (spec := LEADS.column(h)) is not None and spec.header == write.column
            ),
            None,
        )
        if col is not None and any(old.strip() for old in write.old):
            hit.add(col)
    return sorted(hit)
