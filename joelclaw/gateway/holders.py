"""Holder tokens for the gateway's chat locks and claims: "host:pid:nonce".

A SIGKILLed gateway cannot release what it held, and its chat lock and claims used to keep
their TTL (the claim lease, 30 s), so the restarted gateway and the owner waited it out. With
the holder's host and pid in the token, a successor on the same host sees that the process is
gone and takes over at once, as the run leases do (joelclaw/bus/delivery/leases.py). A holder on
another host, or one whose pid cannot be read, is left to its TTL.
"""

from __future__ import annotations

import os
import socket
import uuid

HOSTNAME = socket.gethostname()


def new_token() -> str:
    """A fresh token naming this host and process (a forked child names itself)."""
    return f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def gone(holder: str | bytes | None) -> bool:
    """True when `holder` ran on this host and its process no longer exists."""
    if holder is None:
        return False
    text = holder.decode() if isinstance(holder, bytes) else holder
    host, _, rest = text.partition(":")
    pid = rest.partition(":")[0]
    if host != HOSTNAME or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still answers kill(0): read its state."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
