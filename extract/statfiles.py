"""Stata (.dta) and SPSS (.sav) files with the package's labels, via pyreadstat.

Why the care: pyreadstat writes Int64 columns as doubles, so integer fields are cast to Int32
(Stata `long`; SPSS gets an F<w>.0 format) when their values fit; variable labels come from
the field `title`, value labels from `categories`; nulls become system missing. readstat
stamps the wall-clock time into both headers, which would make two identical extracts differ,
so the stamp is overwritten with a fixed one. Labels longer than a format allows (SPSS keeps
120 bytes of a value label) are cut visibly with "…"; the codebook keeps them whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pyreadstat
from ippmd.extract.names import StatFormat, stat_names

# Stata `long` holds -2,147,483,647 .. 2,147,483,620 (the top of int32 codes missing values).
STATA_LONG = (-2_147_483_647, 2_147_483_620)
DTA_VERSION = 14  # format 118: read by Stata 14 and later (pyreadstat's default, 15, writes 119)
LABEL_LIMIT = {"dta": 80, "sav": 255}  # variable-label bytes readstat accepts
VALUE_LABEL_LIMIT = {"dta": 32_000, "sav": 120}  # SPSS keeps 120 bytes of a value label
FILE_LABEL_LIMIT = {"dta": 80, "sav": 64}
FIXED_DTA_STAMP = b"01 Jan 1980 00:00"  # dta 117+: <timestamp>, 17 characters
FIXED_SAV_STAMP = b"01 Jan 8000:00:00"  # sav header: creation date (9) + time (8) at byte 92
SAV_STAMP_OFFSET = 92


def clip(text: str, limit: int) -> str:
    """Cut a label to `limit` UTF-8 bytes, marked by "…" (readstat would refuse or cut silently)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode("utf-8", errors="ignore") + "…"


def _integer_column(series: pl.Series) -> pl.Series:
    """Int32 when every value fits Stata's `long`, else Float64 (readstat has no int64)."""
    low, high = series.min(), series.max()
    if low is None or (STATA_LONG[0] <= low and high <= STATA_LONG[1]):
        return series.cast(pl.Int32)
    return series.cast(pl.Float64)


def _value_labels(field: dict[str, Any], dtype: pl.DataType, fmt: StatFormat) -> dict[Any, str] | None:
    """Value labels of a field; Stata labels integers only (string codes stay in the codebook)."""
    cats = field.get("categories")
    if not cats:
        return None
    limit = VALUE_LABEL_LIMIT[fmt]
    if dtype.is_integer():
        return {int(c["value"]): clip(c["label"], limit) for c in cats}
    if fmt == "sav" and dtype == pl.String:
        return {str(c["value"]): clip(c["label"], limit) for c in cats}
    return None


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
    digits = len(str(int(values.abs().max())))
    sign = 1 if values.min() < 0 else 0
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


def write_stat_file(
    frame: pl.DataFrame, fields: list[dict[str, Any]], path: Path, fmt: StatFormat, file_label: str
) -> dict[str, str]:
    """Write `frame` (columns = `fields`, in order) as .dta or .sav; returns the renames made."""
    by_name = {f["name"]: f for f in fields}
    columns = []
    for name in frame.columns:
        series = frame[name]
        if by_name[name]["type"] == "integer" and series.dtype.is_integer():
            series = _integer_column(series)
        columns.append(series)
    data = pl.DataFrame(columns)
    labels = {name: _value_labels(by_name[name], data[name].dtype, fmt) for name in data.columns}
    labelled = [name for name in data.columns if labels[name]]
    mapping = stat_names(data.columns, fmt, labelled)
    data = data.rename(mapping)
    column_labels = {mapping[n]: clip(by_name[n].get("title", ""), LABEL_LIMIT[fmt]) for n in frame.columns}
    value_labels = {mapping[n]: labels[n] for n in labelled}
    common: dict[str, Any] = {
        "file_label": clip(file_label, FILE_LABEL_LIMIT[fmt]),
        "column_labels": {k: v for k, v in column_labels.items() if v},
        "variable_value_labels": value_labels,
    }
    if fmt == "dta":
        pyreadstat.write_dta(data, str(path), version=DTA_VERSION, **common)
    else:
        formats, measures = {}, {}
        for name in frame.columns:
            new, field = mapping[name], by_name[name]
            if data[new].dtype.is_numeric():
                formats[new] = _spss_format(data[new])
            measures[new] = "nominal" if field.get("categories") or field["type"] == "string" else "scale"
        pyreadstat.write_sav(data, str(path), variable_format=formats, variable_measure=measures, **common)
    pin_timestamp(path, fmt)
    return {old: new for old, new in mapping.items() if old != new}
