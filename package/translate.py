"""The codebook in the reader's language: variable labels, descriptions, units, value labels and
universes, for the Markdown codebook, the DDI, the site and the Stata/SPSS extracts.

English lives in the Table Schemas (schemas/harmonized/*.json), the one source of every label;
French and Spanish in the data domain `codebook` of the catalogues
(core/translations/<lang>/codebook.yaml), keyed:
- `<table>.<field>.title`, `.description`, `.unit` (each only where the schema has the property);
- `<table>.<field>.category.<value>` (one per category of the field);
- `<table>.<field>.universe` (the schema's universe expression; its translation words it).
tests/test_i18n.py holds the French and Spanish files to exactly the keys `codebook_english()` lists.
"""

from __future__ import annotations

from typing import Any

from ippmd.core.i18n import Language, translated
from ippmd.core.schema import PACKAGE_RESOURCES, harmonized_schema

DOMAIN = "codebook"
TEXT_PARTS = ("title", "description", "unit", "universe")


def field_key(table: str, field: str, part: str) -> str:
    return f"{table}.{field}.{part}"


def category_key(table: str, field: str, value: object) -> str:
    return f"{table}.{field}.category.{value}"


def codebook_english() -> dict[str, str]:
    """Every translatable text of the harmonized schemas, by key, in English."""
    texts: dict[str, str] = {}
    for table in PACKAGE_RESOURCES:
        for field in harmonized_schema(table)["fields"]:
            for part in TEXT_PARTS:
                if isinstance(field.get(part), str) and field[part]:
                    texts[field_key(table, field["name"], part)] = field[part]
            for category in field.get("categories", []):
                texts[category_key(table, field["name"], category["value"])] = category["label"]
    return texts


def field_text(table: str, field: dict[str, Any], part: str, code: Language | None = None) -> str | None:
    """A field's title, description, unit or universe in the current language (or `code`);
    None where the schema has none."""
    english = field.get(part)
    if not isinstance(english, str) or not english:
        return None
    return translated(DOMAIN, field_key(table, field["name"], part), english, code)


def category_label(
    table: str, field: dict[str, Any], value: object, english: str, code: Language | None = None
) -> str:
    """One value label of a field in the current language (or `code`)."""
    return translated(DOMAIN, category_key(table, field["name"], value), english, code)


def translated_field(table: str, field: dict[str, Any], code: Language | None = None) -> dict[str, Any]:
    """A copy of a schema field with its texts and category labels in the language: what a
    writer that takes a schema field (Stata/SPSS labels, DDI, codebook) renders from."""
    copy = dict(field)
    for part in TEXT_PARTS:
        text = field_text(table, field, part, code)
        if text is not None:
            copy[part] = text
    if field.get("categories"):
        copy["categories"] = [
            {**c, "label": category_label(table, field, c["value"], c["label"], code)}
            for c in field["categories"]
        ]
    return copy
