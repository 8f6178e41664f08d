"""One reader of a built package: datapackage.json and data/ as frozen, typed objects.

Every stage that reads a built package (benchmarks, extracts, tabulation, the site, diff and
check) opens it with `read_package`, so there is one error policy, one data hash and one rule
for a country's origin (after frictionless-py's Package/Resource and ipumspy's Codebook):

- no descriptor: the package is not built yet, a step to take (`UsageError`, exit 2);
- a descriptor that is not JSON, nested deeper than any package needs, or not of a package's
  shape, and a data file that is missing, edited or outside the package: a named problem of
  the data (`InputError`, exit 1) naming the file and the field. Never a traceback.

The typed objects keep their descriptor entry (`raw`) for the writers that copy it verbatim
(extracts, DDI); everything a reader decides on is a typed attribute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.core.io import (
    DESCRIPTOR,
    check_parquet_table,
    descriptor_build_options,
    descriptor_countries,
    read_descriptor,
    verified_file,
)
from ippmd.package.write import data_hash as hash_of_resources

Origin = Literal["synthetic", "survey"]
SYNTHETIC, SURVEY = get_args(Origin)
FileKind = Literal["csv", "parquet"]
HASH_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
NULL_MARKERS = ["", "NIU"]


def origin_of(value: object) -> Origin:
    """The one rule for a country's origin: only an explicit "survey" is survey data; anything
    else (missing, empty, an unknown word) is synthetic, so nothing is ever presented as real
    by accident."""
    return SURVEY if value == SURVEY else SYNTHETIC


def combined_origin(countries: list[str] | set[str] | tuple[str, ...], origins: Mapping[str, str]) -> Origin:
    """The origin of a figure computed from several countries: synthetic if any of them is."""
    if not countries or any(origin_of(origins.get(c)) != SURVEY for c in countries):
        return SYNTHETIC
    return SURVEY


# ---------------------------------------------------------------------------- typed objects


@dataclass(frozen=True)
class SurveyDesign:
    """Weight, PSU and stratum fields of one table (None weight: every unit weighs 1)."""

    table: str
    weight: str | None
    psu: str
    strata: str | None
    declared: bool  # read from datapackage.json (else the documented default)

    def fields(self) -> list[str]:
        return [f for f in (self.weight, self.psu, self.strata) if f]

    def describe(self) -> str:
        """One sentence for notes under a table and for the site."""
        weight = f"weight `{self.weight}`" if self.weight else "equal weights"
        strata = f"strata country x `{self.strata}`" if self.strata else "strata = country"
        origin = "declared in datapackage.json" if self.declared else "the documented default design"
        return f"{weight}, PSU `{self.psu}`, {strata} ({origin})"


# The default design of each microdata table (weight, psu, strata) when none is declared:
# households are weighted by `weight`, sampled in communities (the PSU) within regions (the
# stratum); persons and emigrants take those fields from their household; communities weigh 1.
DEFAULT_DESIGNS: dict[str, tuple[str | None, str, str | None]] = {
    "households": ("weight", "community_id", "region_code"),
    "persons": ("weight", "community_id", "region_code"),
    "emigrants": ("weight", "community_id", "region_code"),
    "communities": (None, "community_id", "region_code"),
}


def survey_design(resource: Mapping[str, Any]) -> SurveyDesign | None:
    """The resource's declared `surveyDesign`, else the default; None for a non-survey table."""
    name = str(resource["name"])
    declared = resource.get("surveyDesign")
    if isinstance(declared, dict) and isinstance(declared.get("psu"), str) and declared["psu"]:
        return SurveyDesign(
            table=name,
            weight=str(declared["weight"]) if declared.get("weight") else None,
            psu=declared["psu"],
            strata=str(declared["strata"]) if declared.get("strata") else None,
            declared=True,
        )
    if name not in DEFAULT_DESIGNS:
        return None
    weight, psu, strata = DEFAULT_DESIGNS[name]
    return SurveyDesign(table=name, weight=weight, psu=psu, strata=strata, declared=False)


