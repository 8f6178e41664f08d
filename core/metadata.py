"""Country metadata: `countries/<ISO3>/country.yaml` and a submission's `metadata.yaml`."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.home import countries_dir, package_data, schemas_dir
from ippmd.core.io import load_user_yaml, load_yaml


def country_codes() -> list[str]:
    """ISO3 codes of the countries with a `country.yaml`, sorted."""
    codes = sorted(p.parent.name for p in countries_dir().glob("*/country.yaml"))
    if not codes:
        raise UsageError(f"ippmd is not installed completely: no country metadata in {countries_dir()}")
    return codes


@cache
def load_country(iso3: str) -> dict[str, Any]:
    """The full country metadata (submission block, published sizes, targets, sources)."""
    path = countries_dir() / iso3 / "country.yaml"
    if not path.exists():
        known = ", ".join(country_codes())
        raise InputError([Problem(str(path), f"no country metadata for {iso3!r}; known: {known}")])
    return load_yaml(path.read_text(encoding="utf-8"))


def source_citation(country: dict[str, Any], entry: dict[str, Any]) -> str:
    """The citation behind a value, or 'assumed' with its note."""
    if entry.get("assumed"):
        note = entry.get("note")
        return f"assumed ({note})" if note else "assumed"
    source = country["sources"][entry["source"]]
    return f"{source['citation']} ({source['url']})"


@cache
def _metadata_schema() -> dict[str, Any]:
    import json

    return json.loads(schemas_dir("submission", "metadata.schema.json").read_text(encoding="utf-8"))


@cache
def iso3166() -> dict[str, tuple[str, str]]:
    """ISO3 -> (ISO2, short name): country_converter's table, kept as data so that validating
    a submission does not import pandas (a test keeps the two identical)."""
    import json

    table = json.loads(package_data("ippmd.core", "iso3166.json").read_text(encoding="utf-8"))
    return {k: tuple(v) for k, v in table.items()}


def _iso_codes() -> tuple[frozenset[str], dict[str, str]]:
    table = iso3166()
    return frozenset(table), {iso3: iso2 for iso3, (iso2, _) in table.items()}


@cache
def _strict_validator() -> Any:
    """Draft 7, but an integer is an integer: JSON Schema counts 2014.0 as one, and the code that
    reads survey_year or a code's years would then fail on a float."""
    import jsonschema

    def whole(_checker: Any, instance: Any) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    checker = jsonschema.Draft7Validator.TYPE_CHECKER.redefine("integer", whole)
    return jsonschema.validators.extend(jsonschema.Draft7Validator, type_checker=checker)


def check_submission_metadata(meta: Any, file: str) -> dict[str, Any]:
    """Refuse metadata that cannot drive harmonization, naming each wrong or missing piece."""

    if not isinstance(meta, dict):
        raise InputError([Problem(file, "metadata must be a YAML mapping", code="metadata-error")])
    problems = []
    for error in sorted(_strict_validator()(_metadata_schema()).iter_errors(meta), key=str):
        problems.append(_metadata_problem(error, file))
    if problems:
        raise InputError(problems)
    rate = meta["exchange_rate"]["lcu_per_usd"]
    if isinstance(rate, bool) or not math.isfinite(rate):
        problems.append(
            Problem(
                file,
                "exchange rate must be a finite number",
                field="exchange_rate.lcu_per_usd",
                value=str(rate),
                code="metadata-error",
            )
        )
    for key, items in (("education_levels", meta["education_levels"]), ("regions", region_list(meta))):
        codes = [str(item["code"]) for item in items]
        for code in sorted({c for c in codes if codes.count(c) > 1}):
            problems.append(
                Problem(
                    file,
                    f"code listed more than once under {key}",
                    field=key,
                    value=code,
                    code="metadata-error",
                )
            )
    known, iso2 = _iso_codes()
    for name, code in meta["destinations"].items():
        if code not in known:
            problems.append(
                Problem(
                    file,
                    "destination is not mapped to a known ISO3 country code",
                    field=f"destinations.{name}",
                    value=code,
                    code="metadata-error",
                )
            )
    prefix = iso2.get(meta["country_iso3"])
    for region in region_list(meta):
        if prefix and not str(region["iso_3166_2"]).startswith(f"{prefix}-"):
            problems.append(
                Problem(
                    file,
                    f"region code is not an ISO 3166-2 code of {meta['country_iso3']} ({prefix}-...)",
                    field="regions.iso_3166_2",
                    value=str(region["iso_3166_2"]),
                    code="metadata-error",
                )
            )
    if problems:
        raise InputError(problems)
    return meta


def _allowed(schema: dict[str, Any]) -> str:
    """What a metadata key accepts, in words (the schema's x-allowed, else from its keywords)."""
    if "x-allowed" in schema:
        return str(schema["x-allowed"])
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    kind = {
        "integer": "a whole number",
        "number": "a number",
        "string": "text",
        "object": "a mapping",
        "array": "a list",
    }
    types = schema.get("type", [])
    return " or ".join(kind.get(t, t) for t in ([types] if isinstance(types, str) else types)) or "a value"


def _metadata_problem(error: Any, file: str) -> Problem:
    """A metadata.yaml problem in words: the key, the value and what the key accepts (never the
    JSON Schema validator's own text)."""
    path = [str(p) for p in error.absolute_path]
    key = ".".join(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    if error.validator == "required":
        missing = next((name for name in schema.get("required", []) if name not in (value or {})), None)
        key = ".".join([*path, missing]) if missing else key
        wanted = _allowed(schema.get("properties", {}).get(missing, {}))
        return Problem(file, f"key is missing: add it ({wanted})", field=key or None, code="metadata-error")
    if error.validator == "additionalProperties":  # the mapping holds an entry its schema refuses
        return Problem(file, "holds a key it does not accept", field=key or None, code="metadata-error")
    shown = value if isinstance(value, str | int | float | bool) or value is None else None
    kind = "is empty" if value in ("", [], {}) else "is not allowed"
    if shown is None and value not in ("", [], {}):
        kind = f"has the wrong shape ({type(value).__name__})"
    return Problem(
        file,
        f"{key or 'metadata.yaml'} {kind}: it must be {_allowed(schema)}"
        if not key
        else f"{kind}: it must be {_allowed(schema)}",
        field=key or None,
        value=None if shown is None else str(shown),
        code="metadata-error",
    )


def region_list(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Regions as a list, whether given as a list or as {assumed, list}."""
    regions = meta["regions"]
    return regions["list"] if isinstance(regions, dict) else regions


def read_submission_metadata(path: Path, label: str | None = None) -> dict[str, Any]:
    """Read and check metadata.yaml; problems are reported against `label` (default: the path)."""
    label = label or str(path)
    meta = load_user_yaml(path, label)
    return check_submission_metadata(meta, label)
