"""Give freed heap memory back to the operating system after a champion swap.

A swap frees the previous model's arrays, but glibc keeps freed heap pages in its arenas
(its mmap threshold grows after large frees, so later large arrays land on the heap too):
the soak benchmark saw the server's RSS step up after every training job and stay there.
``malloc_trim`` returns those pages. Elsewhere (macOS, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from typing import Any


@functools.cache
def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Collect garbage, then hand free heap pages back to the OS; True if any were."""
    gc.collect()
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
