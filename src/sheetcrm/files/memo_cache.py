"""The contact-parsing memo of a sheet, kept between command-line runs: a cache of parsed
e-mails and phones (safe to delete), in the user's cache folder."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sheetcrm import __version__
from sheetcrm.engine.validation import Memo


def memo_file(where: str) -> Path:
    """Where the memo of the sheet ``where`` (its ID or absolute path) is kept."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sheetcrm"
    key = hashlib.sha256(f"{__version__}|{where}".encode()).hexdigest()[:20]
    return base / f"memo-{key}.json"


def load_memo(where: str) -> Memo:
    try:
        saved = json.loads(memo_file(where).read_text(encoding="utf-8"))
        return Memo(
            emails={k: (v[0], v[1]) for k, v in saved["emails"].items()},
            phones={
                tuple(k.split("\x1f", 1)): (v[0], v[1])  # type: ignore[misc]
                for k, v in saved["phones"].items()
            },
            language=saved.get("language", "en"),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return Memo()  # no cache yet, or a damaged one: parse everything again


def save_memo(where: str, memo: Memo) -> None:
    if len(memo.emails) + len(memo.phones) > 2_000_000:
        return  # a cache that big costs more to load than it saves
    path = memo_file(where)
    data = {
        "emails": memo.emails,
        "phones": {"\x1f".join(k): v for k, v in memo.phones.items()},
        "language": memo.language,  # the language its problems are worded in
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # only a cache: the next sync parses again
