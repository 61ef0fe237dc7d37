"""Copying a member from one zip into another as it is stored: compressed bytes unchanged.

A write in place copies every part it does not change; inflating and deflating them again
(zipfile's only public way) would cost a second or more on a large workbook for nothing.
Members zipfile cannot be sure to copy this way (encrypted, with extra fields, written with
sizes after the data) are read and written again instead, with the same content.
"""

from __future__ import annotations

import copy
import struct
import zipfile

_DATA_DESCRIPTOR = 0x08
_ENCRYPTED = 0x01


def copy_member(src: zipfile.ZipFile, info: zipfile.ZipInfo, dst: zipfile.ZipFile) -> None:
    """Add ``src``'s member ``info`` to ``dst`` (open for writing, on a seekable file)."""
    fp, out = src.fp, dst.fp
    if (
        fp is None
        or out is None
        or info.flag_bits & (_ENCRYPTED | _DATA_DESCRIPTOR)
        or info.extra
        or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
    ):
        dst.writestr(info, src.read(info))
        return
    fp.seek(info.header_offset)
    header = fp.read(zipfile.sizeFileHeader)  # type: ignore[attr-defined]
    if len(header) != zipfile.sizeFileHeader or header[:4] != zipfile.stringFileHeader:  # type: ignore[attr-defined]
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    fp.seek(info.header_offset + len(header) + name_length + extra_length)
    raw = fp.read(info.compress_size)
    if len(raw) != info.compress_size:
        raise zipfile.BadZipFile(f"{info.filename} is cut short")
    new = copy.copy(info)
    out.seek(dst.start_dir)  # type: ignore[attr-defined]
    new.header_offset = out.tell()
    zip64 = max(info.file_size, info.compress_size) > zipfile.ZIP64_LIMIT
    out.write(new.FileHeader(zip64))
    out.write(raw)
    dst.start_dir = out.tell()  # type: ignore[attr-defined]
    dst.filelist.append(new)
    dst.NameToInfo[new.filename] = new
    dst._didModify = True  # type: ignore[attr-defined]
