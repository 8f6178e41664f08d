"""The data model: every schema is a valid Table Schema (v2 profile and frictionless-py)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from frictionless import Schema

from ippmd.core.home import schemas_dir
from ippmd.core.schema import RESOURCES, SUBMISSION_TABLES

SCHEMA_FILES = [schemas_dir("harmonized") / f"{r}.json" for r in RESOURCES] + [
    schemas_dir("submission") / f"{t}.json" for t in SUBMISSION_TABLES
]


def _profile(name: str) -> dict:
    return json.loads((schemas_dir("profiles", "datapackage-2.0") / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_schema_is_valid_table_schema(path: Path) -> None:
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(descriptor, _profile("tableschema.json"))
    schema = Schema.from_descriptor(descriptor)  # frictionless-py's own checks
    assert schema.primary_key, f"{path.name} declares no primary key"
    names = [f["name"] for f in descriptor["fields"]]
    assert len(names) == len(set(names)), f"duplicate field names in {path.name}"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_categories_agree_with_enum(path: Path) -> None:
    for field in json.loads(path.read_text(encoding="utf-8"))["fields"]:
        if "categories" in field:
            assert [c["value"] for c in field["categories"]] == field["constraints"]["enum"], field["name"]
            assert all(c.get("label") for c in field["categories"]), field["name"]


def test_universes_name_existing_fields() -> None:
    import polars as pl

    from ippmd.core.schema import harmonized_schema, polars_schema

    for resource in RESOURCES:
        schema = harmonized_schema(resource)
        empty = pl.DataFrame(schema=polars_schema(schema))
        for field in schema["fields"]:
            if "universe" in field:
                empty.select(pl.sql_expr(field["universe"]))  # raises on unknown columns


def test_money_fields_carry_units() -> None:
    from ippmd.core.schema import harmonized_schema

    fields = harmonized_schema("households")["fields"]
    for field in fields:
        if field["name"].endswith("_usd"):
            assert field["unit"] == "USD per year"
            assert any(f["name"] == field["name"].replace("_usd", "_lcu") for f in fields)
