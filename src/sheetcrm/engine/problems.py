"""A Problem: what is wrong, in which cell, and a hint to fix it. Rule tabs and lead rows
report them alike; the sync writes them to the Problems tab. A lead's problem names the lead
too: a person who sorts Leads moves every cell address onto another lead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sheetcrm.engine.catalog import in_every_language


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
    """A flag's Status text, in the sync's language, that knows which flag it is (``kind``:
    FOLLOW_UP, ...) and how every language says it (``said``): a sheet whose Language just
    changed shows the flag of the last sync in the other one, and it is no news."""

    kind: str
    said: tuple[str, ...]

    def __new__(cls, text: str, kind: str, said: tuple[str, ...] = ()) -> Flag:
        flag = super().__new__(cls, text)
        flag.kind, flag.said = kind, said or (text,)
        return flag

    @classmethod
    def of(cls, kind: str, say: Callable[[], str]) -> Flag:
        """The flag ``say`` words, in this sync's language and in every other."""
        return cls(say(), kind, in_every_language(say))

    def __getnewargs__(self) -> tuple[str, str, tuple[str, ...]]:  # type: ignore[override]
        return (str(self), self.kind, self.said)  # a copy (deepcopy, pickle) keeps them

    def shown_in(self, status: str) -> bool:
        """Whether a Status cell already says this flag, in any language."""
        # map() of a C method, not any() of a generator: alerts asks it per flagged lead
        return any(map(status.__contains__, self.said))


def is_flag(message: object, kind: str) -> bool:
    """Whether a Status message of ``state.flags`` is a flag of ``kind``."""
    return getattr(message, "kind", None) == kind


def shown(message: str, status: str) -> bool:
    """Whether a Status cell already says ``message`` (a flag: in any language)."""
    return message.shown_in(status) if isinstance(message, Flag) else message in status
