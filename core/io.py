"""I/O helpers shared by every stage: checksums, atomic writes, reading a package descriptor."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ippmd.core.config import DuplicateKey, unique_keys_loader
from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.i18n import t
from ippmd.core.limits import limit

DESCRIPTOR = "datapackage.json"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks (data files can be large at --scale 10)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write a whole file or nothing: a temporary file beside it, flushed, then renamed over it."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a device such as /dev/full: never replaced
        raise UsageError(f"{path} exists and is not a regular file; give a file name to write")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# A package descriptor is a few levels deep (resources > schema > fields > categories > label);
# anything far deeper is pathological and refused before a recursive reader meets it.
MAX_DESCRIPTOR_DEPTH = 32


def read_descriptor(package_dir: Path) -> dict[str, Any]:
    """The package's datapackage.json: none is a package not built yet (UsageError, exit 2);
    one that is not UTF-8 JSON, nested too deep, or has no resources list is an InputError
    naming the file (exit 1). Never a traceback, whatever the JSON's shape or depth."""
    path = Path(package_dir) / DESCRIPTOR
    if not path.is_file():
        raise UsageError(t("cli.not-built", descriptor=DESCRIPTOR, folder=str(package_dir)))
    descriptor = parse_json_bounded(path, MAX_DESCRIPTOR_DEPTH)
    if not isinstance(descriptor, dict):
        kind = type(descriptor).__name__
        raise _descriptor_error(path, t("io.descriptor-not-object", kind=kind))
    if not isinstance(descriptor.get("resources"), list):
        raise _descriptor_error(path, t("io.descriptor-no-resources"), "resources")
    return descriptor


def _descriptor_error(path: Path, message: str, field: str | None = None) -> InputError:
    return InputError([Problem(str(path), message, field=field, code="descriptor-error")])


def parse_json_bounded(path: Path, max_depth: int) -> Any:
    """A JSON file parsed, refusing one nested deeper than `max_depth` (named, exit 1)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _descriptor_error(path, t("io.json-not-utf8", reason=exc.reason, byte=exc.start)) from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise _descriptor_error(path, t("io.nested-too-deep", depth=max_depth)) from None
    except _NotStrictJson as exc:
        raise _descriptor_error(path, str(exc)) from None
    except ValueError as exc:
        raise _descriptor_error(path, t("io.json-unreadable", error=str(exc))) from None
    if json_depth(value, max_depth) > max_depth:
        raise _descriptor_error(path, t("io.nested-too-deep", depth=max_depth))
    return value


class _NotStrictJson(ValueError):
    """JSON that parses but means two things: a key given twice (the last silently wins) or a
    NaN/Infinity literal (not JSON at all, though Python reads it)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _NotStrictJson(t("io.json-key-twice", key=repr(key[:100])))
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise _NotStrictJson(t("io.json-constant", name=name))


def json_depth(value: object, stop: int) -> int:
    """Nesting depth of a JSON value (stopping once past `stop`), without recursion, so a
    hostile file cannot exhaust the stack."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > stop:
            return depth
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
    return deepest


def descriptor_countries(package_dir: Path, descriptor: dict[str, Any]) -> list[str]:
    """The descriptor's `countries`: a list of distinct ISO3 codes, else an InputError naming
    the field (a hand-edited descriptor is a problem of the data, exit 1)."""
    countries = descriptor.get("countries")
    path = str(Path(package_dir) / DESCRIPTOR)
    if not isinstance(countries, list) or not countries:
        raise InputError(
            [Problem(path, t("io.countries-not-list"), field="countries", code="descriptor-error")]
        )
    for code in countries:
        if not isinstance(code, str) or len(code) != 3 or not code.isascii() or not code.isupper():
            raise InputError(
                [
                    Problem(
                        path,
                        t("io.country-not-iso3"),
                        field="countries",
                        value=str(code)[:20],
                        code="descriptor-error",
                    )
                ]
            )
    if len(set(countries)) != len(countries):
        raise InputError([Problem(path, t("io.country-twice"), field="countries", code="descriptor-error")])
    return list(countries)


def descriptor_build_options(package_dir: Path, descriptor: dict[str, Any]) -> dict[str, int]:
    """The descriptor's `build` seed and scale (for rebuilding the package), checked."""
    build = descriptor.get("build", {})
    path = str(Path(package_dir) / DESCRIPTOR)
    if not isinstance(build, dict):
        raise InputError([Problem(path, t("io.build-not-mapping"), field="build", code="descriptor-error")])
    options = {}
    for key in ("seed", "scale"):
        if key in build:
            value = build[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "scale" else 0):
                raise InputError(
                    [
                        Problem(
                            path,
                            t("io.build-out-of-range"),
                            field=f"build.{key}",
                            value=str(value)[:20],
                            code="descriptor-error",
                        )
                    ]
                )
            options[key] = value
    return options


