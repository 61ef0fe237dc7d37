"""The Settings tab -> Settings, and the areas a bad setting freezes."""

from __future__ import annotations

from collections.abc import Mapping

from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.schema import SETTINGS
from sheetcrm.engine.settings import ALL, GROUP_CAP_PREFIX, SettingError, Settings, find_setting
from sheetcrm.engine.settings import SETTINGS as DECLARED
from sheetcrm.engine.table import Table, a1
from sheetcrm.engine.values import ambiguous_number, format_number, parse_number


def parse_settings(
    table: Table | None, defaults: Mapping[str, str] | None = None
) -> tuple[Settings, set[str], list[Problem]]:
    """``defaults``: Settings text by key that stands in for the declared default where
    the tab leaves the value empty or has no row for it (the spreadsheet's locale and
    time zone, engine/sheet_locale.py); a value typed in the tab wins."""
    tab = RuleTab(SETTINGS, table, ["Key", "Value"])
    settings, frozen = Settings(), set[str]()
    sheet: dict[str, str] = {}
    for key, text in (defaults or {}).items():
        setting = find_setting(key)
        try:
            if setting is not None:
                settings.values[setting.key] = setting.parse(text)
                sheet[setting.key] = text
        except SettingError:
            pass  # a property we cannot read (a zone Python lacks): the declared default
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
                row, "Key", f"unknown setting {key!r}", suggest(key, [s.key for s in DECLARED])
            )
            continue
        if setting.key in settings.cells:
            tab.problem(
                row,
                "Key",
                f"{setting.key!r} is set twice; the first one is used",
                "delete one of the two rows",
            )
            continue
        settings.cells[setting.key] = a1(SETTINGS.name, row, tab.table.col("Value"))
        try:
            settings.values[setting.key] = setting.parse(
                text if text else sheet.get(setting.key, setting.default)
            )
        except SettingError as exc:
            tab.problem(row, "Value", f"{setting.key}: {exc.problem}", exc.hint)
            frozen |= setting.governs
    for row, key, text in caps:
        cap = parse_number(text, settings.decimal)
        if settings.decimal is None and ambiguous_number(text):
            tab.problem(
                row,
                "Value",
                f"{text!r} could be {format_number(cap or 0)} or "
                f"{format_number(parse_number(text.replace('.', '')) or 0)}",
                "write it without a thousands separator, or set Number format",
            )
            frozen.add("scoring")
        elif cap is None:
            tab.problem(
                row,
                "Value",
                f"{text!r} is not a number",
                "type the most points (or, below 0, "
                "the most a group of negative rules may take off)",
            )
            frozen.add("scoring")
        else:
            settings.group_caps[key.split(":", 1)[1].strip().casefold()] = cap
    return settings, frozen, tab.problems
