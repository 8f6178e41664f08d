"""The fast structural layer: bytes, encoding, header, cells, types, constraints and keys, in polars.

It runs before anything else and checks what `frictionless validate` checks on the same files,
driven by the same Table Schemas, about two orders of magnitude faster. Each problem names the
file, the line in the file (header = line 1), the field and the value.

What a spreadsheet or a hurried hand does to a file is reported once and read past, so the rest
of the file is checked in the same round (issue 22): a file written with ';', tab or '|' is read
with it; a column whose name is a near miss (`Remittances amount`) is read under its name; a number
column written with decimal commas is one problem per column, its cells read as numbers.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.errors import Problem, problem_hint
from ippmd.core.i18n import t
from ippmd.core.limits import limit

# The limits of one table, with their reasons, in core/limits.yaml.
MAX_FILE_BYTES = limit("file_bytes")
MAX_ROWS = limit("rows")
MAX_CELL_BYTES = limit("cell_bytes")
MAX_COLUMNS = limit("columns")
EXACT_INTEGER = limit("exact_integer")
MAX_EXAMPLES = 50  # detailed problems per file, field and code; the rest are counted


def hint_for(code: str, field: str | None = None) -> str | None:
    """How to fix a problem: the hint for this code and field (`<code>.<field>` in
    core/problems.yaml) when there is one, else the code's hint."""
    return problem_hint(f"{code}.{field}") or problem_hint(code)


def problem(code: str, file: str, message: str, **where: Any) -> Problem:
    return Problem(file=file, message=message, code=code, hint=hint_for(code, where.get("field")), **where)


@dataclass
class Table:
    """A CSV read as text: the header, string cells and the file line of every row."""

    file: str
    header: list[str]
    frame: pl.DataFrame  # all strings, None for empty cells
    lines: pl.Series  # 1-based line number in the file of each row


def _decode(data: bytes, file: str) -> tuple[str | None, list[Problem]]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        return None, [problem("empty-file", file, t("structural.empty-file"))]
    if b"\x00" in data[:65536]:
        return None, [problem("binary-file", file, t("structural.binary-file"))]
    if b"\r" in data and b"\n" not in data:
        return None, [problem("format-error", file, t("structural.cr-only"))]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start : exc.start + 1].hex()
        if _is_latin1(data):  # a Windows export: said once, read as such so the rest is checked
            message = t("structural.encoding-latin1", line=line)
            return data.decode("cp1252"), [problem("encoding-error", file, message, row=line, value=byte)]
        message = t("structural.encoding-other", line=line)
        return None, [problem("encoding-error", file, message, row=line, value=byte)]


def _is_latin1(data: bytes) -> bool:
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return any(c in text for c in "àâäçéèêëîïôöùûüÀÂÇÉÈÊÔÙÛñÑáíóúÁÍÓÚãõ")


# The delimiters a spreadsheet writes, by what regional settings export: the comma is the format's.
DELIMITERS = (",", ";", "\t", "|")


def detect_delimiter(first_line: str) -> str:
    """The delimiter of a header line: the comma when it has one, else the most frequent of
    semicolon, tab and bar (a header holds no decimals, so its delimiter is unambiguous)."""
    if "," in first_line:
        return ","
    counts = {d: first_line.count(d) for d in DELIMITERS[1:]}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _delimiter_message(sep: str) -> str:
    return {
        ";": t("structural.delimiter-semicolon"),
        "\t": t("structural.delimiter-tab"),
        "|": t("structural.delimiter-bar"),
    }[sep]


