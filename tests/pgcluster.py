"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary folder, a server on
127.0.0.1 (a free port, trust auth, its socket in that folder), removed again at the end.

Uses the server binaries on PATH or where Debian puts them; without any, the PostgreSQL tests
are skipped. PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
user (or ``nobody``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sheets import free_port

INSTALL_HINT = (
    "PostgreSQL's server is not installed (no initdb, pg_ctl, postgres on PATH or in "
    "/usr/lib/postgresql/*/bin): apt-get install postgresql, brew install postgresql, "
    "or put its bin folder on PATH"
)
# superuser postgres, trust auth, no fsync: a test cluster
INITDB_OPTIONS = ("-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--no-locale")


def server_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, the newest version first."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(debian, key=lambda p: _version(p.parent.name), reverse=True)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


@contextmanager
def cluster(bin_dir: Path) -> Iterator[str]:
    """Start a cluster; yield its SQLAlchemy URL (database ``postgres``, user ``postgres``)."""
    # not under pytest's basetemp: that is private to root, and the server may run as another user
    folder = Path(tempfile.mkdtemp(prefix="sheetcrm-pg-"))
    data = folder / "data"
    as_user = _unprivileged_user()
    if as_user:
        os.chown(folder, as_user["user"], as_user["group"])
    port = free_port()
    log = folder / "server.log"
    settings = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} "
        # a test cluster: nothing needs to survive a power cut, and this saves seconds
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        # a deadlock (a bug a test looks for) is reported after 50 ms, not a second
        "-c deadlock_timeout=50ms"
    )
    try:
        _run(as_user, bin_dir / "initdb", "-D", data, *INITDB_OPTIONS)
        try:
            _run(as_user, bin_dir / "pg_ctl", "start", "-w", "-D", data, "-l", log, "-o", settings)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}{log.read_text() if log.exists() else ''}") from None
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run(as_user, bin_dir / "pg_ctl", "stop", "-D", data, "-m", "immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _unprivileged_user() -> dict[str, Any]:
    """subprocess.run's arguments that run a command as another user than root, if need be."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return {}
    import pwd  # POSIX only

    for name in ("postgres", "nobody"):
        try:
            found = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": found.pw_uid, "group": found.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root, and there is no postgres or nobody user to run as")


def _run(as_user: dict[str, Any], *command: object) -> None:
    out = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
        **as_user,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{command[0]} failed:\n{out.stdout}{out.stderr}")
