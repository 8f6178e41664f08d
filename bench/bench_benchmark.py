"""Time `ippmd benchmark` (bootstrap, real-data benchmark, charts and report included) against
`frictionless validate` of the same package, side by side in one run.

The two commands run alternately as child processes (each repeated; the median is reported), so
that both see the same machine load; the ratio benchmark / validate is what compares across
machines. The target is a ratio of at most 1. The CPU seconds (user + system, the command and the
processes it waited for: the benchmark's chart processes) are printed beside the wall seconds:
the benchmark uses both cores, validate one, so other load on the machine slows the benchmark
more, and its CPU seconds say how much work it did whatever the load.

    .venv/bin/python bench/bench_benchmark.py [--package DIR] [--focus KHM] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--package", type=Path, default=Path.cwd(), help="a built package (default: .)")
    parser.add_argument("--focus", default="KHM")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    package = args.package.resolve()
    if not (package / "datapackage.json").is_file():
        sys.exit(f"no datapackage.json in {package}: run `ippmd build` first")
    times: dict[str, list[float]] = {"benchmark": [], "validate": []}
    peaks: dict[str, list[float]] = {"benchmark": [], "validate": []}
    cpu: dict[str, list[float]] = {"benchmark": [], "validate": []}
    with tempfile.TemporaryDirectory(prefix="ippmd-bench-benchmark-") as tmp:
        benchmark = [
            str(BIN / "ippmd"), "benchmark", "--focus", args.focus, "--package", str(package),
            "--out", str(Path(tmp) / "report"), "--quiet",
        ]  # fmt: skip
        validate = [str(BIN / "frictionless"), "validate", "datapackage.json"]
        run(benchmark)  # warm-up: file caches and the report's JavaScript bundle cache
        for _ in range(args.repeat):
            for name, cmd, cwd in (("benchmark", benchmark, None), ("validate", validate, package)):
                seconds, mib, busy = run(cmd, cwd)
                times[name].append(seconds)
                peaks[name].append(mib)
                cpu[name].append(busy)
    median = {name: statistics.median(values) for name, values in times.items()}
    for name in times:
        runs = ", ".join(f"{v:.2f}" for v in times[name])
        print(
            f"{name:10s} median {median[name]:7.2f} s  [{runs}]  CPU median "
            f"{statistics.median(cpu[name]):.2f} s  peak {max(peaks[name]):,.0f} MiB"
        )
    ratio = median["benchmark"] / median["validate"]
    print(f"ippmd benchmark / frictionless validate: {ratio:.2f} (target <= 1)")


if __name__ == "__main__":
    main()
