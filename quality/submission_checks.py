"""Checks of a submission beyond its schema: direct identifiers and metadata completeness."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import polars as pl
from ippmd.core.errors import Problem
from ippmd.core.home import package_data
from ippmd.core.io import load_yaml
from ippmd.quality.structural import MAX_EXAMPLES, Table, problem

IDENTIFIERS_FILE = package_data(__package__, "identifiers.yaml")


@cache
def _identifiers() -> dict[str, Any]:
    return load_yaml(IDENTIFIERS_FILE.read_text(encoding="utf-8"))


def identifier_columns(header: list[str], file: str) -> list[Problem]:
    """Columns whose name says they hold a direct identifier."""
    problems = []
    for column in header:
        words = set(re.split(r"[_\-\s.]+", column.lower()))
        for kind, names in _identifiers()["column_words"].items():
            if words & set(names):
                problems.append(
                    problem(
                        "direct-identifier",
                        file,
                        f"column looks like a direct identifier ({kind})",
                        row=1,
                        field=column,
                    )
                )
                break
    return problems


def identifier_values(table: Table, text_columns: list[str]) -> list[Problem]:
    """Cells that look like e-mails, phone numbers, ID numbers or GPS coordinates."""
    problems: list[Problem] = []
    for column in text_columns:
        if column not in table.frame.columns:
            continue
        values = table.frame[column]
        for kind, pattern in _identifiers()["value_patterns"].items():
            mask = values.str.contains(pattern).fill_null(False)
            if not mask.any():
                continue
            hits = pl.DataFrame({"line": table.lines, "value": values}).filter(mask)
            problems += [
                problem(
                    "direct-identifier",
                    table.file,
                    f"value looks like a direct identifier ({kind})",
                    row=int(line),
                    field=column,
                    value=value[:40],
                )
                for line, value in hits.head(MAX_EXAMPLES).iter_rows()
            ]
    return problems


def metadata_problems(meta: dict[str, Any], file: str, used_codes: dict[str, set[str]]) -> list[Problem]:
    """Currency known, exchange rate present, every code used in the tables mapped in the metadata."""
    from babel.numbers import list_currencies

    problems = []
    currency = meta.get("currency")
    if currency not in list_currencies():
        problems.append(
            problem(
                "metadata-error",
                file,
                "currency is not an ISO 4217 code",
                field="currency",
                value=str(currency),
            )
        )
    iso3 = str(meta.get("country_iso3", ""))
    if not re.fullmatch(r"[A-Z]{3}", iso3):
        problems.append(
            problem(
                "metadata-error",
                file,
                "country_iso3 must be three capital letters",
                field="country_iso3",
                value=iso3,
            )
        )
    levels = {
        str(level.get("code")) for level in meta.get("education_levels") or [] if isinstance(level, dict)
    }
    for code in sorted(used_codes.get("education_code", set()) - levels):
        problems.append(
            problem(
                "unknown-code",
                file,
                "national education code used in the tables is not mapped under education_levels",
                field="education_levels",
                value=code,
            )
        )
    regions = meta.get("regions") or []
    regions = regions.get("list", []) if isinstance(regions, dict) else regions
    region_codes = {str(r.get("code")) for r in regions if isinstance(r, dict)}
    for code in sorted(used_codes.get("region_code", set()) - region_codes):
        problems.append(
            problem(
                "unknown-code",
                file,
                "region code used in communities is not listed under regions",
                field="regions",
                value=code,
            )
        )
    for region in regions:
        if isinstance(region, dict) and not re.fullmatch(
            r"[A-Z]{2}-[A-Z0-9]{1,3}", str(region.get("iso_3166_2"))
        ):
            problems.append(
                problem(
                    "metadata-error",
                    file,
                    "region lacks a valid ISO 3166-2 code",
                    field="regions.iso_3166_2",
                    value=str(region.get("iso_3166_2")),
                )
            )
    return problems
