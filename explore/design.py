"""The package's tables read with their links, for tabulation and the site.

The package is opened by `ippmd.package.read` (one reader, one error policy); the survey design
of each table (weight, PSU, stratum: declared per resource as `surveyDesign`, else the
documented default `DEFAULT_DESIGNS`) is read there too and re-exported here.

Countries are separate samples: the stratum used is country x stratum, PSUs are nested in it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.errors import UsageError
from ippmd.core.i18n import t
from ippmd.package.read import DEFAULT_DESIGNS, SurveyDesign, read_package, survey_design

__all__ = ["DEFAULT_DESIGNS", "Column", "Package", "SurveyDesign", "suggest", "survey_design"]

COUNTRY = "country"
# Joined through foreign keys for columns a table lacks; `countries` is metadata, never joined
# (its count columns `households`, `persons` would read as microdata).
NOT_JOINED = frozenset({"countries", "country_indicators"})


def suggest(word: str, candidates: Iterable[str]) -> str:
    """'; did you mean ...?' from close matches (difflib), or nothing."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=3, cutoff=0.6)
    return t("cli.did-you-mean", names=t("cli.or").join(repr(m) for m in matches)) if matches else ""


@dataclass(frozen=True)
class Column:
    """A column a table can use: its own field, or a field of a table it links to."""

    name: str
    owner: str  # the table whose schema defines it
    field: dict[str, Any]


class Package:
    """A built package folder: resources, schemas, and tables read with linked columns."""

    def __init__(self, root: Path) -> None:
        self.built = read_package(root)
        self.root = self.built.root
        self.descriptor = self.built.descriptor
        self.resources: dict[str, Mapping[str, Any]] = {n: r.raw for n, r in self.built.resources.items()}
        self._frames: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}
        self._checked: dict[str, Path] = {}

    @cached_property
    def survey_tables(self) -> list[str]:
        """Tables with a survey design (declared or default), in package order."""
        return self.built.survey_tables()

    def design(self, table: str) -> SurveyDesign:
        design = survey_design(self.resource(table))
        if design is None:
            raise UsageError(
                f"table {table!r} has no survey design (it is not sampled microdata); "
                f"tabulate one of: {', '.join(self.survey_tables)}"
            )
        return design

    def resource(self, table: str) -> Mapping[str, Any]:
        if table not in self.resources:
            raise UsageError(
                f"no table {table!r} in the package{suggest(table, self.resources)} "
                f"(tables: {', '.join(self.resources)})"
            )
        return self.resources[table]

    def fields(self, table: str) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in self.resource(table)["schema"]["fields"]}

    def parents(self, table: str) -> list[tuple[list[str], str, list[str]]]:
        """(fields here, referenced table, fields there) of each joinable foreign key."""
        links = []
        for fk in self.resource(table)["schema"].get("foreignKeys", []):
            other = fk["reference"]["resource"]
            if other in self.resources and other not in NOT_JOINED:
                links.append((list(fk["fields"]), other, list(fk["reference"]["fields"])))
        return links

    def columns(self, table: str) -> dict[str, Column]:
        """Every column usable with `table`: its own, then those of linked tables (nearest first)."""
        found: dict[str, Column] = {}
        queue, seen = [table], set()
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            for name, field in self.fields(current).items():
                found.setdefault(name, Column(name, current, field))
            queue += [other for _, other, _ in self.parents(current)]
        return found

    def check_columns(self, table: str, names: Sequence[str], what: str) -> None:
        """Unknown names are a usage error naming the close matches (and where a name lives)."""
        known = self.columns(table)
        for name in names:
            if name in known:
                continue
            elsewhere = [t for t in self.resources if name in self.fields(t)]
            hint = (
                f"; {name!r} is in table {elsewhere[0]!r} (use --table {elsewhere[0]})" if elsewhere else ""
            )
            raise UsageError(f"unknown {what} {name!r} for table {table!r}{suggest(name, known)}{hint}")

    def parquet_path(self, table: str) -> Path:
        """The table's Parquet file, checked (hash, schema, rows) once per package object."""
        self.resource(table)  # an unknown table is a usage error naming the close matches
        if table not in self._checked:
            self._checked[table] = self.built.file(table, "parquet")
        return self._checked[table]

    def read(self, table: str, names: Sequence[str]) -> pl.DataFrame:
        """`table`'s rows with the named columns, those it lacks joined from the tables it links
        to (left joins on the foreign keys: one row per row of `table`, in file order)."""
        key = (table, tuple(dict.fromkeys(names)))
        if key not in self._frames:
            self._frames[key] = self._read(table, list(key[1]))
        return self._frames[key]

    def _read(self, table: str, names: list[str]) -> pl.DataFrame:
        own = self.fields(table)
        here = [n for n in names if n in own]
        missing = [n for n in names if n not in own]
        plan: list[tuple[list[str], str, list[str], list[str]]] = []
        for local, other, remote in self.parents(table):
            if not missing:
                break
            reachable = self.columns(other)
            taken = [n for n in missing if n in reachable]
            if taken:
                plan.append((local, other, remote, taken))
                missing = [n for n in missing if n not in taken]
        if missing:
            raise UsageError(f"table {table!r} has no column {missing[0]!r}{suggest(missing[0], own)}")
        keys = [k for local, *_ in plan for k in local]
        frame = pl.read_parquet(
            self.parquet_path(table), columns=list(dict.fromkeys(here + keys)), glob=False
        )
        for local, other, remote, taken in plan:
            parent = self.read(other, list(dict.fromkeys(remote + taken)))
            parent = parent.rename(dict(zip(remote, local, strict=True)))
            frame = frame.join(parent, on=local, how="left", maintain_order="left")
        return frame.select(names)
