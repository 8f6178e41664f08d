"""The built package an extract is cut from: its descriptor, its files and their integrity.

An extract promises to be a faithful subset of one exact package, so it reads the descriptor
once, checks every file it uses against the recorded SHA-256 and names that package by a hash
of its data (recorded in the extract's manifest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.core.io import check_parquet_table, verified_file
from ippmd.package.write import data_hash

DESCRIPTOR = "datapackage.json"


@dataclass(frozen=True)
class Source:
    """A built ippmd package folder (datapackage.json + data/)."""

    root: Path
    descriptor: dict[str, Any]

    @property
    def descriptor_path(self) -> Path:
        return self.root / DESCRIPTOR

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        """Resources by name, in the package's order (referenced tables first)."""
        return {r["name"]: r for r in self.descriptor["resources"]}

    @cached_property
    def countries(self) -> list[str]:
        return list(self.descriptor.get("countries", []))

    @cached_property
    def country_table(self) -> pl.DataFrame:
        """iso3, name and data_origin of every packaged country (for labels and the notice)."""
        resource = self.resources.get("countries")
        if resource is None:
            return pl.DataFrame(
                {
                    "iso3": self.countries,
                    "name": self.countries,
                    "data_origin": ["synthetic"] * len(self.countries),
                }
            )
        return pl.read_parquet(
            self.root / resource["parquet"]["path"], columns=["iso3", "name", "data_origin"], glob=False
        )

    @cached_property
    def country_names(self) -> dict[str, str]:
        return dict(self.country_table.select("iso3", "name").iter_rows())

    @cached_property
    def data_origins(self) -> dict[str, str]:
        return dict(self.country_table.select("iso3", "data_origin").iter_rows())

    def data_hash(self) -> str:
        """One hash naming the package's data (ippmd.package.write.data_hash): the descriptor's
        `dataHash`, recomputed from the recorded file hashes for packages built before it."""
        return self.descriptor.get("dataHash") or data_hash(self.descriptor["resources"])

    def file(self, table: str, kind: str) -> Path:
        """Path of a resource's `csv` or `parquet` file, checked against the descriptor's hash.

        A file edited or rebuilt since datapackage.json was written would make the extract's
        provenance a lie, so it stops the extract instead.
        """
        resource = self.resources[table]
        if kind == "csv":
            return verified_file(self.root, resource)
        return check_parquet_table(verified_file(self.root, resource["parquet"]), table)


def open_package(package_dir: Path) -> Source:
    """Read a built package; a folder without a usable datapackage.json is an input error."""
    root = Path(package_dir)
    path = root / DESCRIPTOR
    if not path.is_file():
        raise InputError([Problem(str(path), "no package here: run `ippmd build` first")])
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError([Problem(str(path), f"not a readable JSON descriptor ({exc})")]) from exc
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        raise InputError([Problem(str(path), "descriptor has no resources list")])
    return Source(root=root, descriptor=descriptor)
