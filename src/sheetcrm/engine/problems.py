"""A Problem: what is wrong, in which cell, and a hint to fix it. Rule tabs and lead rows
report them alike; the sync writes them to the Problems tab. A lead's problem names the lead
too: a person who sorts Leads moves every cell address onto another lead."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    tab: str
    cell: str  # A1 reference, "Leads!E12", or the tab alone
    problem: str
    hint: str = ""
    lead: str = ""  # the lead's Lead ID, else its e-mail; "" when not about a lead


# The flags the stages step puts on a lead's Status; what reads them back (alerts, the SLA's
# reassignment, the digest) goes by the kind, never by the words, which are the sheet's language.
FOLLOW_UP = "follow-up overdue"
STALE = "stale"
FIRST_TOUCH = "first touch overdue"


class Flag(str):
    """A flag's Status text that knows which flag it is (``kind``: FOLLOW_UP, ...)."""

    kind: str

    def __new__(cls, text: str, kind: str) -> Flag:
        flag = super().__new__(cls, text)
        flag.kind = kind
        return flag

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (str(self), self.kind)  # a copy (deepcopy, pickle) keeps its kind


def is_flag(message: object, kind: str) -> bool:
    """Whether a Status message of ``state.flags`` is a flag of ``kind``."""
    return getattr(message, "kind", None) == kind
