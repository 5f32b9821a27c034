"""copilot.cpu_memory: after keep_freed_memory(), a freed large buffer stays in the process (no munmap), so
the next step's tensors reuse it instead of page-faulting fresh memory. Run in child processes (the setting
is process-wide)."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import sys
from copilot.cpu_memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "on" else False
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
before = rss_mb()
buf = bytearray(256 * 1024 * 1024)      # written (zero-filled) by Python: resident
del buf
print(applied, round(rss_mb() - before))
"""


def child(mode: str, env_off: bool = False) -> tuple[str, int]:
    env = {"MEDCOPILOT_KEEP_FREED_MEMORY": "0"} if env_off else {}
    import os

    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}, timeout=60).stdout.split()
    return out[0], int(out[1])


def test_freed_memory_is_kept_only_when_asked():
    applied, kept = child("on")
    assert applied == "True" and kept >= 200          # the 256 MiB stay resident for reuse
    applied, kept = child("off")
    assert applied == "False" and kept < 50           # default glibc: the mmap'd buffer went back to the OS
    applied, kept = child("on", env_off=True)
    assert applied == "False" and kept < 50           # MEDCOPILOT_KEEP_FREED_MEMORY=0 switches it off
