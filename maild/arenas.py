"""Two malloc arenas for the long-running daemon (glibc), instead of up to eight per core.

glibc gives threads that allocate malloc arenas of their own, and memory freed in
an arena is kept there for reuse, not given back. The daemon's threads (the
``asyncio.to_thread`` pool, APScheduler) each filled one: over 100,000 messages RSS
crept up by 0.8 MB per 10,000 while the Python heap, SQLite and the memory in use
stayed flat, and the kept free memory grew (docs/PERFORMANCE.md). With two arenas
the same 100,000 messages used 13-18 MB less throughout and peaked at 112 MB
instead of 130 MB, at the same speed; the slow creep itself (0.7 MB per 10,000
messages, free memory kept inside the arenas) remains.

``MALLOC_ARENA_MAX`` in the environment, when set, is left to win. Elsewhere than
glibc (musl, macOS) nothing is done.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap malloc arenas before the daemon starts its threads; True if glibc took it."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already uses
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Give free memory at the top of the heap and in whole free pages back to the system
    (glibc ``malloc_trim(0)``); True if some was. The daemon calls it when a drain has
    emptied the mailbox, before it idles: a few milliseconds then, and the pages that
    freed blocks left free inside the arenas stop counting in RSS."""
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int
    return bool(malloc_trim(0))