@dataclass(frozen=True)
class Field:
    """One column of a table: its type, labels, universe and value labels (code -> label)."""

    name: str
    type: str
    title: str
    description: str
    required: bool
    universe: str | None
    unit: str | None
    value_labels: Mapping[object, str]
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class ForeignKey:
    """Fields of this table referencing fields of another table of the package."""

    fields: tuple[str, ...]
    resource: str
    reference: tuple[str, ...]


@dataclass(frozen=True)
class Partition:
    """One country's Parquet file of a table partitioned by country (hive layout)."""

    country: str
    path: str
    rows: int | None
    hash: str


@dataclass(frozen=True)
class Resource:
    """One table of the package: its files, schema, survey design and partitions."""

    name: str
    title: str
    path: str
    hash: str
    rows: int | None
    synthetic: bool
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    missing_values: Mapping[str, str]
    design: SurveyDesign | None
    parquet_path: str | None
    partitions: tuple[Partition, ...]
    raw: Mapping[str, Any]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


@dataclass(frozen=True)
class BuiltPackage:
    """A built ippmd package folder (datapackage.json + data/), read once and checked."""

    root: Path
    descriptor: Mapping[str, Any]
    name: str
    version: str
    data_hash: str  # the descriptor's `dataHash`: the one string every output cites
    synthetic: bool
    resources: Mapping[str, Resource]

    @property
    def descriptor_path(self) -> Path:
        return self.root / DESCRIPTOR

    def problem(self, message: str, field: str | None = None, value: str | None = None) -> InputError:
        return InputError(
            [Problem(str(self.descriptor_path), message, field=field, value=value, code="descriptor-error")]
        )

    @cached_property
    def countries(self) -> tuple[str, ...]:
        """The descriptor's `countries` (distinct ISO3 codes), checked when first asked for."""
        return tuple(descriptor_countries(self.root, dict(self.descriptor)))

    @cached_property
    def build_options(self) -> Mapping[str, int]:
        """The build's seed and scale (for rebuilding it), checked."""
        return MappingProxyType(descriptor_build_options(self.root, dict(self.descriptor)))

    def resource(self, name: str) -> Resource:
        """A table the package must have; its absence is a problem of the package (exit 1)."""
        if name not in self.resources:
            raise self.problem(f"lists no resource {name!r}", field="resources")
        return self.resources[name]

    def file(self, table: str, kind: FileKind) -> Path:
        """A resource's CSV or Parquet file, inside the package and unchanged since the build
        (its SHA-256 is the descriptor's); a Parquet file is also held to its table's schema."""
        resource = self.resource(table)
        if kind == "csv":
            return verified_file(self.root, resource.raw)
        if resource.parquet_path is None:
            raise self.problem(f"resource {table!r} lists no Parquet file", field=f"{table}.parquet")
        return check_parquet_table(verified_file(self.root, resource.raw["parquet"]), table)

    def verify(self) -> None:
        """Every Parquet file checked (hash and schema) before a command reads the package."""
        for name, resource in self.resources.items():
            if resource.parquet_path is not None:
                self.file(name, "parquet")

    def read_table(self, name: str, columns: list[str] | None = None) -> pl.DataFrame:
        """A table as a frame: its verified Parquet copy, else its CSV (typed by the schema;
        empty and NIU cells are null)."""
        resource = self.resource(name)
        if resource.parquet_path is not None:
            return pl.read_parquet(self.file(name, "parquet"), columns=columns, glob=False)
        types = {"integer": pl.Int64, "number": pl.Float64, "string": pl.String}
        overrides = {f.name: types.get(f.type, pl.String) for f in resource.fields}
        frame = pl.read_csv(
            self.file(name, "csv"),
            null_values=NULL_MARKERS,
            schema_overrides=overrides or None,
            infer_schema=bool(overrides),
            glob=False,
        )
        return frame.select(columns) if columns is not None else frame

    @cached_property
    def country_table(self) -> pl.DataFrame:
        """iso3, name and data_origin of every packaged country (the `countries` table)."""
        if "countries" not in self.resources:
            listed = list(self.countries)
            return pl.DataFrame({"iso3": listed, "name": listed, "data_origin": [SYNTHETIC] * len(listed)})
        table = self.read_table("countries")
        if "data_origin" not in table.columns:
            table = table.with_columns(pl.lit(SYNTHETIC).alias("data_origin"))
        return table.select("iso3", "name", "data_origin")

    @cached_property
    def country_names(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self.country_table.select("iso3", "name").iter_rows()))

    @cached_property
    def origins(self) -> Mapping[str, Origin]:
        """iso3 -> "synthetic" or "survey", from the countries table, by `origin_of`."""
        rows = self.country_table.select("iso3", "data_origin").iter_rows()
        return MappingProxyType({str(iso3): origin_of(origin) for iso3, origin in rows})

    def origin(self, iso3: str) -> Origin:
        return self.origins.get(iso3, SYNTHETIC)

    @property
    def synthetic_countries(self) -> list[str]:
        return [c for c, origin in self.origins.items() if origin == SYNTHETIC]

    def survey_tables(self) -> list[str]:
        """Tables with a survey design (declared or default), in package order."""
        return [n for n, r in self.resources.items() if r.design is not None]

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources.values())


