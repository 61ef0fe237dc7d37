"""A notification the sync plans when an Alerts rule's event happens to a lead; sending it is
another layer's job. Its key is the same however often the same event is planned, so that a
sender can drop the ones it has already sent."""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, overload

import numpy as np

from sheetcrm.engine.catalog import _, current, ngettext

_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")

NOTIFIED_KEY = "notified"
"""The hidden state tab's row naming the last write that planned notifications: its
:func:`write_token`. The sheet's own record of which write landed, read back by the outbox to
tell held notifications of a landed write (send them) from those of a lost one (the next sync
plans them again)."""


@dataclass(frozen=True, slots=True)  # slots: a first sync may plan one per lead
class Notification:
    rule_row: int  # the rule's row on the Alerts tab
    lead_id: str
    event: str
    when: str  # when it happened: the sync's stamp, or for a flag the date it names
    recipient: str  # an e-mail address, a person's name (chat), or "" for the channel itself
    channel: str  # "email" or a chat channel's name
    text: str
    subject: str = ""  # one line, for an e-mail's subject or a chat message's title
    leads_row: int = 0  # the lead's row on Leads as the sheet numbers it (for a link), 0: none
    not_before: str = ""  # ISO UTC: quiet hours hold it until then; "" = send at once
    cap: int = 0  # most messages a recipient gets per hour (Settings); 0 = no cap
    # the sheet's Language, as the sync that planned it spoke: the sender, outside any sync,
    # writes an hourly summary of it in that language (not part of the key)
    language: str = field(default_factory=current)
    # A nurture e-mail to a lead (issue 19): From shows the owner's name, replies go to the
    # owner; ``unsubscribe`` is the lead's address, signed into the message's unsubscribe
    # link and checked against the outbox's suppression list before each send. "" on alerts.
    sender_name: str = ""
    reply_to: str = ""
    unsubscribe: str = ""

    @property
    def key(self) -> str:
        """From (rule, lead, event, event time): stable across re-plans of the same event."""
        return notification_key(
            self.rule_row, self.lead_id, self.event, self.when, self.recipient, self.channel
        )

    def held(self, not_before: str, cap: int) -> Notification:
        """As step ``hold`` plans it: sent once quiet hours (ending at ``not_before``, ""
        for none) are over, counted under the recipients' hourly ``cap``. A nurture e-mail
        keeps its own time (send window, spacing) unless quiet hours end later, and has no
        hourly cap: its own daily cap was applied when it was planned."""
        if self.unsubscribe:
            return dataclasses.replace(self, not_before=max(self.not_before, not_before), cap=0)
        return dataclasses.replace(self, not_before=not_before, cap=cap)

    def describe(self) -> str:
        to = f"{self.channel} {self.recipient}".strip() if self.recipient else self.channel
        if self.unsubscribe:  # a nurture e-mail: its subject, not its whole body
            after = f", not before {self.not_before}" if self.not_before else ""
            return f"notify {to}: {self.subject} ({self.when}{after}) [key {self.key}]"
        return f"notify {to}: {self.text} [key {self.key}]"


@dataclass(frozen=True)
class Preview:
    """A nurture e-mail due, as ``sheetcrm nurture preview`` and ``sync --dry-run`` show it:
    planned (an active step), or only shown (a draft, or waiting: outside the send window,
    over the cap, a field missing)."""

    lead_id: str
    sequence: str
    step: int
    status: str  # "planned", "draft", or why it waits
    to: str
    subject: str
    body: str
    due_at: str  # the sheet's wall time, as cells show it

    def describe(self) -> str:
        return (
            f"nurture {self.sequence}#{self.step} to {self.to or '?'} ({self.status}, due "
            f"{self.due_at}): {self.subject}"
        )


def notification_key(
    rule_row: int, lead_id: str, event: str, when: str, recipient: str, channel: str
) -> str:
    """A notification's key (:attr:`Notification.key`), from its parts."""
    raw = "\x1f".join((str(rule_row), lead_id, event, when, recipient, channel))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def write_token(stamp: str, notifications: Iterable[Notification]) -> str:
    """Names one write's notifications: the same for the same planned events, so that a
    write planned again (the same stamp, the same keys) and the one before are told apart
    only when they differ in what they would send."""
    raw = "\x1f".join([stamp, *sorted(keys_of(notifications))])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def keys_of(notifications: Iterable[Notification]) -> Iterator[str]:
    """Each one's key, in order; a plan's without making their texts."""
    if isinstance(notifications, Notifications):
        return notifications.each_key()
    return (n.key for n in notifications)


class Run(Protocol):
    """A run of a plan's notifications, held as is cheapest for it: the Notification objects
    themselves, or the columns of one Alerts rule's messages (engine/alert_messages.py)."""

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Notification: ...

    def each_key(self) -> Iterator[str]: ...

    def held(self, kept: np.ndarray, not_before: str, cap: int) -> Run:
        """The run of those ``kept`` (positions), each :meth:`Notification.held`."""
        ...


