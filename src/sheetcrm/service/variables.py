"""The kinds of setting :mod:`sheetcrm.service.environment` declares, and how each kind of
value is read: the declarations stay one list there, the machinery is here.

Imported by gunicorn's master through environment.py: the standard library only, here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sheetcrm.errors import ConfigError

SWITCH_ON = ("1", "true", "yes", "on")
SWITCH_OFF = ("0", "false", "no", "off")

Parse = Callable[[str, str], Any]
"""(name, text) -> the value; text is the variable's value stripped, or its default."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # as it would be written; "" when unset means nothing
    parse: Parse
    help: str
    secret: bool = False  # never logged, never shown in an error
    # Set but empty is a value of its own, not the default: a form's secret set empty
    # refuses every post (it fails closed). Unset, such a variable reads as None.
    empty_counts: bool = False


@dataclass(frozen=True)
class Family:
    """Variables named after something the sheet names, one each: a chat channel's URL.
    Any name of the form ``prefix + NAME + suffix`` is declared."""

    prefix: str
    suffix: str
    example: str
    help: str
    secret: bool = False

    def holds(self, name: str) -> bool:
        return (
            name.startswith(self.prefix)
            and name.endswith(self.suffix)
            and len(name) > len(self.prefix) + len(self.suffix)
        )


def as_text(name: str, text: str) -> str:
    return text


def whole(most: int | None = None) -> Parse:
    def parse(name: str, text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{name}={text!r} is not a whole number", "write one like 5")
        if most is not None and int(text) > most:
            raise ConfigError(
                f"{name}={text} is more than it may be ({most})", f"write {most} or less"
            )
        return int(text)

    return parse


def switch(name: str, text: str) -> bool:
    word = text.casefold()
    if word not in (*SWITCH_ON, *SWITCH_OFF):
        raise ConfigError(f"{name}={text!r} is neither on nor off", "write 1 (on) or 0 (off)")
    return word in SWITCH_ON


def seconds(most: float) -> Parse:
    def parse(name: str, text: str) -> float:
        try:
            given = float(text)
        except ValueError:
            given = 0.0
        if not 0 < given <= most:
            raise ConfigError(
                f"{name}={text!r} is not a number of seconds from 0 to {most:g}",
                "write one like 10 or 2.5",
            )
        return given

    return parse


def choice(*words: str) -> Parse:
    def parse(name: str, text: str) -> str:
        if text.casefold() not in words:
            raise ConfigError(
                f"{name}={text!r} is not one of {', '.join(words)}", f"write {words[0]}"
            )
        return text.casefold()

    return parse


def public_url(name: str, text: str) -> str:
    """The service's address as the public reaches it: https, no path beyond the host's."""
    if text and not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?(/[^\s?#]*)?", text.strip()):
        raise ConfigError(
            f"{name}={text!r} is not an https URL",
            "write the address people open, like https://crm.example.com "
            "(RFC 8058: one-click unsubscribe links must be https)",
        )
    return text.strip().rstrip("/")


def secret_key(name: str, text: str) -> str:
    """A signing key: long enough that it cannot be guessed."""
    if text and len(text) < 16:
        raise ConfigError(
            f"{name} is too short ({len(text)} characters) to sign links",
            "use 32 random characters or more: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'",
        )
    return text


def port(name: str, text: str) -> int:
    """0 when unset: the usual port of the security chosen."""
    if not text:
        return 0
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{name}={text!r} is not a port", "write one like 587")
    return int(text)


def address(name: str, text: str) -> str:
    """An e-mail address, with a display name or without: ``Sheet CRM <crm@example.com>``."""
    _shown, found = parseaddr(text)
    if text and ("@" not in found or any(c in text for c in "\r\n")):
        raise ConfigError(
            f"{name}={text!r} is not an e-mail address",
            "write crm@example.com or: Sheet CRM <crm@example.com>",
        )
    return text
