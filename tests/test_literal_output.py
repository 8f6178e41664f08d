"""Nothing the user typed is markup: paths, names and cell values holding rich's tags (`[/b]`,
`[red]`, `[link=...]`) are printed as typed on every console, on a terminal too (where the
status line and progress bar are drawn), and no command that did its work ends in "a bug in
ippmd" (`ippmd admit S --out 'T/pk[/b]'` did)."""

from __future__ import annotations

import ast
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ippmd.synth.generator import write_submission

ROOT = Path(__file__).resolve().parents[1]
IPPMD = Path(sys.executable).with_name("ippmd")
TAGS = ("[/b]", "[red]", "[link=http://example.org]")
MARKUP_NAME = "".join(TAGS) + "x"  # a country name of nothing but tags
POLARS = ("--engine", "polars")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run ippmd with a terminal as stdout and stderr (so the status line and progress bar are
    drawn, as a user sees them); its exit code and what it printed, escapes removed."""
    main, side = pty.openpty()
    env = {**os.environ, "COLUMNS": "400", "LINES": "50"}  # wide: nothing folded mid-path
    with subprocess.Popen([str(IPPMD), *args], stdout=side, stderr=side, cwd=cwd, env=env) as child:
        os.close(side)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = child.wait(timeout=600)
    os.close(main)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package in `T/pk[/b]`, built on a terminal, and a submission in `S[red]` whose country
    is named by tags alone."""
    root = tmp_path_factory.mktemp("markup")
    code, said = _on_a_terminal(
        "build", "--out", "T/pk[/b]", "--countries", "KHM", "--engine", "polars", cwd=root
    )
    assert code == 0 and "built T/pk[/b]/datapackage.json" in said, said
    submission = write_submission("KHM", root / "S[red]", seed=5)
    metadata = submission / "metadata.yaml"
    text = metadata.read_text(encoding="utf-8")
    named = re.sub(r"(?m)^country_name: .*$", f"country_name: '{MARKUP_NAME}'", text)
    assert named != text
    metadata.write_text(named, encoding="utf-8")
    return root


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_admit_into_a_path_of_tags_admits_and_says_it_literally(scene: Path) -> None:
    code, said = _on_a_terminal("admit", "S[red]", "--out", "T/pk[/b]", *POLARS, cwd=scene)
    assert code == 0, said
    assert "bug in ippmd" not in said and "internal error" not in said
    assert "VALID S[red] (KHM)" in said and "admitted KHM into T/pk[/b]/datapackage.json" in said


def test_validate_shows_a_folder_and_cells_of_tags_as_typed(scene: Path) -> None:
    broken = Path(shutil.copytree(scene / "S[red]", scene / "[link=x]S"))
    persons = broken / "persons.csv"
    lines = persons.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    cells = lines[4].split(",")
    cells[header.index("sex")] = "[/b]"
    lines[4] = ",".join(cells)
    persons.write_text("\n".join(lines), encoding="utf-8")
    code, said = _on_a_terminal("validate", broken.name, cwd=scene)
    assert code == 1, said
    assert "INVALID [link=x]S" in said and "'[/b]'" in said, said
    assert "bug in ippmd" not in said


@pytest.mark.slow  # several CLI processes: make test keeps under 3 minutes; CI runs it
def test_extract_and_its_listing_show_tags_as_typed(scene: Path) -> None:
    code, said = _on_a_terminal(
        "extract", "--package", "T/pk[/b]", "--countries", "KHM", "--tables", "countries", "--out",
        "E[/b].zip", cwd=scene,
    )  # fmt: skip
    assert code == 0 and "wrote E[/b].zip" in said, said
    test_admit_into_a_path_of_tags_admits_and_says_it_literally(scene)  # the country named by tags
    code, said = _on_a_terminal(
        "extract", "--package", "T/pk[/b]", "--list", "--tables", "countries", cwd=scene
    )
    assert code == 0, said  # its country name had ended in "internal error: MarkupError"
    assert f"KHM ({MARKUP_NAME})" in said, said


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_build_and_template_say_their_folders_as_typed(scene: Path) -> None:
    code, said = _on_a_terminal("template", "KHM", "K[link=x]", cwd=scene)
    assert code == 0 and "wrote K[link=x]/metadata.yaml" in said, said
    out = "B[red][/b]"
    code, said = _on_a_terminal("build", "--out", out, "--countries", "KHM", *POLARS, cwd=scene)
    assert code == 0 and f"built {out}/datapackage.json" in said, said


# Rich markup in a string a console is handed: a tag such as [bold], [red] or the closing [/].
_TAG = re.compile(r"\[/?(bold|dim|italic|red|green|yellow|blue|link|underline|reverse)\b[^\]\[]*\]|\[/\]")
_PRINTERS = ("ippmd", "quality/report.py", "explore/render.py", "explore/listing.py")
_PRINTING = {"print", "status", "update", "log", "rule", "add_task"}  # rich's methods that take text


def _printed_strings(path: Path) -> list[tuple[int, str]]:
    """The string literals (f-strings' parts too) in the arguments of rich's printing calls."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _PRINTING
        ):
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                found += [
                    (part.lineno, part.value)
                    for part in ast.walk(argument)
                    if isinstance(part, ast.Constant) and isinstance(part.value, str)
                ]
    return found


def test_no_printing_code_writes_styles_as_markup() -> None:
    """The consoles read no markup (`SafeConsole(markup=False)`), so a style written as markup
    would be printed as text: the code states styles as `style=` or `rich.text.Text`."""
    found = []
    for place in _PRINTERS:
        paths = sorted((ROOT / place).rglob("*.py")) if (ROOT / place).is_dir() else [ROOT / place]
        for path in paths:
            found += [
                f"{path.relative_to(ROOT)}:{line}: {tag.group()}"
                for line, text in _printed_strings(path)
                for tag in _TAG.finditer(text)
            ]
    assert found == []
    assert _TAG.search('console.print(f"[yellow]{notice}[/]")') and not _TAG.search("[95% CI] [1.2, 3.4]")
