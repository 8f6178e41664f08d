"""Stata (.dta) and SPSS (.sav) files with the package's labels, via pyreadstat.

Missing values keep their kind (ippmd.package.missing): Stata gets extended missing `.n` (not
in universe) and `.u` (unknown), SPSS the user-missing codes -9 and -8 declared in the file
(free-text strings: `NIU`). A string categorical is written as a labelled integer, its code its
place in the schema's categories (ippmd.package.labels.integer_codes), so it carries its labels
and both missing kinds as the numbers do. Value labels are shared sets (`yesno`, `sex`, ...):
readstat writes one set per variable, so the Stata file's label sections are rewritten
afterwards (`share_dta_labels`), which also stores the notes (`_dta[note1]`...: the synthetic
notice, the missing codes).

Why the care: pyreadstat writes Int64 columns as doubles, so integer fields are cast to Int32
(Stata `long`; SPSS gets an F<w>.0 format) when their values fit, and a table holding an integer
a double cannot hold exactly (beyond 2^53 - 1) is refused, never collapsed; variable labels come from
the field `title`, value labels from `categories`; nulls become system missing. readstat
stamps the wall-clock time into both headers, which would make two identical extracts differ,
so the stamp is overwritten with a fixed one.

Labels are written in the reader's language (ippmd.core.i18n; `shown` fields carry the
translated texts, ippmd.package.translate), while label-set names, types and missing codes come
from the English fields, so a French file shares the same sets as an English one. Labels longer
than a format allows are cut by one rule (`clip`): Unicode NFC, then the longest run of whole
characters that fits the byte limit together with a final "…" (Stata 80 bytes a variable label,
SPSS 255; SPSS keeps 120 bytes of a value label; accented letters take two bytes or more in
UTF-8); the codebook keeps them whole (`cut_labels` lists them).
"""

from __future__ import annotations

import struct
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyreadstat

from ippmd.core.errors import InputError, Problem
from ippmd.core.i18n import t
from ippmd.core.limits import limit
from ippmd.core.scalars import as_number
from ippmd.extract.names import StatFormat, stat_names
from ippmd.package.labels import coded_field, integer_codes, label_sets
from ippmd.package.missing import SPSS_NIU, SPSS_UNKNOWN, STATA_NIU, STATA_UNKNOWN, spss_codes_fit

# Stata `long` holds -2,147,483,647 .. 2,147,483,620 (the top of int32 codes missing values).
STATA_LONG = (-2_147_483_647, 2_147_483_620)
DTA_VERSION = 14  # format 118: read by Stata 14 and later (pyreadstat's default, 15, writes 119)
# Label limits in UTF-8 bytes. Stata 14 ([D] label): a variable label 80 characters, a value label
# 32,000; counted here in bytes, never more than that many characters (an accent takes two). SPSS
# (IBM SPSS Statistics Command Syntax Reference, VARIABLE LABELS / VALUE LABELS / FILE LABEL):
# 255 bytes kept of a variable label (as readstat writes it), 120 of a value label, 64 of the file label.
LABEL_LIMIT = {"dta": 80, "sav": 255}  # a variable label
VALUE_LABEL_LIMIT = {"dta": 32_000, "sav": 120}  # a value label (SPSS keeps 120 bytes)
FILE_LABEL_LIMIT = {"dta": 80, "sav": 64}
SPSS_DOCUMENT_LINE = 80  # bytes of one line of an SPSS file's documents
EXACT_INTEGER = limit("exact_integer")  # larger integers are refused: a double cannot hold them exactly
# Stata's largest double, maxdouble() (larger values code missing): Stata 14 manual, [D] data types.
STATA_MAX_DOUBLE = 8.9884656743e307
MAX_REPORTED = 20  # numbers named per column
KEEP = "--format csv or parquet keep it exact"
FIXED_DTA_STAMP = b"01 Jan 1980 00:00"  # dta 117+: <timestamp>, 17 characters
FIXED_SAV_STAMP = b"01 Jan 8000:00:00"  # sav header: creation date (9) + time (8) at byte 92
SAV_STAMP_OFFSET = 92


