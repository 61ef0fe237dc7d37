"""The Settings keys of nurture sequences (issue 19), and the consent words they and the Leads
Consent column share. Apart from settings.py, which lists them with the others."""

from __future__ import annotations

import unicodedata

from sheetcrm.engine.business_hours import parse_days, parse_span
from sheetcrm.engine.catalog import _
from sheetcrm.engine.setting_values import Setting, SettingError, count, number

NONE, LEGITIMATE, OPT_IN = 0, 1, 2
"""Consent levels, ordered: a lead is enrolled when its level reaches Sequence consent's."""
CONSENT_NAMES = {NONE: "none", LEGITIMATE: "legitimate interest", OPT_IN: "opt-in"}
_CONSENT_WORDS = {
    "": NONE,
    "none": NONE,
    "no": NONE,
    "aucun": NONE,
    "non": NONE,
    "legitimate interest": LEGITIMATE,
    "interet legitime": LEGITIMATE,
    "opt-in": OPT_IN,
    "opt in": OPT_IN,
    "optin": OPT_IN,
}


def consent_level(text: str) -> int | None:
    """A Consent cell's level; None for a word that is no consent. Accents, case and spaces
    are ignored: ``Intérêt  légitime`` is legitimate interest."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return _CONSENT_WORDS.get(" ".join(plain.split()))


def _required_consent(text: str) -> int:
    level = consent_level(text)
    if level is None or level == NONE:
        raise SettingError(
            _("%(text)r is not a consent a sequence can require") % {"text": text},
            _("write opt-in (B2C: only leads who opted in) or legitimate interest (B2B)"),
        )
    return level


NURTURE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "Sequence consent",
        "opt-in",
        "Who sequences may write to: opt-in (only leads whose Consent is opt-in, as B2C "
        "needs) or legitimate interest (opt-in or legitimate interest, for B2B).",
        _required_consent,
        frozenset({"sequences"}),
    ),
    Setting(
        "Send days",
        "Mon-Fri",
        "The days nurture e-mails go out, like Mon-Fri (sheet time zone).",
        parse_days,
        frozenset({"sequences"}),
    ),
    Setting(
        "Send hours",
        "09:00-17:00",
        "The hours nurture e-mails go out, like 09:00-17:00; a step due outside waits for them.",
        lambda t: parse_span(t, overnight=False),
        frozenset({"sequences"}),
    ),
    Setting(
        "E-mails per sender per day",
        "100",
        "The most nurture e-mails planned per owner a day; the rest wait for the next day.",
        count,
        frozenset({"sequences"}),
    ),
    Setting(
        "Minutes between e-mails",
        "2",
        "The minutes between two nurture e-mails of one owner.",
        number(0),
        frozenset({"sequences"}),
    ),
)
