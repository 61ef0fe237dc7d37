"""Settings' ``Language`` row: which language a sync speaks (engine/catalog.py translates)."""

from __future__ import annotations

import unicodedata

from sheetcrm.engine.catalog import _
from sheetcrm.engine.setting_values import SettingError
from sheetcrm.engine.table import norm_header

_NAMES = {  # what a manager may type in the Language row (accents dropped) -> its catalogue
    "": "en",
    "en": "en",
    "fr": "fr",
    "francais": "fr",
    "french": "fr",
}


def _key(text: str) -> str:
    """``Français`` -> ``francais``: how a typed language name is looked up."""
    decomposed = unicodedata.normalize("NFKD", norm_header(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse_language(text: str) -> str:
    """The Language setting: en (also empty) or fr (also français, francais, french)."""
    language = _NAMES.get(_key(text))
    if language is None:
        raise SettingError(
            _("unknown language %(text)r") % {"text": text},
            _("use en (English) or fr (français)"),
        )
    return language
