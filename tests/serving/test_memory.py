"""Freed heap pages go back to the OS after a champion swap (glibc)."""

from __future__ import annotations

import os
import sys

import pytest

from recserve.serving.memory import _libc, release_freed_memory


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or _libc() is None, reason="needs glibc's malloc_trim"
)
def test_freed_heap_memory_is_returned() -> None:
    chunks = [bytearray(64 * 1024) for _ in range(2000)]  # ~125 MB of heap, below mmap size
    survivors = chunks[::50]  # a few survivors fragment the heap, as a swapped model does
    grown = rss_mb()
    del chunks
    assert rss_mb() > grown - 60, "without a trim glibc keeps most freed pages"
    assert release_freed_memory()
    assert rss_mb() < grown - 80
    assert len(survivors) == 40
