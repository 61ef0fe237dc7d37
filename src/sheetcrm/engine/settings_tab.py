"""The Settings tab -> Settings, and the areas a bad setting freezes."""

from __future__ import annotations

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.schema import SETTINGS
from sheetcrm.engine.settings import ALL, GROUP_CAP_PREFIX, SettingError, Settings, find_setting
from sheetcrm.engine.settings import SETTINGS as DECLARED
from sheetcrm.engine.table import Snapshot, Table, a1
from sheetcrm.engine.values import ambiguous_number, format_number, parse_number


def parse_settings(table: Table | None) -> tuple[Settings, set[str], list[Problem]]:
    tab = RuleTab(SETTINGS, table, ["Key", "Value"])
    settings, frozen = Settings(), set[str]()
    if not tab.ok:
        # No tab, or no Key or Value column: every setting would silently fall back to its
        # default (time zone, date order, fallback owner...), so nothing they govern runs.
        frozen |= ALL
    caps: list[tuple[int, str, str]] = []
    for i, cells in tab.rows():
        key, text, row = cells["Key"], cells["Value"], Table.sheet_row(i)
        if key.casefold().startswith(GROUP_CAP_PREFIX):
            caps.append((row, key, text))  # read once Number format is known
            continue
        setting = find_setting(key)
        if setting is None:
            tab.problem(
                row,
                "Key",
                _("unknown setting %(key)r") % {"key": key},
                suggest(key, [s.key for s in DECLARED]),
            )
            continue
        if setting.key in settings.cells:
            tab.problem(
                row,
                "Key",
                _("%(key)r is set twice; the first one is used") % {"key": setting.key},
                _("delete one of the two rows"),
            )
            continue
        settings.cells[setting.key] = a1(SETTINGS.name, row, tab.table.col("Value"))
        try:
            settings.values[setting.key] = setting.parse(text if text else setting.default)
        except SettingError as exc:
            tab.problem(row, "Value", f"{setting.key}: {exc.problem}", exc.hint)
            frozen |= setting.governs
    for row, key, text in caps:
        cap = parse_number(text, settings.decimal)
        if settings.decimal is None and ambiguous_number(text):
            tab.problem(
                row,
                "Value",
                _("%(text)r could be %(one)s or %(other)s")
                % {
                    "text": text,
                    "one": format_number(cap or 0),
                    "other": format_number(parse_number(text.replace(".", "")) or 0),
                },
                _("write it without a thousands separator, or set Number format"),
            )
            frozen.add("scoring")
        elif cap is None:
            tab.problem(
                row,
                "Value",
                _("%(text)r is not a number") % {"text": text},
                _(
                    "type the most points (or, below 0, the most a group of negative rules "
                    "may take off)"
                ),
            )
            frozen.add("scoring")
        else:
            settings.group_caps[key.split(":", 1)[1].strip().casefold()] = cap
    return settings, frozen, tab.problems


def sheet_language(snapshot: Snapshot) -> str:
    """The Language a sheet's Settings tab names, read before anything else so that every
    problem of the sync is in it; read as the sync reads Settings (headers, keys, spelling),
    and English when the value is no language (its problem is reported in that English)."""
    settings, _frozen, _problems = parse_settings(snapshot.get(SETTINGS.name))
    language: str = settings["Language"]
    return language
