"""Who holds a lease or a claim: ``host:pid:nonce``, so that a holder that died can be told
from one that is merely slow, when it ran on this very machine."""

from __future__ import annotations

import os
import socket
import uuid


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def abandoned(holder: str) -> bool:
    """True only when ``holder`` ran on this machine and its process is gone (killed, or
    crashed). Elsewhere, or in doubt, False: then only its expiry frees what it held."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False
