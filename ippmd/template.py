"""A blank submission kit: CSV headers, a metadata file to fill in, a guide generated from the schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ippmd.core.errors import UsageError
from ippmd.core.home import schemas_dir
from ippmd.core.io import refuse_inside_a_package
from ippmd.core.iso3 import iso3_option
from ippmd.core.metadata import _allowed, country_codes, load_country
from ippmd.core.schema import SUBMISSION_TABLES, field_names, submission_schema

METADATA_SKELETON: dict[str, Any] = {
    "country_iso3": "XXX",
    "country_name": "TODO: country name in English",
    "currency": "TODO: ISO 4217 code, e.g. KHR",
    "survey_year": 2015,
    "fieldwork": {"start": "YYYY-MM", "end": "YYYY-MM"},
    "exchange_rate": {"lcu_per_usd": 0, "year": 2015, "source": "TODO: citation of the rate used"},
    "regions": {"assumed": False, "list": [{"code": "01", "name": "TODO", "iso_3166_2": "XX-01"}]},
    "education_levels": [
        {"code": "0", "label": "No schooling", "isced": 0, "years": 0},
        {"code": "1", "label": "TODO: national level", "isced": 1, "years": 6},
    ],
    "destinations": {},
}


def guide(iso3: str) -> str:
    """Markdown guide to the submission format, generated from schemas/submission/."""
    lines = [
        f"# IPPMD submission kit ({iso3})",
        "",
        "Fill in `metadata.yaml` and one CSV per table (UTF-8, comma-separated, header as given; "
        "column order is free). Leave a cell empty when the question was not asked or the answer "
        "is unknown. Money in local currency per year; education as national codes listed in "
        "`metadata.yaml`; destinations as your team writes them (list local spellings under "
        "`destinations`). No names, phone numbers, e-mails, ID numbers or GPS coordinates.",
        "",
        "Check the submission with `ippmd validate FOLDER` (or a .zip of it) before sending it.",
        "",
    ]
    for table in SUBMISSION_TABLES:
        schema = submission_schema(table)
        lines += [
            f"## {table}.csv",
            "",
            f"Key: {', '.join(schema['primaryKey'])}.",
            "",
            "| column | meaning | type | required | allowed values |",
            "|---|---|---|---|---|",
        ]
        for field in schema["fields"]:
            constraints = field.get("constraints", {})
            allowed = "; ".join(f"{c['value']} = {c['label']}" for c in field.get("categories", []))
            if not allowed:
                allowed = CODED_BY_METADATA.get(field["name"]) or _range(constraints)
            meaning = field.get("title", "") + (
                f". {field['description']}" if field.get("description") else ""
            )
            lines.append(
                f"| `{field['name']}` | {meaning} | {field['type']} | "
                f"{'yes' if constraints.get('required') else ''} | {allowed} |"
            )
        lines.append("")
    return "\n".join(lines + metadata_guide())


# Columns whose codes metadata.yaml lists.
CODED_BY_METADATA = {
    "education_code": "a code listed under `education_levels` in metadata.yaml",
    "region_code": "a code listed under `regions` in metadata.yaml",
    "destination": "a country name, or a spelling listed under `destinations` in metadata.yaml",
}


def _range(constraints: dict[str, Any]) -> str:
    """Allowed values of a column in words: enum, closed or half-open range, pattern."""
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if "enum" in constraints:
        return ", ".join(map(str, constraints["enum"]))
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"{low} or more"
    if high is not None:
        return f"{high} or less"
    if "pattern" in constraints:
        return f"text matching `{constraints['pattern']}`"
    return ""


def metadata_guide() -> list[str]:
    """Every key of metadata.yaml with its meaning and allowed values (from its JSON Schema)."""
    import json

    schema = json.loads(schemas_dir("submission", "metadata.schema.json").read_text(encoding="utf-8"))
    lines = [
        "## metadata.yaml",
        "",
        "`ippmd synth KHM DIR` writes a complete example. Keys in **bold** are required.",
        "",
        "| key | meaning | allowed values |",
        "|---|---|---|",
    ]

    def walk(properties: dict[str, Any], required: list[str], prefix: str) -> None:
        for name, sub in properties.items():
            key = f"{prefix}{name}"
            shown = f"**`{key}`**" if name in required else f"`{key}`"
            lines.append(f"| {shown} | {sub.get('description', '')} | {_allowed(sub)} |")
            nested = sub
            if "oneOf" in sub:  # regions: a list, or {assumed, list}
                nested = next(s for s in sub["oneOf"] if s.get("type") == "object")
                nested = {**nested, "properties": dict(nested["properties"])}
                listed = {k: v for k, v in nested["properties"]["list"].items() if k != "$ref"}
                nested["properties"]["list"] = {**schema["definitions"]["region_list"], **listed}
            if nested.get("type") == "array" or "$ref" in nested:
                nested = nested.get("items", {})
                key = f"{key}[]"
            if "properties" in nested:
                walk(nested["properties"], nested.get("required", []), f"{key}.")

    def resolve(sub: dict[str, Any]) -> dict[str, Any]:
        return schema["definitions"]["region_list"] if sub.get("$ref") else sub

    def walk_resolved(properties: dict[str, Any], required: list[str], prefix: str) -> None:
        walk({k: resolve(v) for k, v in properties.items()}, required, prefix)

    walk_resolved(schema["properties"], schema.get("required", []), "")
    lines.append("")
    return lines


def refuse_filled_folder(out_dir: Path, force: bool) -> None:
    """A folder that already holds files is someone's work: never written over without --force;
    a package's own places never (`refuse_inside_a_package`)."""
    refuse_inside_a_package(out_dir, "the folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise UsageError(
            f"{out_dir} is not empty: choose a new folder, or add --force to write over its files"
        )


def write_template(iso3: str, out_dir: Path, force: bool = False) -> list[Path]:
    """Write the kit; a known country's metadata comes pre-filled from its country.yaml. `iso3`
    must be an ISO3 code (UsageError otherwise, before anything is written)."""
    iso3 = iso3_option(iso3, "the country code")
    refuse_filled_folder(out_dir, force)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in SUBMISSION_TABLES:
        path = out_dir / f"{table}.csv"
        path.write_text(",".join(field_names(submission_schema(table))) + "\n", encoding="utf-8")
        written.append(path)
    if iso3 in country_codes():
        meta = dict(load_country(iso3)["submission"])
    else:
        meta = {**METADATA_SKELETON, "country_iso3": iso3}
    path = out_dir / "metadata.yaml"
    path.write_text(
        "# Submission metadata: see GUIDE.md. Replace every TODO.\n"
        + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    (out_dir / "GUIDE.md").write_text(guide(iso3), encoding="utf-8")
    return [*written, path, out_dir / "GUIDE.md"]
