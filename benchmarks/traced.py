"""`maild` with tracemalloc on, for ``memory.py --trace``.

SIGUSR1 appends one line to ``$MAILD_TRACE_FILE``, in MB: the traced Python
heap; what the SQLite library holds (``sqlite3_memory_used``: page caches of
every connection); and glibc's ``mallinfo2`` over all arenas: bytes in use,
bytes free but kept by the allocator, and bytes in mmapped blocks. Python heap
flat while "in use" grows means C allocations; "free but kept" growing means
fragmentation (threads get arenas of their own). The first SIGUSR1 after
``$MAILD_TRACE_WARM`` signals also keeps a snapshot; SIGUSR2 appends the
source lines that grew most since.
Tracing costs the daemon about half its speed; the RSS it reports is only a
shape, not the number ``memory.py`` reports without ``--trace``. With
``MAILD_TRACE_HEAP=0`` (``memory.py --counters``) tracemalloc stays off: the
heap column reads 0 and the SQLite and malloc counters come at full speed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
import signal
import sys
import tempfile
import tracemalloc
from types import FrameType


def sqlite_memory_mb() -> float:
    """What this process's SQLite library holds now (the library _sqlite3 uses)."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return float("nan")
    lib = ctypes.CDLL(name)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return int(lib.sqlite3_memory_used()) / 2**20


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _malloc_mb() -> tuple[float, float, float]:
    """(in use, free but kept, mmapped) over every glibc arena."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return (info.uordblks / 2**20, info.fordblks / 2**20, info.hblkhd / 2**20)


def _pymalloc_mb() -> tuple[float, float]:
    """(arenas held, MB in allocated blocks) of Python's own allocator, from
    ``sys._debugmallocstats`` (it writes to the C stderr: caught in a file). Python
    objects live in 1 MB arenas outside glibc's counters; an arena goes back to the
    system only when every block in it is free."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        lines = caught.read().decode(errors="replace").splitlines()

    def number(label: str) -> int:
        found = [line for line in lines if line.startswith(label)]
        return int(found[0].rsplit("=", 1)[1].replace(",", "").strip()) if found else 0

    return (number("# arenas allocated current"),
            number("# bytes in allocated blocks") / 2**20)


def _cached() -> int:
    """Entries held by maild's bounded caches (``functools.lru_cache`` at module level):
    they fill slowly from a stream of new addresses and then stay."""
    total = 0
    for name, module in list(sys.modules.items()):
        if name.startswith("maild") and module is not None:
            for value in list(vars(module).values()):
                if isinstance(value, functools._lru_cache_wrapper):
                    total += value.cache_info().currsize
    return total


class _Tracer:
    """The signal handlers, writing to ``out``; keeps the snapshot of the ``warm``-th sample."""

    def __init__(self, out: str, warm: int) -> None:
        self.out, self.warm = out, warm
        self.samples = 0
        self.snapshot: tracemalloc.Snapshot | None = None

    def sample(self, _sig: int, _frame: FrameType | None) -> None:
        gc.collect()
        heap = tracemalloc.get_traced_memory()[0] / 2**20
        self.samples += 1
        if self.samples == self.warm and tracemalloc.is_tracing():
            self.snapshot = tracemalloc.take_snapshot()
        in_use, kept, mapped = _malloc_mb()
        arenas, blocks = _pymalloc_mb()
        with open(self.out, "a") as out:
            out.write(f"{heap:.2f} {sqlite_memory_mb():.2f} {in_use:.2f} {kept:.2f} "
                      f"{mapped:.2f} {arenas:.0f} {blocks:.2f} {_cached()}\n")

    def diff(self, _sig: int, _frame: FrameType | None) -> None:
        gc.collect()
        with open(self.out, "a") as out:
            if self.snapshot is not None:
                for stat in tracemalloc.take_snapshot().compare_to(self.snapshot,
                                                                  "lineno")[:10]:
                    out.write(f"grew: {stat}\n")
            out.write("end\n")


if __name__ == "__main__":
    if os.environ.get("MAILD_TRACE_HEAP", "1") != "0":
        tracemalloc.start(1)
    tracer = _Tracer(os.environ["MAILD_TRACE_FILE"],
                     int(os.environ.get("MAILD_TRACE_WARM", "1")))
    signal.signal(signal.SIGUSR1, tracer.sample)
    signal.signal(signal.SIGUSR2, tracer.diff)
    from maild.cli import main

    sys.argv[0] = "maild"
    sys.exit(main())
