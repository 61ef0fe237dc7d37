"""A web-form submission, whatever the vendor: the answers as text, and what identifies it.

Adapters (:mod:`sheetcrm.intake.adapters`) build one from a vendor's payload; the outbox
stores it as JSON under :meth:`Submission.key`; :mod:`sheetcrm.intake.fields` turns it into
a Leads row.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TypeGuard

_SPACES = re.compile(r"\s+")
KEY_LIMIT = 255  # characters: the outbox's key column, String(255)


@dataclass(frozen=True)
class Answer:
    key: str  # the vendor's stable field id/ref/name ("email", "q3_email"); "" if none
    label: str  # the question text the manager sees ("Work email"); "" if none
    value: str  # as text: choices joined with ", ", booleans Yes/No, numbers as typed, ISO dates
    kind: str = ""  # what the vendor says the answer is: EMAIL, PHONE, or "" (only its words say)


EMAIL, PHONE = "email", "phone"


@dataclass(frozen=True)
class Submission:
    source: str  # one of adapters.SOURCES
    event_id: str  # the vendor's submission id; "" when the vendor sent none
    answers: tuple[Answer, ...]  # form order; hidden fields and UTM parameters included
    form: str = ""  # the form's title or id when known
    submitted_at: str = ""  # the vendor's timestamp as sent
    # what the vendor says about the post, not the person (IP, user agent, form id, site):
    # kept out of Notes and out of the key, which a retry with a new IP must not change
    details: tuple[Answer, ...] = ()

    def key(self) -> str:
        """The idempotency key: ``source:event_id``, else ``source:sha256:<hex>`` of the
        answers normalised (order ignored, keys compared without case or extra spaces) and
        the form. The vendor's timestamp is left out: a tool that retries a post may stamp
        it anew. Two different people's identical answers to one form share a key; a form
        that must tell them apart has to send an id. An id too long for the outbox
        (over ``KEY_LIMIT`` with its source) is replaced by its hash."""
        if self.event_id:
            key = f"{self.source}:{self.event_id}"
            if len(key) <= KEY_LIMIT:
                return key
            # too long for the outbox's key column: the id's hash, still one key per event
            digest = hashlib.sha256(self.event_id.encode("utf-8")).hexdigest()
            return f"{self.source}:id-sha256:{digest}"
        return f"{self.source}:sha256:{self.digest()}"

    def digest(self) -> str:
        """The SHA-256 (hex) of what was answered: the answers normalised as :meth:`key`
        says, and the form; neither the id nor the timestamp, which a retry may send anew.
        Two posts under one key with different digests are two different submissions."""
        pairs = sorted(
            [_norm(a.key or a.label), _norm(a.label), a.value.strip()] for a in self.answers
        )
        text = json.dumps([_norm(self.form), pairs], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_json(self) -> str:
        return json.dumps(
            {
                "source": self.source,
                "event_id": self.event_id,
                "form": self.form,
                "submitted_at": self.submitted_at,
                "answers": [_row(a) for a in self.answers],
                **({"details": [_row(a) for a in self.details]} if self.details else {}),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Submission:
        """The submission :meth:`to_json` wrote; ValueError if ``text`` is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a stored submission is a JSON object")
        strings = ("source", "event_id", "form", "submitted_at")
        if not all(isinstance(data.get(k, ""), str) for k in strings):
            raise ValueError(f"a stored submission's {', '.join(strings)} are strings")
        answers, details = data.get("answers"), data.get("details", [])
        if not _rows(answers) or not _rows(details):
            raise ValueError(
                "a stored submission's answers are [key, label, value] or "
                "[key, label, value, kind] strings"
            )
        return cls(
            data.get("source", ""),
            data.get("event_id", ""),
            tuple(Answer(*a) for a in answers),
            data.get("form", ""),
            data.get("submitted_at", ""),
            tuple(Answer(*a) for a in details),
        )


def _row(answer: Answer) -> list[str]:
    # three strings when the vendor said no kind: what the outbox held before kinds existed
    row = [answer.key, answer.label, answer.value]
    return [*row, answer.kind] if answer.kind else row


def _rows(stored: object) -> TypeGuard[list[list[str]]]:
    return isinstance(stored, list) and all(
        isinstance(a, list) and len(a) in (3, 4) and all(isinstance(s, str) for s in a)
        for a in stored
    )


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()
