"""The memo of parsed contacts: each distinct e-mail and phone text's (normalised, problem),
kept between syncs so that unchanged rows cost no parsing (the service keeps one for its
lifetime, the command line one per sheet in its cache folder).

Held compactly, as it lives as long as the process and holds an entry per lead: a result
with no problem is kept as its normalised text alone, and that is the very text read when
normalising changes nothing (a lower-case address); only a result with a problem keeps the
pair. Phones are kept by region, then text, so that no (text, region) key is built per
number. At 100,000 leads this is about 20 MB less than a pair and a key per entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sheetcrm.engine.catalog import DEFAULT

Result = tuple[str, str]
"""(normalised text, problem): "" for no problem."""

Held = str | Result
"""A result as the memo holds it: the normalised text alone when there is no problem."""

_NONE: dict[str, Held] = {}


def held(text: str, result: Result) -> Held:
    """``result`` of ``text`` as the memo keeps it: the text itself when it is its own
    normalised form, so that the memo adds no string of its own."""
    normalised, problem = result
    if problem:
        return result
    return text if normalised == text else normalised


def result(kept: Held) -> Result:
    return (kept, "") if kept.__class__ is str else kept  # type: ignore[return-value]


@dataclass
class Memo:
    """Parse results by input text. The problems it keeps are worded in ``language``: a sync
    in another one starts it afresh."""

    emails: dict[str, Held] = field(default_factory=dict)
    phones: dict[str, dict[str, Held]] = field(default_factory=dict)  # region -> text -> result
    language: str = DEFAULT
    # per check, (its parameters, the last sync's cells it was given, what it made of them)
    # (engine/row_memo.py, engine/frame.py)
    columns: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def speak(self, language: str) -> None:
        """Forget what was worded in another language than ``language``."""
        if language != self.language:
            self.emails.clear()
            self.phones.clear()
            self.columns.clear()
            self.language = language

    def size(self) -> int:
        """How many results it keeps (not ``__len__``: an empty memo is still a memo)."""
        return len(self.emails) + sum(map(len, self.phones.values()))

    def texts(self) -> dict[str, str]:
        """The cells the last sync's checks were given, keyed by their content: the next
        read shares its cells through this (``SheetBackend.read(texts)``), so that a cell
        still as it was (a Lead ID, an e-mail, a phone) is read as the very string the memo
        keeps instead of an equal one beside it (issue 21: ~290,000 strings, 17 MB at
        100,000 leads), and the checks compare it by its address. A new dict, the read's to
        add to. The checks' results are left out: the sheet does not hold them."""
        texts: dict[str, str] = {}
        for kept in self.columns.values():
            for column in _text_columns(kept[1:2]):
                if _taken(column, texts):
                    continue
                cells = [c for c in column.tolist() if c.__class__ is str]
                texts.update(zip(cells, cells, strict=True))
        return texts

    def email(self, text: str) -> Result | None:
        kept = self.emails.get(text)
        return None if kept is None else result(kept)

    def keep_email(self, text: str, parsed: Result) -> None:
        self.emails[text] = held(text, parsed)

    def phone(self, text: str, region: str) -> Result | None:
        kept = self.phones.get(region, _NONE).get(text)
        return None if kept is None else result(kept)

    def keep_phone(self, text: str, region: str, parsed: Result) -> None:
        self.phones.setdefault(region, {})[text] = held(text, parsed)

    def emails_of(self, texts: Iterable[str], parse: Callable[[str], Result]) -> list[Result]:
        """Each text's result, ``parse`` (which keeps it) for a text not seen yet."""
        known = self.emails.get
        out = []
        for text in texts:
            kept = known(text)
            out.append(parse(text) if kept is None else result(kept))
        return out

    def phones_of(
        self, texts: Iterable[str], regions: Iterable[str], parse: Callable[[str, str], Result]
    ) -> list[Result]:
        """Each (text, region)'s result, ``parse`` (which keeps it) for one not seen yet."""
        known = self.phones.get
        out = []
        for text, region in zip(texts, regions, strict=True):
            kept = known(region, _NONE).get(text)
            out.append(parse(text, region) if kept is None else result(kept))
        return out


def _text_columns(kept: tuple[Any, ...]) -> Iterable[np.ndarray]:
    """The arrays of objects in ``kept``, which holds arrays or tuples of them."""
    for item in kept:
        if isinstance(item, np.ndarray) and item.dtype == object:
            yield item
        elif isinstance(item, tuple):
            yield from _text_columns(item)


def _taken(column: np.ndarray, texts: dict[str, str]) -> bool:
    """Whether ``column``'s cells are strings ``texts`` already holds, those very ones, by a
    sample of them: checks share their cells (Lead ID's are the frame's, the duplicates'
    are Email's and Phone's), and each column is a cell a lead to go through. A column
    wrongly taken costs memory, never a wrong plan."""
    sample = column[:: max(1, len(column) // 16)].tolist()
    return all(c.__class__ is str and texts.get(c) is c for c in sample)
