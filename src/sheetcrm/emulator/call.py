"""What an API handler gets: the query arguments, the JSON body, and the range in the path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    args: Mapping[str, list[str]] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    range: str = ""  # the {range} of .../values/{range}, decoded
    extra: str = ""  # another path parameter (a developer metadata ID)

    def arg(self, name: str, default: str = "") -> str:
        values = self.args.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        return self.arg(name).lower() == "true"

    def arg_list(self, name: str) -> list[str]:
        return list(self.args.get(name, []))
