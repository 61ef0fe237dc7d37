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
        memo = Memo(language=saved.get("language", "en"))
        for text, kept in saved["emails"].items():
            memo.keep_email(text, _pair(kept))
        for key, kept in saved["phones"].items():
            text, region = key.split("\x1f", 1)
            memo.keep_phone(text, region, _pair(kept))
        return memo
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return Memo()  # no cache yet, or a damaged one: parse everything again


def _pair(kept: str | list[str]) -> tuple[str, str]:
    """A saved result: its normalised text alone (no problem), or [normalised, problem]."""
    if isinstance(kept, str):
        return (kept, "")
    normalised, problem = kept
    return (str(normalised), str(problem))


def save_memo(where: str, memo: Memo) -> None:
    if memo.size() > 2_000_000:
        return  # a cache that big costs more to load than it saves
    path = memo_file(where)
    data = {
        "emails": memo.emails,  # a text alone is its result with no problem
        "phones": {
            f"{text}\x1f{region}": kept
            for region, texts in memo.phones.items()
            for text, kept in texts.items()
        },
        "language": memo.language,  # the language its problems are worded in
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # only a cache: the next sync parses again
