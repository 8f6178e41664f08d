"""Provenance and targets as data: indicators/sources.yaml and indicators/targets.yaml.

Every value in the indicator table names a source id from sources.yaml; the ingest checks each
original against its recorded SHA-256 so that a re-downloaded (revised) file cannot be labelled
with the wrong vintage.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ippmd.core.errors import InputError, Problem
from ippmd.core.home import package_data
from ippmd.core.io import load_yaml, sha256_file

SOURCES_FILE = package_data(__package__, "sources.yaml")
TARGETS_FILE = package_data(__package__, "targets.yaml")


@dataclass(frozen=True)
class Source:
    """One original file: what the CSV's `source`, `vintage` and `source_file` columns say."""

    id: str
    file: str
    vintage: str
    sha256: str
    producer: str
    title: str


@cache
def sources() -> dict[str, Source]:
    """Source id -> Source, from sources.yaml."""
    data: dict[str, dict[str, Any]] = load_yaml(SOURCES_FILE.read_text(encoding="utf-8"))
    return {
        key: Source(
            id=key,
            file=block["file"],
            vintage=block["vintage"],
            sha256=block["sha256"],
            producer=block["producer"],
            title=block["title"],
        )
        for key, block in data.items()
    }


@cache
def targets() -> dict[str, dict[str, Any]]:
    """Target id -> its block from targets.yaml (value, unit, label, sources)."""
    return load_yaml(TARGETS_FILE.read_text(encoding="utf-8"))


def check_originals(source_dir: Path, ids: list[str] | None = None) -> None:
    """Raise InputError unless every original is present with the SHA-256 recorded in sources.yaml."""
    problems = []
    for key in ids or list(sources()):
        source = sources()[key]
        path = source_dir / source.file
        if not path.is_file():
            problems.append(
                Problem(file=source.file, message=f"original file missing (looked in {source_dir})")
            )
        elif (found := sha256_file(path)) != source.sha256:
            problems.append(
                Problem(
                    file=source.file,
                    message=(
                        f"SHA-256 differs from sources.yaml ({source.sha256}); a different release "
                        "would be labelled with the wrong vintage: update the provenance block first"
                    ),
                    value=found,
                )
            )
    if problems:
        raise InputError(problems)
