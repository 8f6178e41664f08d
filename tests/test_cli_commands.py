"""The command line's one way of failing: each command raises, `ippmd.cli.report` says it once."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ippmd.cli import app

ROOT = Path(__file__).resolve().parents[1]
IPPMD = Path(sys.executable).with_name("ippmd")


def test_every_command_is_its_own_module_and_exits_only_through_output() -> None:
    """No command prints an error and exits by itself: it raises; only `verdict` ends with 0 or 1."""
    commands = ROOT / "ippmd" / "commands"
    registered = {c.callback.__module__ for c in app.registered_commands if c.callback is not None}
    modules = {f"ippmd.commands.{p.stem}" for p in commands.glob("*.py")} - {
        "ippmd.commands.__init__",
        "ippmd.commands.options",
        "ippmd.commands.output",
    }
    assert registered == modules and len(modules) == 16
    exits = [
        (path.name, node.lineno)
        for path in commands.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "Exit"
    ]
    assert [name for name, _ in exits] == ["output.py"]


def test_an_argument_with_brackets_is_shown_whole() -> None:
    """Messages are not read as markup: `a[b]c` stays `a[b]c` (rich took `[b]` for bold)."""
    result = CliRunner().invoke(app, ["--home", "a[b]c", "check"])
    assert result.exit_code == 2 and "--home a[b]c is not a folder" in result.output


def test_an_error_is_one_line_on_a_narrow_terminal(tmp_path: Path) -> None:
    """A message is never folded at the console's width: a path or code list stays copyable."""
    done = subprocess.run(
        [str(IPPMD), "synth", "XXX", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"COLUMNS": "40", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: unknown country code(s) XXX; known: ARM") and line.endswith("PHL")
