"""Time the expectation suites with GX (`run_suites`) and with polars (`run_suites_polars`), in one run.

Each measurement is a fresh Python process, so GX pays its import (about 2.5 s) as `ippmd validate`
would: `run` is the import of the runner plus the run (tables already read), `wall` the whole child
process. One country (KHM) and all ten; the ratio GX / polars is what compares across machines.
`ippmd validate` needs one country in 2 s or less: the polars wall time for KHM is that budget.

    .venv/bin/python bench/bench_expectations.py [--package DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {"one country (KHM)": ["KHM"], "all ten countries": None}


def child(engine: str, package: Path, countries: list[str] | None) -> None:
    """Runs in the child process: read the tables, then time import + run of one engine."""
    import polars as pl

    from ippmd.core.schema import RESOURCES

    tables = {name: pl.read_parquet(package / "data" / f"{name}.parquet") for name in RESOURCES}
    started = time.perf_counter()
    if engine == "gx":
        from ippmd.quality.engine_gx import run_suites

        failures = run_suites(tables, countries)
    else:
        from ippmd.quality.engine_polars import run_suites_polars

        failures = run_suites_polars(tables, countries)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {"run": seconds, "failures": len(failures), "gx_imported": "great_expectations" in sys.modules}
        )
    )


def measure(engine: str, package: Path, countries: list[str] | None) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", engine, "--package", str(package)]
    if countries:
        cmd += ["--countries", ",".join(countries)]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--package", type=Path, help="a built package (default: build one, without checks)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest counts")
    parser.add_argument("--child", choices=["gx", "polars"], help=argparse.SUPPRESS)
    parser.add_argument("--countries", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        child(args.child, args.package, args.countries.split(",") if args.countries else None)
        return
    with tempfile.TemporaryDirectory(prefix="ippmd-bench-gx-") as tmp:
        package = args.package
        if package is None:
            from ippmd.build import build

            package = Path(tmp) / "package"
            build(package, expectations=False)
        print(f"{'scenario':<22} {'engine':<7} {'run s':>7} {'wall s':>7} {'failures':>8}")
        for label, countries in SCENARIOS.items():
            best = {}
            for engine in ("gx", "polars"):
                runs = [measure(engine, package, countries) for _ in range(max(args.repeat, 1))]
                best[engine] = min(runs, key=lambda r: r["run"])
                r = best[engine]
                print(f"{label:<22} {engine:<7} {r['run']:>7.2f} {r['wall']:>7.2f} {r['failures']:>8}")
            ratio_run = best["gx"]["run"] / best["polars"]["run"]
            ratio_wall = best["gx"]["wall"] / best["polars"]["wall"]
            print(f"{label:<22} {'ratio':<7} {ratio_run:>7.1f}x {ratio_wall:>6.1f}x  (GX / polars)")
            if best["polars"]["gx_imported"]:
                print("  warning: the polars engine imported great_expectations")


if __name__ == "__main__":
    main()
