"""The supervisor's own steps, without gunicorn (tests/test_deploy.py runs them under it)."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from sheetcrm.service.background import _spawn, _wait


@pytest.mark.skipif(not hasattr(os, "posix_spawn"), reason="POSIX only")
def test_the_background_process_inherits_no_listening_socket() -> None:
    """gunicorn's listeners are inheritable (a USR2 re-exec hands them on); the background
    process must not keep one open after the master is gone."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.set_inheritable(True)
        fd = listener.fileno()
        probe = [sys.executable, "-c", f"import os; os.fstat({fd})"]
        assert _wait(_spawn(probe, dict(os.environ))) == "exit 1"  # fstat: bad descriptor
        assert _wait(os.posix_spawn(probe[0], probe, dict(os.environ))) == "exit 0"