def verified_file(package_dir: Path, entry: Mapping[str, Any]) -> Path:
    """The file a descriptor entry (`path`, `hash`) names, inside the package and unchanged since
    the build; else an InputError naming it (exit 1). A corrupt or edited file is a problem of the
    data, not a bug, and a path leading out of the package is never read."""
    root = Path(package_dir)
    relative = str(entry.get("path", ""))
    path = root / relative
    try:
        outside = (
            not relative or Path(relative).is_absolute() or not path.resolve().is_relative_to(root.resolve())
        )
        regular = path.is_file()
    except (OSError, RuntimeError, ValueError) as exc:  # a NUL, a link loop, a name too long
        raise InputError(
            [
                Problem(
                    str(root / DESCRIPTOR), t("io.path-unusable", path=repr(relative[:200]), error=str(exc))
                )
            ]
        ) from None
    if outside:
        raise InputError([Problem(str(root / DESCRIPTOR), t("io.path-outside", path=repr(relative)))])
    if not regular:
        raise InputError([Problem(str(path), t("io.data-file-missing"))])
    expected = str(entry.get("hash", ""))
    if not expected.startswith("sha256:"):  # an unknown method would skip the check: refused
        raise InputError([Problem(str(root / DESCRIPTOR), t("io.hash-not-sha256", path=repr(relative)))])
    if sha256_file(path) != expected.removeprefix("sha256:"):
        raise InputError(
            [
                Problem(
                    str(path),
                    t("io.hash-mismatch"),
                    code="hash-mismatch",
                    hint=t("io.hash-mismatch-hint"),
                )
            ]
        )
    return path


def verify_parquet_files(package_dir: Path) -> None:
    """Check every Parquet file of a package against its descriptor (hash) and its table's
    harmonized schema (`check_parquet_table`) before a command reads it."""
    for resource in read_descriptor(package_dir)["resources"]:
        if isinstance(resource, dict) and isinstance(resource.get("parquet"), dict):
            check_parquet_table(verified_file(package_dir, resource["parquet"]), str(resource.get("name")))


def check_parquet_table(path: Path, name: str) -> Path:
    """A package table's Parquet file holds the columns and types of its harmonized Table Schema,
    a value in every required column and no NaN or infinity (the writer stores a missing value
    as null); else an InputError naming file, column and first row (exit 1). A file edited with
    its hash updated to match would otherwise reach the models as a crash, or a panic in Rust.
    Returns `path`."""
    import polars as pl

    from ippmd.core.schema import PACKAGE_RESOURCES, harmonized_schema, polars_schema

    if name not in PACKAGE_RESOURCES:
        return path
    schema = harmonized_schema(name)
    expected = polars_schema(schema)
    try:
        actual = dict(pl.scan_parquet(path, glob=False).collect_schema())
    except Exception as exc:  # polars raises its own untyped errors for a broken footer
        raise InputError(
            [Problem(str(path), t("io.parquet-unreadable", error=str(exc)), code="package")]
        ) from None
    problems = [
        Problem(str(path), t("io.parquet-column-missing"), field=column, code="package")
        for column in expected
        if column not in actual
    ]
    problems += [
        Problem(
            str(path),
            t("io.parquet-column-type", actual=str(actual[column]), expected=str(dtype)),
            field=column,
            code="package",
        )
        for column, dtype in expected.items()
        if column in actual and actual[column] != dtype
    ]
    problems += [
        Problem(str(path), t("io.parquet-column-extra"), field=column, code="package")
        for column in actual
        if column not in expected
    ]
    if problems:
        raise InputError(problems)
    required = {f["name"] for f in schema["fields"] if f.get("constraints", {}).get("required")}
    floats = {column for column, dtype in expected.items() if dtype.is_float()}
    try:  # every page read once: a corrupt page is named here, not met later as a crash
        frame = pl.read_parquet(path, glob=False)
    except Exception as exc:  # polars raises its own untyped errors for damaged pages
        raise InputError(
            [Problem(str(path), t("io.parquet-unreadable", error=str(exc)), code="package")]
        ) from None
    if frame.height == 0:  # every table of a built package has rows
        raise InputError([Problem(str(path), t("io.parquet-no-rows"), code="package")])
    for column in sorted(required | floats):
        values = frame[column]
        bad = values.is_null() if column in required else pl.Series(column, [False] * len(values))
        if column in floats:
            bad = bad | ~values.is_finite().fill_null(True)
        if bad.any():
            row = int(bad.arg_true()[0]) + 1
            message = (
                t("io.parquet-required-empty", row=row)
                if values[row - 1] is None
                else t("io.parquet-not-finite", row=row)
            )
            problems.append(Problem(str(path), message, field=column, code="package"))
    if problems:
        raise InputError(problems)
    return path


