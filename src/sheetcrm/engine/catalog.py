"""The message catalogue: every text a manager reads in the sheet (problems, hints, lead
Status messages) is written in English in the code, marked with ``_()`` (``ngettext`` where a
count changes the words), and translated through the gettext catalogue
``sheetcrm/locale/<lang>/LC_MESSAGES/sheetcrm.po`` (docs/rules.md: how to add a language).
The .po is compiled in memory, once per process and language: nobody has a compile step to run.

The language is a context variable, set for the length of one sync (``speaking``): the
service runs syncs in a background thread while its web thread answers, and each thread (or
each of two syncs at once) has its own.

The one file this pure module reads is the catalogue, package data read with
importlib.resources (docs/architecture.md): it never changes while the process runs.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources

DOMAIN = "sheetcrm"
DEFAULT = "en"  # the language of the msgids: it needs no catalogue
LANGUAGES = ("en", "fr")  # every language with a catalogue (engine/language.py: their names)
_ENGLISH = gettext.NullTranslations()
_current: ContextVar[tuple[str, gettext.NullTranslations]] = ContextVar(
    "sheetcrm_language", default=(DEFAULT, _ENGLISH)
)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language``, compiled from its .po in memory (once per process)."""
    if language == DEFAULT:
        return _ENGLISH
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = resources.files("sheetcrm").joinpath(f"locale/{language}/LC_MESSAGES/{DOMAIN}.po")
    catalog = read_po(io.BytesIO(po.read_bytes()), locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Every ``_()`` in this context (this thread, this sync) answers in ``language``."""
    token = _current.set((language, translations(language)))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    """The language in use here, as its code."""
    return _current.get()[0]


def _(message: str) -> str:
    """``message`` in the language of this sync."""
    return _current.get()[1].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for ``n`` of a message whose words change with a count."""
    return _current.get()[1].ngettext(singular, plural, n)


def in_every_language(say: Callable[[], str]) -> tuple[str, ...]:
    """What ``say`` says in each language: a text the sheet shows from an earlier sync may be
    in the language the sheet had then."""
    said = []
    for language in LANGUAGES:
        with speaking(language):
            said.append(say())
    return tuple(said)


def N_(message: str) -> str:
    """Marks a text for the catalogue where it is declared (a module constant), to be
    translated with ``_()`` where it is used: at import time no sync has a language yet."""
    return message