def clip(text: str, limit: int) -> str:
    """A label in at most `limit` UTF-8 bytes (readstat would refuse it or cut it mid-letter):
    NFC, then, when too long, the longest run of whole characters that fits with a final "…",
    never cut between a letter and an accent NFC could not join to it."""
    text = unicodedata.normalize("NFC", text)
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len("…".encode())
    kept = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    while kept and unicodedata.combining(text[len(kept)]):
        kept = kept[:-1]
    return kept + "…"


def wrap_bytes(text: str, width: int) -> list[str]:
    """Lines of at most `width` UTF-8 bytes, broken between words (a longer word is clipped)."""
    lines: list[str] = []
    for word in unicodedata.normalize("NFC", text).split():
        word = clip(word, width)
        if lines and len(f"{lines[-1]} {word}".encode()) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def missing_labels() -> tuple[str, str]:
    """The labels of *not in universe* and *unknown*, in the current language."""
    return t("extract.not-in-universe"), t("extract.unknown")


def cut_labels(fields: list[dict[str, Any]], fmt: StatFormat) -> list[tuple[str, object | None, str]]:
    """(variable, value or None, whole label) of each label `fmt` cannot hold whole, for the codebook."""
    cut: list[tuple[str, object | None, str]] = []
    for field in fields:
        title = field.get("title", "")
        if clip(title, LABEL_LIMIT[fmt]) != unicodedata.normalize("NFC", title):
            cut.append((field["name"], None, title))
        cut += [
            (field["name"], c["value"], c["label"])
            for c in field.get("categories", [])
            if clip(c["label"], VALUE_LABEL_LIMIT[fmt]) != unicodedata.normalize("NFC", c["label"])
        ]
    return cut


def unwritable_numbers(frame: pl.DataFrame, file: str, fmt: StatFormat) -> list[Problem]:
    """Numbers the file cannot hold as they are, by column and record: integers beyond
    ±EXACT_INTEGER (a double would merge neighbours: two households both 9007199254740992) and,
    in Stata, numbers beyond its largest double (readstat refuses to write them)."""
    problems: list[Problem] = []
    for name in frame.columns:
        series = frame[name]
        if series.dtype.is_integer():
            beyond = (series > EXACT_INTEGER) | (series < -EXACT_INTEGER)
            why = (
                f"beyond ±{EXACT_INTEGER:,} (2^53 - 1): Stata and SPSS store numbers as doubles, "
                "which would merge it with its neighbours"
            )
            code = "inexact-integer"
        elif series.dtype.is_float() and fmt == "dta":
            beyond = series.abs() > STATA_MAX_DOUBLE
            why = f"beyond ±{STATA_MAX_DOUBLE:.10g}, the largest number Stata stores"
            code = "number-out-of-range"
        else:
            continue
        for row in beyond.fill_null(False).arg_true()[:MAX_REPORTED].to_list():
            message = f"{series[row]} is {why}; the extract is refused rather than written wrong ({KEEP})"
            problems.append(
                Problem(file, message, row=row + 1, field=name, value=str(series[row]), code=code)
            )
    return problems


def coded_categories(frame: pl.DataFrame, fields: list[dict[str, Any]], file: str) -> pl.DataFrame:
    """The frame with each string categorical column as its integer codes (labels.integer_codes;
    nulls stay null, to be coded by kind). A text outside the categories is refused by record."""
    by_name = {f["name"]: f for f in fields}
    columns = []
    for name in frame.columns:
        codes = integer_codes(by_name[name])
        series = frame[name]
        if codes:
            coded = series.replace_strict(codes, default=None, return_dtype=pl.Int32)
            stray = (series.is_not_null() & coded.is_null()).arg_true()
            if stray.len():
                allowed = ", ".join(codes)
                raise InputError(
                    [
                        Problem(
                            file,
                            f"{series[row]!r} is not a category of {name} ({allowed}): it has no code "
                            f"to write in the file ({KEEP})",
                            row=row + 1,
                            field=name,
                            value=str(series[row]),
                            code="constraint-error",
                        )
                        for row in stray[:MAX_REPORTED].to_list()
                    ]
                )
            series = coded.alias(name)
        columns.append(series)
    return pl.DataFrame(columns, schema={c.name: c.dtype for c in columns}) if columns else frame


