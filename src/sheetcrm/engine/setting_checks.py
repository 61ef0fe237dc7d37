"""Settings that are each valid but contradict one another: every lead would score 100 and
grade A, or become SQL before MQL. Each is said at the cell of the value that breaks the
order, with a hint."""

from __future__ import annotations

from sheetcrm.engine.catalog import _
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.values import format_number

# (lower, higher): the first must not be above the second
ORDERED = (
    ("Min score", "Max score"),
    ("MQL score", "SQL score"),
    ("Grade B at", "Grade A at"),
    ("Grade C at", "Grade B at"),
)


def contradictions(settings: Settings) -> list[tuple[str, str, str]]:
    """(setting key, problem, hint) for each pair of settings out of order; the key is the
    one set last in the order a manager reads them (Min under Max, B under A)."""
    found = []
    for low, high in ORDERED:
        a, b = settings[low], settings[high]
        if a is None or b is None or a <= b:
            continue
        # the cell to fix: the one typed (a default is not the manager's doing)
        key = low if low in settings.typed or high not in settings.typed else high
        found.append(
            (
                key,
                _("%(low)s %(a)s is above %(high)s %(b)s")
                % {"low": low, "a": format_number(a), "high": high, "b": format_number(b)},
                _("make %(low)s at most %(high)s") % {"low": low, "high": high}
                + (" (A ≥ B ≥ C)" if low.startswith("Grade") else ""),
            )
        )
    return found
