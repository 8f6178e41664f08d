"""Time `ippmd build` at several scales and `frictionless validate` on the same packages, in one run.

Prints, for each scale, build seconds and peak memory (max RSS of the child process, and the
sampled sum over its process tree, in case checks run in a worker), the same for `frictionless
validate`, and the ratio build / validate, so results compare across machines: what matters is
build vs validate measured together, not absolute seconds. The build streams country by
country, so its peak should grow with the largest country, not with the scale.

Timings are the best of --repeat runs (default 3) at the smallest scale, build and validate
interleaved, so a neighbour's load hits both alike; larger scales run once.

    .venv/bin/python bench/bench_build.py [--scales 1,10] [--repeat 3] [--no-validate-largest]
    .venv/bin/python bench/bench_build.py --scales 1,100 --no-validate-largest   # the 4 GiB check
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


def _tree_rss_kib(pid: int) -> int:
    """Current RSS (KiB) of a process and all its descendants (Linux /proc; 0 elsewhere)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue  # ended meanwhile, or no /proc
    return total


class TreePeak(threading.Thread):
    """Samples the summed RSS of a process tree: ru_maxrss is the largest single process only,
    which undercounts a build that checks in a worker process while it goes on."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kib = pid, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(self.pid))


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) of the largest process, and sampled peak of the whole tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = TreePeak(proc.pid)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024, sampler.peak_kib / 1024


@dataclass(frozen=True)
class Scale:
    """One scale's measurements; validate_* is None where frictionless was not run."""

    scale: int
    rows: int
    build_s: float
    build_mib: float
    tree_mib: float
    validate_s: float | None
    validate_mib: float | None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="1,10", help="comma-separated scales, e.g. 1,100")
    parser.add_argument(
        "--no-validate-largest",
        action="store_true",
        help="skip frictionless on the largest scale (about 30k rows/s: an hour at 100x)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs at the smallest scale (best kept)")
    args = parser.parse_args()
    scales = sorted({int(s) for s in args.scales.split(",")})
    rows: list[Scale] = []
    with tempfile.TemporaryDirectory(prefix="ippmd-bench-") as tmp:
        for scale in scales:
            out = Path(tmp) / f"x{scale}"
            repeats = max(1, args.repeat) if scale == scales[0] else 1
            builds, validations = [], []
            validate = not (scale == scales[-1] and args.no_validate_largest and len(scales) > 1)
            for _ in range(repeats):
                builds.append(
                    run([str(BIN / "ippmd"), "build", "--scale", str(scale), "--out", str(out), "--quiet"])
                )
                if validate:
                    validations.append(
                        run([str(BIN / "frictionless"), "validate", "datapackage.json"], cwd=out)
                    )
            build_s = min(b[0] for b in builds)
            build_mib, tree_mib = max(b[1] for b in builds), max(b[2] for b in builds)
            package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
            rows.append(
                Scale(
                    scale=scale,
                    rows=sum(r["rows"] for r in package["resources"]),
                    build_s=build_s,
                    build_mib=build_mib,
                    tree_mib=tree_mib,
                    validate_s=min(v[0] for v in validations) if validations else None,
                    validate_mib=max(v[1] for v in validations) if validations else None,
                )
            )
            print(
                f"scale {scale}: build {build_s:.1f} s, peak {build_mib:,.0f} MiB",
                file=sys.stderr,
                flush=True,
            )

    def cell(value: float | int | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    print(
        f"{'scale':>5} {'rows':>11} {'build s':>9} {'rows/s':>10} {'build peak MiB':>15} "
        f"{'(all procs)':>12} {'validate s':>11} {'validate peak MiB':>18} {'build/validate':>15}"
    )
    for r in rows:
        ratio = None if r.validate_s is None else r.build_s / r.validate_s
        print(
            f"{r.scale:>5} {r.rows:>11,} {r.build_s:>9.2f} {r.rows / r.build_s:>10,.0f} "
            f"{r.build_mib:>15,.0f} {r.tree_mib:>12,.0f} {cell(r.validate_s, '.2f'):>11} "
            f"{cell(r.validate_mib, ',.0f'):>18} {cell(ratio, '.2f'):>15}"
        )
    base = rows[0]
    print()
    for r in rows[1:]:
        print(
            f"build {r.scale}x / build {base.scale}x: {r.build_s / base.build_s:.1f} "
            f"(rows ratio {r.rows / base.rows:.1f}); peak {r.build_mib / 1024:.2f} GiB "
            f"({r.tree_mib / 1024:.2f} GiB summed over its processes)"
        )
    if base.validate_s is not None:
        print(f"build / frictionless validate at {base.scale}x: {base.build_s / base.validate_s:.2f}")


if __name__ == "__main__":
    main()
