"""Time and size of `ippmd extract` for all ten countries in every format, in one run.

Builds a package (or uses --package DIR), then writes the full extract (every country, table and
variable) as CSV, Parquet, Stata and SPSS, best of --repeat runs each, and prints seconds, rows
per second, the zip size and the data size inside it, with ratios to CSV measured in the same run.

    .venv/bin/python bench/bench_extract.py [--package DIR] [--scale 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ippmd.build import build
from ippmd.extract import FORMATS, make_extract

MIB = 1024 * 1024


@dataclass(frozen=True)
class Result:
    """One format's best time and sizes (bytes: the zip, and the data files inside it)."""

    format: str
    seconds: float
    zip: int
    data: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", type=Path, help="a built package (default: build one)")
    parser.add_argument("--scale", type=int, default=1, help="scale of the package built")
    parser.add_argument("--repeat", type=int, default=3, help="runs per format (best is shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ippmd-bench-extract-") as tmp:
        package = args.package
        if package is None:
            package = Path(tmp) / "package"
            started = time.perf_counter()
            build(package, scale=args.scale, expectations=False)
            print(f"built the package (scale {args.scale}) in {time.perf_counter() - started:.1f} s")
        descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
        rows = sum(r["rows"] for r in descriptor["resources"])
        countries = len(descriptor.get("countries", []))
        results: list[Result] = []
        for fmt in FORMATS:
            out = Path(tmp) / f"extract-{fmt}.zip"
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                make_extract(package, out, fmt=fmt)
                times.append(time.perf_counter() - started)
            with zipfile.ZipFile(out) as zf:
                data = sum(i.file_size for i in zf.infolist() if i.filename.startswith("data/"))
            results.append(Result(fmt, min(times), out.stat().st_size, data))
    print(f"\nfull extract: {countries} countries, {len(descriptor['resources'])} tables, {rows:,} rows")
    header = ("format", "seconds", "rows/s", "zip MiB", "data MiB", "time/csv", "zip/csv")
    print("{:8} {:>8} {:>11} {:>8} {:>9} {:>9} {:>8}".format(*header))
    base = results[0]
    for r in results:
        print(
            f"{r.format:8} {r.seconds:>8.2f} {rows / r.seconds:>11,.0f} {r.zip / MIB:>8.2f} "
            f"{r.data / MIB:>9.2f} {r.seconds / base.seconds:>9.2f} {r.zip / base.zip:>8.2f}"
        )


if __name__ == "__main__":
    main()
