"""Keep freed memory in the process heap on CPU runs: glibc's mallopt, set once at start-up.

    from copilot.cpu_memory import keep_freed_memory; keep_freed_memory()    # copilot.train calls it on CPU

Why: on CPU, PyTorch allocates every tensor with malloc, and glibc serves allocations above its mmap
threshold (at most 32 MiB) with a fresh mmap that munmap returns on free. A training step of even a small
model allocates hundreds of MiB of activations and logits (4 x 400 tokens x 49k vocab x 4 bytes = 300 MiB
for SmolLM2's logits alone), so every step page-faults and zero-fills them again. Measured on the 2-core
CI-class machine, TRL SFT of SmolLM2-135M at batch 4 x ~390 tokens: 25-28 s/step without, 18 s/step with
(the same effect as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=... in the environment).

What it does: no mmap for malloc (M_MMAP_MAX 0), trim the heap top only when 2 GiB are free
(M_TRIM_THRESHOLD, an int) and grow
it in 512 MiB steps (M_TOP_PAD). Cost: the process keeps its peak heap as RSS until it exits (it never gives
memory back to the OS), and fragmentation can raise that peak; do not call it in long-lived processes
whose memory use shrinks. No-op on non-glibc systems and when MEDCOPILOT_KEEP_FREED_MEMORY=0.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4
TOP_PAD_BYTES = 512 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 2**31 - 1          # mallopt takes an int


def keep_freed_memory() -> bool:
    """Apply the mallopt settings above; True when glibc accepted all three."""
    if os.environ.get("MEDCOPILOT_KEEP_FREED_MEMORY", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    accepted = [mallopt(M_MMAP_MAX, 0), mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES), mallopt(M_TOP_PAD, TOP_PAD_BYTES)]
    if not all(accepted):
        log.warning("glibc mallopt refused a setting (results %s); CPU training runs with the default allocator",
                    accepted)
        return False
    return True