# ---------------------------------------------------------------------------- reading


def read_package(package_dir: Path | str) -> BuiltPackage:
    """Open a built package: its descriptor parsed, bounded in depth and checked for shape."""
    root = Path(package_dir)
    return _package(root, root / DESCRIPTOR, read_descriptor(root))


def _fail(path: Path, message: str, field: str | None = None) -> InputError:
    return InputError([Problem(str(path), message, field=field, code="descriptor-error")])


def _text(entry: Mapping[str, Any], key: str, path: Path, where: str, required: bool = True) -> str:
    value = entry.get(key)
    if isinstance(value, str) and (value or not required):
        return value
    if value is None and not required:
        return ""
    raise _fail(path, "missing or not a non-empty text", field=f"{where}.{key}")


def _count(entry: Mapping[str, Any], key: str, path: Path, where: str) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(path, "not a whole number >= 0", field=f"{where}.{key}")
    return value


def _package(root: Path, path: Path, descriptor: dict[str, Any]) -> BuiltPackage:
    listed = descriptor.get("resources")
    if not isinstance(listed, list):
        raise _fail(path, "not a data package descriptor (no resources list)", field="resources")
    resources: dict[str, Resource] = {}
    for index, entry in enumerate(listed):
        resource = _resource(entry, path, f"resources[{index}]")
        if resource.name in resources:
            raise _fail(path, f"resource {resource.name!r} is listed twice", field=f"resources[{index}].name")
        resources[resource.name] = resource
    stated = descriptor.get("dataHash")
    if stated is None:  # a package built before dataHash: the same hash, from the recorded file hashes
        stated = hash_of_resources([dict(r.raw) for r in resources.values()])
    if not isinstance(stated, str) or not HASH_PATTERN.fullmatch(stated):
        raise _fail(path, "not 'sha256:' and 64 hexadecimal digits", field="dataHash")
    version = descriptor.get("version", "")
    return BuiltPackage(
        root=root,
        descriptor=descriptor,
        name=str(descriptor.get("name", "")),
        version=version if isinstance(version, str) else str(version),
        data_hash=stated,
        synthetic=descriptor.get("synthetic") is not False,
        resources=MappingProxyType(resources),
    )


def _resource(entry: object, path: Path, where: str) -> Resource:
    if not isinstance(entry, dict):
        raise _fail(path, "not a resource (a JSON object)", field=where)
    name = _text(entry, "name", path, where)
    schema = entry.get("schema", {})
    if not isinstance(schema, dict) or not isinstance(schema.get("fields", []), list):
        raise _fail(path, "not a Table Schema with a fields list", field=f"{where}.schema")
    fields = tuple(
        _field(item, path, f"{where}.schema.fields[{i}]") for i, item in enumerate(schema.get("fields", []))
    )
    parquet = entry.get("parquet")
    if parquet is not None and not (isinstance(parquet, dict) and isinstance(parquet.get("path"), str)):
        raise _fail(path, "not a file entry with a path", field=f"{where}.parquet")
    return Resource(
        name=name,
        title=_text(entry, "title", path, where, required=False) or name,
        path=_text(entry, "path", path, where),
        hash=_text(entry, "hash", path, where, required=False),
        rows=_count(entry, "rows", path, where),
        synthetic=entry.get("synthetic") is not False,
        fields=fields,
        primary_key=_names(schema.get("primaryKey", []), path, f"{where}.schema.primaryKey"),
        foreign_keys=_foreign_keys(schema.get("foreignKeys", []), path, f"{where}.schema.foreignKeys"),
        missing_values=_missing_values(
            schema.get("missingValues", []), path, f"{where}.schema.missingValues"
        ),
        design=survey_design(entry),
        parquet_path=parquet["path"] if parquet is not None else None,
        partitions=_partitions(entry.get("partitions"), path, f"{where}.partitions"),
        raw=entry,
    )


