"""Time `ippmd sources` (ingest of the REAL indicators) against reading the same originals, in one run.

    .venv/bin/python bench/bench_sources.py [--from ../shared/data/external]

The reference is the floor any ingest pays: the SHA-256 check of every original plus opening it
with the spreadsheet/CSV reader. The ratio ingest / reference is what compares across machines
(the budget of issue 3: ingest within 5 s on the development machine).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from ippmd.core.home import shared_dir
from ippmd.indicators import codes
from ippmd.indicators.ingest import ingest
from ippmd.indicators.provenance import check_originals, sources


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def read_originals(source_dir: Path) -> None:
    """Hash and open every original, parsing nothing (the reference)."""
    import openpyxl
    import xlrd

    check_originals(source_dir)
    for source in sources().values():
        path = source_dir / source.file
        if path.suffix == ".xlsx":
            openpyxl.load_workbook(path, read_only=True, data_only=True).close()
        elif path.suffix == ".xls":
            xlrd.open_workbook(str(path), on_demand=True).release_resources()
        else:
            path.read_bytes().decode("utf-8", errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, default=None)
    args = parser.parse_args()
    source = args.source or shared_dir() / "data" / "external"

    def cold_ingest() -> None:
        codes._BY_NAME.clear()
        ingest(source)

    reference = best_of(3, lambda: read_originals(source))
    seconds = best_of(3, cold_ingest)
    print(f"read originals (reference) {reference:7.2f} s")
    print(f"ippmd sources ingest       {seconds:7.2f} s   ratio {seconds / reference:5.2f}")


if __name__ == "__main__":
    main()
