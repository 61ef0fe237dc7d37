"""Who holds a lease or a claim, and whether that holder is dead: a process killed or crashed
frees what it held at once, instead of when its expiry comes.

A holder is ``host:pid:nonce:machine``. The host is there for a person reading the lease tab;
it never decides anything, since on Cloud Run every instance may have the same one. What
decides is ``machine``: a digest of the kernel's boot ID, the host name and the inode of the
process's PID namespace. Two containers on one host share the boot ID but never a live PID
namespace; two hosts never share a boot ID (128 random bits per boot). So a holder with our
machine ran among the very processes ``os.kill(pid, 0)`` sees, and only then is its PID
probed: elsewhere a free PID here says nothing about a process there.

For holders on another machine, a *witness* may tell (:func:`watch`): the service registers
one that asks the PostgreSQL outbox whether the holder's session still holds its advisory
lock (:mod:`sheetcrm.intake.liveness`). Without a witness, or in doubt, a holder is alive, and
only its expiry frees what it held.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Callable
from functools import cache

Witness = Callable[[str], "bool | None"]
"""Whether a holder is dead (True), alive (False), or None when this witness cannot tell."""

_witnesses: list[Witness] = []


@cache
def machine() -> str:
    """This process's machine: 12 hex digits, or "" where the kernel does not say enough
    (no /proc: then no holder is ever probed, and only expiries free what the dead held)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    if not boot or not namespace:
        return ""
    return identity(socket.gethostname(), boot, namespace)


def identity(host: str, boot: str, namespace: str) -> str:
    return hashlib.sha256(f"{host}\0{boot}\0{namespace}".encode()).hexdigest()[:12]


def new_holder(suffix: str = "") -> str:
    """A new holder token for this process; ``suffix`` (no colon) adds what a witness needs."""
    host = socket.gethostname().replace(":", "-")
    token = f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{machine()}"
    return f"{token}:{suffix}" if suffix else token


def parts(holder: str) -> list[str]:
    """host, pid, nonce, machine, and whatever a witness added; fewer for an older token."""
    return holder.split(":")


def watch(witness: Witness) -> None:
    """Ask ``witness`` too about holders of other machines (until :func:`unwatch`)."""
    _witnesses.append(witness)


def unwatch(witness: Witness) -> None:
    if witness in _witnesses:
        _witnesses.remove(witness)


def abandoned(holder: str, here: str | None = None) -> bool:
    """True only when ``holder`` is known dead: its process gone from this machine
    (``here``, by default :func:`machine`), or a witness says so for another machine.
    Elsewhere, or in doubt, False."""
    fields = parts(holder)
    here = machine() if here is None else here
    if len(fields) < 4 or not fields[1].isdigit():
        return False  # not ours, or from before machines were named: its expiry frees it
    if here and fields[3] == here:
        return _gone(int(fields[1]))
    for witness in list(_witnesses):
        verdict = witness(holder)
        if verdict is not None:
            return verdict
    return False


def _gone(pid: int) -> bool:
    if pid == os.getpid():
        return False  # another holder of this very process: alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    # A zombie answers the probe too: ended, but its parent (killed itself, and a container's
    # first process that reaps no orphans) never collected it
    state = _read(f"/proc/{pid}/stat").rpartition(")")[2].split()
    return bool(state) and state[0] in ("Z", "X")


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read().strip()
    except OSError:
        return ""
