"""The codebook in the reader's language: variable labels, descriptions, units, value labels and
universes, for the Markdown codebook, the DDI, the site and the Stata/SPSS extracts.

English lives in the Table Schemas (schemas/harmonized/*.json), the one source of every label;
French and Spanish in the data domain `codebook` of the catalogues
(core/translations/<lang>/codebook.yaml), keyed:
- `<table>.<field>.title`, `.description`, `.unit` (each only where the schema has the property);
- `<table>.<field>.category.<value>` (one per category of the field);
- `<table>.<field>.universe` (the schema's universe expression; its translation words it);
- `package.title`, `package.description`, `<table>.title`, `<table>.description` (schemas/package.yaml).
tests/test_i18n.py holds the French and Spanish files to exactly the keys `codebook_english()` lists.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ippmd.core.home import schemas_dir
from ippmd.core.i18n import Language, translated
from ippmd.core.io import load_yaml
from ippmd.core.schema import PACKAGE_RESOURCES, harmonized_schema

DOMAIN = "codebook"
TEXT_PARTS = ("title", "description", "unit", "universe")
HEADING_PARTS = ("title", "description")  # of the package and of each table


def field_key(table: str, field: str, part: str) -> str:
    return f"{table}.{field}.{part}"


def category_key(table: str, field: str, value: object) -> str:
    return f"{table}.{field}.category.{value}"


@cache
def heading_english() -> dict[str, str]:
    """The package's and each table's title and description (schemas/package.yaml), by key."""
    meta = load_yaml(schemas_dir("package.yaml").read_text(encoding="utf-8"))
    texts = {f"package.{part}": str(meta[part]) for part in HEADING_PARTS}
    for table, entry in meta["resources"].items():
        texts.update({f"{table}.{part}": str(entry[part]) for part in HEADING_PARTS if entry.get(part)})
    return texts


def heading_text(owner: str, part: str, english: str, code: Language | None = None) -> str:
    """The title or description of the package (`owner` "package") or of a table, as a descriptor
    holds it (`english`), in the current language (or `code`): translated only when it is the text
    of schemas/package.yaml (a package built otherwise keeps its own words)."""
    key = f"{owner}.{part}"
    if heading_english().get(key) != english:
        return english
    return translated(DOMAIN, key, english, code)


def codebook_english() -> dict[str, str]:
    """Every translatable text of the harmonized schemas and of schemas/package.yaml, by key, in
    English."""
    texts: dict[str, str] = dict(heading_english())
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
