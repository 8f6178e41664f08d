"""Checks of a submission beyond its schema: direct identifiers (in every file, expected or not),
metadata completeness, template placeholders, spreadsheet formulas and control characters."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.config import install_error, load_checked
from ippmd.core.errors import InputError, Problem
from ippmd.core.home import package_data
from ippmd.core.i18n import t
from ippmd.core.iso3 import is_iso3
from ippmd.core.schema import SUBMISSION_TABLES
from ippmd.core.text import CONTROL_CHARS, CONTROL_PATTERN, FORMULA_PATTERN, PLAIN_NUMBER_PATTERN
from ippmd.quality.archive import MAX_ENTRIES
from ippmd.quality.structural import MAX_EXAMPLES, MAX_FILE_BYTES, Table, problem

IDENTIFIERS_FILE = package_data(__package__, "identifiers.yaml")


@cache
def _identifiers() -> dict[str, Any]:
    try:
        identifiers: dict[str, Any] = load_checked(IDENTIFIERS_FILE, "identifiers")
    except InputError as exc:  # a file of the install
        raise install_error(exc) from None
    return identifiers


def identifier_kind(kind: str) -> str:
    """An identifier kind of identifiers.yaml (e-mail, phone, ...) in the current language."""
    words = {
        "name": t("checks.kind-name"),
        "phone": t("checks.kind-phone"),
        "e-mail": t("checks.kind-e-mail"),
        "national ID": t("checks.kind-national-id"),
        "GPS coordinates": t("checks.kind-gps"),
        "address": t("checks.kind-address"),
    }
    return words.get(kind, kind)


def _column_hits(header: list[str]) -> Iterator[tuple[str, str]]:
    """(column, identifier kind) of each column whose name says it holds a direct identifier."""
    for column in header:
        words = set(re.split(r"[_\-\s.]+", column.lower()))
        for kind, names in _identifiers()["column_words"].items():
            if words & set(names):
                yield column, kind
                break


def identifier_columns(header: list[str], file: str) -> list[Problem]:
    """Columns whose name says they hold a direct identifier."""
    return [
        problem(
            "direct-identifier",
            file,
            t("checks.identifier-column", kind=identifier_kind(kind)),
            row=1,
            field=column,
        )
        for column, kind in _column_hits(header)
    ]


def _value_hits(table: Table, text_columns: list[str]) -> Iterator[tuple[str, int, str, str]]:
    """(identifier kind, line, column, value) of up to MAX_EXAMPLES cells per column and kind that
    look like e-mails, phone numbers, ID numbers or GPS coordinates."""
    for column in text_columns:
        if column not in table.frame.columns:
            continue
        values = table.frame[column]
        for kind, pattern in _identifiers()["value_patterns"].items():
            mask = values.str.contains(pattern).fill_null(False)
            if not mask.any():
                continue
            hits = pl.DataFrame({"line": table.lines, "value": values}).filter(mask)
            for line, value in hits.head(MAX_EXAMPLES).iter_rows():
                yield kind, int(line), column, value


def identifier_values(table: Table, text_columns: list[str]) -> list[Problem]:
    """Cells that look like e-mails, phone numbers, ID numbers or GPS coordinates."""
    return [
        problem(
            "direct-identifier",
            table.file,
            t("checks.identifier-value", kind=identifier_kind(kind)),
            row=line,
            field=column,
            value=value[:40],
        )
        for kind, line, column, value in _value_hits(table, text_columns)
    ]


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
                t("checks.currency-not-iso"),
                field="currency",
                value=str(currency),
            )
        )
    iso3 = str(meta.get("country_iso3", ""))
    if not is_iso3(iso3):  # the one rule of what an ISO3 code is (ippmd.core.iso3)
        problems.append(
            problem(
                "metadata-error",
                file,
                t("checks.country-not-iso3"),
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
                t("checks.education-code-unmapped"),
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
                t("checks.region-code-unlisted"),
                field="regions",
                value=code,
            )
        )
    problems += _duplicate_region_codes(meta.get("regions"), regions, file)
    for region in regions:
        if isinstance(region, dict) and not re.fullmatch(
            r"[A-Z]{2}-[A-Z0-9]{1,3}", str(region.get("iso_3166_2"))
        ):
            problems.append(
                problem(
                    "metadata-error",
                    file,
                    t("checks.region-no-iso"),
                    field="regions.iso_3166_2",
                    value=str(region.get("iso_3166_2")),
                )
            )
    return problems


def _duplicate_region_codes(raw: Any, regions: list[Any], file: str) -> list[Problem]:
    """A region code or ISO 3166-2 code given to two regions: the package would merge them (one
    stratum, one code with two names), so the second is a problem at its key."""
    prefix = "regions.list" if isinstance(raw, dict) else "regions"
    problems = []
    for key in ("code", "iso_3166_2"):
        seen: dict[str, int] = {}
        for i, region in enumerate(regions):
            if not isinstance(region, dict) or region.get(key) is None:
                continue
            value = str(region[key])
            if value in seen:
                message = t("checks.region-duplicate", key=key, value=repr(value), region=str(seen[value]))
                problems.append(
                    problem("metadata-error", file, message, field=f"{prefix}.{i}.{key}", value=value)
                )
            else:
                seen[value] = i
    return problems


# --- files that are not part of the submission format -----------------------------------------

TABLE_SUFFIXES = (".csv", ".dta", ".sav")
EXPECTED_FILES = frozenset(
    {"metadata.yaml", *(f"{table}{suffix}" for table in SUBMISSION_TABLES for suffix in TABLE_SUFFIXES)}
)
# The kit's own files (`ippmd template` writes GUIDE.md), compared in lower case: never admitted,
# never reported.
KIT_FILES = frozenset({"guide.md", "readme", "readme.md", "readme.txt"})
MAX_SCANNED_FILES = MAX_ENTRIES  # the most files of a zip submission (quality/archive.py)
TEXT_SNIFF_BYTES = 65536  # a NUL byte in the first 64 KiB: a binary file (as the structural layer)


def unexpected_files(folder: Path) -> list[Problem]:
    """Every file of the submission that is not one of its expected files: a warning that it is
    not admitted, or an error when it holds identifier-looking values or column names.

    Text files up to the table size limit are scanned line by line with the identifier patterns;
    larger or binary files cannot be scanned and are reported as such."""
    problems: list[Problem] = []
    listed = (p for p in Path(folder).rglob("*") if not p.is_dir())
    found = sorted(itertools.islice(listed, MAX_SCANNED_FILES + 1))  # a bounded listing
    for path in found[:MAX_SCANNED_FILES]:
        label = path.relative_to(folder).as_posix()
        if label in EXPECTED_FILES or label.lower() in KIT_FILES:
            continue
        problems += _scan_unexpected(path, label)
    if len(found) > MAX_SCANNED_FILES:
        problems.append(
            problem(
                "unexpected-file",
                str(folder.name),
                t("checks.too-many-files", limit=MAX_SCANNED_FILES),
            )
        )
    return problems


def _scan_unexpected(path: Path, label: str) -> list[Problem]:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return [
            problem(
                "unexpected-file",
                label,
                t("checks.unexpected-too-large", size=size / 2**20, limit=MAX_FILE_BYTES >> 20),
            )
        ]
    data = path.read_bytes()
    if b"\x00" in data[:TEXT_SNIFF_BYTES]:
        return [
            problem(
                "unexpected-file",
                label,
                t("checks.unexpected-binary"),
                severity="warning",
            )
        ]
    text = data.decode("utf-8", errors="replace")
    del data
    lines = pl.Series("line", [text], dtype=pl.String).str.split("\n").explode().str.strip_suffix("\r")
    first = lines[0] or ""
    hits: list[tuple[str, int, str | None, str | None]] = []  # (kind, row, column, value)
    if re.search(r"[,;\t|]", first):  # a table: its column names too
        header = [c.strip().strip('"') for c in re.split(r"[,;\t|]", first)]
        hits += [(kind, 1, column, None) for column, kind in _column_hits(header)]
    numbers = pl.Series("line_no", range(1, len(lines) + 1), dtype=pl.Int64)
    table = Table(label, [], lines.to_frame(), numbers)
    hits += [(kind, line, None, value[:40]) for kind, line, _, value in _value_hits(table, ["line"])]
    if not hits:
        return [problem("unexpected-file", label, t("checks.unexpected-file"), severity="warning")]
    return [
        problem(
            "unexpected-file",
            label,
            t("checks.unexpected-identifier", kind=identifier_kind(kind)),
            row=row,
            field=column,
            value=visible(value) if value else None,
        )
        for kind, row, column, value in hits
    ]


# --- spreadsheet formulas and control characters -------------------------------------------------

# A cell a spreadsheet would run as a formula (CSV injection), unless it is a plain number; C0
# controls (tab and line breaks included), DEL, C1 controls and bidirectional and line-separator
# controls (terminal escapes among them). The patterns are core.text's, stated once.
NIU_TOKEN = (
    "NIU"  # the package CSV's not-in-universe code (ippmd.package.missing): no submitted value may be it
)
FORMULA_START = FORMULA_PATTERN
PLAIN_NUMBER = PLAIN_NUMBER_PATTERN
CONTROL = CONTROL_PATTERN


def visible(text: str, limit: int = 40) -> str:
    """The start of a value safe to print: control characters shown as \\xNN escapes."""
    return "".join(f"\\x{ord(c):02x}" if c in CONTROL_CHARS else c for c in text[:limit])


def _text_masks(values: pl.Expr) -> list[tuple[str, str, pl.Expr]]:
    return [
        (
            "formula-cell",
            t("checks.formula-cell"),
            values.str.contains(FORMULA_START) & ~values.str.contains(PLAIN_NUMBER),
        ),
        (
            "control-character",
            t("checks.control-character"),
            values.str.contains(CONTROL),
        ),
    ]


def _cell_masks(values: pl.Expr) -> list[tuple[str, str, pl.Expr]]:
    return [
        *_text_masks(values),
        ("placeholder", t("checks.todo-in-cell"), values.str.contains(TODO)),
        (
            "reserved-value",
            t("checks.reserved-value", token=NIU_TOKEN),
            values.str.strip_chars() == NIU_TOKEN,
        ),
    ]


def cell_text_problems(table: Table) -> list[Problem]:
    """Formula-looking cells, control characters and TODO placeholders, in every cell and column
    name of a table."""
    problems: list[Problem] = []
    header = pl.Series("header", table.header, dtype=pl.String)
    for code, message, mask in _cell_masks(pl.col("header")):
        for name in header.to_frame().filter(mask.fill_null(False))["header"].head(MAX_EXAMPLES):
            problems.append(
                problem(
                    code, table.file, t("checks.in-column-name", message=message), row=1, field=visible(name)
                )
            )
    columns = [c for c, dtype in table.frame.schema.items() if dtype == pl.String]
    if not columns:
        return problems
    rules = {
        f"{column}\x00{i}": (code, message, column, mask.fill_null(False))
        for column in columns
        for i, (code, message, mask) in enumerate(_cell_masks(pl.col(column)))
    }
    masks = table.frame.select(mask.alias(alias) for alias, (_, _, _, mask) in rules.items())
    for alias, hit in masks.select(pl.all().any()).row(0, named=True).items():
        if not hit:
            continue
        code, message, column, _ = rules[alias]
        hits = pl.DataFrame({"line": table.lines, "value": table.frame[column]}).filter(masks[alias])
        problems += [
            problem(code, table.file, message, row=int(line), field=column, value=visible(value))
            for line, value in hits.head(MAX_EXAMPLES).iter_rows()
        ]
        if hits.height > MAX_EXAMPLES:
            problems.append(
                problem(
                    code, table.file, t("checks.more-cells", count=hits.height - MAX_EXAMPLES), field=column
                )
            )
    return problems


# --- metadata.yaml: placeholders, formulas, control characters, identifiers ----------------------

# What `ippmd template` (ippmd/template.py, METADATA_SKELETON) writes for the team to replace:
# by key path (`*` = any list index or mapping key), the exact placeholder values.
TODO = r"\bTODO\b"
PLACEHOLDER_VALUES: dict[tuple[str, ...], Any] = {
    ("country_iso3",): "XXX",
    ("fieldwork", "start"): "YYYY-MM",
    ("fieldwork", "end"): "YYYY-MM",
    ("destinations", "*"): "ISO3",
    ("exchange_rate", "lcu_per_usd"): 0,
}
PLACEHOLDER_PATTERNS: dict[tuple[str, ...], str] = {
    ("regions", "*", "iso_3166_2"): r"^XX-",
    ("regions", "list", "*", "iso_3166_2"): r"^XX-",
}


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(p == "*" or p == k for k, p in zip(path, pattern, strict=True))


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, bool]]:
    """(key path, text, is a key) of every string key and value of a YAML document."""
    if isinstance(value, dict):
        for key, item in value.items():
            child = (*path, str(key))
            if isinstance(key, str):
                yield child, key, True
            yield from _strings(item, child)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, str(i)))
    elif isinstance(value, str):
        yield path, value, False


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, str(i)))
    else:
        yield path, value


def placeholder_problems(raw: Any, file: str, lines: dict[tuple[str, ...], int]) -> list[Problem]:
    """Template placeholders left in metadata.yaml: TODO anywhere, and the skeleton's XXX, YYYY-MM,
    XX-.., ISO3 and exchange rate 0 at their keys."""
    problems = []
    seen: set[tuple[str, ...]] = set()

    def add(path: tuple[str, ...], value: Any, what: str) -> None:
        if path in seen:
            return
        seen.add(path)
        problems.append(
            problem(
                "placeholder",
                file,
                t("checks.placeholder", what=what),
                row=lines.get(path),
                field=".".join(path) or None,
                value=visible(str(value)),
            )
        )

    for path, text, _ in _strings(raw):
        if re.search(TODO, text):
            add(path, text, "TODO")
    for path, value in _leaves(raw):
        for pattern, placeholder in PLACEHOLDER_VALUES.items():
            if _matches(path, pattern) and type(value) is type(placeholder) and value == placeholder:
                add(path, value, repr(placeholder))
        for pattern, regex in PLACEHOLDER_PATTERNS.items():
            if _matches(path, pattern) and isinstance(value, str) and re.search(regex, value):
                add(path, value, regex.lstrip("^") + "..")
    return problems


# Numbers of citations, removed before metadata values are matched with the identifier patterns:
# web addresses, DOIs (10.1787/9789264265615-en) and ISBNs.
CITATION_NUMBERS = r"(?i:https?://\S*|\bdoi:\s*\S*|\b10\.[0-9]{4,}/\S*|\bisbn[- :]*[0-9][0-9 -]{8,}[0-9x])"


def metadata_text_problems(raw: Any, file: str, lines: dict[tuple[str, ...], int]) -> list[Problem]:
    """Formula-looking values, control characters and identifier-looking values in every string
    key and value of metadata.yaml (it ends up in the report title, the codebook, the descriptor)."""
    found = list(_strings(raw))
    if not found:
        return []
    frame = pl.DataFrame(
        {"text": [text for _, text, _ in found], "index": range(len(found))},
        schema={"text": pl.String, "index": pl.Int64},
    )
    rules = [(code, message, mask) for code, message, mask in _text_masks(pl.col("text"))]
    cited = pl.col("text").str.replace_all(CITATION_NUMBERS, "")  # a DOI or ISBN is no ID number
    rules += [
        (
            "direct-identifier",
            t("checks.identifier-value", kind=identifier_kind(kind)),
            cited.str.contains(pattern),
        )
        for kind, pattern in _identifiers()["value_patterns"].items()
    ]
    problems = []
    for code, message, mask in rules:
        for index in frame.filter(mask.fill_null(False))["index"].head(MAX_EXAMPLES):
            path, text, is_key = found[index]
            problems.append(
                problem(
                    code,
                    file,
                    t("checks.in-key", message=message) if is_key else t("checks.in-value", message=message),
                    row=lines.get(path),
                    field=".".join(path),
                    value=visible(text),
                )
            )
    return problems
