"""Peak memory of `ippmd validate` on a submission at the size limit (quality/archive.py).

The issue's target: validating any submission inside the limits stays under 2 GiB. A synthetic
KHM submission is scaled up to just under MAX_UNPACKED_BYTES, then validated in a child process
whose peak RSS is read from the kernel (wait4); a scale-1 submission is the reference.

    .venv/bin/python bench/bench_validate_limits.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ippmd.quality.archive import MAX_UNPACKED_BYTES
from ippmd.synth.generator import write_submission

BIN = Path(sys.executable).parent
TARGET_GIB = 2.0


def peak_of_validate(folder: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (GiB) and exit code of `ippmd validate folder`."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "ippmd"), "validate", str(folder)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 2**20, os.waitstatus_to_exitcode(status)


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ippmd-bench-limits-") as tmp:
        one = write_submission("KHM", Path(tmp) / "scale-1")
        scale = max(1, int(MAX_UNPACKED_BYTES / size_of(one) * 0.97))
        while True:  # the largest scale whose files fit the limit
            big = write_submission("KHM", Path(tmp) / f"scale-{scale}", scale=scale)
            if size_of(big) <= MAX_UNPACKED_BYTES:
                break
            scale -= 2
        print(f"limit {MAX_UNPACKED_BYTES / 2**20:.0f} MiB; target peak < {TARGET_GIB} GiB")
        print(f"{'submission':<22}{'MiB':>8}{'seconds':>10}{'peak GiB':>10}{'exit':>6}")
        for name, folder in (("KHM scale 1", one), (f"KHM scale {scale}", big)):
            seconds, gib, code = peak_of_validate(folder)
            print(f"{name:<22}{size_of(folder) / 2**20:>8.1f}{seconds:>10.1f}{gib:>10.2f}{code:>6}")


if __name__ == "__main__":
    main()