def read_text_table(data: bytes, file: str) -> tuple[Table | None, list[Problem]]:
    """Parse CSV bytes into strings, reporting blank rows and rows with too many or too few cells.

    A file written with another delimiter (';', tab, '|') is reported once and read with it, so
    its header and cells are checked in the same round."""
    text, problems = _decode(data, file)
    if text is None:
        return None, problems
    first = text.split("\n", 1)[0].rstrip("\r")
    sep = detect_delimiter(first)
    if first.count(sep) >= MAX_COLUMNS:
        return None, [
            problem("format-error", file, t("structural.too-many-columns", limit=MAX_COLUMNS), row=1)
        ]
    if sep != ",":
        problems.append(problem("delimiter-error", file, _delimiter_message(sep), row=1))
    if '"' in text or "\x1f" in text:
        table, found = _read_quoted(text, file, sep)
        return table, problems + found
    raw = text.encode("utf-8")
    # Lines in Rust: a blank line is a null row, CR of CRLF is dropped.
    lines = pl.read_csv(
        raw, has_header=False, separator="\x1f", quote_char=None, new_columns=["line"], infer_schema=False
    )["line"]
    header = lines[0].split(sep) if len(lines) and lines[0] is not None else []
    body = lines.slice(1)
    numbers = pl.Series("line_no", range(2, len(body) + 2), dtype=pl.Int64)
    blank = body.is_null() | (body == "")
    counts = body.str.count_matches(sep, literal=True).fill_null(-1) + 1
    shape = _shape_problems(file, numbers, counts, blank, len(header))
    problems += shape
    n = len(header)
    if n == 0:
        return Table(file, header, pl.DataFrame(), numbers.filter(~blank)), problems
    names = _unique_names(header)
    if len(body) == 0:
        frame = pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    elif not shape:  # the common case: a regular file, parsed in one pass
        frame = pl.read_csv(
            raw, infer_schema=False, has_header=False, skip_rows=1, new_columns=names, separator=sep
        )
    else:
        split = body.fill_null("").str.split_exact(sep, n - 1).struct.unnest() if n > 1 else body.to_frame()
        frame = split.rename(dict(zip(split.columns, names, strict=True)))
    keep = ~blank
    frame = frame.filter(keep) if shape else frame  # read_csv already reads empty cells as null
    if shape:
        frame = frame.with_columns(pl.all().replace("", None))
    return Table(file, header, frame, numbers.filter(keep)), problems


