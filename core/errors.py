"""Errors that name the file, row and field at fault, for people fixing their data."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

from ippmd.core.text import printable


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what rule it breaks."""

    file: str
    message: str
    row: int | None = None  # 1-based line in the file, header = line 1 (Stata/SPSS: the record number)
    field: str | None = None
    value: str | None = None
    code: str = "invalid-input"  # stable kebab-case code, as in frictionless reports
    hint: str | None = None  # how to fix it
    severity: str = "error"  # or "warning": reported, does not make the input invalid
    context: str | None = None  # extra context, e.g. the harmonized table and ID of the row

    def __post_init__(self) -> None:
        """No control character of an input reaches a terminal, a report or a page (see core.text)."""
        for name in ("file", "message", "field", "value", "hint"):
            text = getattr(self, name)
            if isinstance(text, str):
                object.__setattr__(self, name, printable(text))

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field '{self.field}'"
        shown = f" (value {self.value!r})" if self.value is not None else ""
        extra = f" [{self.context}]" if self.context else ""
        return f"{where}: {self.message}{shown}{extra}"

    def as_record(self) -> dict[str, object]:
        """A flat, JSON-ready record (one per problem in `ippmd validate --json`)."""
        return {
            "severity": self.severity,
            "code": self.code,
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "value": self.value,
            "message": self.message,
            "hint": self.hint,
            "context": self.context,
        }


@dataclass
class InputError(Exception):
    """Bad input: raised with every problem found, never a bare traceback for the user."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [str(p) for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"... and {len(self.problems) - 20} more problems")
        return "\n".join(lines)


class UsageError(Exception):
    """A problem of the command line or the environment (wrong path, missing install file): exit 2."""


@cache
def problem_catalogue() -> dict[str, str]:
    """Stable problem codes and how to fix each (core/problems.yaml), shown by `ippmd validate`."""
    text = resources.files("ippmd.core").joinpath("problems.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def problem_hint(key: str) -> str | None:
    """How to fix a problem (`code` or `code.field` of core/problems.yaml) in the current
    language: the English there, French and Spanish in the catalogues' data domain `hints`."""
    from ippmd.core.i18n import translated

    english = problem_catalogue().get(key)
    return None if english is None else translated("hints", key, english)
