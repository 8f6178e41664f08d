"""Shared value-label sets: one named set per distinct list of categories.

Why: Stata (and R's haven, DDI readers) treat a label set as a reusable object. Twenty yes/no
variables should share one `yesno` set, as in IPUMS and DHS files, not carry twenty copies.
A set is named after its meaning when it is a common one, else after the first field using it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Well-known category lists (value, label) -> set name.
KNOWN_SETS: dict[tuple[tuple[Any, str], ...], str] = {
    ((0, "No"), (1, "Yes")): "yesno",
    ((1, "Male"), (2, "Female")): "sex",
    ((0, "Answered"), (1, "Don't know"), (2, "Refused")): "response",
}


def categories_key(field: dict[str, Any]) -> tuple[tuple[Any, str], ...]:
    return tuple((c["value"], c["label"]) for c in field.get("categories", []))


def label_sets(fields: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Field name -> label-set name, for every field with categories (same list, same set)."""
    names: dict[tuple[tuple[Any, str], ...], str] = {}
    taken: set[str] = set()
    by_field = {}
    for field in fields:
        key = categories_key(field)
        if not key:
            continue
        if key not in names:
            name = KNOWN_SETS.get(key, field["name"])
            while name in taken:
                name = f"{name}_"
            names[key] = name
            taken.add(name)
        by_field[field["name"]] = names[key]
    return by_field


# The formats that write a string categorical as labelled integers (Stata and SPSS).
INTEGER_CODED_FORMATS = frozenset({"dta", "sav"})


def integer_codes(field: dict[str, Any]) -> dict[str, int]:
    """The integer code of each category of a string field in Stata and SPSS files: its place in
    the schema's list of categories, 1..k ({} for other fields).

    Why one rule: those formats label integers, not text (Stata has no value labels for strings),
    so a string category is written as a labelled integer; taking the schema's order makes the
    code the same in every extract, country and language, and the codebook, DDI and manifest
    state it beside the text the CSV and Parquet keep."""
    if field["type"] != "string":
        return {}
    return {str(c["value"]): code for code, c in enumerate(field.get("categories", []), start=1)}


def coded_field(field: dict[str, Any]) -> dict[str, Any]:
    """A string categorical field as its Stata/SPSS file holds it: an integer field whose
    categories carry their code as `value` and the package's text as `originalValue`
    (any other field: unchanged)."""
    codes = integer_codes(field)
    if not codes:
        return field
    categories = [
        {**c, "value": codes[str(c["value"])], "originalValue": c["value"]} for c in field["categories"]
    ]
    constraints = {k: v for k, v in field.get("constraints", {}).items() if k != "enum"}  # the texts
    return {**field, "type": "integer", "categories": categories, "constraints": constraints}
