"""The floors follow the data flow: core <- stages (upstream only) <- app. Read from the source (AST)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The flow, bottom up. A module may import its own stage, and stages of a lower floor only.
FLOORS: dict[str, int] = {
    "ippmd.core": 0,
    "ippmd.synth": 1,
    "ippmd.harmonize": 2,
    "ippmd.indicators": 2,
    "ippmd.package": 3,
    "ippmd.quality": 4,
    "ippmd.models": 5,
    "ippmd.extract": 5,
    "ippmd.explore": 5,
    "ippmd.reporting": 6,  # report building: tables, charts, prose, report.html, over models
    "ippmd": 9,  # the app: CLI, build orchestration, admit, template
}
# Sub-packages of a stage, on its floor (stage_of finds their stage by prefix).
SUB_PACKAGES = {
    "ippmd.commands",  # the commands of the CLI, one module each
    "ippmd.portal",  # `ippmd serve`: the HTTP API over the app's own functions, and its store
}
# Data-only packages: nothing imports them as code.
DATA_PACKAGES = {"ippmd.countries", "ippmd.schemas"}
OLD_NAMES = {
    "harmonize", "synth", "indicators", "quality", "models", "reporting", "extract", "explore", "package",
    "core",
}  # fmt: skip


def _package_dirs() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {name: ROOT / folder for name, folder in config["tool"]["setuptools"]["package-dir"].items()}


def _modules() -> dict[str, Path]:
    """Every module of the distribution, by its import name."""
    modules = {}
    for package, folder in _package_dirs().items():
        for path in folder.glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def stage_of(module: str) -> str:
    """The stage a module belongs to: the longest FLOORS prefix (ippmd's own modules are the app,
    except the root `ippmd/__init__`, which is core: version and notice, importing nothing)."""
    if module == "ippmd":
        return "ippmd.core"
    matches = [s for s in FLOORS if module == s or module.startswith(f"{s}.")]
    return max(matches, key=len)


def _imports(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) of every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: resolve against the package
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    target = child.module or ""
                found.append((target, child.lineno, in_function))
                # `from ippmd import quality` names a submodule
                found.extend(
                    [
                        (f"{target}.{alias.name}", child.lineno, in_function)
                        for alias in child.names
                        if f"{target}.{alias.name}" in FLOORS
                    ]
                )
            visit(child, nested)

    visit(tree, False)
    return found


def _violations() -> list[str]:
    modules = _modules()
    problems = []
    for module, path in sorted(modules.items()):
        here = stage_of(module)
        for target, line, in_function in _imports(path, module):
            top = target.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line}"
            if top in OLD_NAMES:
                problems.append(f"{where}: imports top-level {target!r}; use ippmd.{target}")
                continue
            if top != "ippmd" or target == "ippmd":
                continue
            if any(target == d or target.startswith(f"{d}.") for d in DATA_PACKAGES):
                problems.append(f"{where}: imports data package {target} as code")
                continue
            there = stage_of(target)
            if there == here:
                continue
            if FLOORS[there] >= FLOORS[here]:
                kind = "cross" if FLOORS[there] == FLOORS[here] else "upward"
                problems.append(f"{where}: {kind} import {here} -> {there} ({target})")
            elif in_function and here != "ippmd":
                problems.append(f"{where}: import of {target} inside a function (hides a cycle?)")
    return problems


def test_every_package_has_a_floor() -> None:
    """A new stage folder must be given its place in the flow (or be declared data-only)."""
    packages = set(_package_dirs())
    assert packages - set(FLOORS) - DATA_PACKAGES - SUB_PACKAGES == set()
    assert len(_modules()) > 40


def test_imports_follow_the_floors() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("ippmd.core.schema", "from ippmd.quality import structural\n", "upward import"),
        ("ippmd.harmonize.pipeline", "from ippmd.indicators.table import Row\n", "cross import"),
        ("ippmd.models.data", "import quality.validate\n", "top-level 'quality.validate'"),
        ("ippmd.package.write", "def f():\n    from ippmd.harmonize import pipeline\n", "inside a function"),
        # estimation and inference never build report text; the other floor-5 stages need no report
        ("ippmd.models.estimate", "from ippmd.reporting.narrative import fmt_p\n", "upward import"),
        ("ippmd.explore.render", "from ippmd.reporting import charts\n", "upward import"),
    ],
)
def test_the_layer_check_catches_each_kind(
    module: str, source: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker itself fails on an upward, a cross, an old-name and a hidden import."""
    bad = tmp_path / "bad.py"
    bad.write_text(source, encoding="utf-8")
    monkeypatch.setattr(f"{__name__}._modules", lambda: {module: bad})
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (found,) = _violations()
    assert expected in found
