"""A blank submission kit: CSV headers, a metadata file to fill in, a guide generated from the schemas.

GUIDE.md and the comments of metadata.yaml are written in the current language (`ippmd template
--lang`, else $IPPMD_LANG, else the country's language); column names, keys, codes and file names
are identifiers and the same in every language, so a French kit validates exactly as an English one.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from babel import Locale

from ippmd.core.errors import UsageError
from ippmd.core.i18n import LOCALES, language, number, t
from ippmd.core.io import refuse_inside_a_package
from ippmd.core.iso3 import iso3_option
from ippmd.core.metadata import _allowed, country_codes, iso3166, load_country
from ippmd.core.schema import SUBMISSION_TABLES, field_names, submission_schema
from ippmd.submission_text import category_label, column_text, metadata_keys, metadata_text

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
COMMENT_WIDTH = 100


def guide(iso3: str) -> str:
    """Markdown guide to the submission format, generated from schemas/submission/, in the
    current language."""
    lines = [
        t("template.guide-title", iso3=iso3),
        "",
        t("template.guide-intro"),
        "",
        t("template.guide-check"),
        "",
        f"_{t('template.guide-translations')}_",
        "",
    ]
    for table in SUBMISSION_TABLES:
        lines += table_guide(table)
    return "\n".join(lines + metadata_guide())


def table_guide(table: str) -> list[str]:
    """One table's section: its key, then a row per column."""
    schema = submission_schema(table)
    lines = [
        f"## {table}.csv",
        "",
        t("template.guide-key", columns=", ".join(schema["primaryKey"])),
        "",
        t("template.guide-columns-header"),
        "|---|---|---|---|---|",
    ]
    for field in schema["fields"]:
        allowed = "; ".join(
            f"{c['value']} = {category_label(table, field, c)}" for c in field.get("categories", [])
        )
        title, description = column_text(table, field, "title"), column_text(table, field, "description")
        meaning = title + (f". {description}" if description else "")
        required = t("template.guide-required-yes") if field.get("constraints", {}).get("required") else ""
        lines.append(
            f"| `{field['name']}` | {meaning} | {type_word(field['type'])} | {required} | "
            f"{allowed or coded_by_metadata(field['name']) or allowed_range(field)} |"
        )
    lines.append("")
    return lines


def type_word(kind: str) -> str:
    """A Table Schema type in words of the language."""
    words = {
        "integer": t("template.type-integer"),
        "number": t("template.type-number"),
        "string": t("template.type-string"),
    }
    return words.get(kind, kind)


def coded_by_metadata(column: str) -> str:
    """What a column whose codes metadata.yaml lists accepts ('' for other columns)."""
    coded = {
        "education_code": t("template.coded-education"),
        "region_code": t("template.coded-region"),
        "destination": t("template.coded-destination"),
    }
    return coded.get(column, "")


def bound(value: float) -> str:
    """A bound of a range in the language's digits (Babel), with every decimal it has."""
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return number(value, f".{decimals}f")


def allowed_range(field: dict[str, Any]) -> str:
    """Allowed values of a column in words: enum, closed or half-open range, pattern. A column of
    years (`year_...`) shows its years as written, not as grouped numbers."""
    constraints = field.get("constraints", {})
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if "enum" in constraints:
        return ", ".join(map(str, constraints["enum"]))
    if field["name"].startswith("year_") and low is not None and high is None:
        return t("template.range-year-from", low=str(low))
    if low is not None and high is not None:
        return t("template.range-between", low=bound(low), high=bound(high))
    if low is not None:
        return t("template.range-at-least", low=bound(low))
    if high is not None:
        return t("template.range-at-most", high=bound(high))
    if "pattern" in constraints:
        return t("template.range-pattern", pattern=constraints["pattern"])
    return ""


def metadata_guide() -> list[str]:
    """Every key of metadata.yaml with its meaning and allowed values (from its JSON Schema)."""
    lines = [
        "## metadata.yaml",
        "",
        t("template.metadata-intro"),
        "",
        t("template.metadata-header"),
        "|---|---|---|",
    ]
    for key in metadata_keys():
        shown = f"**`{key.path}`**" if key.required else f"`{key.path}`"
        allowed = metadata_text(key, "allowed") or _allowed(key.schema)
        lines.append(f"| {shown} | {metadata_text(key, 'description')} | {allowed} |")
    lines.append("")
    return lines


def refuse_filled_folder(out_dir: Path, force: bool) -> None:
    """A folder that already holds files is someone's work: never written over without --force;
    a package's own places never (`refuse_inside_a_package`)."""
    refuse_inside_a_package(out_dir, "the folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise UsageError(t("template.folder-not-empty", folder=str(out_dir)))


def comment(text: str) -> list[str]:
    """`text` as YAML comment lines."""
    return [f"# {line}" for line in textwrap.wrap(text, COMMENT_WIDTH - 2, break_on_hyphens=False)]


def metadata_file(iso3: str) -> str:
    """metadata.yaml: a known country's pre-filled from its country.yaml (with the citations of
    the sources its values name), a skeleton otherwise; each top-level key after a comment saying
    what it is, in the current language. The YAML is the same in every language."""
    known = iso3 in country_codes()
    country = load_country(iso3) if known else {}
    meta = dict(country["submission"]) if known else {**METADATA_SKELETON, "country_iso3": iso3}
    lines = comment(t("template.metadata-head"))
    if known:
        lines += comment(t("template.metadata-prefilled", country=country_name(iso3, country["name"])))
        sources = country.get("sources", {})
        cited = list(dict.fromkeys(v for v in _strings(meta) if v in sources))
        if cited:
            lines += comment(t("template.metadata-sources"))
            lines += [f"#   {key}: {sources[key]['citation']}" for key in cited]  # verbatim, whole
    describe = {key.path: metadata_text(key, "description") for key in metadata_keys()}
    for name, value in meta.items():
        lines += comment(describe.get(name, ""))
        lines.append(yaml.safe_dump({name: value}, sort_keys=False, allow_unicode=True).rstrip("\n"))
    return "\n".join(lines) + "\n"


def country_name(iso3: str, english: str) -> str:
    """A country's name in the current language (Babel's CLDR territory names), `english` when
    CLDR has none."""
    iso2 = iso3166().get(iso3, ("", ""))[0]
    return str(Locale.parse(LOCALES[language()]).territories.get(iso2, english))


def _strings(value: Any) -> list[str]:
    """Every string value in a YAML document, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def write_template(iso3: str, out_dir: Path, force: bool = False) -> list[Path]:
    """Write the kit in the current language; a known country's metadata comes pre-filled from
    its country.yaml. `iso3` must be an ISO3 code (UsageError otherwise, before anything is
    written)."""
    iso3 = iso3_option(iso3, "the country code")
    refuse_filled_folder(out_dir, force)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in SUBMISSION_TABLES:
        path = out_dir / f"{table}.csv"
        path.write_text(",".join(field_names(submission_schema(table))) + "\n", encoding="utf-8")
        written.append(path)
    path = out_dir / "metadata.yaml"
    path.write_text(metadata_file(iso3), encoding="utf-8")
    (out_dir / "GUIDE.md").write_text(guide(iso3), encoding="utf-8")
    return [*written, path, out_dir / "GUIDE.md"]
