"""A blank submission kit: CSV headers, a metadata file to fill in, a guide generated from the schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ippmd.core.metadata import country_codes, load_country
from ippmd.core.schema import SUBMISSION_TABLES, field_names, submission_schema

METADATA_SKELETON: dict[str, Any] = {
    "country_iso3": "XXX",
    "country_name": "TODO: country name in English",
    "currency": "TODO: ISO 4217 code, e.g. KHR",
    "survey_year": 2015,
    "fieldwork": {"start": "YYYY-MM", "end": "YYYY-MM"},
    "exchange_rate": {"lcu_per_usd": 0, "year": 2015, "source": "TODO: citation of the rate used"},
    "regions": [{"code": "01", "name": "TODO", "iso_3166_2": "XX-01"}],
    "education_levels": [
        {"code": "0", "label": "No schooling", "isced": 0, "years": 0},
        {"code": "1", "label": "TODO: national level", "isced": 1, "years": 6},
    ],
    "destinations": {"TODO: local spelling": "ISO3"},
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
            if not allowed and ("minimum" in constraints or "maximum" in constraints):
                allowed = f"{constraints.get('minimum', '')} to {constraints.get('maximum', '')}"
            meaning = field.get("title", "") + (
                f". {field['description']}" if field.get("description") else ""
            )
            lines.append(
                f"| `{field['name']}` | {meaning} | {field['type']} | "
                f"{'yes' if constraints.get('required') else ''} | {allowed} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_template(iso3: str, out_dir: Path) -> list[Path]:
    """Write the kit; a known country's metadata comes pre-filled from its country.yaml."""
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
