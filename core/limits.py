"""The limits on a submission (sizes, rows, columns, archive entries, YAML), stated once in
limits.yaml next to this file and checked when loaded: a bad entry is a UsageError naming the file
and the key. Each stage reads its limits from here, so a CSV table and a Stata table, say, are held
to the same number of rows."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from ippmd.core.errors import UsageError
from ippmd.core.home import package_data

KEYS = (
    "file_bytes", "rows", "columns", "cell_bytes", "unpacked_bytes", "entries",
    "compression_ratio", "yaml_bytes", "yaml_depth",
)  # fmt: skip


def load_limits(path: Path) -> dict[str, int]:
    """Every limit by key; a UsageError names the file and the key of a missing or bad entry."""
    try:
        entries = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the limits: {exc}") from exc
    if not isinstance(entries, dict):
        raise UsageError(f"{path}: must be a mapping of limit name -> entry")
    unknown = sorted(set(map(str, entries)) - set(KEYS))
    if unknown:
        raise UsageError(f"{path}: {unknown[0]}: unknown limit (known: {', '.join(KEYS)})")
    limits = {}
    for key in KEYS:
        entry = entries.get(key)
        where = f"{path}: {key}"
        if not isinstance(entry, dict) or "value" not in entry:
            raise UsageError(f"{where}: missing, or not a mapping with value, reason and assumed")
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UsageError(f"{where}: value must be a positive integer, not {value!r}")
        if not str(entry.get("reason") or "").strip():
            raise UsageError(f"{where}: give the reason for the limit")
        if entry.get("assumed") is not True and not entry.get("source"):
            raise UsageError(f"{where}: give its source, or mark it assumed: true")
        limits[key] = value
    return limits


@cache
def limits() -> dict[str, int]:
    return load_limits(package_data(__package__, "limits.yaml"))


def limit(key: str) -> int:
    """One limit, e.g. limit("rows")."""
    return limits()[key]
