"""Settings' defaults from the spreadsheet's own locale and time zone.

Google renders every number and date a sync reads as the sheet shows it (FORMATTED_VALUE),
in the spreadsheet's locale: on an fr_FR sheet 1.25 shown with three decimals is
``1,250`` and 1250.5 is ``1 250,5`` (a narrow no-break space between the groups). Read as
``auto``, the first is twelve hundred and fifty. So where Settings leaves Number format,
Date order or Time zone empty, the spreadsheet's locale and time zone decide them; a value
typed in Settings still wins. A workbook has no such properties: nothing changes there.

The numbers sheetcrm writes (Score, an imported Amount) follow what the sheet shows
(:func:`shown_decimal`), not the Number format setting: the Google backend sends them as
numbers, and Google shows a number in the spreadsheet's locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import get_date_format
from babel.numbers import get_decimal_symbol


def shown_decimal(properties: Mapping[str, Any]) -> str:
    """The decimal mark the spreadsheet itself shows numbers with: Google renders a number
    cell in its locale (12.5 is ``12,5`` on fr_FR) whatever Settings say, so the numbers
    sheetcrm writes are written that way, and read back as written. "." for a workbook."""
    try:
        return str(get_decimal_symbol(Locale.parse(str(properties.get("locale") or "en_US"))))
    except (UnknownLocaleError, ValueError, TypeError):
        return "."


def sheet_defaults(properties: Mapping[str, Any]) -> dict[str, str]:
    """Settings text by key, from a spreadsheet's ``locale`` (``fr_FR``) and ``timeZone``
    (``Europe/Paris``), as a manager would have typed them in Settings.

    Only a locale that writes a decimal comma sets Number format: under a decimal point,
    ``auto`` already reads what the sheet shows, and it is what such sheets have always
    been read with."""
    defaults: dict[str, str] = {}
    zone = str(properties.get("timeZone") or "")
    if zone:
        defaults["Time zone"] = zone
    try:
        locale = Locale.parse(str(properties.get("locale") or ""))
    except (UnknownLocaleError, ValueError, TypeError):
        return defaults  # no locale, or one Babel does not know: the usual defaults
    if get_decimal_symbol(locale) == ",":
        defaults["Number format"] = "1 234,56"
    pattern = get_date_format("short", locale).pattern.casefold()
    day, month = pattern.find("d"), pattern.find("m")
    if day >= 0 and month >= 0:
        defaults["Date order"] = "DMY" if day < month else "MDY"
    return defaults
