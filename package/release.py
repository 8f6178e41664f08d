"""The package's version moves with its data: each build or admit is compared with the package it
replaces, and a change of data bumps the version and appends an entry to the descriptor's `changes`.

Why in the descriptor: it is the one file every reader already has, published in the same swap
as the data, so a version and its history can never disagree; the repository's CHANGELOG.md is
for releases of the code and its default data, never edited by a user's admit.

Semantic version of the data (schemas/package.yaml states it): major = a table, field or country
removed or a field redefined; minor = a table, field or country added; patch = rows corrected or
a country's submission replaced, or only the wording of a field changed. The `dataHash` covers
the data files only (they carry no version), so identical data keep the version and the
descriptor byte for byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ippmd.package.diff import PackageDiff, diff_packages
from ippmd.package.read import BuiltPackage, read_package

Change = Literal["major", "minor", "patch"]
CHANGE_ORDER: tuple[Change, ...] = ("patch", "minor", "major")
WORDING = frozenset({"title", "description", "example", "comment"})  # a field's text, not its meaning


def parse_version(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def bumped(version: str, change: Change) -> str:
    """`version` raised by one `change` (semver: the lower parts restart at 0)."""
    major, minor, patch = parse_version(version)
    if change == "major":
        return f"{major + 1}.0.0"
    if change == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def change_kind(diff: PackageDiff, old: BuiltPackage, new: BuiltPackage) -> Change:
    """How much the data changed from `old` to `new`, whose data hashes differ: at least a patch
    (files that differ with the same values, say from another Parquet writer, are a new release)."""
    kinds: set[Change] = {"patch"}
    if set(old.countries) - set(new.countries) or any(t.only_in == "old" for t in diff.tables):
        kinds.add("major")
    if set(new.countries) - set(old.countries) or any(t.only_in == "new" for t in diff.tables):
        kinds.add("minor")
    for table in diff.tables:
        if table.fields_removed or any(set(props) - WORDING for props in table.fields_changed.values()):
            kinds.add("major")
        if table.fields_added:
            kinds.add("minor")
    return max(kinds, key=CHANGE_ORDER.index)


def change_entry(diff: PackageDiff, old: BuiltPackage, new: BuiltPackage, version: str, kind: Change) -> dict:
    """One entry of `changes`: from which version and data to which, and what `ippmd diff` found."""
    rows = [
        {"table": t.name, **c}
        for t in diff.tables
        for c in t.by_country
        if c["added"] or c["removed"] or c["changed"]
    ]
    fields = [
        {
            "table": t.name,
            "added": t.fields_added,
            "removed": t.fields_removed,
            "changed": t.fields_changed,
        }
        for t in diff.tables
        if t.fields_added or t.fields_removed or t.fields_changed
    ]
    entry: dict[str, Any] = {
        "version": version,
        "change": kind,
        "dataHash": new.data_hash,
        "previous": {"version": old.version, "dataHash": old.data_hash},
        "countriesAdded": sorted(set(new.countries) - set(old.countries)),
        "countriesRemoved": sorted(set(old.countries) - set(new.countries)),
        "rows": rows,
    }
    if fields:
        entry["fields"] = fields
    only_in = {t.name: t.only_in for t in diff.tables if t.only_in}
    if only_in:
        entry["tables"] = only_in  # table -> "old" (removed) or "new" (added)
    return entry


def _schemas(package: BuiltPackage) -> dict[str, Any]:
    return {name: resource.raw["schema"] for name, resource in package.resources.items()}


def _restored(history: list[dict], data_hash: str) -> tuple[str, list[dict]] | None:
    """The version and history of an earlier release of these very data, if any (the latest):
    data returned to as they were are that release again, byte for byte, not a new one."""
    for i in reversed(range(len(history))):
        if history[i]["dataHash"] == data_hash:
            return history[i]["version"], history[: i + 1]
        if history[i]["previous"]["dataHash"] == data_hash:
            return history[i]["previous"]["version"], history[:i]
    return None


def next_release(previous_dir: Path | None, staged_dir: Path) -> tuple[str, list[dict]]:
    """The version and `changes` of the package staged in `staged_dir`, which replaces the one in
    `previous_dir` (None or no package there: a fresh build keeps schemas/package.yaml's version).

    Identical data (same dataHash and schemas) keep the previous version and history; the data of
    an earlier release (a build undone by rebuilding with the old options) are that release again;
    otherwise the previous version is bumped by the kind of change, and never falls below the base
    version of the code (a new release of the code may raise it). Limit: after returning to an
    earlier release, the next change may reuse a version number of the abandoned one; the
    dataHash, in every citation, still tells the two apart."""
    new = read_package(staged_dir)
    if previous_dir is None:
        return new.version, []
    old = read_package(previous_dir)
    history = list(old.descriptor.get("changes", []))
    if old.data_hash == new.data_hash and old.countries == new.countries and _schemas(old) == _schemas(new):
        return old.version, history
    restored = _restored(history, new.data_hash)
    if restored is not None:
        return restored
    diff = diff_packages(previous_dir, staged_dir)
    kind = change_kind(diff, old, new)
    version = max(bumped(old.version, kind), new.version, key=parse_version)
    return version, [*history, change_entry(diff, old, new, version, kind)]
