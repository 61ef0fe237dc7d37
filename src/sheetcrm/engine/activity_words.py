"""The words an Activities row may hold, and the two kinds of row no person types as a touch:
the nurture e-mails a sequence sent (By ``sequence <name>``, appended by the ``sent`` step)
and the unsubscribes (Type ``unsubscribe``, posted by the service's unsubscribe page).

Neither is a touch of the lead by a person: they never set Last contact, First touch at or
Next action date (docs/activities.md says why). Vectorised like the tab's reading: each
test runs once per distinct text of a column, then per row by its code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sheetcrm.engine.activity_tab import ActivityFrame
from sheetcrm.engine.table import norm_header

UNSUBSCRIBE = "unsubscribe"
TYPES: dict[str, str] = {
    "call": "call",
    "email": "email",
    "e-mail": "email",
    "meeting": "meeting",
    "note": "note",
    "other": "other",
    UNSUBSCRIBE: UNSUBSCRIBE,
    "appel": "call",
    "courriel": "email",
    "rendez-vous": "meeting",
    "réunion": "meeting",
    "autre": "other",
    "désinscription": UNSUBSCRIBE,
}
"""Each word a Type cell may hold (English, then French) -> the type it means."""
TYPE_WORDS = ("call", "email", "meeting", "note", "other", UNSUBSCRIBE)
OUTCOMES = ("reached", "voicemail", "no answer", "meeting booked", "not interested", "replied")
"""The default Outcome words (Settings: Activity outcomes replaces them)."""
FRENCH_OUTCOMES = {
    "joint": "reached",
    "messagerie": "voicemail",
    "pas de réponse": "no answer",
    "rendez-vous pris": "meeting booked",
    "pas intéressé": "not interested",
    "a répondu": "replied",
}
SENT = "sent"
SERVICE_OUTCOMES = {SENT: SENT, "envoyé": SENT}
"""The Outcome of a nurture e-mail the sync logged: always read, whatever Settings lists, and
kept out of the drop-down (a person logs an e-mail's answer, not that it went)."""

# a By naming a sequence rather than a person, as the sent step writes it (English or French)
SEQUENCE_PREFIXES = ("sequence ", "séquence ")
_SEQUENCE_ALONE = frozenset({"sequence", "séquence"})  # one whose name the sender did not give
_UNSUBSCRIBE_WORDS = frozenset(norm_header(w) for w, t in TYPES.items() if t == UNSUBSCRIBE)


def by_sequence(texts: np.ndarray) -> np.ndarray:
    """Per text (a By cell, stripped), whether it names a sequence: ``sequence Nurture C``."""
    folded = [str(t).strip().casefold() for t in texts]
    return np.array(
        [f.startswith(SEQUENCE_PREFIXES) or f in _SEQUENCE_ALONE for f in folded], dtype=bool
    )


def unsubscribe_types(texts: np.ndarray) -> np.ndarray:
    """Per text (a Type cell), whether it says unsubscribe (English or French, any case)."""
    return np.array([norm_header(str(t)) in _UNSUBSCRIBE_WORDS for t in texts], dtype=bool)


@dataclass(frozen=True)
class Unsubscribes:
    """The Activities rows of type unsubscribe, one entry each, in tab order."""

    rows: np.ndarray  # int64: the data row (0-based) on the tab
    lead_id: np.ndarray  # object: the Lead ID cell stripped, as typed (an ID or an e-mail)
    address: np.ndarray  # object: that cell casefolded when it holds an e-mail, else ""
    at: np.ndarray  # object: the At cell as typed (the sheet's clock)


def unsubscribes(frame: ActivityFrame) -> Unsubscribes:
    """The unsubscribe rows of the Activities tab: who asked to stop, by Lead ID or e-mail.
    A row naming a Lead ID gives no address here: the lead's Email cell is its address."""
    codes, uniques = frame.factorized("Type")
    wanted = np.flatnonzero(unsubscribe_types(np.asarray(uniques, dtype=object)))
    rows = np.flatnonzero(np.isin(codes, wanted)) if len(wanted) else np.zeros(0, np.int64)
    lead_id = np.array([str(c).strip() for c in frame.column("Lead ID")[rows]], dtype=object)
    address = np.array([t.casefold() if "@" in t else "" for t in lead_id], dtype=object)
    return Unsubscribes(rows.astype(np.int64), lead_id, address, frame.column("At")[rows])
