"""The workbook's cell styles (styles.xml), grown by the few a write in place needs.

workbook_cells.put gives a cell the grey of service-owned columns and a date its format, and
a number under a date format becomes General: each is the cell's style with one part
changed, as openpyxl derives it. Here the same style is found among the workbook's, or added
at the end of them; the styles already there keep their numbers, so no other cell changes.
"""

from __future__ import annotations

import copy

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_REVERSE, is_date_format

from sheetcrm.backends.workbook_cells import SERVICE_FILL_RGB
from sheetcrm.backends.xlsx_sheet_edit import NeedsOpenpyxl, Put

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_MAIN = "{" + _NS + "}"
# A cell without a style, as openpyxl holds it (StyleArray()): every part 0.
_PLAIN = b'<xf xmlns="' + _NS.encode() + b'" numFmtId="0" fontId="0" fillId="0" borderId="0"/>'


class Styles:
    """styles.xml, parsed once; :meth:`style_for` answers workbook_cells.put's style."""

    def __init__(self, xml: bytes) -> None:
        self.root = etree.fromstring(xml)
        self.changed = False
        cell_xfs = self.root.find(_MAIN + "cellXfs")
        fills = self.root.find(_MAIN + "fills")
        if cell_xfs is None or fills is None:
            raise NeedsOpenpyxl("styles.xml without cell styles")
        self.cell_xfs, self.fills = cell_xfs, fills
        self.known = {_key(xf): i for i, xf in reversed(list(enumerate(cell_xfs)))}
        self.formats = {
            int(f.get("numFmtId", "0")): f.get("formatCode", "")
            for f in self.root.iterfind(f"{_MAIN}numFmts/{_MAIN}numFmt")
        }
        self._grey: int | None = None
        self._cache: dict[tuple[int, bool, str | None, bool | None], int] = {}

    def style_for(self, style: int, put: Put) -> int:
        is_number = isinstance(put.value, int | float) and not isinstance(put.value, bool)
        key = (style, put.fill, put.number_format, is_number)
        if key not in self._cache:
            self._cache[key] = self._derive(*key)
        return self._cache[key]

    def with_format(self, style: int, code: str) -> int:
        """The style ``style`` with the number format ``code``, as a metric tab's cells get
        theirs (workbook_charts.dress_metric_tab): ``style`` itself when it has it."""
        key = (style, False, code, None)
        if key not in self._cache:
            xf = self._xf(style)
            if self._code(xf) == code:
                self._cache[key] = style
            else:
                self._cache[key] = self._derive(style, False, code, False)
        return self._cache[key]

    def _xf(self, style: int) -> etree._Element:
        if style >= len(self.cell_xfs):
            raise NeedsOpenpyxl(f"a cell with style {style}, which styles.xml lacks")
        return copy.deepcopy(self.cell_xfs[style]) if style else etree.fromstring(_PLAIN)

    def _derive(self, style: int, fill: bool, number_format: str | None, is_number: bool) -> int:
        xf = self._xf(style)
        if fill:
            xf.set("fillId", str(self.grey()))
            xf.set("applyFill", "1")
        if number_format is None and is_number and is_date_format(self._code(xf)):
            number_format = "General"  # a date format would read this number back as a date
        if number_format is not None:
            xf.set("numFmtId", str(self._format_id(number_format)))
            xf.set("applyNumberFormat", "1")
        key = _key(xf)
        if key == _PLAIN_KEY:
            return 0
        if key not in self.known:
            self.cell_xfs.append(xf)
            self.cell_xfs.set("count", str(len(self.cell_xfs)))
            self.known[key] = len(self.cell_xfs) - 1
            self.changed = True
        return self.known[key]

    def _code(self, xf: etree._Element) -> str:
        number = int(xf.get("numFmtId", "0"))
        return self.formats.get(number) or BUILTIN_FORMATS.get(number, "General")

    def _format_id(self, code: str) -> int:
        if code in BUILTIN_FORMATS_REVERSE:
            return int(BUILTIN_FORMATS_REVERSE[code])
        for number, known in self.formats.items():
            if known == code:
                return number
        number = max([163, *self.formats]) + 1
        formats = self.root.find(_MAIN + "numFmts")
        if formats is None:
            formats = etree.Element(_MAIN + "numFmts")
            self.root.insert(0, formats)
        etree.SubElement(formats, _MAIN + "numFmt", numFmtId=str(number), formatCode=code)
        formats.set("count", str(len(formats)))
        self.formats[number] = code
        self.changed = True
        return number

    def grey(self) -> int:
        """The index of the service columns' grey fill, added when the workbook lacks it."""
        if self._grey is None:
            for i, fill in enumerate(self.fills):
                pattern = fill.find(_MAIN + "patternFill")
                if pattern is None or pattern.get("patternType") != "solid":
                    continue
                fg = pattern.find(_MAIN + "fgColor")
                bg = pattern.find(_MAIN + "bgColor")
                if (
                    fg is not None
                    and (fg.get("rgb") or "").upper() == "00" + SERVICE_FILL_RGB
                    and len(fg.attrib) == 1
                    and (bg is None or bg.attrib == {"rgb": "00000000"})
                ):
                    self._grey = i
                    break
            else:
                fill = etree.SubElement(self.fills, _MAIN + "fill")
                pattern = etree.SubElement(fill, _MAIN + "patternFill", patternType="solid")
                etree.SubElement(pattern, _MAIN + "fgColor", rgb="00" + SERVICE_FILL_RGB)
                etree.SubElement(pattern, _MAIN + "bgColor", rgb="00000000")
                self.fills.set("count", str(len(self.fills)))
                self._grey = len(self.fills) - 1
                self.changed = True
        return self._grey

    def to_bytes(self) -> bytes:
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _key(xf: etree._Element) -> bytes:
    """What makes two styles the same: their parts, in any order of attributes."""
    attrs = b" ".join(b"%s=%s" % (k.encode(), v.encode()) for k, v in sorted(xf.attrib.items()))
    children = b"".join(etree.tostring(child) for child in xf)
    return attrs + b"|" + children


_PLAIN_KEY = _key(etree.fromstring(_PLAIN))
