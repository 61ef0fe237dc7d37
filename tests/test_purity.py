"""The core is sans-io: it imports no spreadsheet, web or Google library and reads no
environment, so it can be tested with plain data and run anywhere."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sheetcrm"
CORE = [
    "bulk",
    "values",
    "table",
    "schema",
    "rules",
    "settings",
    "config",
    "validation",
    "scoring",
    "routing",
    "stages",
    "plan",
    "sync",
    "importer",
    "intake",
    "intake.submission",
    "intake.payload",
    "intake.adapters",
    "intake.vendors",
    "intake.signatures",
    "intake.fields",
    "intake.batch",
    "metric_data",
    "metrics",
    "metric_tabs",
]
FORBIDDEN = ("gspread", "flask", "google", "openpyxl", "requests")


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io_library(module):
    code = (
        "import sys\n"
        f"import sheetcrm.{module}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC.parent)},
    )
    assert out.stdout.strip() == "", f"sheetcrm.{module} pulls in {out.stdout.strip()}"


@pytest.mark.parametrize("module", CORE)
def test_core_module_reads_no_environment_nor_clock(module):
    path = SRC / f"{module.replace('.', '/')}.py"
    tree = ast.parse((path if path.is_file() else path.with_suffix("") / "__init__.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            pytest.fail(f"{module}.py reads the environment (line {node.lineno})")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("now", "utcnow", "today")
            and isinstance(node.value, ast.Name)
            and node.value.id in ("datetime", "date")
        ):
            pytest.fail(f"{module}.py reads the clock (line {node.lineno}); take `now` in")
