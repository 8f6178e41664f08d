"""Country metadata: `countries/<ISO3>/country.yaml` and a submission's `metadata.yaml`."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.home import countries_dir, package_data, schemas_dir
from ippmd.core.i18n import t, translated
from ippmd.core.io import load_user_yaml, load_yaml
from ippmd.core.limits import limit


def country_codes() -> list[str]:
    """ISO3 codes of the countries with a `country.yaml`, sorted."""
    codes = sorted(p.parent.name for p in countries_dir().glob("*/country.yaml"))
    if not codes:
        raise UsageError(f"ippmd is not installed completely: no country metadata in {countries_dir()}")
    return codes


@cache
def load_country(iso3: str) -> dict[str, Any]:
    """The full country metadata (submission block, published sizes, targets, sources)."""
    path = countries_dir() / iso3 / "country.yaml"
    if not path.exists():
        known = ", ".join(country_codes())
        raise InputError([Problem(str(path), t("metadata.no-country", iso3=repr(iso3), known=known))])
    return load_yaml(path.read_text(encoding="utf-8"))


def source_citation(country: dict[str, Any], entry: dict[str, Any]) -> str:
    """The citation behind a value, or 'assumed' with its note."""
    if entry.get("assumed"):
        note = entry.get("note")
        return f"assumed ({note})" if note else "assumed"
    source = country["sources"][entry["source"]]
    return f"{source['citation']} ({source['url']})"


@cache
def _metadata_schema() -> dict[str, Any]:
    import json

    return json.loads(schemas_dir("submission", "metadata.schema.json").read_text(encoding="utf-8"))


@cache
def iso3166() -> dict[str, tuple[str, str]]:
    """ISO3 -> (ISO2, short name): country_converter's table, kept as data so that validating
    a submission does not import pandas (a test keeps the two identical)."""
    import json

    table = json.loads(package_data("ippmd.core", "iso3166.json").read_text(encoding="utf-8"))
    return {k: tuple(v) for k, v in table.items()}


def _iso_codes() -> tuple[frozenset[str], dict[str, str]]:
    table = iso3166()
    return frozenset(table), {iso3: iso2 for iso3, (iso2, _) in table.items()}


@cache
def _strict_validator() -> Any:
    """Draft 7, but an integer is an integer: JSON Schema counts 2014.0 as one, and the code that
    reads survey_year or a code's years would then fail on a float."""
    import jsonschema

    def whole(_checker: Any, instance: Any) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    checker = jsonschema.Draft7Validator.TYPE_CHECKER.redefine("integer", whole)
    return jsonschema.validators.extend(jsonschema.Draft7Validator, type_checker=checker)


def check_submission_metadata(
    meta: Any, file: str, lines: dict[tuple[str, ...], int] | None = None
) -> dict[str, Any]:
    """Refuse metadata that cannot drive harmonization, naming each wrong or missing piece at its
    key and, given the file's key `lines` (`yaml_lines`), at its line."""
    try:
        return _check_metadata(meta, file)
    except InputError as exc:
        raise InputError([_at_line(p, lines or {}) for p in exc.problems]) from None


def _at_line(problem: Problem, lines: dict[tuple[str, ...], int]) -> Problem:
    """The problem at the line of its key, or of the nearest enclosing key that has one."""
    if problem.row is not None or not problem.field:
        return problem
    path = tuple(problem.field.split("."))
    while path and path not in lines:
        path = path[:-1]
    return replace(problem, row=lines.get(path)) if path else problem


def _deepest(error: Any) -> Any:
    """Of a value that fits none of a oneOf's shapes, the error deepest in the value: a bad
    `regions.list.0.iso_3166_2`, not "regions has the wrong shape"."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) <= len(error.absolute_path):
            break
        error = deepest
    return error


def _check_metadata(meta: Any, file: str) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise InputError([Problem(file, t("metadata.not-a-mapping"), code="metadata-error")])
    problems = []
    for error in sorted(_strict_validator()(_metadata_schema()).iter_errors(meta), key=str):
        problems.append(_metadata_problem(_deepest(error), file))
    if problems:
        raise InputError(problems)
    rate = meta["exchange_rate"]["lcu_per_usd"]
    if isinstance(rate, bool) or not _finite(rate):
        problems.append(
            Problem(
                file,
                t("metadata.rate-not-finite"),
                field="exchange_rate.lcu_per_usd",
                value=_shown(rate),
                code="metadata-error",
            )
        )
    for key, items in (("education_levels", meta["education_levels"]), ("regions", region_list(meta))):
        codes = [str(item["code"]) for item in items]
        for code in sorted({c for c in codes if codes.count(c) > 1}):
            problems.append(
                Problem(
                    file,
                    t("metadata.code-twice", key=key),
                    field=key,
                    value=code,
                    code="metadata-error",
                )
            )
    known, iso2 = _iso_codes()
    for name, code in meta["destinations"].items():
        if code not in known:
            problems.append(
                Problem(
                    file,
                    t("metadata.destination-unknown"),
                    field=f"destinations.{name}",
                    value=code,
                    code="metadata-error",
                )
            )
    prefix = iso2.get(meta["country_iso3"])
    for region in region_list(meta):
        if prefix and not str(region["iso_3166_2"]).startswith(f"{prefix}-"):
            problems.append(
                Problem(
                    file,
                    t("metadata.region-not-iso", country=str(meta["country_iso3"]), prefix=prefix),
                    field="regions.iso_3166_2",
                    value=str(region["iso_3166_2"]),
                    code="metadata-error",
                )
            )
    if problems:
        raise InputError(problems)
    return meta


def _finite(number: int | float) -> bool:
    """A finite float: NaN, infinity and an integer beyond a float's range are not."""
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False


