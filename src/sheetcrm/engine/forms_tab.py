"""The Forms tab -> which web-form field goes to which Leads column."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.schema import FORMS, LEADS, Kind, Owner
from sheetcrm.engine.table import Table, norm_header


def fold(text: str) -> str:
    """``text`` without case or accents, as French users type both ("Téléphone", "telephone";
    a decomposed é pasted from macOS too)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def form_key(text: str) -> str:
    """How form fields, sources and form titles are matched: letters and digits only,
    without case or accents ("Work e-mail", "work_email" and "workEmail" are one field,
    "Téléphone" and "Telephone" another)."""
    return "".join(c for c in fold(text) if c.isalnum())


@dataclass(frozen=True)
class FormRule:
    field: str  # a form field's label or key, as the manager typed it
    column: str  # the Leads column: its schema header, or an extra column as written
    form: str = ""  # only for this source or form title; "" for every form
    row: int = 0  # the sheet row, for messages

    def applies_to(self, source: str, form: str) -> bool:
        return not self.form or form_key(self.form) in (form_key(source), form_key(form))


@dataclass(frozen=True)
class FormMapping:
    """The Forms tab: which form field goes to which Leads column. Empty = defaults only."""

    rules: tuple[FormRule, ...] = ()

    def rules_for(self, source: str, form: str) -> list[FormRule]:
        """The rules for a submission, those naming its source or form first."""
        rules = [r for r in self.rules if r.applies_to(source, form)]
        return sorted(rules, key=lambda r: not r.form)


def parse_forms(
    table: Table | None, fields: dict[str, Kind | None]
) -> tuple[FormMapping, list[Problem]]:
    """The Forms tab. No tab is no mapping, not a problem: the defaults apply. A row with a
    problem is left out, so its answers go by the defaults or into Notes: nothing is lost."""
    if table is None:
        return FormMapping(), []
    tab = RuleTab(FORMS, table, ["Form field", "Leads column"])
    columns = {norm_header(h): h for h in [*LEADS.headers, *fields]}
    rules: list[FormRule] = []
    for i, cells in tab.rows():
        row, name, target = Table.sheet_row(i), cells["Form field"], cells["Leads column"]
        spec = LEADS.column(target)
        column = spec.header if spec else columns.get(norm_header(target), "")
        if not name:
            tab.problem(
                row,
                "Form field",
                _("a row without a form field"),
                _("type the question's label or key as the form sends it, or clear the row"),
            )
        elif not target:
            tab.problem(
                row,
                "Leads column",
                _("form field %(field)r goes to no Leads column") % {"field": name},
                _("type a Leads header, like Email, Company or Notes"),
            )
        elif not column:
            tab.problem(
                row,
                "Leads column",
                _("no Leads column %(column)r") % {"column": target},
                suggest(target, list(dict.fromkeys([*fields, *LEADS.headers]))),
            )
        elif spec is not None and spec.owner is Owner.SERVICE and spec.header != "Owner":
            tab.problem(
                row,
                "Leads column",
                _("%(column)s is filled by sheetcrm, not by forms") % {"column": spec.header},
                _("map the answer to a column people fill, or to Notes"),
            )
        elif any(
            form_key(r.field) == form_key(name) and form_key(r.form) == form_key(cells["Form"])
            for r in rules
        ):
            tab.problem(
                row,
                "Form field",
                _("form field %(field)r is mapped twice; the first row is used") % {"field": name},
                _("delete one of the two rows"),
            )
        else:
            rules.append(FormRule(name, column, cells["Form"], row))
    return FormMapping(tuple(rules)), tab.problems
