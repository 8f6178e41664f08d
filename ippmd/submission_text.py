"""The submission format in the team's language: the texts of schemas/submission/ that the kit's
GUIDE.md and metadata.yaml show (column titles, descriptions and value labels; metadata keys'
descriptions and allowed values).

English lives in the schemas, the one source of every text; French and Spanish in the data domain
`submission` of the catalogues (core/translations/<lang>/submission.yaml), keyed:
- `<table>.<column>.title`, `.description` (each only where the schema has it);
- `<table>.<column>.category.<value>` (one per category of the column);
- `metadata.<key>.description` (the key as the guide shows it, without `[]`:
  `metadata.regions.list.code`); the allowed values (`x-allowed`) are the messages' data domain
  `metadata-allowed` (ippmd.core.metadata.allowed_in_words), translated once for both.
Column names, keys, codes and file names are identifiers and stay as they are in every language.
tests/test_i18n.py holds the French and Spanish files to exactly the keys `submission_english()` lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ippmd.core.i18n import translated
from ippmd.core.metadata import allowed_in_words, metadata_schema
from ippmd.core.schema import SUBMISSION_TABLES, submission_schema

DOMAIN = "submission"
COLUMN_PARTS = ("title", "description")


@dataclass(frozen=True)
class MetadataKey:
    """One key of metadata.yaml as the guide lists it."""

    path: str  # as shown: `regions.list[].code`
    schema: dict[str, Any]
    required: bool

    @property
    def text_key(self) -> str:
        return "metadata." + self.path.replace("[]", "")


def metadata_keys() -> list[MetadataKey]:
    """Every key of metadata.yaml, parents before their children, from its JSON Schema."""
    schema = metadata_schema()
    region_list = schema["definitions"]["region_list"]

    def resolve(sub: dict[str, Any]) -> dict[str, Any]:
        return region_list if sub.get("$ref") else sub

    def walk(properties: dict[str, Any], required: list[str], prefix: str) -> Iterator[MetadataKey]:
        for name, sub in properties.items():
            key = f"{prefix}{name}"
            yield MetadataKey(key, sub, name in required)
            nested = sub
            if "oneOf" in sub:  # regions: a list, or {assumed, list}
                nested = next(s for s in sub["oneOf"] if s.get("type") == "object")
                nested = {**nested, "properties": dict(nested["properties"])}
                listed = {k: v for k, v in nested["properties"]["list"].items() if k != "$ref"}
                nested["properties"]["list"] = {**region_list, **listed}
            if nested.get("type") == "array" or "$ref" in nested:
                nested = nested.get("items", {})
                key = f"{key}[]"
            if "properties" in nested:
                yield from walk(nested["properties"], nested.get("required", []), f"{key}.")

    top = {name: resolve(sub) for name, sub in schema["properties"].items()}
    return list(walk(top, schema.get("required", []), ""))


def submission_english() -> dict[str, str]:
    """Every text of the submission schemas the kit shows, by key, in English."""
    texts: dict[str, str] = {}
    for table in SUBMISSION_TABLES:
        for field in submission_schema(table)["fields"]:
            for part in COLUMN_PARTS:
                if field.get(part):
                    texts[f"{table}.{field['name']}.{part}"] = field[part]
            for category in field.get("categories", []):
                texts[f"{table}.{field['name']}.category.{category['value']}"] = category["label"]
    for key in metadata_keys():
        if key.schema.get("description"):
            texts[f"{key.text_key}.description"] = key.schema["description"]
    return texts


def column_text(table: str, field: dict[str, Any], part: str) -> str:
    """A column's title or description in the current language ('' where the schema has none)."""
    english = field.get(part) or ""
    return translated(DOMAIN, f"{table}.{field['name']}.{part}", english) if english else ""


def category_label(table: str, field: dict[str, Any], category: dict[str, Any]) -> str:
    """One value label of a column in the current language."""
    return translated(DOMAIN, f"{table}.{field['name']}.category.{category['value']}", category["label"])


def metadata_text(key: MetadataKey, part: str) -> str:
    """A metadata key's `description` or `allowed` (x-allowed: the data domain `metadata-allowed`
    the messages use too) in the current language ('' where the schema has none)."""
    if part == "allowed":
        return allowed_in_words(key.schema) if key.schema.get("x-allowed") else ""
    english = key.schema.get(part) or ""
    return translated(DOMAIN, f"{key.text_key}.{part}", english) if english else ""