def _integer_column(series: pl.Series) -> pl.Series:
    """Int32 when every value fits Stata's `long`, else Float64 (readstat has no int64)."""
    low, high = series.min(), series.max()
    if low is None or (STATA_LONG[0] <= as_number(low) and as_number(high) <= STATA_LONG[1]):
        return series.cast(pl.Int32)
    return series.cast(pl.Float64)


def _value_labels(field: dict[str, Any], dtype: pl.DataType, fmt: StatFormat) -> dict[Any, str] | None:
    """Value labels of an integer field (string categories arrive coded: coded_categories)."""
    cats = field.get("categories")
    if not cats:
        return None
    limit = VALUE_LABEL_LIMIT[fmt]
    if dtype.is_integer():
        return {int(c["value"]): clip(c["label"], limit) for c in cats}
    return None


def shared_label_sets(english: list[dict[str, Any]], labels: dict[str, Any]) -> dict[str, str]:
    """Field -> value-label set: fields with the same English categories share one set named as
    in every language (ippmd.package.labels: `yesno`, `sex`, ...). Where the language words the
    labels of such fields differently, the wording most of them share (the first on a tie) keeps
    the set; each other wording gets a set of its own, named after its first field."""
    sets_of = label_sets(english)
    wordings: dict[str, dict[tuple[Any, ...], list[str]]] = {}  # set -> wording -> fields
    for field in english:
        wording = tuple((labels[field["name"]] or {}).items())
        wordings.setdefault(sets_of[field["name"]], {}).setdefault(wording, []).append(field["name"])
    taken = set(sets_of.values())
    chosen: dict[str, str] = {}
    for name, groups in wordings.items():
        main = max(groups.values(), key=len)
        for members in groups.values():
            own = name
            if members is not main:
                own = members[0]
                while own in taken:
                    own = f"{own}_"
                taken.add(own)
            chosen |= dict.fromkeys(members, own)
    return chosen


def _spss_format(series: pl.Series) -> str:
    """F<w>.<d> wide enough for the values, with the decimals they use (at most 6), so SPSS
    shows 1.52053 rather than its default F8.2 rounding (display only: values are doubles)."""
    values = series.drop_nulls().drop_nans() if series.dtype.is_float() else series.drop_nulls()
    if values.is_empty():
        return "F8.2" if series.dtype.is_float() else "F1.0"
    decimals = 0
    if series.dtype.is_float():
        decimals = next(
            (d for d in range(7) if ((values * 10**d).round() - values * 10**d).abs().max() < 1e-6),
            6,
        )
    digits = len(str(int(as_number(values.abs().max()))))
    sign = 1 if as_number(values.min()) < 0 else 0
    width = min(40, max(1, sign + digits + (decimals + 1 if decimals else 0)))
    return f"F{width}.{decimals}"


def pin_timestamp(path: Path, fmt: StatFormat) -> None:
    """Overwrite the creation time readstat wrote into the header with a fixed one."""
    with path.open("r+b") as handle:
        head = handle.read(2048)
        if fmt == "dta":
            at = head.find(b"<timestamp>")
            if not head.startswith(b"<stata_dta>") or at < 0:
                raise ValueError(f"{path}: not a dta 117+ header")
            length = head[at + len(b"<timestamp>")]
            handle.seek(at + len(b"<timestamp>") + 1)
            handle.write(FIXED_DTA_STAMP[:length].ljust(length, b" "))
        else:
            if head[:4] not in (b"$FL2", b"$FL3"):
                raise ValueError(f"{path}: not an SPSS system file")
            handle.seek(SAV_STAMP_OFFSET)
            handle.write(FIXED_SAV_STAMP)


# Stata long codes of extended missing values in value-label tables: . is 2,147,483,621, .a the
# next, ... (Stata 14 manual, [D] missing values / dta format).
STATA_LONG_MISSING = 2_147_483_621
DTA_NAME_BYTES = 129  # dta 118: variable, label-set and characteristic names
MISSING_SET = "missing"  # the label set of coded-free integer fields: only .n and .u


