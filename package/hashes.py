"""The package's one data hash, apart from the writer so that readers need no pyarrow."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any


def data_hash(resources: Sequence[Mapping[str, Any]]) -> str:
    """One hash naming the package's data: SHA-256 over each file's path and recorded hash.

    Lines `<resource> <path> <hash>` for the CSV and Parquet file of every resource, in
    package order, joined by newlines; two builds share it only if their data files are equal.
    """
    lines = []
    for resource in resources:
        lines.append(f"{resource['name']} {resource['path']} {resource['hash']}")
        if "parquet" in resource:
            alt = resource["parquet"]
            lines.append(f"{resource['name']} {alt['path']} {alt['hash']}")
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


DATA_HASH_METHOD = (
    "sha256 over lines '<resource> <path> <hash>' (CSV and Parquet of every resource, package "
    "order, newline-joined) of datapackage.json"
)
