"""Errors that name the file, row and field at fault, for people fixing their data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what rule it breaks."""

    file: str
    message: str
    row: int | None = None  # 1-based line number in the file, header = line 1
    field: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field '{self.field}'"
        shown = f" (value {self.value!r})" if self.value is not None else ""
        return f"{where}: {self.message}{shown}"


@dataclass
class InputError(Exception):
    """Bad input: raised with every problem found, never a bare traceback for the user."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [str(p) for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"... and {len(self.problems) - 20} more problems")
        return "\n".join(lines)
