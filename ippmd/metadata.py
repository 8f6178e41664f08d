"""Country metadata: `countries/<ISO3>/country.yaml` and a submission's `metadata.yaml`."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ippmd.errors import InputError, Problem
from ippmd.paths import COUNTRIES_DIR

# What a submission's metadata must state for harmonization to work.
REQUIRED_SUBMISSION_KEYS = (
    "country_iso3",
    "country_name",
    "currency",
    "survey_year",
    "exchange_rate",
    "regions",
    "education_levels",
    "destinations",
)


def country_codes() -> list[str]:
    """ISO3 codes of the countries with a `country.yaml`, sorted."""
    return sorted(p.parent.name for p in COUNTRIES_DIR.glob("*/country.yaml"))


@cache
def load_country(iso3: str) -> dict[str, Any]:
    """The full country metadata (submission block, published sizes, targets, sources)."""
    path = COUNTRIES_DIR / iso3 / "country.yaml"
    if not path.exists():
        known = ", ".join(country_codes())
        raise InputError([Problem(str(path), f"no country metadata for {iso3!r}; known: {known}")])
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def source_citation(country: dict[str, Any], entry: dict[str, Any]) -> str:
    """The citation behind a value, or 'assumed' with its note."""
    if entry.get("assumed"):
        note = entry.get("note")
        return f"assumed ({note})" if note else "assumed"
    source = country["sources"][entry["source"]]
    return f"{source['citation']} ({source['url']})"


def check_submission_metadata(meta: Any, file: str) -> dict[str, Any]:
    """Refuse metadata that cannot drive harmonization, naming each missing piece."""
    if not isinstance(meta, dict):
        raise InputError([Problem(file, "metadata must be a YAML mapping")])
    problems = [
        Problem(file, "required metadata key is missing", field=key)
        for key in REQUIRED_SUBMISSION_KEYS
        if key not in meta
    ]
    rate = meta.get("exchange_rate")
    if isinstance(rate, dict):
        value = rate.get("lcu_per_usd")
        if not isinstance(value, int | float) or value <= 0:
            problems.append(
                Problem(
                    file,
                    "exchange rate must be a positive number",
                    field="exchange_rate.lcu_per_usd",
                    value=None if value is None else str(value),
                )
            )
    elif "exchange_rate" in meta:
        problems.append(
            Problem(file, "exchange_rate must be a mapping with lcu_per_usd", field="exchange_rate")
        )
    levels = meta.get("education_levels")
    if isinstance(levels, list):
        for i, level in enumerate(levels):
            missing = [k for k in ("code", "isced", "years") if k not in (level or {})]
            if missing:
                problems.append(
                    Problem(
                        file, f"education level #{i + 1} lacks {', '.join(missing)}", field="education_levels"
                    )
                )
            elif not (isinstance(level["isced"], int) and 0 <= level["isced"] <= 8):
                problems.append(
                    Problem(
                        file,
                        "ISCED level must be an integer 0-8",
                        field=f"education_levels[{level['code']}]",
                        value=str(level["isced"]),
                    )
                )
    if problems:
        raise InputError(problems)
    return meta


def region_list(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Regions as a list, whether given as a list or as {assumed, list}."""
    regions = meta["regions"]
    return regions["list"] if isinstance(regions, dict) else regions


def read_submission_metadata(path: Path) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError([Problem(str(path), f"cannot read metadata: {exc}")]) from exc
    return check_submission_metadata(meta, str(path))
