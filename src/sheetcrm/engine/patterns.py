"""Regular expressions for the `matches` operator, on RE2.

A pattern comes from a manager's rule tab, the text it is tested on from anonymous form users,
and the test reruns at every sync. Python's backtracking `re` can take exponential time on a
nested quantifier like ``(a+)+$`` (a minute for 31 characters, blocking the whole service);
RE2 runs in time linear in the text, whatever the pattern, at the price of the few features
that need backtracking: backreferences, lookarounds, possessive quantifiers, atomic groups.
Patterns using those are refused when the rule is read, with a hint, instead of at a sync.
"""

from __future__ import annotations

import re2

TEXT_LIMIT = 10_000
"""How many characters of a cell a pattern sees. RE2's time is linear in the text but also in
the pattern's size, and every distinct value is searched at every sync: a bound keeps a form
post of a megabyte of Notes from costing seconds per rule per sync. A rule tests what a person
can read in a cell; 10,000 characters is about four pages."""


class PatternError(ValueError):
    """A pattern RE2 cannot compile; ``hint`` says what to write instead."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


class Pattern:
    """A compiled, case-insensitive search that sees the first TEXT_LIMIT characters."""

    def __init__(self, text: str) -> None:
        options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False  # the error is reported on the Problems tab, not on stderr
        try:
            self._regex = re2.compile(text, options)
        except re2.error as exc:
            raise _explain(text, exc) from exc
        self.text = text

    def search(self, value: str) -> bool:
        return self._regex.search(value[:TEXT_LIMIT]) is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


_RE2 = "rules run on RE2, which stays fast on any text"
# (how the construct RE2 quotes in its message begins, the hint); the first that applies wins
_HINTS = (
    (
        ("(?=", "(?!", "(?<"),
        f"{_RE2} but has no lookahead or lookbehind: test the other part in a second "
        "condition of the same rule (a rule's conditions must all match)",
    ),
    (
        ("(?P", *(f"\\{d}" for d in range(1, 10))),
        f"{_RE2} but has no backreferences: spell the repeated text out",
    ),
    (("\\Z",), f"{_RE2} and writes the end of the text as \\z, or $"),
    (
        ("*+", "++", "?+", "(?>"),
        f"{_RE2} and never backtracks: drop the possessive + or the atomic (?>…) group",
    ),
)


def _explain(text: str, exc: Exception) -> PatternError:
    raw = exc.args[0] if exc.args else ""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    quoted = message.rpartition(": ")[2]  # "invalid perl operator: (?<="
    hint = next(
        (hint for marks, hint in _HINTS if quoted.startswith(marks)),
        f"check brackets and escape special characters with \\ ({_RE2}: see its syntax)",
    )
    return PatternError(f"bad regular expression {text!r}: {message}", hint)