SHOWN_CHARS = 40  # of a value quoted in a problem: a 1 MB value is named, not printed


def _shown(value: Any) -> str:
    """The start of a value, for a problem: long text and numbers cut, their length said."""
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text):,} characters)"


@cache
def _allowed_keys() -> dict[int, str]:
    """Each schema node with an `x-allowed` text, by identity, to its key in the data domain
    `metadata-allowed` (its place in the schema: `fieldwork.start`, `definitions.region_list.items.code`)."""
    keys: dict[int, str] = {}
    stack: list[tuple[Any, tuple[str, ...]]] = [(_metadata_schema(), ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if "x-allowed" in node:
                keys[id(node)] = ".".join(path) or "metadata"
            for name, child in node.items():
                stack.append((child, path if name == "properties" else (*path, str(name))))
        elif isinstance(node, list):
            stack.extend((child, (*path, str(i))) for i, child in enumerate(node))
    return keys


def allowed_english() -> dict[str, str]:
    """The English of the data domain `metadata-allowed`: what each metadata key accepts, in words
    (the schema's x-allowed), by key."""
    stack: list[Any] = [_metadata_schema()]
    found: dict[int, str] = {}
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "x-allowed" in node:
                found[id(node)] = str(node["x-allowed"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return {key: found[node] for node, key in _allowed_keys().items()}


def metadata_schema() -> dict[str, Any]:
    """The JSON Schema of metadata.yaml (one loaded copy: the allowed-values texts are found by
    the identity of its nodes)."""
    return _metadata_schema()


def allowed_in_words(schema: dict[str, Any]) -> str:
    """What a metadata key of `metadata_schema()` accepts, in words, in the current language (the
    guide of `ippmd template` shows the same text as the messages)."""
    return _allowed(schema)


def _allowed(schema: dict[str, Any]) -> str:
    """What a metadata key accepts, in words (the schema's x-allowed, else from its keywords), in
    the current language."""
    if "x-allowed" in schema:
        key = _allowed_keys().get(id(schema))
        english = str(schema["x-allowed"])
        return english if key is None else translated("metadata-allowed", key, english)
    if "enum" in schema:
        return t("metadata.one-of", values=", ".join(map(str, schema["enum"])))
    kind = {
        "integer": t("metadata.kind-integer"),
        "number": t("metadata.kind-number"),
        "string": t("metadata.kind-string"),
        "object": t("metadata.kind-object"),
        "array": t("metadata.kind-array"),
    }
    types = schema.get("type", [])
    either = t("metadata.either-or")
    return either.join(kind.get(x, x) for x in ([types] if isinstance(types, str) else types)) or t(
        "metadata.kind-any"
    )


def _metadata_problem(error: Any, file: str) -> Problem:
    """A metadata.yaml problem in words: the key, the value and what the key accepts (never the
    JSON Schema validator's own text)."""
    path = [str(p) for p in error.absolute_path]
    key = ".".join(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    if error.validator == "required":
        missing = next((name for name in schema.get("required", []) if name not in (value or {})), None)
        key = ".".join([*path, missing]) if missing else key
        wanted = _allowed(schema.get("properties", {}).get(missing, {}))
        message = t("metadata.key-missing", wanted=wanted)
        return Problem(file, message, field=key or None, code="metadata-error")
    if error.validator == "additionalProperties":  # the mapping holds an entry its schema refuses
        return Problem(file, t("metadata.key-refused"), field=key or None, code="metadata-error")
    shown = value if isinstance(value, str | int | float | bool) or value is None else None
    allowed = _allowed(schema)
    if value in ("", [], {}):
        message = t("metadata.is-empty", allowed=allowed)
    elif shown is None:
        message = t("metadata.wrong-shape", kind=type(value).__name__, allowed=allowed)
    else:
        message = t("metadata.not-allowed", allowed=allowed)
    return Problem(
        file,
        message if key else f"metadata.yaml {message}",
        field=key or None,
        value=None if shown is None else _shown(shown),
        code="metadata-error",
    )


def region_list(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Regions as a list, whether given as a list or as {assumed, list}."""
    regions = meta["regions"]
    return regions["list"] if isinstance(regions, dict) else regions


def read_submission_metadata(path: Path, label: str | None = None) -> dict[str, Any]:
    """Read and check metadata.yaml; problems are reported against `label` (default: the path),
    at their key and line."""
    label = label or str(path)
    try:
        meta = load_user_yaml(path, label)
    except InputError as exc:  # a number Python cannot read fails the whole file: find its key
        raise InputError(_unreadable_numbers(path, label) or exc.problems) from None
    text = Path(path).read_bytes().decode("utf-8-sig")  # read above: within the limits, UTF-8
    oversized = _scalar_problems(text, label)[1]
    try:
        check_submission_metadata(meta, label, yaml_lines(text))
    except InputError as exc:  # one problem a key: an over-long value, not also its pattern
        long_keys = {p.field for p in oversized}
        raise InputError(oversized + [p for p in exc.problems if p.field not in long_keys]) from None
    if oversized:
        raise InputError(oversized)
    return meta


def yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """The file line (1-based) of each key path of a YAML document, for problems' rows."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, str(i)))

    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    if root is not None:
        walk(root, ())
    return lines


def _scalars(text: str) -> Iterator[tuple[tuple[str, ...], yaml.ScalarEvent]]:
    """(key path, event) of every scalar, key or value, of a YAML text, from its parse events:
    nothing is constructed (a number Python cannot hold is still found) and no alias expanded."""
    stack: list[dict[str, Any]] = []  # the open mappings and sequences, innermost last

    def place(event: yaml.Event) -> tuple[str, ...]:
        if not stack:
            return ()
        top = stack[-1]
        if top["mapping"] and top["want_key"]:
            top["key"] = str(event.value) if isinstance(event, yaml.ScalarEvent) else "?"
            return (*top["path"], top["key"])
        return (*top["path"], top["key"] if top["mapping"] else str(top["index"]))

    def done() -> None:
        if stack:
            top = stack[-1]
            top["want_key"] = top["mapping"] and not top["want_key"]
            top["index"] += 1

    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            path = place(event)
            if isinstance(event, yaml.ScalarEvent):
                yield path, event
            done()
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            mapping = isinstance(event, yaml.MappingStartEvent)
            stack.append(
                {"path": place(event), "mapping": mapping, "want_key": mapping, "key": "?", "index": 0}
            )
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            stack.pop()
            done()


_RESOLVER = yaml.resolver.Resolver()
INT_TAG = "tag:yaml.org,2002:int"


def _scalar_problems(text: str, file: str) -> tuple[list[Problem], list[Problem]]:
    """(numbers, texts): every whole number of metadata.yaml longer than Python reads
    (sys.get_int_max_str_digits), and every other scalar longer than a cell of the package may be
    (core/limits.yaml cell_bytes: it ends up in the countries table, the codebook, the
    descriptor), at its key and line."""
    cell_bytes, max_digits = limit("cell_bytes"), sys.get_int_max_str_digits()
    numbers, texts = [], []
    for path, event in _scalars(text):
        tag = (
            event.tag
            if event.tag not in (None, "!")
            else _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
        )
        digits = sum(c.isdigit() for c in event.value) if tag == INT_TAG else 0
        size = len(event.value.encode("utf-8", "surrogatepass"))
        line = event.start_mark.line + 1 if event.start_mark else None
        field = ".".join(part if len(part) <= SHOWN_CHARS else f"{part[:SHOWN_CHARS]}..." for part in path)
        found = Problem(file, "", row=line, field=field or None, value=_shown(event.value))
        if max_digits and digits > max_digits:
            message = t("metadata.number-too-long", digits=digits)
            numbers.append(replace(found, message=message, code="metadata-error"))
        elif size > cell_bytes:
            message = t("metadata.value-too-long", size=size, limit=cell_bytes)
            texts.append(replace(found, message=message, code="metadata-error"))
    return numbers, texts


def _unreadable_numbers(path: Path, file: str) -> list[Problem]:
    """The numbers of metadata.yaml too long to read, at their key and line; none when the file is
    over the YAML size limit, not UTF-8 or not YAML (the reader's own message names that)."""
    try:
        if Path(path).stat().st_size > limit("yaml_bytes"):
            return []
        text = Path(path).read_bytes().decode("utf-8-sig")
        return _scalar_problems(text, file)[0]
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
