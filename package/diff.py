"""What changed between two builds of the package (`ippmd diff OLD NEW`).

Why: a new release must say what it changes. Rows are matched on each table's primary key, so
a row is *added* (key only in NEW), *removed* (key only in OLD) or *changed* (same key, some
value differs; nulls compare equal), counted per table and country, with the columns that
changed most; the schema is compared field by field (added, removed, changed properties).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.package.read import read_package


@dataclass
class TableDiff:
    """The differences of one table between two packages."""

    name: str
    by_country: list[dict[str, Any]] = field(default_factory=list)  # country, added, removed, changed
    changed_columns: dict[str, int] = field(default_factory=dict)  # column -> rows changed
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_changed: dict[str, list[str]] = field(default_factory=dict)  # field -> properties
    only_in: str | None = None  # "old" or "new" when the table is in one package only

    @property
    def changes(self) -> int:
        rows = sum(c["added"] + c["removed"] + c["changed"] for c in self.by_country)
        schema = len(self.fields_added) + len(self.fields_removed) + len(self.fields_changed)
        return rows + schema + (1 if self.only_in else 0)


@dataclass
class PackageDiff:
    old_version: str | None
    new_version: str | None
    old_hash: str | None
    new_hash: str | None
    tables: list[TableDiff]

    @property
    def identical(self) -> bool:
        return all(t.changes == 0 for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "old": {"version": self.old_version, "dataHash": self.old_hash},
            "new": {"version": self.new_version, "dataHash": self.new_hash},
            "identical": self.identical,
            "tables": [t.__dict__ for t in self.tables],
        }

    def describe(self) -> str:
        """Markdown: one section per table with changes."""
        lines = [
            f"# Changes from {self.old_version} ({self.old_hash}) to {self.new_version} ({self.new_hash})",
            "",
        ]
        if self.identical:
            return "\n".join([*lines, "No change: same rows, values and schemas.", ""])
        for table in self.tables:
            if table.changes == 0:
                continue
            lines += [f"## {table.name}", ""]
            if table.only_in:
                lines += [f"Only in the {table.only_in} package.", ""]
                continue
            for label, names in (
                ("Fields added", table.fields_added),
                ("Fields removed", table.fields_removed),
            ):
                if names:
                    lines.append(f"{label}: {', '.join(f'`{n}`' for n in names)}.")
            for name, props in table.fields_changed.items():
                lines.append(f"Field `{name}` changed: {', '.join(props)}.")
            rows = [c for c in table.by_country if c["added"] or c["removed"] or c["changed"]]
            if rows:
                lines += ["", "| country | added | removed | changed |", "|---|---:|---:|---:|"]
                lines += [
                    f"| {c['country']} | {c['added']:,} | {c['removed']:,} | {c['changed']:,} |" for c in rows
                ]
            if table.changed_columns:
                top = sorted(table.changed_columns.items(), key=lambda kv: (-kv[1], kv[0]))
                lines += ["", "Values changed: " + ", ".join(f"`{c}` {n:,}" for c, n in top) + "."]
            lines.append("")
        return "\n".join(lines)


def _fields(resource: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in resource["schema"]["fields"]}


def _country_column(columns: list[str]) -> str | None:
    return next((c for c in ("country", "iso3") if c in columns), None)


def _compare_rows(old: pl.DataFrame, new: pl.DataFrame, keys: list[str], diff: TableDiff) -> None:
    country = _country_column(new.columns) or _country_column(old.columns)
    shared = [c for c in old.columns if c in new.columns and c not in keys]
    both = old.join(new, on=keys, how="inner", suffix="__new", nulls_equal=True)
    changed_flags = {
        c: ~pl.col(c).eq_missing(pl.col(f"{c}__new")) for c in shared if old.schema[c] == new.schema[c]
    }
    changed_flags |= {  # a type change: compare as text
        c: ~pl.col(c).cast(pl.String).eq_missing(pl.col(f"{c}__new").cast(pl.String))
        for c in shared
        if old.schema[c] != new.schema[c]
    }
    flagged = both.select(
        *([pl.col(country)] if country else []),
        **{f"__{c}": expr for c, expr in changed_flags.items()},
    )
    any_change = (
        pl.any_horizontal(pl.col(f"__{c}") for c in changed_flags) if changed_flags else pl.lit(False)
    )
    flagged = flagged.with_columns(__any=any_change)
    diff.changed_columns = {c: n for c in changed_flags if (n := int(flagged[f"__{c}"].sum())) > 0}
    added = new.join(old.select(keys), on=keys, how="anti", nulls_equal=True)
    removed = old.join(new.select(keys), on=keys, how="anti", nulls_equal=True)

    def count(frame: pl.DataFrame, name: str, where: pl.Expr | None = None) -> dict[str, int]:
        scoped = frame.filter(where) if where is not None else frame
        if not country:
            return {"all": scoped.height}
        return dict(scoped.group_by(country).agg(pl.len().alias(name)).iter_rows())

    added_n, removed_n = count(added, "added"), count(removed, "removed")
    changed_n = count(flagged, "changed", pl.col("__any"))
    countries = sorted(set(added_n) | set(removed_n) | set(changed_n) | set(count(both, "rows")))
    diff.by_country = [
        {
            "country": c,
            "added": added_n.get(c, 0),
            "removed": removed_n.get(c, 0),
            "changed": changed_n.get(c, 0),
        }
        for c in countries
    ]


def _compare_schema(old: Mapping[str, Any], new: Mapping[str, Any], diff: TableDiff) -> None:
    old_fields, new_fields = _fields(old), _fields(new)
    diff.fields_added = [n for n in new_fields if n not in old_fields]
    diff.fields_removed = [n for n in old_fields if n not in new_fields]
    for name in (n for n in new_fields if n in old_fields):
        props = sorted(
            key
            for key in set(old_fields[name]) | set(new_fields[name])
            if json.dumps(old_fields[name].get(key), sort_keys=True)
            != json.dumps(new_fields[name].get(key), sort_keys=True)
        )
        if props:
            diff.fields_changed[name] = props


def diff_packages(old_dir: Path, new_dir: Path) -> PackageDiff:
    """Compare two built packages table by table (rows by primary key, and schemas)."""
    old_pkg, new_pkg = read_package(old_dir), read_package(new_dir)
    old_res = {name: r.raw for name, r in old_pkg.resources.items()}
    new_res = {name: r.raw for name, r in new_pkg.resources.items()}
    tables = []
    for name in [*new_res, *(n for n in old_res if n not in new_res)]:
        diff = TableDiff(name)
        tables.append(diff)
        if name not in old_res or name not in new_res:
            diff.only_in = "new" if name in new_res else "old"
            continue
        _compare_schema(old_res[name], new_res[name], diff)
        keys = new_res[name]["schema"].get("primaryKey", [])
        old_frame, new_frame = old_pkg.read_table(name), new_pkg.read_table(name)
        if not keys or any(k not in old_frame.columns for k in keys):
            keys = [c for c in new_frame.columns if c in old_frame.columns]  # whole rows
        _compare_rows(old_frame, new_frame, keys, diff)
    return PackageDiff(
        old_pkg.version,
        new_pkg.version,
        old_pkg.data_hash,
        new_pkg.data_hash,
        tables,
    )
