"""The built data package as analysis frames: resources found through datapackage.json.

Everything is located through the descriptor's resource list (never by guessing file names), so
the same code reads the package at the repository root, a test build in a temporary folder, or a
package with extra resources (e.g. `country_indicators`) added later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.models.frames import join_tables
from ippmd.models.spec import ModelSpec, SpecError
from ippmd.package.read import BuiltPackage, read_package

MICRODATA = ("countries", "communities", "households", "persons")


@dataclass
class PackageData:
    """The microdata tables of one package, with joined views cached per (unit, joins)."""

    package: BuiltPackage
    tables: dict[str, pl.DataFrame]
    _joined: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, package_dir: Path) -> PackageData:
        """The package read through `ippmd.package.read` (every table's file checked against
        the descriptor's hash and its harmonized schema)."""
        package = read_package(package_dir)
        return cls(package, {name: package.read_table(name) for name in MICRODATA})

    @property
    def root(self) -> Path:
        return self.package.root

    @property
    def descriptor(self) -> Mapping[str, Any]:
        return self.package.descriptor

    @property
    def countries(self) -> list[str]:
        return sorted(self.tables["countries"]["iso3"].to_list())

    @property
    def country_names(self) -> dict[str, str]:
        return dict(self.tables["countries"].select("iso3", "name").iter_rows())

    def joined(self, unit: str, joins: tuple[str, ...] = ()) -> pl.DataFrame:
        """The unit's table with the declared tables joined on (persons -> households ->
        communities); a column already present on the left is kept from the left."""
        key = (unit, tuple(joins))
        if key not in self._joined:
            self._joined[key] = join_tables(self.tables, unit, joins)
        return self._joined[key]


def analysis_frame(spec: ModelSpec, data: PackageData) -> pl.DataFrame:
    """The estimation sample of a spec: joined, derived, filtered, complete cases only.

    Rows with a missing value in any model variable are dropped here, not inside the estimator,
    so that the sample (and the per-country counts reported next to each estimate) is explicit.
    """
    frame = data.joined(spec.unit, spec.joins)
    if spec.derived:
        frame = frame.with_columns(variable.expression() for variable in spec.derived)
    if not spec.keeps_all_rows:
        frame = frame.filter(pl.sql_expr(spec.sample).fill_null(False))
    missing = [c for c in spec.columns() if c not in frame.columns]
    if missing:
        raise SpecError(f"{spec.id}: columns {missing} not in {spec.unit} joined with {list(spec.joins)}")
    frame = frame.select(spec.columns()).drop_nulls()
    if spec.scale == "log" and spec.estimator == "poisson":
        if (frame[spec.outcome] < 0).any():
            raise SpecError(f"{spec.id}: a Poisson model needs {spec.outcome} >= 0")
        frame = frame.with_columns(pl.col(spec.outcome).cast(pl.Float64))
    elif spec.scale == "log":
        if (frame[spec.outcome] <= 0).any():
            raise SpecError(f"{spec.id}: log scale needs {spec.outcome} > 0 (restrict the sample)")
        frame = frame.with_columns(pl.col(spec.outcome).cast(pl.Float64).log().alias(spec.model_outcome))
    for name in spec.treatments:
        values = set(frame[name].unique().to_list())
        if not values <= {0, 1}:
            raise SpecError(f"{spec.id}: treatment {name} must be 0/1, found {sorted(values)[:5]}")
    # i(country, x) needs x as a 0/1 integer (not boolean); weights as floats.
    return frame.with_columns(
        *(pl.col(t).cast(pl.Int64) for t in spec.treatments),
        pl.col(spec.weights).cast(pl.Float64),
    )
