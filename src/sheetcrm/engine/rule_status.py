"""A rule row's Status on the Scoring and Routing tabs: ``draft`` rows are read and checked
like the others but not applied; the sync previews what they would change (engine/preview.py).
Publishing is typing ``active``, or clearing the cell. French sheets may write ``brouillon``
and ``actif``."""

from __future__ import annotations

from collections.abc import Sequence

from sheetcrm.engine.catalog import _
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.table import Table

DRAFT, ACTIVE = "draft", "active"
WORDS = {
    "": ACTIVE,
    "active": ACTIVE,
    "actif": ACTIVE,
    "draft": DRAFT,
    "brouillon": DRAFT,
}


def is_draft(tab: RuleTab, rows: Sequence[tuple[int, dict[str, str]]], rule: str) -> bool:
    """Whether the rule made of ``rows`` is a draft. A Status that is neither word, or rows of
    one rule that disagree, is a problem at its cell (the rule is then read as a draft, so
    that nothing half-meant applies)."""
    said = []
    for i, cells in rows:
        text = cells.get("Status", "")
        status = WORDS.get(" ".join(text.casefold().split()))
        if status is None:
            tab.problem(
                Table.sheet_row(i),
                "Status",
                _("%(text)r is not a rule status") % {"text": text},
                _("write draft (previewed, not applied) or active; empty is active"),
            )
            return True
        said.append((i, status))
    if len({s for _i, s in said}) > 1:
        tab.problem(
            Table.sheet_row(next(i for i, s in said if s != said[0][1])),
            "Status",
            _("rule %(rule)r has rows in draft and rows active") % {"rule": rule},
            _(
                "give every row of the rule the same Status, or give the draft a name of its own "
                "(a draft is previewed as a rule added to the others)"
            ),
        )
    return any(s == DRAFT for _i, s in said)
