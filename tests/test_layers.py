"""The house rules of docs/architecture.md, checked on the source.

Each package is a layer and may import only the layers below it; nothing imports in a circle;
the pure modules (the engine, and intake's payload-to-lead code) import no spreadsheet, web or
Google library and read neither the environment nor the clock; no module outgrows 400 lines.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "sheetcrm"

# What each layer may import, besides itself. Lowest first; errors is imported by all.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "engine": {"errors"},
    "emulator": set(),  # the Sheets API stand-in stands alone, like Google's servers
    "backends": {"errors", "engine"},
    "files": {"errors", "engine"},
    "intake": {"errors", "engine", "backends"},
    "notify": {"errors", "engine", "backends", "intake"},  # and SHARED below
    "service": {"errors", "engine", "backends", "files", "intake", "notify"},
    "cli": {
        "errors",
        "engine",
        "backends",
        "files",
        "intake",
        "notify",
        "service",
        "cli_service",
        "cli_nurture",
        "cli_rules",
    },
    "cli_nurture": {"errors", "engine", "backends"},  # `sheetcrm nurture preview`
    "cli_rules": {"errors", "engine", "backends"},
    "cli_service": {"errors", "engine", "backends", "files", "intake", "notify", "service"},
    "web": {"service"},  # the old entry point, kept for deployments that name it
    "__main__": {"cli"},
    "__init__": set(),  # the package root: its version only, importable by every layer
}
PURE_INTAKE = [
    "submission",
    "payload",
    "adapters",
    "vendors",
    "jotform",
    "signatures",
    "fields",
    "batch",
    "append_plan",
    "same_person",
    "closed_leads",
    "unrouted",
    "new_problems",
    "activity",
    "timeouts",
]
# A module a lower layer may import although its package sits higher, and which layers: the
# declaration of the SHEETCRM_* settings is one list, read by every layer that has settings
# (the channels' SMTP and webhook URLs), and it imports only the standard library, errors and
# intake's retention default.
SHARED = {"sheetcrm.service.environment": {"notify"}}
FORBIDDEN = ("gspread", "flask", "google", "openpyxl", "requests", "sqlalchemy", "werkzeug")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@cache
def imports(module: str) -> frozenset[str]:
    """Every sheetcrm module ``module`` imports, at any depth in its code, type-only included."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            # ``from sheetcrm.emulator import charts`` imports the submodule charts
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules() else base for a in node.names
            ]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] == "sheetcrm" and n != module)
    return frozenset(n for n in found if n in modules())


def test_every_package_has_a_layer():
    assert {layer(m) for m in modules()} <= set(ALLOWED), "a new package: give it a layer here"


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_only_downward(module):
    mine = layer(module)
    upward = sorted(
        f"{i} ({layer(i)})"
        for i in imports(module)
        if layer(i) not in (mine, "__init__")
        and layer(i) not in ALLOWED[mine]
        and mine not in SHARED.get(i, set())
    )
    assert not upward, f"{module} ({mine}) imports {upward}; see docs/architecture.md"


def test_no_import_circles():
    """Depth-first search for a back edge in the graph of module imports."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(imports(module)):
            if state.get(target) == 1:
                circle = [*path[path.index(target) :], target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(modules()):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", sorted(modules()))
def test_module_size(module):
    lines = len(modules()[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines; split it by responsibility"


def pure_modules() -> list[str]:
    engine = [m for m in modules() if layer(m) == "engine"]
    return sorted([*engine, *(f"sheetcrm.intake.{m}" for m in PURE_INTAKE)])


@pytest.mark.parametrize("module", pure_modules())
def test_pure_module_imports_no_io_library(module):
    code = (
        "import sys\n"
        f"import {module}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC)},
    )
    assert out.stdout.strip() == "", f"{module} pulls in {out.stdout.strip()}"


@pytest.mark.parametrize("module", pure_modules())
def test_pure_module_reads_no_environment_nor_clock(module):
    tree = ast.parse(modules()[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            pytest.fail(f"{module} reads the environment (line {node.lineno})")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("now", "utcnow", "today", "time", "monotonic")
            and isinstance(node.value, ast.Name)
            and node.value.id in ("datetime", "date", "time")
        ):
            pytest.fail(f"{module} reads the clock (line {node.lineno}); take `now` in")
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "open":
            pytest.fail(f"{module} opens a file (line {node.lineno})")


def test_pure_intake_list_is_current():
    """A new intake module is either added to PURE_INTAKE or is knowingly I/O."""
    io = {"outbox", "outbox_db", "outbox_tables", "group_commit", "run_log", "flusher", "retention"}
    io |= {"liveness"}  # the PostgreSQL witness of holders' lives
    io |= {"waiting"}  # counts the outbox for the sync to tell Problems
    intake = {m.rpartition(".")[2] for m in modules() if layer(m) == "intake"} - {"intake"}
    assert intake == set(PURE_INTAKE) | io


def test_architecture_doc_names_every_step_and_layer():
    """docs/architecture.md is where a newcomer learns the layers and the steps: keep it true."""
    from sheetcrm.engine.sync import STEPS

    doc = (SRC.parent / "docs" / "architecture.md").read_text()
    missing = [name for name, _ in STEPS if f"| `{name}` |" not in doc]
    missing += [
        f"{p}/"
        for p in ALLOWED
        if p in ("engine", "backends", "files", "intake", "notify", "service", "emulator")
        and f"`{p}/`" not in doc
    ]
    assert not missing, f"docs/architecture.md does not describe {missing}"
