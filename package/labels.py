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
