"""Time of `ippmd tabulate` queries against a plain polars group-by mean, in one run.

Builds a package (or uses --package DIR), then times each query as a fresh call (the Parquet
read included, as on the command line) and, as the reference, a plain polars weighted group-by
mean of the same variable in the same domain, read from the same file: no standard errors,
intervals or design. Prints the best of --repeat runs, the ratio to the reference, and the wall
time of the whole `ippmd tabulate` command (Python start-up and imports included). The target
is at most 0.5 s per query on the 1x package.

    .venv/bin/python bench/bench_tabulate.py [--package DIR] [--scale 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from ippmd.build import build
from ippmd.explore.design import Package
from ippmd.explore.tabulate import Query, tabulate

QUERIES = [
    Query("remittances_received", "households", ("country",)),
    Query("plans_to_emigrate", "persons", ("country", "sex"), where="age >= 15 AND age <= 34"),
    Query("remittance_channel", "households", ("country", "urban")),
    Query("remittances_usd", "households", ("country",)),
    Query("education_years", "persons", ("country", "sex"), where="age >= 25"),
]


def reference(package: Path, query: Query) -> pl.DataFrame:
    """A plain weighted group-by mean: read, join the household weight if needed, filter, group."""
    table = pl.read_parquet(package / "data" / f"{query.table}.parquet")
    if "weight" not in table.columns:
        weights = pl.read_parquet(package / "data" / "households.parquet", columns=["household_id", "weight"])
        table = table.join(weights, on="household_id")
    if query.where:
        table = table.filter(pl.sql_expr(query.where))
    table = table.filter(pl.col(query.variable).is_not_null())
    value = pl.col(query.variable).cast(pl.Float64) if table.schema[query.variable].is_numeric() else None
    if value is None:  # a categorical variable: weighted share of each category
        keys = [*query.by, query.variable]
        shares = table.group_by(keys).agg(pl.col("weight").sum())
        return shares.with_columns(pl.col("weight") / pl.col("weight").sum().over(list(query.by)))
    return table.group_by(list(query.by)).agg((value * pl.col("weight")).sum() / pl.col("weight").sum())


def best(function, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def command_line(query: Query, package: Path) -> list[str]:
    args = [str(Path(sys.executable).with_name("ippmd")), "tabulate", query.variable, "--table", query.table]
    if query.by:
        args += ["--by", ",".join(query.by)]
    if query.where:
        args += ["--where", query.where]
    return [*args, "--package", str(package), "--format", "csv"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", type=Path, help="a built package (default: build one)")
    parser.add_argument("--scale", type=int, default=1, help="scale of the package built")
    parser.add_argument("--repeat", type=int, default=5, help="runs per query (best is shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ippmd-bench-tabulate-") as tmp:
        package = args.package
        if package is None:
            package = Path(tmp) / "package"
            started = time.perf_counter()
            build(package, scale=args.scale, expectations=False)
            print(f"built the package (scale {args.scale}) in {time.perf_counter() - started:.1f} s")
        tabulate(package, QUERIES[0])  # imports and first-touch costs out of the first timing
        print(f"\n{'query':62} {'rows':>5} {'tabulate s':>10} {'polars s':>9} {'ratio':>6} {'CLI s':>6}")
        worst = 0.0
        for query in QUERIES:
            rows = tabulate(package, query).frame.height
            ours = best(lambda q=query: tabulate(Package(package), q), args.repeat)
            plain = best(lambda q=query: reference(package, q), args.repeat)
            cli = best(
                lambda q=query: subprocess.run(command_line(q, package), check=True, capture_output=True),
                max(1, args.repeat // 2),
            )
            worst = max(worst, ours)
            label = f"{query.variable} ({query.table}) by {','.join(query.by) or '-'}"
            label += f" where {query.where}" if query.where else ""
            print(f"{label[:62]:62} {rows:>5} {ours:>10.3f} {plain:>9.3f} {ours / plain:>6.1f} {cli:>6.2f}")
        verdict = "within" if worst <= 0.5 else "ABOVE"
        print(f"\nslowest query {worst:.3f} s: {verdict} the 0.5 s target (fresh package read included)")


if __name__ == "__main__":
    main()
