"""The built package an extract is cut from: its descriptor, its files and their integrity.

An extract promises to be a faithful subset of one exact package, so it reads the descriptor
once, checks every file it uses against the recorded SHA-256 and names that package by a hash
of its data (recorded in the extract's manifest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.package.read import BuiltPackage, FileKind, read_package


@dataclass(frozen=True)
class Source:
    """A built ippmd package as the extract writers see it: resources as their descriptor
    entries (copied into the extract's own descriptor), read through `ippmd.package.read`."""

    package: BuiltPackage

    @property
    def root(self) -> Path:
        return self.package.root

    @property
    def descriptor(self) -> Mapping[str, Any]:
        return self.package.descriptor

    @property
    def descriptor_path(self) -> Path:
        return self.package.descriptor_path

    @cached_property
    def resources(self) -> dict[str, Mapping[str, Any]]:
        """Resources by name, in the package's order (referenced tables first)."""
        return {name: resource.raw for name, resource in self.package.resources.items()}

    @cached_property
    def countries(self) -> list[str]:
        return list(self.package.countries)

    @property
    def country_table(self) -> pl.DataFrame:
        return self.package.country_table

    @property
    def country_names(self) -> Mapping[str, str]:
        return self.package.country_names

    @property
    def data_origins(self) -> Mapping[str, str]:
        return self.package.origins

    def data_hash(self) -> str:
        """The descriptor's `dataHash`: the one string naming the package's data."""
        return self.package.data_hash

    def file(self, table: str, kind: FileKind) -> Path:
        """A resource's file, checked against the descriptor's hash: a file edited or rebuilt
        since datapackage.json was written would make the extract's provenance a lie."""
        return self.package.file(table, kind)


def open_package(package_dir: Path) -> Source:
    """Read a built package (`ippmd.package.read.read_package`: one error policy)."""
    return Source(read_package(package_dir))
