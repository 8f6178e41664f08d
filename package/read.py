"""One reader of a built package: datapackage.json and data/ as frozen, typed objects.

Every stage that reads a built package (benchmarks, extracts, tabulation, the site, diff and
check) opens it with `read_package`, so there is one error policy, one data hash and one rule
for a country's origin (after frictionless-py's Package/Resource and ipumspy's Codebook):

- no descriptor, or no data/ beside it (a clean checkout): the package is not built yet, a step
  to take (`UsageError`, exit 2);
- a descriptor that is not JSON, nested deeper than any package needs, or not of a package's
  shape, and a data file that is missing, edited or outside the package: a named problem of
  the data (`InputError`, exit 1) naming the file and the field. Never a traceback.

The typed objects keep their descriptor entry (`raw`) for the writers that copy it verbatim
(extracts, DDI); everything a reader decides on is a typed attribute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

import polars as pl

from ippmd.core.config import schema_problems
from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.i18n import language, t
from ippmd.core.io import (
    DESCRIPTOR,
    check_parquet_table,
    descriptor_build_options,
    descriptor_countries,
    read_descriptor,
    verified_file,
)
from ippmd.core.schema import RESOURCES
from ippmd.core.text import CONTROL_CHARS
from ippmd.package.hashes import data_hash as hash_of_resources

Origin = Literal["synthetic", "survey"]
SYNTHETIC, SURVEY = get_args(Origin)
FileKind = Literal["csv", "parquet"]
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
            raise self.problem(t("package.no-resource", name=repr(name)), field="resources")
        return self.resources[name]

    def file(self, table: str, kind: FileKind) -> Path:
        """A resource's CSV or Parquet file, inside the package and unchanged since the build
        (its SHA-256 is the descriptor's); a Parquet file is also held to its table's schema."""
        resource = self.resource(table)
        if kind == "csv":
            return verified_file(self.root, resource.raw)
        if resource.parquet_path is None:
            raise self.problem(t("package.no-parquet"), field=f"resources.{table}.parquet")
        path = check_parquet_table(verified_file(self.root, resource.raw["parquet"]), table)
        columns = pl.scan_parquet(path, glob=False).collect_schema().names()
        if columns != resource.field_names:
            gone = [n for n in resource.field_names if n not in columns]
            extra = [n for n in columns if n not in resource.field_names]
            detail = (
                t("package.fields-not-in-file", names=str(gone[:3]))
                if gone
                else t("package.fields-not-listed", names=str(extra[:3]))
                if extra
                else t("package.fields-order")
            )
            message = t("package.fields-not-columns", file=str(resource.parquet_path), detail=detail)
            raise self.problem(message, field=f"resources.{table}.schema.fields")
        rows = pl.scan_parquet(path, glob=False).select(pl.len()).collect().item()
        if rows != resource.rows:
            message = t("package.rows-differ", said=resource.rows, file=str(resource.parquet_path), rows=rows)
            raise self.problem(message, field=f"resources.{table}.rows")
        return path

    def partition_files(self, table: str, countries: Sequence[str]) -> list[Path]:
        """The verified Parquet partition files of `countries` (in that order) of a table
        partitioned by country: only those files are hashed, so reading one country of a census
        never reads the others."""
        resource = self.resource(table)
        by_country = {p.country: p for p in resource.partitions}
        files = []
        for country in countries:
            if country not in by_country:
                raise self.problem(
                    t("package.no-partition", country=country), field=f"resources.{table}.partitions"
                )
            part = by_country[country]
            files.append(verified_file(self.root, {"path": part.path, "hash": part.hash}))
        return files

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
    """Open a built package: its descriptor parsed (bounded in depth), held to the built-package
    schema (schemas/config/built-package.schema.json) and to itself (keys name fields that
    exist, the dataHash is its files'), then read into typed objects."""
    root = Path(package_dir)
    path = root / DESCRIPTOR
    descriptor = read_descriptor(root)
    if not (root / "data").is_dir():
        # A clean checkout carries the descriptor but not the data it describes: not built yet,
        # which is a step to take (exit 2), not a corrupt package (exit 1).
        raise UsageError(
            f"the package in {root} is not built yet (no data/ folder): run `ippmd build` (or `make`) first"
        )
    problems = _descriptor_problems(descriptor, path)
    if problems:
        raise InputError(problems)
    return _package(root, descriptor)


# Verdicts on descriptors already checked in this process, by path and content: the schema check
# costs about 0.1 s, and a command may open the same package more than once.
_VERDICTS: dict[tuple[str, str, str], list[Problem]] = {}


def _descriptor_problems(descriptor: dict[str, Any], path: Path) -> list[Problem]:
    key = (
        language(),  # the problems are worded in it
        str(path),
        hashlib.sha256(
            json.dumps(descriptor, ensure_ascii=False).encode("utf-8", "surrogatepass")
        ).hexdigest(),
    )
    if key not in _VERDICTS:
        if len(_VERDICTS) > 64:
            _VERDICTS.clear()
        problems = schema_problems(descriptor, "built-package", path, code=DESCRIPTOR_ERROR)
        problems = problems or _text_problems(descriptor, path) or _consistency_problems(descriptor, path)
        _VERDICTS[key] = problems
    return list(_VERDICTS[key])


DESCRIPTOR_ERROR = "descriptor-error"


def _fail(path: Path, message: str, field: str | None = None) -> InputError:
    return InputError([Problem(str(path), message, field=field, code=DESCRIPTOR_ERROR)])


def _text_problems(descriptor: dict[str, Any], path: Path) -> list[Problem]:
    """Control characters (terminal escapes, bidi overrides; tab and line feed allowed) and lone
    surrogates in any text of the descriptor: they would reach reports, charts, extracts and
    terminals, where they corrupt the output or cannot be encoded."""
    problems: list[Problem] = []
    stack: list[tuple[object, str]] = [(descriptor, "")]
    while stack and len(problems) < 10:
        value, where = stack.pop()
        if isinstance(value, dict):
            stack += [(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()]
            stack += [(k, f"{where} (a key)") for k in value if isinstance(k, str)]
        elif isinstance(value, list):
            stack += [(v, f"{where}[{i}]") for i, v in enumerate(value)]
        elif isinstance(value, str) and (
            any(c in CONTROL_CHARS and c not in "\t\n" for c in value)
            or any("\ud800" <= c <= "\udfff" for c in value)
        ):
            problems.append(
                Problem(
                    str(path),
                    t("package.control-character"),
                    field=where,
                    code=DESCRIPTOR_ERROR,
                )
            )
    return problems


def _consistency_problems(descriptor: dict[str, Any], path: Path) -> list[Problem]:
    """What a schema cannot say: resource names are distinct; keys, links and designs name fields
    that exist; the dataHash is the one its files' hashes give."""
    resources = descriptor["resources"]
    fields = {r["name"]: [f["name"] for f in r["schema"]["fields"]] for r in resources}
    problems: list[Problem] = []

    def add(message: str, where: str) -> None:
        problems.append(Problem(str(path), message, field=where, code=DESCRIPTOR_ERROR))

    if len(fields) != len(resources):
        add(t("package.resource-twice"), "resources")
    for table in RESOURCES:  # every built package holds the four microdata tables and countries
        if table not in fields:
            add(t("package.no-table", table=table), "resources")
    for resource in resources:
        name, schema = resource["name"], resource["schema"]
        where = f"resources.{name}"
        named = [("schema.primaryKey", schema.get("primaryKey", []))]
        design = resource.get("surveyDesign") or {}
        named += [(f"surveyDesign.{k}", v) for k, v in design.items() if v is not None]
        for i, key in enumerate(schema.get("foreignKeys", [])):
            named.append((f"schema.foreignKeys[{i}].fields", key["fields"]))
            other = key["reference"]["resource"]
            if other not in fields:
                add(
                    t("package.unknown-reference", resource=repr(other)),
                    f"{where}.schema.foreignKeys[{i}]",
                )
            else:
                missing = [n for n in _as_list(key["reference"]["fields"]) if n not in fields[other]]
                if missing:
                    add(
                        t("package.reference-no-field", resource=other, field=repr(missing[0])),
                        f"{where}.schema.foreignKeys[{i}].reference.fields",
                    )
        for key, names in named:
            missing = [n for n in _as_list(names) if n not in fields[name]]
            if missing:
                add(t("package.unknown-field", field=repr(missing[0])), f"{where}.{key}")
    if not problems and descriptor["dataHash"] != hash_of_resources(resources):
        add(t("package.data-hash"), "dataHash")
    return problems


def _as_list(names: str | list[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _package(root: Path, descriptor: dict[str, Any]) -> BuiltPackage:
    resources = {entry["name"]: _resource(entry) for entry in descriptor["resources"]}
    return BuiltPackage(
        root=root,
        descriptor=descriptor,
        name=descriptor["name"],
        version=descriptor["version"],
        data_hash=descriptor["dataHash"],
        synthetic=descriptor.get("synthetic") is not False,
        resources=MappingProxyType(resources),
    )


def _resource(entry: dict[str, Any]) -> Resource:
    """A resource entry, already held to the schema, as a typed Resource."""
    schema = entry["schema"]
    partitions = entry.get("partitions", {}).get("files", [])
    return Resource(
        name=entry["name"],
        title=entry["title"],
        path=entry["path"],
        hash=entry["hash"],
        rows=entry["rows"],
        synthetic=entry.get("synthetic") is not False,
        fields=tuple(_field(item) for item in schema["fields"]),
        primary_key=tuple(_as_list(schema.get("primaryKey", []))),
        foreign_keys=tuple(
            ForeignKey(
                fields=tuple(_as_list(key["fields"])),
                resource=key["reference"]["resource"],
                reference=tuple(_as_list(key["reference"]["fields"])),
            )
            for key in schema.get("foreignKeys", [])
        ),
        missing_values=MappingProxyType(
            {
                m if isinstance(m, str) else m["value"]: "" if isinstance(m, str) else m.get("label", "")
                for m in schema.get("missingValues", [])
            }
        ),
        design=survey_design(entry),
        parquet_path=entry["parquet"]["path"] if "parquet" in entry else None,
        partitions=tuple(
            Partition(country=f["country"], path=f["path"], rows=f.get("rows"), hash=f["hash"])
            for f in partitions
        ),
        raw=entry,
    )


def _field(entry: dict[str, Any]) -> Field:
    constraints = entry.get("constraints", {})
    return Field(
        name=entry["name"],
        type=entry["type"],
        title=entry.get("title", ""),
        description=entry.get("description", ""),
        required=constraints.get("required") is True,
        universe=entry.get("universe"),
        unit=entry.get("unit"),
        value_labels=MappingProxyType(
            {c["value"]: str(c.get("label", c["value"])) for c in entry.get("categories", [])}
        ),
        raw=entry,
    )
