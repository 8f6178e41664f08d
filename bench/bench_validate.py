"""Time `ippmd validate` (one country, all ten) and the structural layer against frictionless, in one run.

    .venv/bin/python bench/bench_validate.py

Prints wall seconds of `ippmd validate` as a user runs it (a fresh process, imports included)
for one synthetic country and for each of the ten in turn, and, on the same built package,
the polars structural layer vs `frictionless validate` (both in this process, best of 3).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent


def wall(cmd: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(
            f"failed ({result.returncode}): {' '.join(cmd)}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return time.perf_counter() - started


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    from frictionless import validate as frictionless_validate

    from ippmd.build import build
    from ippmd.core.metadata import country_codes
    from ippmd.core.schema import RESOURCES, harmonized_schema
    from ippmd.quality.structural import check_tables
    from ippmd.synth.generator import write_submission

    with tempfile.TemporaryDirectory(prefix="ippmd-bench-") as tmp:
        root = Path(tmp)
        submissions = [write_submission(iso3, root / "sub" / iso3) for iso3 in country_codes()]
        one = wall([str(BIN / "ippmd"), "validate", str(submissions[0])])
        started = time.perf_counter()
        for folder in submissions:
            wall([str(BIN / "ippmd"), "validate", str(folder)])
        ten = time.perf_counter() - started
        print(f"ippmd validate, one country ({submissions[0].name}): {one:6.2f} s wall")
        print(f"ippmd validate, ten countries one after another: {ten:6.2f} s wall")
        together = wall([str(BIN / "ippmd"), "validate", *map(str, submissions)])
        print(f"ippmd validate, ten countries in one call:       {together:6.2f} s wall")

        package = root / "package"
        build(package, expectations=False)
        files = {name: package / "data" / f"{name}.csv" for name in RESOURCES}
        schemas = {name: harmonized_schema(name) for name in RESOURCES}
        ours = best_of(3, lambda: check_tables(files, schemas))
        report = frictionless_validate(str(package / "datapackage.json"))
        assert report.valid, "the package must be valid for a fair comparison"
        theirs = best_of(3, lambda: frictionless_validate(str(package / "datapackage.json")))
        rows = sum(t.stats["rows"] for t in report.tasks)
        print(f"structural layer (polars) on the package, {rows:,} rows: {ours:6.3f} s")
        print(f"frictionless validate on the same package:           {theirs:6.3f} s")
        print(f"ratio frictionless / polars structural layer: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
