"""Dead holders told from live ones without trusting host names (issue 21): on Cloud Run
every instance may have the same one, and a PID free in one container says nothing of another.
Two "containers" are holders with the same host name but another boot or PID namespace."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from sheetcrm.backends.base import LeaseHeldError
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.holders import abandoned, identity, machine, new_holder, unwatch, watch
from sheetcrm.intake.liveness import Liveness
from sheetcrm.intake.outbox import Outbox
from sheetcrm.intake.outbox_db import OutboxDB
from sheetcrm.intake.timeouts import Timeouts
from sheetcrm.notify.outbox import NotificationOutbox
from sheets import google_backend

SRC = str(Path(__file__).resolve().parents[1] / "src")
HOST = socket.gethostname()


def _dead_pid() -> int:
    """The PID of a process that has ended (and been reaped) on this machine."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _elsewhere() -> str:
    """The machine of a container on another host, or beside us: same host name, another
    boot ID or PID namespace."""
    return identity(HOST, "another-boot-id", str(os.stat("/proc/self/ns/pid").st_ino))


def test_machine_is_the_boot_the_host_and_the_pid_namespace() -> None:
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    assert machine() == identity(HOST, boot, namespace) != ""
    assert identity(HOST, boot, "4026531999") != machine()  # a container beside us
    host, pid, nonce, its_machine = new_holder().split(":")
    assert (host, int(pid), its_machine) == (HOST, os.getpid(), machine()) and len(nonce) == 8


def test_a_killed_holder_of_this_machine_is_dead_one_of_another_is_not() -> None:
    pid = _dead_pid()
    here = f"{HOST}:{pid}:0badf00d:{machine()}"
    assert abandoned(here)
    # the same host name and PID, in another container: its process may well live there
    assert not abandoned(f"{HOST}:{pid}:0badf00d:{_elsewhere()}")
    assert not abandoned(here, here=_elsewhere())  # as that container sees ours
    alive = f"{HOST}:{os.getppid()}:0badf00d:{machine()}"
    assert not abandoned(alive)
    assert not abandoned(new_holder())  # ourselves
    # a token from before machines were named, or not a holder at all: only expiry frees it
    assert not abandoned(f"{HOST}:{pid}:0badf00d")
    assert not abandoned("sheetcrm") and not abandoned(f"{HOST}:x:y:{machine()}")


