"""The kinds of value, owners and declarations a tab is made of (engine/schema.py declares
every tab with them)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from sheetcrm.engine.table import norm_header


class Kind(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"
    PERSON = "person"
    BOOL = "yes/no"


class Owner(StrEnum):
    PERSON = "person"  # people type it; the service never writes it after the row exists
    SERVICE = "service"  # the service computes it; a person's edit is overwritten by the next sync


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = Kind.TEXT
    owner: Owner = Owner.PERSON
    help: str = ""
    width: int = 14
    aliases: tuple[str, ...] = ()
    """Other names of the column (header_aliases.py), which ``sheetcrm import`` maps by and
    the sync reads a header by."""


def aka(names: str) -> tuple[str, ...]:
    """ "e-mail, email address" -> the aliases ("e-mail", "email address")."""
    return tuple(n.strip() for n in names.split(","))


@dataclass(frozen=True)
class TabSpec:
    name: str
    columns: tuple[Column, ...]
    help: str
    edited_by: str
    hidden: bool = False

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @cached_property
    def _by_key(self) -> dict[str, Column]:
        index: dict[str, Column] = {}
        for c in reversed(self.columns):  # a header wins over another column's alias
            for name in (*c.aliases, c.header):
                index[_header_key(name)] = c
        return index

    def column(self, header: str) -> Column | None:
        """The declared column a header means, by its text or an alias."""
        return self._by_key.get(_header_key(header))


def _header_key(text: str) -> str:
    """norm_header without accents: "Etape" typed on an English keyboard is "Étape"."""
    decomposed = unicodedata.normalize("NFKD", norm_header(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
