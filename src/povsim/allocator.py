"""Keep freed memory for reuse during a large run (glibc only).

A run at full scale allocates and frees hundreds of temporary arrays of 8-60 MB each month.
glibc's ``malloc`` hands every allocation above its mmap threshold (at most 32 MiB) straight to
the kernel and gives it back when it is freed, so every temporary is faulted in again, page by
page, the next time. :func:`large_arrays` switches that off while a large model runs
(:meth:`povsim.model.PovertyModel.run`; ``M_MMAP_MAX = 0``: large blocks come from the heap; a
high trim threshold keeps freed heap for reuse), and lets the threads started meanwhile (the
run's helper threads) share the main heap (``M_ARENA_MAX = 1``: freed blocks are reused by
every thread instead of kept per thread), then restores glibc's defaults and returns the free
memory to the system (``malloc_trim``). Measured at 1:1 (``benchmarks/README.md``): about
8 % less wall time (11 % with the same setting for the whole process, build included) and the
same peak memory, since the peak is reached anyway and the freed blocks are reused rather than
added to.

It changes nothing but speed: the same numbers are computed. It is used only for tables of at
least :data:`povsim.kernels.COMPILED_FROM` households, only where the C library is glibc, and
not when ``POVSIM_MALLOC=default`` is set in the environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import threading
from collections.abc import Iterator

__all__ = ["large_arrays"]

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
# glibc's defaults, restored afterwards
_DEFAULT_TRIM = 128 * 1024
_DEFAULT_TOP_PAD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536
#: glibc's limit on arenas when none is set: 8 per core (64-bit), restored afterwards
_DEFAULT_ARENAS = 8 * (os.cpu_count() or 1)
#: freed heap below this is kept (mallopt takes a C int: 2 GiB, the largest it accepts)
_KEEP = 2**31 - 1
#: extra heap requested with each growth, so that the heap grows in few steps (assumption)
_PAD = 256 * 1024**2

_lock = threading.Lock()
_depth = 0


def _libc() -> ctypes.CDLL | None:
    if os.environ.get("POVSIM_MALLOC", "").lower() == "default":
        return None
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist
    except (OSError, AttributeError):  # pragma: no cover - not glibc after all
        return None
    return libc


@contextlib.contextmanager
def large_arrays(enabled: bool = True) -> Iterator[None]:
    """Within the block, keep large freed blocks in the heap for reuse (see the module docs).

    Parameters
    ----------
    enabled
        ``False`` makes this a no-op (callers pass whether the run is large).

    Nested blocks (a model built inside another's run) apply the setting once and restore it
    when the outermost block ends.
    """
    global _depth
    libc = _libc() if enabled else None
    if libc is None:
        yield
        return
    with _lock:
        if _depth == 0:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, _KEEP)
            libc.mallopt(_M_TOP_PAD, _PAD)
            # threads started now (the run's helpers) share the main heap: each extra arena
            # would keep its own freed blocks (~110 MiB more at the peak of a 1:1 run)
            libc.mallopt(_M_ARENA_MAX, 1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)
                libc.mallopt(_M_TOP_PAD, _DEFAULT_TOP_PAD)
                libc.mallopt(_M_ARENA_MAX, _DEFAULT_ARENAS)
                libc.malloc_trim(0)