def test_a_holder_ended_but_never_reaped_is_dead() -> None:
    """A zombie: in a container whose first process reaps no orphans, a killed background
    process whose master was killed too stays one, and answers ``kill(pid, 0)``."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        stat = Path(f"/proc/{child.pid}/stat")
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert abandoned(f"{HOST}:{child.pid}:0badf00d:{machine()}")
    finally:
        child.wait()


def test_a_witness_tells_for_other_machines_only() -> None:
    pid = _dead_pid()
    asked: list[str] = []

    def witness(holder: str) -> bool | None:
        asked.append(holder)
        return holder.endswith(":dead")

    watch(witness)
    try:
        elsewhere = f"{HOST}:{pid}:0badf00d:{_elsewhere()}"
        assert abandoned(f"{elsewhere}:dead") and not abandoned(f"{elsewhere}:alive")
        # on this machine the PID decides, whatever a witness would say
        assert not abandoned(f"{HOST}:{os.getppid()}:0badf00d:{machine()}:dead")
        assert asked == [f"{elsewhere}:dead", f"{elsewhere}:alive"]
    finally:
        unwatch(witness)
    assert not abandoned(f"{elsewhere}:dead")


def test_the_lease_of_a_dead_holder_here_is_taken_of_another_container_waited_for() -> None:
    sheet = google_backend()
    other = GoogleBackend(sheet.location, http=sheet.http)
    now = datetime.now(UTC)
    pid = _dead_pid()
    for holder, taken in [
        (f"{HOST}:{pid}:0badf00d:{_elsewhere()}", False),
        (f"{HOST}:{pid}:0badf00d:{machine()}", True),
    ]:
        other.read()
        with other.lease(holder, now):
            sheet.read()
            if taken:
                with sheet.lease(new_holder(), now):
                    pass
            else:
                with (
                    pytest.raises(LeaseHeldError, match="another sync"),
                    sheet.lease(new_holder(), now),
                ):
                    pass


# --- PostgreSQL as the witness across machines ---------------------------------------------------


@pytest.fixture
def witnessed(postgres_url: str) -> Iterator[tuple[Outbox, Liveness]]:
    box = Outbox(postgres_url)
    liveness = Liveness(box.db)
    watch(liveness.verdict)
    yield box, liveness
    unwatch(liveness.verdict)
    liveness.close()
    box.close()


def _instance(url: str) -> tuple[subprocess.Popen[str], str]:
    """Another instance: it holds its liveness lock and claims what is due, then waits."""
    script = textwrap.dedent(
        f"""
        import time
        from sheetcrm.intake.liveness import Liveness
        from sheetcrm.intake.outbox import Outbox
        box = Outbox({url!r})
        live = Liveness(box.db)
        assert live.keep()
        box.claim(live.holder, time.time(), 10)
        print(live.holder, flush=True)
        time.sleep(120)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def test_a_holder_on_another_machine_is_dead_once_its_session_is_gone(
    witnessed: tuple[Outbox, Liveness],
) -> None:
    box, liveness = witnessed
    for i in range(3):
        box.put(f"k{i}", "generic", "{}", time.time())
    child, holder = _instance(box.db.url)
    try:
        assert holder.split(":")[4] == liveness.tag
        # as seen from a container with the same host name but another namespace
        gone = lambda h: abandoned(h, here=_elsewhere())  # noqa: E731
        assert liveness.verdict(holder) is False and box.release(gone) == 0
        assert box.claim("mine", time.time(), 10) == []  # all three are its
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    deadline = time.monotonic() + 10
    while not liveness.verdict(holder) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices the closed socket at once, or nearly
    assert liveness.verdict(holder) is True
    assert box.release(gone) == 3
    assert len(box.claim("mine", time.time(), 10)) == 3
    # probing took its lock for an instant only: a holder that comes back takes it again
    assert liveness.verdict(holder) is True


def test_only_tokens_of_this_outbox_are_judged(witnessed: tuple[Outbox, Liveness]) -> None:
    _box, liveness = witnessed
    assert liveness.keep() and liveness.verdict(liveness.holder) is False
    fields = liveness.holder.split(":")
    another_server = ":".join([*fields[:4], "pg00000000"])
    assert liveness.verdict(another_server) is None  # another outbox, or restarted since
    assert liveness.verdict(":".join(fields[:4])) is None  # a command line's sync
    assert liveness.verdict("sheetcrm") is None


def test_a_liveness_session_lost_is_taken_again(witnessed: tuple[Outbox, Liveness]) -> None:
    box, liveness = witnessed
    assert liveness.keep()
    with box.db.engine.connect() as conn:  # as a network blip would
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND classid = :c AND pid <> pg_backend_pid()"
            ),
            {"c": 0x5EE7},
        )
        conn.commit()
    deadline = time.monotonic() + 10
    while not liveness.verdict(liveness.holder) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert liveness.verdict(liveness.holder) is True  # looks dead meanwhile
    assert liveness.keep()
    assert liveness.verdict(liveness.holder) is False


# --- the timeouts as settings ---------------------------------------------------------------------


def test_postgresql_timeouts_reach_the_session(postgres_url: str) -> None:
    db = OutboxDB(postgres_url, timeouts=Timeouts(connect=3, statement=1.5))
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
    finally:
        db.close()
    assert Timeouts(connect=0.5).connect_args()["connect_timeout"] == 2  # libpq's least


def test_the_writing_turn_waits_as_long_as_set(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    first, second = OutboxDB(url), OutboxDB(url, timeouts=Timeouts(turn_wait=0.3))
    try:
        with NotificationOutbox(first).writing():
            started = time.monotonic()
            with (
                pytest.raises(LeaseHeldError, match="writing to the sheet"),
                NotificationOutbox(second).writing(),
            ):
                pass
            assert 0.3 <= time.monotonic() - started < 3
    finally:
        first.close()
        second.close()