def _stata_missing_code(letter: str) -> int:
    return STATA_LONG_MISSING + ord(letter) - ord("a") + 1


def _lbl_table(name: str, labels: dict[int, str], order: str) -> bytes:
    """One <lbl> entry of a dta 118 file (value -> label table)."""
    texts, offsets, offset = b"", [], 0
    for label in labels.values():
        encoded = label.encode("utf-8") + b"\0"
        offsets.append(offset)
        texts += encoded
        offset += len(encoded)
    n = len(labels)
    table = struct.pack(f"{order}ii", n, len(texts))
    table += struct.pack(f"{order}{n}i", *offsets) + struct.pack(f"{order}{n}i", *labels.keys()) + texts
    head = name.encode("utf-8").ljust(DTA_NAME_BYTES, b"\0") + b"\0\0\0"
    return b"<lbl>" + struct.pack(f"{order}i", len(table)) + head + table + b"</lbl>"


def _characteristic(var: str, name: str, text: str) -> bytes:
    body = (
        var.encode("utf-8").ljust(DTA_NAME_BYTES, b"\0")
        + name.encode("utf-8").ljust(DTA_NAME_BYTES, b"\0")
        + text.encode("utf-8")
        + b"\0"
    )
    return body


def share_dta_labels(
    path: Path, sets: dict[str, dict[int, str]], assigned: dict[str, str], notes: list[str]
) -> None:
    """Rewrite a dta 118 file's value labels as shared sets and store notes as characteristics.

    `sets`: set name -> {value: label}; `assigned`: variable -> set name. The map of section
    offsets is updated for the sections that move.
    """
    data = bytearray(path.read_bytes())
    order = "<" if b"<byteorder>LSF</byteorder>" in data[:200] else ">"
    k_at = data.index(b"<K>") + 3
    nvar = struct.unpack(f"{order}H", data[k_at : k_at + 2])[0]
    map_at = data.index(b"<map>") + 5
    offsets = list(struct.unpack(f"{order}14Q", data[map_at : map_at + 14 * 8]))
    names_at = data.index(b"<varnames>") + len(b"<varnames>")
    names = [
        data[names_at + i * DTA_NAME_BYTES : names_at + (i + 1) * DTA_NAME_BYTES].split(b"\0")[0].decode()
        for i in range(nvar)
    ]
    vln_at = data.index(b"<value_label_names>") + len(b"<value_label_names>")
    for i, name in enumerate(names):
        label = assigned.get(name, "").encode("utf-8").ljust(DTA_NAME_BYTES, b"\0")
        data[vln_at + i * DTA_NAME_BYTES : vln_at + (i + 1) * DTA_NAME_BYTES] = label
    chars = [("_dta", "note0", str(len(notes)))] + [("_dta", f"note{i}", n) for i, n in enumerate(notes, 1)]
    entries = b"".join(
        b"<ch>" + struct.pack(f"{order}I", len(body)) + body + b"</ch>"
        for body in (_characteristic(*c) for c in chars)
    )
    ch_start, ch_end = offsets[8], offsets[9]  # <characteristics> ... up to <data>
    new_chars = b"<characteristics>" + entries + b"</characteristics>"
    grow_chars = len(new_chars) - (ch_end - ch_start)
    vl_start, vl_end = offsets[11], offsets[12]  # <value_labels> ... up to </stata_dta>
    used = [s for s in dict.fromkeys(assigned.values()) if s in sets]
    new_labels = (
        b"<value_labels>" + b"".join(_lbl_table(s, sets[s], order) for s in used) + b"</value_labels>"
    )
    grow_labels = len(new_labels) - (vl_end - vl_start)
    out = (
        bytes(data[:ch_start]) + new_chars + bytes(data[ch_end:vl_start]) + new_labels + bytes(data[vl_end:])
    )
    offsets = [
        o + (grow_chars if i >= 9 else 0) + (grow_labels if i >= 12 else 0) for i, o in enumerate(offsets)
    ]
    result = bytearray(out)
    result[map_at : map_at + 14 * 8] = struct.pack(f"{order}14Q", *offsets)
    path.write_bytes(bytes(result))


