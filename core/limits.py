"""The limits on a submission (sizes, rows, columns, archive entries, YAML), stated once in
limits.yaml next to this file and checked when loaded: a bad entry is a UsageError naming the file
and the key. Each stage reads its limits from here, so a CSV table and a Stata table, say, are held
to the same number of rows."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ippmd.core.config import install_error, load_checked
from ippmd.core.errors import InputError
from ippmd.core.home import package_data


def load_limits(path: Path) -> dict[str, int]:
    """Every limit by key (schemas/config/limits.schema.json: each a positive integer with its
    reason, and its source or `assumed: true`); a UsageError names the file and the key at fault."""
    try:
        entries = load_checked(Path(path), "limits")
    except InputError as exc:
        raise install_error(exc) from None
    return {key: int(entry["value"]) for key, entry in entries.items()}


@cache
def limits() -> dict[str, int]:
    return load_limits(package_data(__package__, "limits.yaml"))


def limit(key: str) -> int:
    """One limit, e.g. limit("rows")."""
    return limits()[key]
