"""Time `ippmd build` at 1x and 10x and `frictionless validate` on the same packages, in one run.

Prints seconds, peak memory (max RSS of each child process) and ratios, so results compare
across machines: what matters is build vs validate measured together, not absolute seconds.

    .venv/bin/python bench/bench_build.py [--scales 1,10] [--no-validate-largest]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="1,10")
    parser.add_argument(
        "--no-validate-largest",
        action="store_true",
        help="skip frictionless on the largest scale (about 30k rows/s)",
    )
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="ippmd-bench-") as tmp:
        for scale in scales:
            out = Path(tmp) / f"x{scale}"
            seconds, rss = run(
                [str(BIN / "ippmd"), "build", "--scale", str(scale), "--out", str(out), "--quiet"]
            )
            package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
            rows = sum(r["rows"] for r in package["resources"])
            results.append(
                {
                    "step": f"ippmd build --scale {scale}",
                    "scale": scale,
                    "rows": rows,
                    "seconds": seconds,
                    "peak_mib": rss,
                }
            )
            if scale == max(scales) and args.no_validate_largest and len(scales) > 1:
                continue
            seconds, rss = run([str(BIN / "frictionless"), "validate", "datapackage.json"], cwd=out)
            results.append(
                {
                    "step": f"frictionless validate (scale {scale})",
                    "scale": scale,
                    "rows": rows,
                    "seconds": seconds,
                    "peak_mib": rss,
                }
            )
    print(f"{'step':38} {'rows':>11} {'seconds':>9} {'rows/s':>11} {'peak MiB':>9}")
    for r in results:
        print(
            f"{r['step']:38} {r['rows']:>11,} {r['seconds']:>9.2f} {r['rows'] / r['seconds']:>11,.0f} "
            f"{r['peak_mib']:>9.0f}"
        )
    build = {r["scale"]: r for r in results if r["step"].startswith("ippmd")}
    check = {r["scale"]: r for r in results if r["step"].startswith("frictionless")}
    base = min(scales)
    print()
    for scale in scales:
        if scale != base:
            print(
                f"build {scale}x / build {base}x: {build[scale]['seconds'] / build[base]['seconds']:.1f} "
                f"(rows ratio {build[scale]['rows'] / build[base]['rows']:.1f})"
            )
        if scale in check:
            print(
                f"frictionless validate / build at {scale}x: "
                f"{check[scale]['seconds'] / build[scale]['seconds']:.1f}"
            )


if __name__ == "__main__":
    main()
