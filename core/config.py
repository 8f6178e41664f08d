"""ippmd's own YAML files (specs, suites, limits, settings), each family checked by one JSON Schema.

`load_checked(path, family)` reads a file with the YAML safety rule of every loader here (a key
given twice is refused, not silently overwritten) and validates it against
schemas/config/<family>.schema.json. Every problem names the file and the key path
(`bootstrap.draws`, `expectations[2].where`, `derived.female.sql`: a list item with a `name` is
named by it), so a broken file never surfaces as a traceback. The schema states the shape once;
the loaders keep only the checks a schema cannot express (SQL, columns, cross-references).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.home import package_data

CONFIG_ERROR = "config-error"
MAX_SHOWN = 120  # characters of a value quoted in a message


class DuplicateKey(Exception):
    """A mapping key given twice: YAML loaders keep the last one in silence."""

    def __init__(self, key: Any, first: int, line: int) -> None:
        super().__init__(key)
        self.key, self.first, self.line = key, first, line


def unique_keys_loader(base: type) -> type:
    """`base` (a safe loader) refusing a key given twice in one mapping (DuplicateKey)."""

    class UniqueKeys(base):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise DuplicateKey(key, seen[key], line)
                    seen[key] = line
                except TypeError:  # an unhashable key: the base loader reports it
                    continue
            return super().construct_mapping(node, deep)

    return UniqueKeys


_LOADER = unique_keys_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def schema_file(family: str) -> Path:
    return package_data("ippmd.schemas", "config", f"{family}.schema.json")


@cache
def _validator(family: str) -> Any:
    """The family's validator; a schema may refer to another's definitions (`urn:ippmd:config:suite#...`)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(schema_file(family).parent.glob("*.schema.json"))
    ]
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas
    )
    schema = next(s for s in schemas if s["$id"] == f"urn:ippmd:config:{family}")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry)


def key_path(value: Any, parts: Sequence[str | int]) -> str:
    """`a.b[2].c` for the path parts into `value`; a list item with a string `name` is `.name`."""
    text, node = "", value
    for part in parts:
        named = isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node)
        item_name = node[part].get("name") if named and isinstance(node[part], dict) else None
        if isinstance(item_name, str) and item_name:
            text += f".{item_name}" if text else item_name
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return text


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _findings(value: Any, family: str) -> Iterator[tuple[list[str | int], str, str | None]]:
    """(key path parts, message, hint) of every way `value` breaks the family's schema."""
    errors = sorted(_validator(family).iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        parts = list(error.absolute_path)
        if error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            for key in missing:
                yield [*parts, key], "missing required key", None
        elif error.validator == "additionalProperties":
            known = sorted(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(known), key=str):
                found = difflib.get_close_matches(str(key), known, n=3)
                hint = f"did you mean {' or '.join(map(repr, found))}?" if found else None
                yield [*parts, str(key)], "unknown key", hint or f"known keys: {', '.join(known)}"
        else:
            described = error.schema.get("description") if isinstance(error.schema, dict) else None
            if not described:
                yield parts, error.message[: MAX_SHOWN * 2], None
            elif isinstance(error.instance, dict | list):
                yield parts, f"must be {described}", None
            else:
                yield parts, f"must be {described}, not {_shown(error.instance)}", None


def schema_problems(value: Any, family: str, file: Path | str, code: str = CONFIG_ERROR) -> list[Problem]:
    """Every way `value` (a parsed file, or one entry of it) breaks the family's schema, as Problems."""
    return [
        Problem(str(file), message, field=key_path(value, parts) or None, code=code, hint=hint)
        for parts, message, hint in _findings(value, family)
    ]


def read_yaml(path: Path, code: str = CONFIG_ERROR) -> Any:
    """A YAML file of ippmd's, parsed with keys given twice refused; unreadable -> InputError."""

    def refuse(message: str, row: int | None = None, field: str | None = None) -> InputError:
        return InputError([Problem(str(path), message, row=row, field=field, code=code)])

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise refuse(f"cannot read: {exc}") from None
    try:
        return yaml.load(text, Loader=_LOADER)
    except DuplicateKey as exc:
        message = f"key {exc.key!r} is given twice (lines {exc.first} and {exc.line}): only one can hold"
        raise refuse(message, row=exc.line, field=str(exc.key)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise refuse(f"not valid YAML: {problem}", row=mark.line + 1 if mark else None) from None


def load_checked(path: Path, family: str, code: str = CONFIG_ERROR) -> Any:
    """The content of one YAML file of the family, checked against its schema (InputError naming
    the file and every key at fault)."""
    value = read_yaml(path, code)
    problems = schema_problems(value, family, path, code)
    if problems:
        raise InputError(problems)
    return value


def install_error(exc: InputError) -> UsageError:
    """A file shipped with ippmd that is broken is a broken install (exit 2): one line per problem,
    `file: key: message`."""
    lines = [f"{p.file}: {p.field + ': ' if p.field else ''}{p.message}" for p in exc.problems]
    return UsageError("\n".join(lines))