class _Listed:
    """Notifications planned one by one: a digest, an escalation, a nurture e-mail."""

    def __init__(self, items: list[Notification]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Notification:
        return self.items[i]

    def each_key(self) -> Iterator[str]:
        return (n.key for n in self.items)

    def held(self, kept: np.ndarray, not_before: str, cap: int) -> Run:
        return _Listed([self.items[i].held(not_before, cap) for i in kept.tolist()])


class Notifications(Sequence[Notification]):
    """The notifications a plan holds, in the order planned. A first sync of 100,000 new
    leads plans as many: an Alerts rule adds its messages as one run of columns, whose texts
    are made only when one is read (the outbox's store, ``sync --dry-run``); 108,000
    Notification objects with their own texts held 40 MB from step ``alerts`` to the end."""

    def __init__(self, items: Iterable[Notification] = ()) -> None:
        self._runs: list[Run] = []
        self._starts: list[int] = []  # each run's first position
        self._count = 0
        self.extend(items)

    def append(self, notification: Notification) -> None:
        last = self._runs[-1] if self._runs else None
        if isinstance(last, _Listed):
            last.items.append(notification)
            self._count += 1
        else:
            self.add(_Listed([notification]))

    def extend(self, items: Iterable[Notification]) -> None:
        for n in items:
            self.append(n)

    def add(self, run: Run) -> None:
        """``run``'s notifications after those planned so far."""
        if len(run):
            self._starts.append(self._count)
            self._runs.append(run)
            self._count += len(run)

    def hold(self, logged: Collection[str], not_before: str, cap: int) -> None:
        """Step ``hold``: those whose key is not ``logged``, each :meth:`Notification.held`;
        one run at a time, each let go as its copy is made."""
        runs, self._runs, self._starts, self._count = self._runs, [], [], 0
        while runs:
            run = runs.pop(0)
            kept = np.flatnonzero(np.fromiter((k not in logged for k in run.each_key()), bool))
            self.add(run.held(kept, not_before, cap))
            del run

    def each_key(self) -> Iterator[str]:
        for run in self._runs:
            yield from run.each_key()

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, i: int) -> Notification: ...

    @overload
    def __getitem__(self, i: slice) -> list[Notification]: ...

    def __getitem__(self, i: int | slice) -> Notification | list[Notification]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._count))]
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError("notification index out of range")
        at = bisect.bisect_right(self._starts, i) - 1
        return self._runs[at][i - self._starts[at]]

    def __iter__(self) -> Iterator[Notification]:
        for run in self._runs:
            for i in range(len(run)):
                yield run[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it stands for

    def __repr__(self) -> str:
        return f"Notifications({list(self)!r})"


@dataclass(frozen=True)
class SentRecord:
    """One message the sender sent or gave up on, for the Notifications log tab."""

    key: str  # the notification's key: a record already on the tab is not added again
    at: str  # ISO 8601, with its offset (UTC)
    lead_id: str
    event: str
    recipient: str  # an e-mail address or a channel's name; never a webhook's URL
    channel: str
    outcome: str  # "sent", or "failed: <reason>"
    # a nurture e-mail's (event "sequence"): its notification's ``when`` ("Nurture C#2": the
    # sequence, then the step) and subject, for its Activities row (engine/sync/sent.py)
    when: str = ""
    subject: str = ""


def summary(count: int, named: list[str], more: int) -> tuple[str, str]:
    """(subject, text) of the message that tells ``count`` notifications of one recipient
    over the hourly cap at once: ``named`` are "L-00001 (lead assigned)", ``more`` those
    left out. Said in the language ``speaking`` sets (the notifications' own)."""
    text = ngettext("and %(count)d more: %(named)s", "and %(count)d more: %(named)s", count) % {
        "count": count,
        "named": ", ".join(named),
    }
    if more:
        text += ", " + _("... (%(more)d more, truncated)") % {"more": more}
    subject = ngettext(
        "%(count)d more notification this hour", "%(count)d more notifications this hour", count
    ) % {"count": count}
    return subject, text


def one_line(text: str, limit: int = 120) -> str:
    """``text`` as one line of at most ``limit`` characters: line breaks and other control
    characters from lead data become spaces (a CR/LF in a subject would inject headers)."""
    if len(text) <= limit and text.isprintable() and "  " not in text and text == text.strip():
        # one line already (printable: no control character, no space but " "): the same
        # object, not a copy, as 100,000 subjects name their leads
        return text
    flat = " ".join(_BREAKS.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def nurture_footer(sender: str, url: str) -> str:
    """The end of a nurture e-mail (the sender appends it; the Sequences tab's Body does not
    need to): who sent it and how to stop them, as EU marketing rules ask of every one, in
    the language ``speaking`` sets (the sheet's, when the step was planned)."""
    stop = _("To stop these e-mails: %(url)s") % {"url": url}
    return _("Sent by %(sender)s.") % {"sender": sender} + "\n" + stop if sender else stop
