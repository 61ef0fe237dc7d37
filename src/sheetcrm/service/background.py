"""The background work in a process of its own: ``sheetcrm background``, kept running by
gunicorn's master (gunicorn.conf.py) beside the workers that answer webhooks.

Why a process and not a thread in each worker: a flush or a sync reads and plans the whole
sheet, seconds of CPU, and in a request worker it holds the GIL that the worker's request
threads need. In a process of its own it shares only the cores, and each instance has one
sync schedule and one flusher instead of one per worker. Side by side (bench/intake.py
--threaded-too, docs/benchmarks.md): 1,605 accepted/s with p99 37 ms, against 1,045/s with
p99 155 ms for a thread in each worker.

This module is imported by gunicorn's master: the standard library only, here.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path


def wanted(env: Mapping[str, str]) -> bool:
    """SHEETCRM_BACKGROUND: on unless 0, false, no or off (then cron's task calls do it)."""
    return env.get("SHEETCRM_BACKGROUND", "1").strip().lower() not in ("0", "false", "no", "off")


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
        self.command = [
            sys.executable,
            "-m",
            "sheetcrm",
            "background",
            "--exit-with",
            str(os.getpid()),
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
        if pid is None or self._thread is None:
            return
        for number in (signal.SIGTERM, signal.SIGKILL):
            with suppress(ProcessLookupError):
                os.kill(pid, number)
            self._thread.join(self.grace)
            if not self._thread.is_alive():
                return


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