def load_yaml(text: str) -> Any:
    """yaml.safe_load with libyaml's C parser when present: the same documents, parsed ~10x faster
    (country metadata, suites and specs are read on every build)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# Limits on a YAML file a user hands us (metadata.yaml), checked before it is parsed; their
# reasons are in limits.yaml.
MAX_YAML_BYTES = limit("yaml_bytes")
MAX_YAML_DEPTH = limit("yaml_depth")


def load_user_yaml(path: Path, label: str) -> Any:
    """A user's YAML file, parsed only once it is known to be small, shallow and alias-free.

    Raises InputError (naming `label`) for a file over MAX_YAML_BYTES, nesting deeper than
    MAX_YAML_DEPTH, anchors or aliases (an alias bomb), and anything unreadable as YAML or
    as values Python can hold (an integer of 5,000 digits, a lone surrogate)."""

    def refuse(message: str) -> InputError:
        return InputError([Problem(label, message, code="metadata-error")])

    size = Path(path).stat().st_size
    if size > MAX_YAML_BYTES:
        raise refuse(t("io.yaml-too-large", size=size, limit=MAX_YAML_BYTES))
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse(t("io.yaml-not-utf8", byte=exc.start)) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise refuse(t("io.yaml-aliases"))
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise refuse(t("io.nested-too-deep", depth=MAX_YAML_DEPTH))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        value = yaml.load(text, Loader=unique_keys_loader(loader))
    except yaml.YAMLError as exc:
        raise refuse(t("io.yaml-invalid", error=" ".join(str(exc).split()))) from None
    except DuplicateKey as exc:
        raise InputError(
            [
                Problem(
                    label,
                    t("io.yaml-key-twice", key=repr(exc.key), first=str(exc.first), line=str(exc.line)),
                    row=exc.line,
                    field=str(exc.key),
                    code="metadata-error",
                )
            ]
        ) from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. a 5,000-digit integer
        raise refuse(
            t("io.yaml-value-unreadable", kind=exc.__class__.__name__, error=str(exc)[:120])
        ) from None
    _refuse_surrogates(value, refuse)
    return value


def _refuse_surrogates(value: Any, refuse: Any) -> None:
    """Lone surrogates (from an escape such as \\ud800) cannot be written as UTF-8: refuse them here."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise refuse(t("io.yaml-surrogate", text=repr(item[:40]))) from None


def claim_output_folder(out: Path, command: str, force: bool = False, earlier: Sequence[str] = ()) -> Path:
    """A folder `command` may fill: new, empty, or filled by an earlier run of it (its marker file
    `.ippmd-<command>`, or all the `earlier` files a run before markers existed wrote). Any other
    folder holds the user's files: refused (UsageError, exit 2) unless `force`. Returns `out`."""
    out = Path(out)
    marker = out / f".ippmd-{command}"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    refuse_inside_a_package(out, "--out")
    ours = marker.exists() or (earlier and all((out / name).exists() for name in earlier))
    if out.is_dir() and any(out.iterdir()) and not ours and not force:
        raise UsageError(
            f"--out {out} is a folder with other files in it: give an empty or new folder, or --force "
            f"(a folder an earlier `ippmd {command}` wrote, marked by {marker.name}, is updated in place)"
        )
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(marker, f"written by `ippmd {command}`; the next `ippmd {command}` may replace its files\n")
    return out


def package_files(package_dir: Path) -> list[Path]:
    """The places a built package consists of: never a command's output (its descriptor, data,
    the submissions admitted into it, its lock and the staging folders of its writers)."""
    root = Path(package_dir)
    staging = sorted(root.glob(".ippmd-build-*")) if root.is_dir() else []
    return [root / DESCRIPTOR, root / "data", root / "admitted", root / ".ippmd.lock", *staging]


def refuse_output_over(out: Path | None, inputs: list[Path], option: str) -> None:
    """A command never writes into what it reads: refuse (UsageError, exit 2) an output that is,
    or lies inside, one of its inputs (a package's descriptor or data, a submission), or inside
    the places of any package around it (`refuse_inside_a_package`)."""
    if out is None:
        return
    target = Path(out).resolve()
    for place in inputs:
        protected = Path(place).resolve()
        if target == protected or protected in target.parents:
            raise UsageError(t("cli.would-write-over", option=option, out=str(out), place=str(place)))
    refuse_inside_a_package(out, option)


def refuse_inside_a_package(out: Path, option: str) -> None:
    """No command but build and admit (which publish under the package's lock) writes into a
    package's descriptor, data/, admitted/, lock or staging folders, --force or not: refuse
    (UsageError, exit 2) an output there, for any package at or above `out`."""
    target = Path(out).resolve()
    for folder in (target, *target.parents):
        if not (folder / DESCRIPTOR).is_file():
            continue
        for place in package_files(folder):
            place = place.resolve()
            if target == place or place in target.parents:
                raise UsageError(
                    t(
                        "cli.inside-a-package",
                        option=option,
                        out=str(out),
                        folder=str(folder),
                        place=place.name,
                    )
                )


OWNER_FILE = "owner.pid"


def staging_folder(parent: Path, prefix: str) -> Path:
    """A hidden working folder beside the target, marked with the pid of the process that owns it,
    so a later run can tell a killed run's leftovers from a live run's folder."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    (folder / OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
    return folder


def remove_stale_staging(parent: Path, prefix: str) -> list[Path]:
    """Remove the staging folders of runs that were killed (their owner process is gone)."""
    removed = []
    for folder in Path(parent).glob(f"{prefix}*"):
        try:
            owner = int((folder / OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not ours, or being created right now
        try:
            os.kill(owner, 0)
            continue  # its owner still runs
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except PermissionError:
            continue  # another user's live process
    return removed
