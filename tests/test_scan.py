"""`ippmd.scan`: lazy frames over the country partitions, held to DuckDB over the same files,
reading only the partitions asked for."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

import ippmd
from ippmd.core.errors import InputError, UsageError
from tests.conftest import copy_package


def _duckdb(package_dir: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect() as con:
        return con.sql(sql).pl()


def test_scan_equals_duckdb_over_the_partitions(package_dir: Path) -> None:
    lazy = ippmd.scan(
        "persons", countries=["KHM", "HTI"], variables=["age", "sex"], where="age >= 15", package=package_dir
    )
    assert isinstance(lazy, pl.LazyFrame)
    ours = lazy.collect()
    files = str(package_dir / "data" / "parquet" / "persons" / "*" / "*.parquet")
    theirs = _duckdb(
        package_dir,
        f"SELECT {', '.join(ours.columns)} FROM read_parquet('{files}', hive_partitioning = true) "
        "WHERE country IN ('KHM', 'HTI') AND age >= 15",
    )
    assert ours.height == theirs.height > 0
    key = ["person_id"]
    assert ours.sort(key).equals(theirs.select(ours.columns).sort(key).cast(dict(ours.schema)))  # type: ignore[arg-type]
    assert {"person_id", "household_id", "country", "weight", "community_id", "region_code"} <= set(
        ours.columns
    )


def test_scan_reads_only_the_partitions_and_columns_asked_for(package_dir: Path, tmp_path: Path) -> None:
    copy = copy_package(package_dir, tmp_path / "pkg")
    broken = copy / "data" / "parquet" / "persons" / "country=ARM" / "part-0.parquet"
    broken.write_bytes(b"not parquet")  # another country's file, damaged
    lazy = ippmd.scan("persons", countries="KHM", variables="age", package=copy)
    assert lazy.collect().height > 0  # KHM never touched ARM's file
    plan = lazy.explain()
    assert "country=ARM" not in plan and "country=KHM" in plan
    assert f"PROJECT {len(lazy.collect_schema())}/" in plan  # only the selected columns are read
    with pytest.raises(InputError) as failure:
        ippmd.scan("persons", countries="ARM", package=copy)
    assert "part-0.parquet" in failure.value.problems[0].file


def test_unpartitioned_tables_and_bad_requests(package_dir: Path) -> None:
    indicators = ippmd.scan("country_indicators", countries=["KHM"], package=package_dir).collect()
    assert set(indicators["iso3"].unique()) == {"KHM"}
    with pytest.raises(UsageError, match="no table"):
        ippmd.scan("person", package=package_dir)
    with pytest.raises(InputError, match=r"no variable 'agee' in the package; did you mean 'age'\?"):
        ippmd.scan("persons", variables=["agee"], package=package_dir)
