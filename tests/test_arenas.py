"""The daemon caps glibc's malloc arenas, unless MALLOC_ARENA_MAX says otherwise.

Checked by effect: eight threads allocate at once, then glibc's ``malloc_info``
says how many arenas (``<heap nr=…>``) exist. mallopt's return value proves
nothing (glibc answers 1 even to an option it does not know).
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from maild import arenas

PROBE = r"""
import ctypes, re, sys, tempfile, threading
from maild import arenas
if sys.argv[1] == "cap":
    print(arenas.limit_arenas())
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    keep = [bytearray(4096) for _ in range(2000)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile() as f:
    fp = ctypes.c_void_p(libc.fopen(f.name.encode(), b"w"))
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(len(re.findall(rb'<heap nr="\d+">', open(f.name, "rb").read())))
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="malloc arenas and malloc_info are glibc's")


def _arenas_after_eight_threads(mode: str, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", **(env or {})}, check=True)
    return out.stdout.split()


@glibc_only
def test_two_arenas_with_the_cap_more_without() -> None:
    assert _arenas_after_eight_threads("cap") == ["True", "2"]
    assert int(_arenas_after_eight_threads("none")[0]) > 2  # the probe can tell


@glibc_only
def test_an_explicit_environment_setting_wins() -> None:
    took, count = _arenas_after_eight_threads("cap", {"MALLOC_ARENA_MAX": "4"})
    assert took == "False" and int(count) > 2


def test_nothing_is_done_when_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert arenas.limit_arenas() is False


TRIM_PROBE = r"""
from maild import arenas
junk = [bytes(20_000 + i) for i in range(3000)]  # below the mmap threshold: in the heap
keep = junk[::10]  # every tenth stays: the freed blocks between them are holes
del junk
print(arenas.trim())
"""


@glibc_only
def test_trim_hands_free_pages_inside_the_heap_back() -> None:
    """After many blocks are freed between live ones, ``trim`` gives whole free pages back
    (glibc answers 1 only when it released memory); in a process of its own, so the
    test's heap is not the suite's."""
    out = subprocess.run([sys.executable, "-c", TRIM_PROBE], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "True"
