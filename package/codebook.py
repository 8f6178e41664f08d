"""A Markdown codebook generated from the package's schemas and data (never written by hand), in
the current language (ippmd.core.i18n): headings and fixed paragraphs from the `docs` catalogue,
variable labels, descriptions, units, universes and value labels from the `codebook` catalogue
(ippmd.package.translate). Codes, names and types stay as they are: they are identifiers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from ippmd import synthetic_notice
from ippmd.core.errors import InputError, Problem
from ippmd.core.i18n import t
from ippmd.core.io import write_atomic
from ippmd.package.translate import heading_text, translated_field


def _categories(field: dict[str, Any]) -> str:
    cats = field.get("categories")
    if not cats:
        return ""
    return "; ".join(f"{c['value']} = {c['label']}" for c in cats)


def _availability(frame: pl.DataFrame, field: str, countries: list[str]) -> str:
    """Countries where the variable has at least one value."""
    present = set(frame.filter(pl.col(field).is_not_null())["country"].unique().to_list())
    missing = [c for c in countries if c not in present]
    if not missing:
        return t("docs.available-all")
    if len(missing) == len(countries):
        return t("docs.available-none")
    return t("docs.available-all-but", countries=", ".join(missing))


def notice(package: dict[str, Any]) -> str:
    """The synthetic label in the current language: ippmd.synthetic_notice naming the countries
    whose microdata are synthetic (the resource's stored notice where the descriptor has no origins)."""
    origins = package.get("dataOrigin")
    if isinstance(origins, dict) and origins:
        return synthetic_notice([c for c, origin in origins.items() if origin == "synthetic"])
    return next((r["notice"] for r in package["resources"] if r.get("notice")), "")


def _header(package: dict[str, Any]) -> list[str]:
    version = t("docs.codebook-version", version=str(package["version"]))
    if package.get("dataHash"):
        version += t("docs.codebook-data-hash", hash=package["dataHash"])
    lines = [
        f"# {t('docs.codebook-title', title=heading_text('package', 'title', package['title']))}",
        "",
        version + t("docs.codebook-generated"),
        "",
    ]
    if package.get("synthetic"):
        lines += [f"> **{notice(package)}**", ""]
    return [*lines, t("docs.codebook-missing"), "", t("docs.codebook-design"), ""]


def _table_section(resource: dict[str, Any], frame: pl.DataFrame, countries: list[str]) -> list[str]:
    schema = resource["schema"]
    keys = t("docs.codebook-rows", rows=resource["rows"], key=", ".join(schema["primaryKey"])) + "".join(
        t("docs.codebook-foreign-key", fields=", ".join(fk["fields"]), table=fk["reference"]["resource"])
        for fk in schema.get("foreignKeys", [])
    )
    header = [
        t("docs.column-variable"),
        t("docs.column-label"),
        t("docs.column-type"),
        t("docs.column-unit"),
        t("docs.column-categories"),
        t("docs.column-universe"),
        t("docs.column-source-variable"),
        t("docs.column-available"),
    ]
    lines = [
        f"## {resource['name']}: {heading_text(resource['name'], 'title', resource['title'])}",
        "",
        heading_text(resource["name"], "description", resource["description"]),
        "",
        keys,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for english in schema["fields"]:
        field = translated_field(resource["name"], english)
        available = (
            _availability(frame, field["name"], countries)
            if "country" in frame.columns
            else t("docs.available-all")
        )
        cells = [
            f"`{field['name']}`",
            field.get("title", "") + (f". {field['description']}" if field.get("description") else ""),
            field["type"],
            field.get("unit", ""),
            _categories(field),
            field.get("universe") or t("docs.universe-all"),
            field.get("sourceVariable", ""),
            available,
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return [*lines, ""]


def render(package: dict[str, Any], root: Path) -> str:
    """The codebook of the package (or extract) whose data are under `root`, in the current language."""
    countries = package.get("countries", [])
    lines = _header(package)
    for resource in package["resources"]:
        frame = pl.read_parquet(root / resource["parquet"]["path"], glob=False)
        lines += _table_section(resource, frame, countries)
    return "\n".join(lines)


def write_codebook(package_path: Path, out: Path) -> None:
    if not package_path.exists():
        raise InputError([Problem(str(package_path), "no package here: run `ippmd build` first")])
    try:
        package = json.loads(package_path.read_text(encoding="utf-8"))
        text = render(package, package_path.parent)
    except (ValueError, KeyError, TypeError, OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(
            [
                Problem(
                    str(package_path),
                    f"not a built ippmd package ({exc.__class__.__name__}: {exc}): run `ippmd build`",
                )
            ]
        ) from exc
    write_atomic(out, text)
