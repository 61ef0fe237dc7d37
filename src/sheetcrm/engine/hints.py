"""The "did you mean" hint that ends a problem about a name someone typed."""

from __future__ import annotations

import difflib

from sheetcrm.engine.catalog import _


def suggest(word: str, choices: list[str]) -> str:
    """A "did you mean" hint, or a list of what is allowed when nothing is close."""
    close = difflib.get_close_matches(
        word.casefold(), [c.casefold() for c in choices], n=1, cutoff=0.6
    )
    if close:
        original = next(c for c in choices if c.casefold() == close[0])
        return _("did you mean '%(word)s'?") % {"word": original}
    if not choices:
        return ""  # nothing to offer: the problem's own words must say what to do
    shown = ", ".join(choices[:24])
    more = ", ..." if len(choices) > 24 else ""
    return _("use one of: %(choices)s") % {"choices": shown + more}
