"""The spreadsheets ``sheetcrm init`` provisions: one folder per template, one CSV per tab.

A template is plain CSV so that people can read and edit it without sheetcrm, and so that a
diff shows what changed. Its dates are relative tokens (``{today-3}``, ``{now-5h}``) rendered
at load time: a demo sheet with "overdue" follow-ups and "recent" leads must stay that way
whenever it is created.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta
from pathlib import Path

from sheetcrm.engine.schema import SETTINGS, TABS, TabSpec
from sheetcrm.engine.tab_headers import canonical_table
from sheetcrm.engine.table import Table, a1
from sheetcrm.engine.values import format_datetime
from sheetcrm.errors import ConfigError

DEFAULT_TEMPLATE = "b2b-en"


def _templates_dir() -> Path:
    # A wheel ships the templates inside the package (pyproject's force-include); a source
    # checkout keeps them at the repository root, next to src/.
    package = Path(__file__).resolve().parents[1]
    packaged = package / "sheet_templates"
    if packaged.is_dir():
        return packaged
    return package.parents[1] / "sheet_templates"


TEMPLATES_DIR = _templates_dir()

_TOKEN_HINT = "write {today}, {today-3} (days), {now}, {now-5h} (hours) or {month-1} (months)"

# Only these two shapes are tokens, so that other braces (a regex's ``\d{3}`` in a Scoring
# value) pass through untouched.
_TOKEN = re.compile(r"\{\s*(today|now|month)\s*(?:([+-])\s*(\d+)\s*(h?))?\s*\}", re.IGNORECASE)


def available_templates(root: Path | None = None) -> list[str]:
    """Names of the templates under ``root`` (default :data:`TEMPLATES_DIR`), sorted."""
    root = root or TEMPLATES_DIR
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and any(p.glob("*.csv"))
    )


def render_tokens(text: str, now: datetime) -> str:
    """``{today±N}`` -> ``YYYY-MM-DD`` (N days); ``{now±Nh}`` -> ``YYYY-MM-DD HH:MM`` (N hours);
    ``{month±N}`` -> ``YYYY-MM`` (N months).

    Date-times go through :func:`format_datetime`, the canonical form the engine writes, so
    one that lands on midnight reads as a plain date, like any value read back from a sheet.
    Raises ValueError for a token in the wrong unit (``{today+3h}``, ``{now-5}``): guessing
    days or hours would put wrong dates into a demo without anyone noticing.
    """

    def render(match: re.Match[str]) -> str:
        base, sign, amount, hours = match.groups()
        offset = int(amount or 0) * (-1 if sign == "-" else 1)
        if base.lower() == "month":  # a Targets month: YYYY-MM, N months away
            if hours:
                raise ValueError(f"{match.group(0)}: {{month±N}} counts months, not hours")
            year, month = divmod(now.year * 12 + now.month - 1 + offset, 12)
            return f"{year:04d}-{month + 1:02d}"
        if base.lower() == "today":
            if hours:
                raise ValueError(f"{match.group(0)}: {{today±N}} counts days, not hours")
            return (now.date() + timedelta(days=offset)).isoformat()
        if amount and not hours:
            raise ValueError(f"{match.group(0)}: {{now±Nh}} counts hours; write the h")
        return format_datetime(now + timedelta(hours=offset))

    return _TOKEN.sub(render, text)


def load_template(
    name: str = DEFAULT_TEMPLATE, now: datetime | None = None, root: Path | None = None
) -> dict[str, Table]:
    """Every tab of template ``name``, in :data:`schema.TABS` order, tokens rendered.

    ``now`` is a naive local date-time (default: the clock, to the minute). Cells stay the
    strings the CSV holds: a phone like ``0612...`` must not become a number.
    """
    root = root or TEMPLATES_DIR
    names = available_templates(root)
    if name not in names:
        raise ConfigError(
            f"unknown template {name!r}",
            f"use one of: {', '.join(names)}" if names else f"no templates found in {root}",
        )
    folder = root / name
    now = (now or datetime.now()).replace(second=0, microsecond=0)

    # A stray file (a typo like "Lead.csv") would otherwise be silently ignored.
    expected = {f"{spec.name}.csv" for spec in TABS}
    extra = sorted(p.name for p in folder.glob("*.csv") if p.name not in expected)
    if extra:
        raise ConfigError(
            f"template {name!r} has files for no known tab: {', '.join(extra)}",
            f"name each CSV after a tab: {', '.join(sorted(expected))}",
        )

    tabs: dict[str, Table] = {}
    for spec in TABS:
        path = folder / f"{spec.name}.csv"
        if not path.is_file():
            raise ConfigError(f"template {name!r} has no {path.name}", "add it with its header row")
        # utf-8-sig: a CSV saved by Excel starts with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as f:
            lines = [row for row in csv.reader(f) if row]
        header = lines[0] if lines else []
        if _meaning(header, spec) != spec.headers:
            raise ConfigError(
                f"{name}/{path.name}: header row is {header}",
                "write each column's French name (as b2b-fr does) or make it exactly: "
                + ", ".join(spec.headers),
            )
        rows = lines[1:]
        for number, row in enumerate(rows, start=2):
            if len(row) > len(header):
                raise ConfigError(
                    f"{name}/{path.name} row {number}: {len(row)} cells for {len(header)} columns",
                    "quote cells that contain commas",
                )
        tabs[spec.name] = Table(
            header, [_render_row(row, now, spec.name, n) for n, row in enumerate(rows, start=2)]
        )
    return tabs


def _meaning(header: list[str], spec: TabSpec) -> list[str]:
    """The schema's headers a template's header row stands for: its own, or their other
    names (b2b-fr writes "Prénom", "Opérateur"), each column in its place."""
    return [c.header if (c := spec.column(h)) else h for h in header]


def _render_row(row: list[str], now: datetime, tab: str, number: int) -> list[str]:
    cells = []
    for col, cell in enumerate(row):
        try:
            cells.append(render_tokens(cell, now))
        except ValueError as exc:
            raise ConfigError(f"{a1(tab, number, col)}: {exc}", _TOKEN_HINT) from None
    return cells


BLANK_KEPT = ("Stages", "Scoring", "Settings", "Forms")
"""The tabs a blank CRM takes from its template: the pipeline, example scoring rules and
form mappings name nobody. Leads, Team and Routing start empty (the template's are
fictional people), and so does the Fallback owner."""


def blank(tabs: dict[str, Table]) -> dict[str, Table]:
    """``tabs`` without their sample leads, people and the routing rules naming them: a real,
    empty CRM (``sheetcrm init --blank``, and the tabs ``init`` adds to a sheet it adopts)."""
    empty = {name: Table(list(t.header)) for name, t in tabs.items()}
    for name in BLANK_KEPT:
        if name in tabs:
            empty[name] = tabs[name].copy()
    settings = empty.get("Settings")
    if settings is not None and (key := canonical_table(settings, SETTINGS).col("Key")) is not None:
        value = canonical_table(settings, SETTINGS).col("Value")  # "Clé", "Valeur" in b2b-fr
        for row in settings.rows:
            if row[key].strip().casefold() == "fallback owner" and value is not None:
                row[value] = ""
    return empty