def _with_missing_codes(
    data: pl.DataFrame, niu: dict[str, pl.Series], fmt: StatFormat, by_name: dict[str, dict[str, Any]]
) -> tuple[Any, dict[str, list[Any]]]:
    """The frame with each null coded by kind, and the declared missing values per column.

    Stata: an object column mixing numbers with 'n'/'u' (pyreadstat's extended missing); every
    null gets a code, because pyreadstat writes a bare None in such a column as 0. SPSS: -9/-8
    in numeric columns whose values cannot be negative, `NIU` in strings.
    """
    declared: dict[str, list[Any]] = {}
    if fmt == "dta":
        frame = data.to_pandas()
        for name in data.columns:
            column = data[name]
            if not column.dtype.is_numeric() or column.null_count() == 0:
                continue
            outside = niu[name].to_list()
            values = column.to_list()
            frame[name] = pd.Series(
                [
                    v if v is not None else (STATA_NIU if o else STATA_UNKNOWN)
                    for v, o in zip(values, outside, strict=True)
                ],
                dtype=object,
            )
            declared[name] = [STATA_NIU, STATA_UNKNOWN]
        return frame, declared
    columns = []
    for name in data.columns:
        column = data[name]
        field = by_name[name]
        if column.null_count() and column.dtype.is_numeric() and spss_codes_fit(field):
            coded = pl.select(
                pl.when(column.is_not_null())
                .then(column)
                .when(niu[name])
                .then(pl.lit(SPSS_NIU))
                .otherwise(pl.lit(SPSS_UNKNOWN))
                .cast(column.dtype)
            ).to_series()
            columns.append(coded.alias(name))
            declared[name] = [SPSS_NIU, SPSS_UNKNOWN]
        elif column.dtype == pl.String and bool(niu[name].any()):
            columns.append(
                pl.select(pl.when(niu[name]).then(pl.lit("NIU")).otherwise(column)).to_series().alias(name)
            )
            declared[name] = ["NIU"]
        else:
            columns.append(column)
    return pl.DataFrame(columns), declared


def write_stat_file(
    frame: pl.DataFrame,
    fields: list[dict[str, Any]],
    path: Path,
    fmt: StatFormat,
    file_label: str,
    niu: dict[str, pl.Series] | None = None,
    notes: list[str] | None = None,
    shown: list[dict[str, Any]] | None = None,
) -> dict[str, str]:
    """Write `frame` (columns = `fields`, in order) as .dta or .sav; returns the renames made.

    `niu`: per column, True where a null is *not in universe* (other nulls are *unknown*); by
    default every null is unknown. `notes` go into the file (Stata notes, SPSS documents).
    `shown`: the same fields with their titles and category labels in the reader's language
    (ippmd.package.translate.translated_field), the labels written; by default `fields`.
    String categories are written as labelled integers (ippmd.package.labels.coded_field), so
    their two kinds of missing are coded as for numbers.
    """
    unwritable = unwritable_numbers(frame, path.name, fmt)
    if unwritable:
        raise InputError(unwritable)
    frame = coded_categories(frame, fields, path.name)
    fields = [coded_field(f) for f in fields]
    shown = [coded_field(f) for f in shown] if shown else None
    by_name = {f["name"]: f for f in fields}
    columns = []
    for name in frame.columns:
        series = frame[name]
        if by_name[name]["type"] == "integer" and series.dtype.is_integer():
            series = _integer_column(series)
        columns.append(series)
    data = pl.DataFrame(columns)
    niu = {n: (niu or {}).get(n, pl.Series(n, [False] * data.height)) for n in data.columns}
    in_language = {f["name"]: f for f in shown or fields}
    labels = {name: _value_labels(in_language[name], data[name].dtype, fmt) for name in data.columns}
    labelled = [name for name in data.columns if labels[name]]
    mapping = stat_names(data.columns, fmt, labelled)
    column_labels = {
        mapping[n]: clip(in_language[n].get("title", ""), LABEL_LIMIT[fmt]) for n in frame.columns
    }
    coded, declared = _with_missing_codes(data, niu, fmt, by_name)
    # pandas (Stata: object columns mixing values and missing letters) or polars (SPSS)
    coded = coded.rename(columns=mapping) if fmt == "dta" else coded.rename(mapping)
    common: dict[str, Any] = {
        "file_label": clip(file_label, FILE_LABEL_LIMIT[fmt]),
        "column_labels": {k: v for k, v in column_labels.items() if v},
    }
    if fmt == "dta":
        stata_notes = [clip(n, 67_784) for n in notes or []]
        _write_dta(coded, path, data, by_name, labels, labelled, declared, mapping, stata_notes, common)
    else:
        documents = [line for note in notes or [] for line in wrap_bytes(note, SPSS_DOCUMENT_LINE)] or None
        _write_sav(coded, path, frame.columns, by_name, labels, declared, mapping, documents, common)
    pin_timestamp(path, fmt)
    return {old: new for old, new in mapping.items() if old != new}


