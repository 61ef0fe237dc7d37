"""The locks: requirements.txt (the service, for App Engine and the Dockerfile) and
requirements-test.txt (the test command and CI) pin, with hashes, every dependency that
pyproject.toml declares, at a version it allows. A dependency added or raised without running
.ci/lock fails here, not on the next deploy."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from sheets import ROOT

LOCKS = {"requirements.txt": ["postgres"], "requirements-test.txt": ["test", "bench"]}


def declared(extras: list[str]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"]]
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return [Requirement(w) for w in wanted]


def pins(lock: Path) -> dict[str, list[tuple[Version, int]]]:
    """name -> [(version, number of hashes)]: a name is pinned twice where the version
    depends on Python's (numpy: one for 3.11, one for later)."""
    text = re.sub(r"\s*\\\n\s*", " ", lock.read_text())  # one line per requirement
    found: dict[str, list[tuple[Version, int]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *hashes = line.split(" --hash=")
        requirement = Requirement(spec)
        (pin,) = requirement.specifier
        assert pin.operator == "==", f"{lock.name}: {spec!r} is not pinned"
        name = canonicalize_name(requirement.name)
        found.setdefault(name, []).append((Version(pin.version), len(hashes)))
    return found


@pytest.mark.parametrize("lock", LOCKS)
def test_every_declared_dependency_is_locked_at_a_version_pyproject_allows(lock: str) -> None:
    locked = pins(ROOT / lock)
    for requirement in declared(LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in {lock}: run .ci/lock"
        for version, _ in locked[name]:
            assert version in requirement.specifier, (
                f"{lock} pins {name} {version}, outside {requirement}: run .ci/lock"
            )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_carries_hashes(lock: str) -> None:
    """pip installs a file only if its hash is listed (--require-hashes; App Engine's pip
    turns that on by itself when any line carries one)."""
    assert all(n > 0 for pinned in pins(ROOT / lock).values() for _, n in pinned)


def test_the_service_lock_holds_no_test_tools() -> None:
    """What is deployed is the service's dependencies and theirs, nothing for the tests."""
    service = pins(ROOT / "requirements.txt")
    for requirement in declared(["test", "bench"]):
        name = canonicalize_name(requirement.name)
        if name not in {canonicalize_name(r.name) for r in declared(["postgres"])}:
            assert name not in service, f"{name} (a test tool) is in requirements.txt"


def test_tests_and_service_share_their_versions() -> None:
    """The tests run on the versions that are deployed."""
    service, tests = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-test.txt")
    for name, pinned in service.items():
        assert sorted(tests.get(name, [])) == sorted(pinned), name


def test_ci_and_the_readme_install_from_the_test_lock() -> None:
    install = (
        ".venv/bin/pip install{q} --require-hashes -r requirements-test.txt \\\n"
        "    && .venv/bin/pip install{q} --no-deps -e . && .venv/bin/pytest"
    )
    assert install.format(q=" -q") in (ROOT / ".ci" / "run").read_text()
    assert install.format(q="") in (ROOT / "README.md").read_text()