def _field(entry: object, path: Path, where: str) -> Field:
    if not isinstance(entry, dict):
        raise _fail(path, "not a field (a JSON object)", field=where)
    constraints = entry.get("constraints", {})
    categories = entry.get("categories", [])
    if not isinstance(constraints, dict) or not isinstance(categories, list):
        raise _fail(path, "constraints must be an object and categories a list", field=where)
    labels: dict[object, str] = {}
    for i, category in enumerate(categories):
        if not isinstance(category, dict) or "value" not in category:
            raise _fail(path, "not a category with a value", field=f"{where}.categories[{i}]")
        labels[category["value"]] = str(category.get("label", category["value"]))
    universe, unit = entry.get("universe"), entry.get("unit")
    return Field(
        name=_text(entry, "name", path, where),
        type=_text(entry, "type", path, where, required=False) or "string",
        title=_text(entry, "title", path, where, required=False),
        description=_text(entry, "description", path, where, required=False),
        required=constraints.get("required") is True,
        universe=universe if isinstance(universe, str) else None,
        unit=unit if isinstance(unit, str) else None,
        value_labels=MappingProxyType(labels),
        raw=entry,
    )


def _names(value: object, path: Path, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, "not a list of field names", field=where)
    return tuple(value)


def _foreign_keys(value: object, path: Path, where: str) -> tuple[ForeignKey, ...]:
    if not isinstance(value, list):
        raise _fail(path, "not a list of foreign keys", field=where)
    keys = []
    for i, item in enumerate(value):
        reference = item.get("reference") if isinstance(item, dict) else None
        if not isinstance(reference, dict) or not isinstance(reference.get("resource"), str):
            raise _fail(path, "not a foreign key with a referenced resource", field=f"{where}[{i}]")
        keys.append(
            ForeignKey(
                fields=_names(item.get("fields"), path, f"{where}[{i}].fields"),
                resource=reference["resource"],
                reference=_names(reference.get("fields"), path, f"{where}[{i}].reference.fields"),
            )
        )
    return tuple(keys)


def _missing_values(value: object, path: Path, where: str) -> Mapping[str, str]:
    if not isinstance(value, list):
        raise _fail(path, "not a list of missing values", field=where)
    found: dict[str, str] = {}
    for i, item in enumerate(value):
        if isinstance(item, str):
            found[item] = ""
        elif isinstance(item, dict) and isinstance(item.get("value"), str):
            found[item["value"]] = str(item.get("label", ""))
        else:
            raise _fail(path, "not a missing value (text, or value and label)", field=f"{where}[{i}]")
    return MappingProxyType(found)


def _partitions(value: object, path: Path, where: str) -> tuple[Partition, ...]:
    if value is None:
        return ()
    files = value.get("files") if isinstance(value, dict) else None
    if not isinstance(files, list):
        raise _fail(path, "not a partition layout with a files list", field=where)
    partitions = []
    for i, item in enumerate(files):
        here = f"{where}.files[{i}]"
        if not isinstance(item, dict):
            raise _fail(path, "not a partition file entry", field=here)
        partitions.append(
            Partition(
                country=_text(item, "country", path, here),
                path=_text(item, "path", path, here),
                rows=_count(item, "rows", path, here),
                hash=_text(item, "hash", path, here, required=False),
            )
        )
    return tuple(partitions)