def _write_dta(
    coded: Any,
    path: Path,
    data: pl.DataFrame,
    by_name: dict[str, dict[str, Any]],
    labels: dict[str, Any],
    labelled: list[str],
    declared: dict[str, Any],
    mapping: dict[str, str],
    notes: list[str],
    common: dict[str, Any],
) -> None:
    """The .dta file: value-label sets shared by fields with the same labels, every integer
    column with missing codes labelled `.n` not in universe and `.u` unknown, and the notes."""
    sets_of = shared_label_sets([by_name[n] for n in labelled], labels)
    sets: dict[str, dict[int, str]] = {}
    assigned: dict[str, str] = {}
    for name in data.columns:
        if name in labelled and data[name].dtype.is_integer():
            sets.setdefault(sets_of[name], dict(labels[name] or {}))
            assigned[mapping[name]] = sets_of[name]
        elif name in declared and data[name].dtype.is_integer():
            assigned[mapping[name]] = MISSING_SET
    niu_label, unknown_label = (clip(label, VALUE_LABEL_LIMIT["dta"]) for label in missing_labels())
    missing = {_stata_missing_code(STATA_NIU): niu_label, _stata_missing_code(STATA_UNKNOWN): unknown_label}
    for name in sets:
        sets[name] |= missing
    sets[MISSING_SET] = dict(missing)
    pyreadstat.write_dta(
        coded,
        str(path),
        version=DTA_VERSION,
        missing_user_values={mapping[n]: v for n, v in declared.items()},
        **common,
    )
    share_dta_labels(path, sets, assigned, notes)


def _write_sav(
    coded: Any,
    path: Path,
    names: list[str],
    by_name: dict[str, dict[str, Any]],
    labels: dict[str, Any],
    declared: dict[str, Any],
    mapping: dict[str, str],
    documents: list[str] | None,
    common: dict[str, Any],
) -> None:
    """The .sav file: value labels with the user-missing codes (-9 not in universe, -8 unknown;
    `NIU` for strings), formats, measurement levels and the documents."""
    value_labels = {}
    niu_label, unknown_label = missing_labels()
    for name in names:
        new = mapping[name]
        base = dict(labels[name] or {})
        if name in declared and coded[new].dtype.is_numeric():
            base |= {SPSS_NIU: niu_label, SPSS_UNKNOWN: unknown_label}
        elif name in declared:
            base |= {"NIU": niu_label}
        if base:
            value_labels[new] = {k: clip(v, VALUE_LABEL_LIMIT["sav"]) for k, v in base.items()}
    formats, measures = {}, {}
    for name in names:
        new, field = mapping[name], by_name[name]
        if coded[new].dtype.is_numeric():
            formats[new] = _spss_format(coded[new])
        measures[new] = "nominal" if field.get("categories") or field["type"] == "string" else "scale"
    pyreadstat.write_sav(
        coded,
        str(path),
        variable_format=formats,
        variable_measure=measures,
        variable_value_labels=value_labels,
        missing_ranges={mapping[n]: v for n, v in declared.items()},
        note=documents,
        **common,
    )
