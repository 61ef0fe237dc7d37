"""The Settings tab -> Settings, and the areas a bad setting freezes.

A value with a problem falls back to its last valid value (kept on the state tab, see
last_good.py) when there is one; only with none are the areas it governs frozen."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.last_good import Fallback
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.schema import SETTINGS
from sheetcrm.engine.setting_checks import contradictions
from sheetcrm.engine.settings import (
    ALL,
    GROUP_CAP_PREFIX,
    Setting,
    SettingError,
    Settings,
    find_setting,
)
from sheetcrm.engine.settings import SETTINGS as DECLARED
from sheetcrm.engine.tab_headers import canonical_table
from sheetcrm.engine.table import Snapshot, Table, a1
from sheetcrm.engine.values import ambiguous_number, format_number, parse_number

LastGood = Mapping[str, tuple[str, str]]
"""Setting key, casefolded -> (its last valid text, as of when)."""


def setting_key(key: str) -> str:
    return " ".join(key.split()).casefold()


def parse_settings(
    table: Table | None,
    defaults: Mapping[str, str] | None = None,
    last_good: LastGood | None = None,
) -> tuple[Settings, set[str], list[Problem]]:
    """``defaults``: Settings text by key that stands in for the declared default where
    the tab leaves the value empty or has no row for it (the spreadsheet's locale and
    time zone, engine/sheet_locale.py); a value typed in the tab wins. ``last_good``: the
    last valid value of each setting (engine/last_good.py), used while one has a problem."""
    tab = RuleTab(SETTINGS, table, ["Key", "Value"])
    settings, frozen = Settings(), set[str]()
    good = last_good or {}
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
    value_col = tab.table.col("Value")

    def fall_back(
        key: str, cell: str, text: str, parse: Callable[[str], Any], governs: frozenset[str]
    ) -> tuple[bool, Any]:
        """(True, the last valid value of ``key``) when there is one, recorded as used; else
        (False, None), and what it governs is frozen."""
        stored = good.get(setting_key(key))
        if stored is not None and stored[0] != text:
            try:
                value = parse(stored[0])
            except SettingError:
                pass
            else:
                settings.fallbacks.append(Fallback(SETTINGS.name, cell, stored[1], governs, key))
                return True, value
        frozen.update(governs)
        if governs:
            settings.fallbacks.append(Fallback(SETTINGS.name, cell, "", governs, key))
        return False, None

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
        cell = a1(SETTINGS.name, row, value_col)
        settings.cells[setting.key] = cell
        try:
            settings.values[setting.key] = setting.parse(
                text if text else sheet.get(setting.key, setting.default)
            )
            settings.typed[setting.key] = text
        except SettingError as exc:
            tab.problem(row, "Value", f"{setting.key}: {exc.problem}", exc.hint)
            found, value = fall_back(setting.key, cell, text, _or_default(setting), setting.governs)
            if found:
                settings.values[setting.key] = value
    scoring = frozenset({"scoring"})
    for row, key, text in caps:
        cap = parse_number(text, settings.decimal)
        name = key.split(":", 1)[1].strip().casefold()
        cell = a1(SETTINGS.name, row, value_col)
        settings.cells[key] = cell
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
        else:
            settings.group_caps[name] = cap
            settings.typed[key] = text
            continue
        found, old = fall_back(key, cell, text, _cap_reader(settings.decimal), scoring)
        if found:
            settings.group_caps[name] = old
    _check(settings, tab, good, frozen)
    return settings, frozen, tab.problems


def _or_default(setting: Setting) -> Callable[[str], Any]:
    return lambda text: setting.parse(text or setting.default)


def _cap_reader(decimal: str | None) -> Callable[[str], float]:
    def read(text: str) -> float:
        cap = parse_number(text, decimal)
        if cap is None:
            raise SettingError(f"{text!r} is not a number", "")
        return cap

    return read


def _check(settings: Settings, tab: RuleTab, good: LastGood, frozen: set[str]) -> None:
    """Settings that are each valid but contradict one another (Min score above Max score):
    a problem at the cell of the one that breaks the order; its last valid value is used
    when that mends the order, else scoring is not applied."""
    for key, problem, hint in contradictions(settings):
        cell = settings.cells.get(key, SETTINGS.name)
        tab.problems.append(Problem(SETTINGS.name, cell, problem, hint))
        settings.typed.pop(key, None)  # not a value to come back to
        setting = find_setting(key)
        stored = good.get(setting_key(key))
        if setting is not None and stored is not None:
            try:
                settings.values[key] = setting.parse(stored[0] or setting.default)
            except SettingError:
                continue
            if not any(k == key for k, _, _ in contradictions(settings)):
                settings.fallbacks.append(
                    Fallback(SETTINGS.name, cell, stored[1], setting.governs, key)
                )
                continue
        frozen.add("scoring")
        settings.fallbacks.append(Fallback(SETTINGS.name, cell, "", frozenset({"scoring"}), key))


def sheet_language(snapshot: Snapshot) -> str:
    """The Language a sheet's Settings tab names, read before anything else so that every
    problem of the sync is in it; read as the sync reads Settings (headers, keys, spelling),
    and English when the value is no language (its problem is reported in that English)."""
    table = snapshot.get(SETTINGS.name)
    # b2b-fr's headers are Clé / Valeur: read as the sync's own parse reads them (config.py)
    settings, _frozen, _problems = parse_settings(table and canonical_table(table, SETTINGS))
    language: str = settings["Language"]
    return language
