"""One Alerts rule's messages of a sync, held as columns: a first sync of 100,000 new leads
tells as many owners of their new lead. Each message is a few codes and its lead's ID (an
object the plan holds anyway); its text and subject are made from the rule's wording when
something reads it (the outbox's store, ``sync --dry-run``), the same as they were planned."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Protocol

import numpy as np

from sheetcrm.engine.notifications import Notification, notification_key


class Column:
    """A column of strings as codes into its distinct values: the messages of one rule say a
    handful of owners, events and times over and over."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.codes = array("i")
        self._code: dict[str, int] = {}

    def append(self, value: str) -> None:
        code = self._code.get(value)
        if code is None:
            code = self._code[value] = len(self.values)
            self.values.append(value)
        self.codes.append(code)

    def __getitem__(self, i: int) -> str:
        return self.values[self.codes[i]]

    def taken(self, kept: np.ndarray) -> Column:
        """Those at ``kept`` (positions), for good: no code is added after step ``hold``."""
        codes = np.frombuffer(self.codes, dtype=self.codes.typecode)[kept]
        used, codes = np.unique(codes, return_inverse=True)  # values no message says: let go
        column = Column()
        column.values = [self.values[c] for c in used.tolist()]
        # a byte a message where it says fewer than 256 values (most columns)
        typecode = "B" if len(used) <= 1 << 8 else "H" if len(used) <= 1 << 16 else "i"
        column.codes = array(typecode, codes.astype(typecode).tobytes())
        return column


class Wording(Protocol):
    """What one rule's messages say, in the sync's language, looked up in the catalogue once
    per sync (engine/sync/alerts.py); pure formatting from then on."""

    text: str  # from what happened (what), the lead's ID (id), Leads row (row), rule (rule)

    def subject(self, lead_id: str, name: str, owner: str, stage: str) -> str: ...


class AlertMessages:
    """The messages of the Alerts rule on row ``rule_row``, in the order planned."""

    def __init__(
        self, rule_row: int, event: str, channel: str, message: str, words: Wording, language: str
    ) -> None:
        self.rule_row, self.event, self.channel, self.message = rule_row, event, channel, message
        self.words, self.language = words, language
        self.lead_ids: list[str] = []
        self.leads_rows = array("i")  # the lead's row on Leads, as the sheet numbers it
        # when it happened, what, the stage's name (or ""), the lead's name and owner, to whom
        self.whens, self.whats, self.stages = Column(), Column(), Column()
        self.names, self.owners, self.recipients = Column(), Column(), Column()
        self.not_before, self.cap = "", 0  # step hold's: the same for every alert of a sync

    def add(
        self,
        lead_id: str,
        leads_row: int,
        when: str,
        what: str,
        stage: str,
        name: str,
        owner: str,
        recipient: str,
    ) -> None:
        self.lead_ids.append(lead_id)
        self.leads_rows.append(leads_row)
        self.whens.append(when)
        self.whats.append(what)
        self.stages.append(stage)
        self.names.append(name)
        self.owners.append(owner)
        self.recipients.append(recipient)

    def __len__(self) -> int:
        return len(self.lead_ids)

    def __getitem__(self, i: int) -> Notification:
        lead_id, at = self.lead_ids[i], self.leads_rows[i]
        said = {"what": self.whats[i], "id": lead_id, "row": at, "rule": self.rule_row}
        text = self.words.text % said
        return Notification(
            self.rule_row,
            lead_id,
            self.event,
            self.whens[i],
            self.recipients[i],
            self.channel,
            f"{text}. {self.message}" if self.message else text,
            self.words.subject(lead_id, self.names[i], self.owners[i], self.stages[i]),
            at,
            not_before=self.not_before,
            cap=self.cap,
            language=self.language,
        )

    def each_key(self) -> Iterator[str]:
        rule, event, channel = self.rule_row, self.event, self.channel
        whens, recipients = self.whens, self.recipients
        for i, lead_id in enumerate(self.lead_ids):
            yield notification_key(rule, lead_id, event, whens[i], recipients[i], channel)

    def held(self, kept: np.ndarray, not_before: str, cap: int) -> AlertMessages:
        # an alert is never a nurture e-mail: Notification.held is the same for all of them
        run = AlertMessages(
            self.rule_row, self.event, self.channel, self.message, self.words, self.language
        )
        run.lead_ids = [self.lead_ids[i] for i in kept.tolist()]
        run.leads_rows = array("i", np.frombuffer(self.leads_rows, dtype=np.intc)[kept].tobytes())
        run.whens, run.whats, run.stages = (
            c.taken(kept) for c in (self.whens, self.whats, self.stages)
        )
        run.names, run.owners, run.recipients = (
            c.taken(kept) for c in (self.names, self.owners, self.recipients)
        )
        run.not_before, run.cap = not_before, cap
        return run