def _unique_names(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def _read_quoted(text: str, file: str, sep: str = ",") -> tuple[Table | None, list[Problem]]:
    """The slower path for files with quoted cells (which may hold commas or line breaks)."""
    csv.field_size_limit(10 * MAX_CELL_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    problems: list[Problem] = []
    rows, numbers, counts, blanks = [], [], [], []
    try:
        header = next(reader, [])
        for row in reader:
            rows.append(row)
            numbers.append(reader.line_num)
            counts.append(len(row))
            blanks.append(not row or all(c == "" for c in row))
    except csv.Error as exc:
        return None, [
            problem(
                "field-too-large" if "limit" in str(exc) else "format-error",
                file,
                t("structural.cannot-parse", error=str(exc)),
                row=reader.line_num,
            )
        ]
    n = len(header)
    problems += _shape_problems(
        file,
        pl.Series(numbers, dtype=pl.Int64),
        pl.Series(counts, dtype=pl.Int64),
        pl.Series(blanks, dtype=pl.Boolean),
        n,
    )
    kept = [(r + [""] * n)[:n] for r, b in zip(rows, blanks, strict=True) if not b]
    kept_numbers = [x for x, b in zip(numbers, blanks, strict=True) if not b]
    names = _unique_names(header)
    frame = pl.DataFrame(kept, schema=dict.fromkeys(names, pl.String), orient="row") if n else pl.DataFrame()
    frame = frame.with_columns(pl.all().replace("", None))
    return Table(file, header, frame, pl.Series("line_no", kept_numbers, dtype=pl.Int64)), problems


def _shape_problems(
    file: str, numbers: pl.Series, counts: pl.Series, blank: pl.Series, n: int
) -> list[Problem]:
    problems = []
    for code, mask, message in (
        ("blank-row", blank, t("structural.blank-row")),
        ("extra-cell", ~blank & (counts > n), t("structural.extra-cell", columns=n)),
        ("missing-cell", ~blank & (counts < n), t("structural.missing-cell", columns=n)),
    ):
        hits = numbers.filter(mask)
        problems += [problem(code, file, message, row=int(r)) for r in hits[:MAX_EXAMPLES]]
        if len(hits) > MAX_EXAMPLES:
            more = t("structural.more-rows", count=len(hits) - MAX_EXAMPLES)
            problems.append(problem(code, file, more))
    return problems


def _normalised(name: str) -> str:
    """A column name with what a hand or a spreadsheet varies set aside: case, accents, spaces
    and punctuation (`Remittances amount`, `Éducation-code`)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "_".join(re.findall(r"[a-z0-9]+", plain.casefold()))


NEAR_MISS_CUTOFF = 0.85  # difflib ratio of two normalised names above which one is a misspelling of the other


def near_misses(header: list[str], expected: list[str]) -> dict[str, str]:
    """Written column name -> the missing column of the format it stands for: the same once
    normalised, else a close spelling (difflib). Each missing column takes at most one name."""
    counts = Counter(header)
    left = {_normalised(n): n for n in expected if n not in counts}
    found: dict[str, str] = {}
    for name in header:
        if not name or name in expected or counts[name] > 1 or not left:
            continue
        key = _normalised(name)
        if key not in left:
            close = difflib.get_close_matches(key, list(left), n=1, cutoff=NEAR_MISS_CUTOFF)
            key = close[0] if close else ""
        if key in left:
            found[name] = left.pop(key)
    return found


def check_header(table: Table, schema: dict[str, Any]) -> tuple[list[Problem], dict[str, str]]:
    """Missing, extra, duplicated and blank column names (order does not matter), and names that
    look like a missing column (one problem each, not a missing and an extra column): the
    problems, and the columns to read under their right name."""
    expected = [f["name"] for f in schema["fields"]]
    renamed = near_misses(table.header, expected)
    problems = []
    for i, name in enumerate(table.header):
        if name.strip() == "":
            problems.append(
                problem("blank-label", table.file, t("structural.blank-label", column=i + 1), row=1)
            )
    for name in sorted(n for n, count in Counter(table.header).items() if count > 1 and n):
        problems.append(
            problem("duplicate-label", table.file, t("structural.duplicate-label"), row=1, field=name)
        )
    for written, name in renamed.items():
        message = t("structural.near-miss-label", written=written, name=name)
        problems.append(problem("near-miss-label", table.file, message, row=1, field=name, value=written))
    for name in expected:
        if name not in table.header and name not in renamed.values():
            problems.append(
                problem("missing-label", table.file, t("structural.missing-label"), row=1, field=name)
            )
    for name in table.header:
        if name and name not in expected and name not in renamed:
            problems.append(
                problem("extra-label", table.file, t("structural.extra-label"), row=1, field=name)
            )
    return problems, renamed


def read_as(table: Table, renamed: dict[str, str]) -> Table:
    """The table with its near-miss columns under their right names, so their cells are checked."""
    if not renamed:
        return table
    header = [renamed.get(name, name) for name in table.header]
    return Table(table.file, header, table.frame.rename(renamed), table.lines)


def _report(table: Table, mask: pl.Series, code: str, field: str, message: str) -> list[Problem]:
    if not mask.any():
        return []
    hits = pl.DataFrame({"line": table.lines, "value": table.frame[field]}).filter(mask)
    worded = message in (t("structural.not-integer"), t("structural.not-number"))
    problems = [
        problem(
            code,
            table.file,
            said_as(v, message) if worded else message,
            row=int(line),
            field=field,
            value=None if v is None else str(v)[:200],
        )
        for line, v in hits.head(MAX_EXAMPLES).iter_rows()
    ]
    if hits.height > MAX_EXAMPLES:
        problems.append(
            problem(
                code, table.file, t("structural.more-cells", count=hits.height - MAX_EXAMPLES), field=field
            )
        )
    return problems


def _typed_expr(text: pl.Expr, type_: str) -> pl.Expr:
    if type_ == "integer":
        return text.cast(pl.Int64, strict=False)
    if type_ == "number":  # a decimal comma is reported once per column (decimal_commas), read as a point
        point = pl.when(text.str.contains(DECIMAL_COMMA)).then(text.str.replace(",", ".", literal=True))
        return point.otherwise(text).cast(pl.Float64, strict=False)
    return text


# A number written with a decimal comma (1,5 or -0,25), as French and Spanish settings write it.
DECIMAL_COMMA = r"^\s*[+-]?[0-9]+,[0-9]+\s*$"
SHOWN_LINES = 5  # the first lines a problem grouped over a column names


def first_lines(lines: pl.Series) -> str:
    """The first lines of a problem grouped over a column, `...` when there are more."""
    shown = ", ".join(str(line) for line in lines.head(SHOWN_LINES))
    return shown + (", ..." if len(lines) > SHOWN_LINES else "")


def decimal_commas(table: Table, fields: list[dict[str, Any]]) -> list[Problem]:
    """One problem per number column written with decimal commas: its count and first lines
    (the cells are read with the comma as the decimal point, so their values are still checked)."""
    columns = [f["name"] for f in fields if f.get("type") == "number"]
    if not columns:
        return []
    masks = table.frame.select(pl.col(c).str.contains(DECIMAL_COMMA).fill_null(False) for c in columns)
    problems = []
    for column in (c for c, hit in masks.select(pl.all().any()).row(0, named=True).items() if hit):
        hits = pl.DataFrame({"line": table.lines, "value": table.frame[column]}).filter(masks[column])
        message = t("structural.decimal-comma", count=hits.height, lines=first_lines(hits["line"]))
        line, value = hits.row(0)
        problems.append(
            problem("decimal-comma", table.file, message, row=int(line), field=column, value=value)
        )
    return problems


# A number written as a hand would: a date (15/03/2000) or a number with a unit or word (29 ans).
DATE = re.compile(r"\s*[0-9]{1,4}[/.-][0-9]{1,2}[/.-][0-9]{1,4}\s*")
WORDED = re.compile(r"\s*[+-]?[0-9]+(?:[.,][0-9]+)?\s*[^\W\d_]{2,}.*", re.DOTALL)


def said_as(value: str | None, message: str) -> str:
    """A cell that is no number, said more closely when it is a date or a number with a word
    (judged on the cells reported only: a regex over every cell of every column would cost)."""
    if value is None:
        return message
    if DATE.fullmatch(value):
        return t("structural.date-not-number")
    if WORDED.fullmatch(value):
        return t("structural.number-with-text")
    return message


def _integer_rules(text: pl.Expr, value: pl.Expr) -> list[tuple[str, str, pl.Expr]]:
    """Text that is no integer, a whole number beyond 64 bits (1e300, inf), and an integer that
    a Stata or SPSS file would not hold exactly (EXACT_INTEGER, with its reason in limits.yaml)."""
    as_float = text.cast(pl.Float64, strict=False)
    whole_beyond = (as_float == as_float.round(0)) & (as_float.abs() >= 2.0**63)
    beyond = (as_float.is_infinite() | whole_beyond).fill_null(False)
    failed = text.is_not_null() & value.is_null()
    return [
        ("type-error", t("structural.not-integer"), failed & ~beyond),
        ("type-error", t("structural.integer-too-large"), failed & beyond),
        (
            "inexact-integer",
            t("structural.inexact-integer", limit=EXACT_INTEGER),
            (value > EXACT_INTEGER) | (value < -EXACT_INTEGER),
        ),
    ]


def _cell_rules(field: dict[str, Any]) -> list[tuple[str, str, pl.Expr]]:
    """A field's rules as (code, message, failing-cell mask) over its staged columns.

    Columns are staged: `<name>` holds the text with missing-value tokens and oversized cells
    nulled, `<name>\x01` the typed value, `<name>\x02` the cell's size in bytes and `<name>\x03`
    whether the cell is a missing-value token, so each rule is a cheap comparison.
    """
    name, type_ = field["name"], field.get("type", "string")
    text, value = pl.col(name), pl.col(f"{name}\x01")
    size, token = pl.col(f"{name}\x02"), pl.col(f"{name}\x03")
    present = value.is_not_null()
    rules: list[tuple[str, str, pl.Expr]] = [
        ("field-too-large", t("structural.cell-too-large", limit=MAX_CELL_BYTES), size > MAX_CELL_BYTES)
    ]
    if type_ == "integer":
        rules += _integer_rules(text, value)
    if type_ == "number":  # a cast that fails is a type error (faster than a regex)
        rules.append(("type-error", t("structural.not-number"), text.is_not_null() & value.is_null()))
        rules.append(("type-error", t("structural.not-finite"), value.is_nan() | value.is_infinite()))
    constraints = field.get("constraints", {})
    if constraints.get("required"):
        rules.append(("constraint-error", t("structural.required-empty"), size == 0))
        rules.append(("constraint-error", t("structural.required-missing-token"), token))
    if "enum" in constraints:
        rules.append(
            (
                "constraint-error",
                t("structural.enum", codes=str(constraints["enum"])),
                present & ~value.is_in(constraints["enum"]),
            )
        )
    if "minimum" in constraints:
        rules.append(
            (
                "constraint-error",
                t("structural.minimum", minimum=str(constraints["minimum"])),
                present & (value < constraints["minimum"]),
            )
        )
    if "maximum" in constraints:
        rules.append(
            (
                "constraint-error",
                t("structural.maximum", maximum=str(constraints["maximum"])),
                present & (value > constraints["maximum"]),
            )
        )
    if "pattern" in constraints:
        anchored = f"^(?:{constraints['pattern']})$"
        rules.append(
            (
                "constraint-error",
                t("structural.pattern", pattern=constraints["pattern"]),
                present & ~value.cast(pl.String).str.contains(anchored),
            )
        )
    if constraints.get("unique"):
        rules.append(("constraint-error", t("structural.unique"), present & value.is_duplicated()))
    return [(code, message, mask.fill_null(False)) for code, message, mask in rules]


def check_cells(
    table: Table, schema: dict[str, Any]
) -> tuple[list[Problem], dict[str, pl.Series], list[str]]:
    """Cell sizes, types and constraints (required, enum, minimum, maximum, pattern, unique): the
    problems, the typed columns, and the rules applied (`<field>: <code>: <message>`)."""
    tokens = [m["value"] if isinstance(m, dict) else m for m in schema.get("missingValues", [""])]
    tokens = [token for token in tokens if token != ""]  # empty cells are already null
    fields = [f for f in schema["fields"] if f["name"] in table.frame.columns]
    if not fields:
        return [], {}, []
    names = [f["name"] for f in fields]
    staged = table.frame.select(
        *names,
        *(pl.col(n).str.len_bytes().fill_null(0).alias(f"{n}\x02") for n in names),
        *(
            (pl.col(n).is_in(tokens) if tokens else pl.lit(False)).fill_null(False).alias(f"{n}\x03")
            for n in names
        ),
    )
    # A missing-value token or an oversized cell is read as missing: it breaks no other rule.
    cleaned = [
        pl.when(pl.col(f"{n}\x03") | (pl.col(f"{n}\x02") > MAX_CELL_BYTES))
        .then(None)
        .otherwise(pl.col(n))
        .alias(n)
        for n in names
    ]
    staged = staged.with_columns(cleaned).with_columns(
        _typed_expr(pl.col(f["name"]), f.get("type", "string")).alias(f"{f['name']}\x01") for f in fields
    )
    labels: dict[str, tuple[str, str, str]] = {}
    masks = []
    for f in fields:
        for i, (code, message, mask) in enumerate(_cell_rules(f)):
            alias = f"{f['name']}\x00{i}"
            masks.append(mask.alias(alias))
            labels[alias] = (code, message, f["name"])
    result = staged.select(masks)
    problems = decimal_commas(table, fields)
    hits = result.select(pl.all().any()).row(0, named=True)
    for alias in (a for a, hit in hits.items() if hit):
        code, message, name = labels[alias]
        problems += _report(table, result[alias], code, name, message)
    typed = {f["name"]: staged[f"{f['name']}\x01"].alias(f["name"]) for f in fields}
    return problems, typed, [f"{name}: {code}: {message}" for code, message, name in labels.values()]


def check_primary_key(table: Table, schema: dict[str, Any], typed: dict[str, pl.Series]) -> list[Problem]:
    keys = schema.get("primaryKey") or []
    if not keys or any(k not in typed for k in keys):
        return []
    frame = pl.DataFrame([typed[k] for k in keys])
    duplicated = (
        frame.select(pl.struct(keys).is_duplicated()).to_series()
        & frame.select(pl.all_horizontal(pl.all().is_not_null())).to_series()
    )
    hits = pl.DataFrame(
        {"line": table.lines, "key": frame.select(pl.concat_str(keys, separator="/")).to_series()}
    )
    hits = hits.filter(duplicated)
    problems = [
        problem(
            "primary-key",
            table.file,
            t("structural.duplicate-key", keys=", ".join(keys)),
            row=int(line),
            field="+".join(keys),
            value=key,
        )
        for line, key in hits.head(MAX_EXAMPLES).iter_rows()
    ]
    if hits.height > MAX_EXAMPLES:
        problems.append(
            problem("primary-key", table.file, t("structural.more-keys", count=hits.height - MAX_EXAMPLES))
        )
    return problems


def check_foreign_keys(
    name: str,
    table: Table,
    schema: dict[str, Any],
    typed: dict[str, dict[str, pl.Series]],
    files: dict[str, str],
) -> list[Problem]:
    """References to other tables of the same submission or package."""
    problems: list[Problem] = []
    for fk in schema.get("foreignKeys", []):
        fields, ref = fk["fields"], fk["reference"]
        parent = typed.get(ref["resource"])
        child = typed.get(name)
        if parent is None or child is None or any(f not in child for f in fields):
            continue
        if any(f not in parent for f in ref["fields"]):
            continue
        parent_keys = pl.DataFrame(
            [parent[f].alias(c) for f, c in zip(ref["fields"], fields, strict=True)]
        ).unique()
        frame = pl.DataFrame([child[f] for f in fields]).with_columns(line=table.lines)
        orphans = frame.drop_nulls(fields).join(parent_keys, on=fields, how="anti").sort("line")
        problems += [
            problem(
                "foreign-key",
                table.file,
                t(
                    "structural.foreign-key",
                    key="/".join(ref["fields"]),
                    file=files.get(ref["resource"], ref["resource"]),
                ),
                row=int(row[-1]),
                field="+".join(fields),
                value="/".join(str(v) for v in row[:-1]),
            )
            for row in orphans.head(MAX_EXAMPLES).iter_rows()
        ]
        if orphans.height > MAX_EXAMPLES:
            problems.append(
                problem(
                    "foreign-key",
                    table.file,
                    t("structural.more-references", count=orphans.height - MAX_EXAMPLES),
                    field="+".join(fields),
                )
            )
    return problems


@dataclass
class Structure:
    """What the structural layer found: its problems, the typed frames and the tables as text, and
    the rules it applied to each table (one line each, e.g. `age: constraint-error: above the
    maximum 110`), so that two callers can be shown to apply the same rules."""

    problems: list[Problem]
    frames: dict[str, pl.DataFrame]
    texts: dict[str, Table]
    rules: dict[str, list[str]]


# A table to check: a file, or a function that writes the table's bytes (the CSV the package would hold).
Source = Path | Callable[[], bytes]


def _table_bytes(
    source: Source | None, label: str, max_rows: int | None
) -> tuple[bytes | None, list[Problem]]:
    """The bytes of one table, or the problem that stops it being read (a file is measured before
    it is read)."""
    if isinstance(source, Path) or source is None:
        if source is None or not source.exists():
            return None, [problem("missing-file", label, t("structural.missing-file"))]
        if not source.is_file():
            return None, [problem("missing-file", label, t("structural.folder-not-file"))]
        size = source.stat().st_size
    else:
        data = source()
        size = len(data)
    if size > MAX_FILE_BYTES:
        message = t("structural.file-too-large", size=size / 2**20, limit=MAX_FILE_BYTES / 2**20)
        return None, [problem("file-too-large", label, message)]
    if isinstance(source, Path):
        data = source.read_bytes()
    if max_rows is not None and data.count(b"\n") > max_rows + 1:  # + the header
        message = t("structural.too-many-rows", limit=max_rows)
        return None, [problem("too-many-rows", label, message)]
    return data, []


def check_tables(
    files: Mapping[str, Source],
    schemas: dict[str, dict[str, Any]],
    display: dict[str, str] | None = None,
    max_rows: int | None = MAX_ROWS,
) -> Structure:
    """Run the whole structural layer on a set of CSV tables, reading and parsing each once.

    `files` maps resource name -> CSV path (a missing path is a missing-file problem), or a
    function returning the CSV's bytes (the tables a submission would put in the package).
    """
    display = display or {name: str(path) for name, path in files.items()}
    problems: list[Problem] = []
    tables: dict[str, Table] = {}
    typed: dict[str, dict[str, pl.Series]] = {}
    rules: dict[str, list[str]] = {}
    for name, schema in schemas.items():
        label = display.get(name, f"{name}.csv")
        rules[name] = [
            f"file: file-too-large: over {MAX_FILE_BYTES} bytes",
            f"file: too-many-rows: over {max_rows}",
        ]
        data, found = _table_bytes(files.get(name), label, max_rows)
        problems += found
        if data is None:
            continue
        table, found = read_text_table(data, label)
        del data
        problems += found
        if table is None:
            continue
        found, renamed = check_header(table, schema)
        problems += found
        table = read_as(table, renamed)
        if table.frame.height == 0 and name in {"communities", "households"}:
            problems.append(problem("no-rows", label, t("structural.no-rows")))
        cell_problems, typed[name], cell_rules = check_cells(table, schema)
        problems += cell_problems
        problems += check_primary_key(table, schema, typed[name])
        rules[name] += ["header: the schema's fields", *cell_rules, f"primaryKey: {schema.get('primaryKey')}"]
        tables[name] = table
    for name, table in tables.items():
        problems += check_foreign_keys(name, table, schemas[name], typed, display)
        rules[name] += [f"foreignKey: {fk}" for fk in schemas[name].get("foreignKeys", [])]
    frames = {
        name: pl.DataFrame(list(cols.values())) if cols else pl.DataFrame() for name, cols in typed.items()
    }
    return Structure(problems, frames, tables, rules)
