"""The background work in a process of its own: ``sheetcrm background``, kept running by
gunicorn's master (gunicorn.conf.py) beside the workers that answer webhooks.

Why a process and not a thread in each worker: a flush or a sync reads and plans the whole
sheet, seconds of CPU, and in a request worker it holds the GIL that the worker's request
threads need. In a process of its own it shares only the cores, and each instance has one
sync schedule and one flusher instead of one per worker. Side by side (bench/intake.py
--threaded-too, docs/benchmarks.md): 1,605 accepted/s with p99 37 ms, against 1,045/s with
p99 155 ms for a thread in each worker.

This module is imported by gunicorn's master: the standard library (and the declaration of
the environment, which uses nothing else) only, here.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path

from sheetcrm.service import environment

try:
    import fcntl
except ImportError:  # Windows, where gunicorn does not run: no process beside the workers
    fcntl = None  # type: ignore[assignment]

_master: int | None = None  # in a gunicorn worker: the master, whose supervisor keeps ours

NICE = 10
"""How much lower the background process runs than the workers. The kernel then gives a
webhook's request thread the core first whenever both want one, and the flusher the rest:
under a burst it drains slowly without raising the webhooks' latency, and afterwards at
full speed, with no pause between flushes to leave the CPU to the webhooks (issue 21).
Not 19: at 10 the flusher still gets about a tenth of a core under full load, so that a
short write transaction it holds on the outbox (which the webhooks' commits then wait for)
ends within milliseconds rather than waiting for a busy core to come free."""


def wanted(env: Mapping[str, str]) -> bool:
    """SHEETCRM_BACKGROUND: whether the background work runs (else cron's task calls do it)."""
    return bool(environment.value(env, "SHEETCRM_BACKGROUND"))


def beside(master: int) -> None:
    """Called in each gunicorn worker (gunicorn.conf.py's post_fork): the background work is
    the business of the process ``master`` keeps beside this one, not of a thread here.
    Kept in this process alone, not in the environment, which a USR2 re-exec hands on."""
    global _master
    _master = master


def elsewhere() -> bool:
    """Whether this process leaves the background work to a process beside it."""
    return _master is not None


def running_beside() -> bool:
    """Whether the background process beside this worker is running now: it holds a lock
    named after the master for as long as it lives (:func:`hold`), and the kernel lets go of
    it the moment the process ends, however it ends."""
    if _master is None or fcntl is None:
        return False
    fd = os.open(_lock_path(_master), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing lets go of a shared lock we took
    return False


def hold(master: int) -> int | None:
    """In the background process that ``master`` keeps: take the lock that says it runs, for
    as long as the returned descriptor stays open."""
    if fcntl is None:
        return None
    fd = os.open(_lock_path(master), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a worker's check holds it only for an instant
    return fd


def lower_priority(increment: int = NICE) -> bool:
    """In the background process: run below the workers (:data:`NICE`); whether it does.
    A process may always lower its own priority; where it cannot (not POSIX), it runs as
    before, and the flushes pause between themselves to leave the CPU to the webhooks."""
    try:
        os.nice(increment)
    except (AttributeError, OSError):
        return False
    return True


def _lock_path(master: int) -> str:
    return str(Path(tempfile.gettempdir()) / f"sheetcrm-background-{master}.lock")


class Supervisor:
    """Keeps one ``sheetcrm background`` process running, started again (after a pause that
    doubles up to a minute) whenever it ends, until :meth:`stop`.

    It runs in a thread of gunicorn's master, which forks workers from its main thread at
    any moment. So it starts the process with ``posix_spawn``, not ``subprocess.Popen``: a
    worker forked while Popen waited on its exec pipe inherited the pipe's write end, and
    Popen then waited forever (seen 4 times in 12 starts)."""

    def __init__(
        self, env: Mapping[str, str], log: Callable[[str], object] = print, grace: float = 30
    ) -> None:
        package_root = str(Path(__file__).resolve().parents[2])  # src/, above sheetcrm/
        path = [package_root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        self.env = {**env, "PYTHONPATH": os.pathsep.join(path)}
        self.master = os.getpid()
        self.command = [
            sys.executable,
            "-m",
            "sheetcrm",
            "background",
            "--exit-with",
            str(self.master),
        ]
        self.log, self.grace = log, grace
        self.pid: int | None = None
        self.starts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._keep, name="sheetcrm-supervisor", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        pause = 1.0
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    pid = self.pid = _spawn(self.command, self.env)
                except OSError as exc:  # out of processes or memory: try again later
                    pid, code = None, f"not started: {exc}"
                else:
                    self.starts += 1
            started = time.monotonic()
            if pid is not None:
                code = _wait(pid)
                with self._lock:
                    self.pid = None  # reaped: its number may go to another process
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60:
                pause = 1.0  # it ran a while: not a crash loop
            self.log(
                f"sheetcrm background process {pid} ended ({code}); "
                f"starting it again in {pause:g} s"
            )
            self._stopping.wait(pause)
            pause = min(60.0, pause * 2)

    def stop(self) -> None:
        """Ask the process to finish what it is doing (a flush: up to ``grace`` seconds),
        and stop starting it again."""
        with self._lock:
            self._stopping.set()
            pid = self.pid
        if pid is not None and self._thread is not None:
            for number in (signal.SIGTERM, signal.SIGKILL):
                with suppress(ProcessLookupError):
                    os.kill(pid, number)
                self._thread.join(self.grace)
                if not self._thread.is_alive():
                    break
        with suppress(OSError):
            os.unlink(_lock_path(self.master))


def _spawn(command: list[str], env: dict[str, str]) -> int:
    """Start ``command`` without the descriptors this process would hand on, above all
    gunicorn's listening sockets: a child still holding them would keep the port, with no
    one accepting, after the master was killed."""
    folder = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    inherited = []
    for name in os.listdir(folder):
        fd = int(name)
        with suppress(OSError):  # the listing's own descriptor, closed by now
            if fd > 2 and os.get_inheritable(fd):
                inherited.append(fd)
    actions = [(os.POSIX_SPAWN_CLOSE, fd) for fd in inherited]
    return os.posix_spawn(command[0], command, env, file_actions=actions)


def _wait(pid: int) -> str:
    """How it ended."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # gunicorn's master reaped it first: the code is lost
        return "exit code unknown"
    return f"exit {os.waitstatus_to_exitcode(status)}"
