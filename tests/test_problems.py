"""Every problem code the code can produce has its entry in core/problems.yaml, and every entry is used.

The codes are read from the source (AST), not from a list kept by hand: a `code=` argument of
`Problem(...)` or `dataclasses.replace(...)`, the code argument of any function that passes one of
its parameters on as a code (`problem(code, ...)`, `_rows(code, ...)`, found to a fixpoint), module
constants (`SPEC_ERROR`), loops over literal tuples (`for code, mask, message in (("blank-row", ...`),
the tuples a helper returns (`_cell_masks`), and the default code of a `Problem` given none. A code
argument the scan cannot follow fails the test unless it is listed in UNFOLLOWED with the functions
that build its rules, whose (code, ...) tuples are then read.
"""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ippmd.core.errors import Problem, problem_catalogue

ROOT = Path(__file__).resolve().parents[1]
CONSTRUCTOR = "Problem"
PROBLEM_FIELDS = [f.name for f in dataclasses.fields(Problem)]
PASSED_ON: set[str] = set()  # a code argument that is the enclosing function's parameter
DEFAULT_CODE = Problem(file="", message="").code  # the code of a Problem built without one
# Code arguments the scan cannot follow (a code unpacked from a dict of rules), by "file:function",
# with the functions that build those rules as (code, ...) tuples: their codes are read from them.
UNFOLLOWED = {
    "quality/structural.py:check_cells": ("_cell_rules",),
    "quality/submission_checks.py:cell_text_problems": ("_cell_masks", "_text_masks"),
    "quality/submission_checks.py:metadata_text_problems": ("metadata_text_problems", "_text_masks"),
}


@dataclass
class Scan:
    """Codes found (code -> the places that produce it) and code arguments that could not be followed."""

    codes: dict[str, set[str]] = field(default_factory=dict)
    unfollowed: set[str] = field(default_factory=set)


def _module_constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        if isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _functions(tree: ast.AST) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _methods(tree: ast.AST) -> set[int]:
    return {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for n in c.body}


def _params(function: ast.FunctionDef, method: bool) -> list[str]:
    """The positional parameters a caller passes (without self)."""
    names = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    return names[1:] if method else names


def _callee(call: ast.Call) -> tuple[str, bool] | None:
    """The called name, and whether it is called as a method (`obj.name(...)`)."""
    if isinstance(call.func, ast.Name):
        return call.func.id, False
    return (call.func.attr, True) if isinstance(call.func, ast.Attribute) else None


def _name(call: ast.Call) -> str:
    callee = _callee(call)
    return callee[0] if callee else ""


class _Scanner:
    """Follows code arguments through one tree of modules (path -> source)."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
        self.constants: dict[str, str] = {}
        for tree in self.trees.values():
            self.constants |= _module_constants(tree)
        self.defs: dict[str, list[ast.FunctionDef]] = {}
        for tree in self.trees.values():
            for function in _functions(tree):
                self.defs.setdefault(function.name, []).append(function)
        # Callables (name, called as a method) whose argument of this name and position is a code.
        self.slots: dict[tuple[str, bool], tuple[str, int]] = {
            (CONSTRUCTOR, False): ("code", PROBLEM_FIELDS.index("code"))
        }

    def _slot_argument(self, call: ast.Call) -> ast.expr | bool | None:
        """The code argument of a call (an expression), None if the call takes the default, False if
        the call passes no code at all."""
        callee = _callee(call)
        slot = self.slots.get(callee) if callee else None
        for keyword in call.keywords:
            if keyword.arg == (slot[0] if slot else "code") and (slot or (callee and callee[0] == "replace")):
                return keyword.value
        if slot is None:
            return False
        position = slot[1]  # a keyword-only parameter's position is past every positional argument
        if position < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args):
            return call.args[position]
        return None if callee == (CONSTRUCTOR, False) else False

    def _returned_tuples(self, name: str, index: int, seen: set[str]) -> set[str] | None:
        """Element `index` of the literal tuples a function returns (through *other() too)."""
        if name in seen or name not in self.defs:
            return None
        seen.add(name)
        values: set[str] = set()
        for function in self.defs[name]:
            for node in ast.walk(function):
                if not (isinstance(node, ast.Return) and isinstance(node.value, ast.List | ast.Tuple)):
                    continue
                for item in node.value.elts:
                    if isinstance(item, ast.Starred) and isinstance(item.value, ast.Call):
                        found = self._returned_tuples(_name(item.value), index, seen)
                    elif isinstance(item, ast.Tuple) and index < len(item.elts):
                        found = self._constant(item.elts[index])
                    else:
                        found = None
                    if found is None:
                        return None
                    values |= found
        return values

    def _constant(self, node: ast.expr) -> set[str] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.Name) and node.id in self.constants:
            return {self.constants[node.id]}
        if isinstance(node, ast.IfExp):
            body, other = self._constant(node.body), self._constant(node.orelse)
            return None if body is None or other is None else body | other
        return None

    def _default(self, function: ast.FunctionDef, name: str) -> set[str] | None:
        """The codes a parameter's default gives (None: no default, or not a constant)."""
        positional = [*function.args.posonlyargs, *function.args.args]
        defaults = dict(
            zip(
                [a.arg for a in positional][-len(function.args.defaults) or len(positional) :],
                function.args.defaults,
                strict=False,
            )
        )
        defaults |= {
            a.arg: d for a, d in zip(function.args.kwonlyargs, function.args.kw_defaults, strict=True) if d
        }
        return self._constant(defaults[name]) if name in defaults else None

    def _bound_in(self, function: ast.FunctionDef, name: str) -> set[str] | None:
        """The codes a local name takes: loops unpacking literal tuples or a helper's tuples, or
        assignments of constants. None when some binding cannot be followed."""
        values: set[str] = set()
        bound = False
        for node in ast.walk(function):
            if isinstance(node, ast.For | ast.comprehension) and isinstance(node.target, ast.Tuple):
                names = [t.id if isinstance(t, ast.Name) else None for t in node.target.elts]
                if name not in names:
                    continue
                bound, index = True, names.index(name)
                found: set[str] | None
                if isinstance(node.iter, ast.Tuple | ast.List):
                    elements: set[str] = set()
                    for item in node.iter.elts:
                        element = self._constant(item.elts[index]) if isinstance(item, ast.Tuple) else None
                        if element is None:
                            return None
                        elements |= element
                    found = elements
                elif isinstance(node.iter, ast.Call):
                    found = self._returned_tuples(_name(node.iter), index, set())
                else:
                    found = None
                if found is None:
                    return None
                values |= found
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Tuple) and name in [getattr(e, "id", None) for e in t.elts]
                for t in node.targets
            ):
                return None  # unpacked from an expression (e.g. a dict look-up)
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
                found = self._constant(node.value)
                if found is None:
                    return None
                bound, values = True, values | found
        return values if bound else None

    def scan(self) -> Scan:
        result = Scan()
        while True:  # until no new function is found to pass a parameter on as a code
            known = dict(self.slots)
            result = Scan()
            for path, tree in self.trees.items():
                self._scan_module(path, tree, result)
            if self.slots == known:
                return result

    def _scan_module(self, path: str, tree: ast.Module, result: Scan) -> None:
        enclosing: dict[int, list[ast.FunctionDef]] = {}  # node -> its functions, innermost first
        for function in _functions(tree):  # outer functions come first in ast.walk
            for node in ast.walk(function):
                enclosing.setdefault(id(node), []).insert(0, function)
        methods = _methods(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            argument = self._slot_argument(node)
            if argument is False:
                continue
            where = f"{path}:{node.lineno}"
            if argument is None:
                result.codes.setdefault(DEFAULT_CODE, set()).add(where)
                continue
            assert isinstance(argument, ast.expr)
            if isinstance(argument, ast.Attribute) and argument.attr == "code":
                continue  # an existing problem's code, passed on: produced where that problem was
            chain = enclosing.get(id(node), [])
            codes = self._constant(argument)
            if codes is None and isinstance(argument, ast.Name):
                codes = self._follow(argument.id, chain, methods, where, result)
                if codes is PASSED_ON:
                    continue
            if codes is None:
                result.unfollowed.add(f"{path}:{chain[0].name if chain else '<module>'}")
                continue
            for code in codes:
                result.codes.setdefault(code, set()).add(where)

    def _follow(
        self, name: str, chain: list[ast.FunctionDef], methods: set[int], where: str, result: Scan
    ) -> set[str] | None:
        """The codes a name holds, looked up from the innermost function out: a parameter (then the
        callers' arguments are the codes, and its default), or a local binding."""
        for function in chain:
            method = id(function) in methods
            params = [*_params(function, method), *(a.arg for a in function.args.kwonlyargs)]
            if name in params:
                self.slots[(function.name, method)] = (name, params.index(name))
                for code in self._default(function, name) or ():
                    result.codes.setdefault(code, set()).add(where)
                return PASSED_ON
            codes = self._bound_in(function, name)
            if codes is not None:
                return codes
        return None

    def rule_tuples(self, names: tuple[str, ...]) -> set[str]:
        """The first elements of the literal tuples in these functions: the codes of their rules."""
        codes = set()
        for function in (f for name in names for f in self.defs.get(name, [])):
            compared = {
                id(c) for n in ast.walk(function) if isinstance(n, ast.Compare) for c in n.comparators
            }
            for node in ast.walk(function):
                if isinstance(node, ast.Tuple) and id(node) not in compared and node.elts:  # not `x in (...)`
                    first = node.elts[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        codes.add(first.value)
        return codes


def scan_sources(sources: dict[str, str], unfollowed: dict[str, tuple[str, ...]] | None = None) -> Scan:
    """The codes the sources produce; those of the `unfollowed` sites read from their rule builders."""
    scanner = _Scanner(sources)
    result = scanner.scan()
    for site in result.unfollowed & set(unfollowed or {}):
        for code in scanner.rule_tuples((unfollowed or {})[site]):
            result.codes.setdefault(code, set()).add(site)
    return result


def package_sources() -> dict[str, str]:
    """Every module of the installed namespace (the folders of pyproject's package-dir)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    folders = sorted(set(config["tool"]["setuptools"]["package-dir"].values()))
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def missing_from(scan: Scan, catalogue: dict[str, str]) -> dict[str, set[str]]:
    return {code: places for code, places in scan.codes.items() if code not in catalogue}


@pytest.fixture(scope="module")
def tree_scan() -> Scan:
    return scan_sources(package_sources(), UNFOLLOWED)


def test_every_problem_code_in_code_is_in_the_catalogue(tree_scan: Scan) -> None:
    missing = {code: sorted(places) for code, places in missing_from(tree_scan, problem_catalogue()).items()}
    assert not missing, f"codes without an entry in core/problems.yaml (code: where produced): {missing}"
    assert tree_scan.unfollowed <= set(UNFOLLOWED), "make these code arguments followable, or explain"
    assert set(UNFOLLOWED) <= tree_scan.unfollowed, "stale entries in UNFOLLOWED"


def test_the_scan_finds_codes_of_every_kind(tree_scan: Scan) -> None:
    """A literal, a module constant, a helper's parameter, a loop over tuples, a helper's returned
    tuples, and the default: each kind of site is seen in the tree."""
    kinds = ("hash-count", "spec-error", "sample-too-small", "blank-row", "placeholder", DEFAULT_CODE)
    for code in (*kinds, "constraint-error", "control-character"):  # the last two: rule builders
        assert code in tree_scan.codes, code


def test_every_catalogue_entry_is_used(tree_scan: Scan) -> None:
    """An entry is a code, or `<code>.<field>` (a hint for one field), or `package.<code>` (the
    hint `ippmd check` gives a package maintainer); its code is produced somewhere."""
    catalogue = problem_catalogue()
    assert all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in catalogue.items())
    unused = []
    for key in catalogue:
        code, _, rest = key.partition(".")
        if code not in tree_scan.codes or (code == "package" and rest and rest not in tree_scan.codes):
            unused.append(key)
    assert not unused, f"entries of core/problems.yaml that no code produces: {unused}"


HELPER = "def problem(code, file, message):\n    return Problem(file=file, message=message, code=code)\n"


@pytest.mark.parametrize(
    "source",
    [
        'Problem("f", "m", code="no-such-code")',
        'Problem("f", "m", None, None, None, "no-such-code")',
        'WRONG = "no-such-code"\nProblem("f", "m", code=WRONG)',
        HELPER + 'problem("no-such-code", "f", "m")',
        HELPER + 'def loop():\n    for code, m in (("no-such-code", "x"),):\n        problem(code, "f", m)\n',
        HELPER + 'def masks():\n    return [("no-such-code", 1)]\ndef use():\n'
        '    for code, mask in masks():\n        problem(code, "f", "m")\n',
        'def fix(p):\n    return replace(p, code="no-such-code")\n',
        'def at(kind, message):\n    return Problem("f", message, code=kind)\nat("no-such-code", "m")\n',
        'def at(message, kind="no-such-code"):\n    return Problem("f", message, code=kind)\nat("m")\n',
        'CODE = "no-such-code"\ndef at(m, *, kind=CODE):\n    return Problem("f", m, code=kind)\n',
    ],
)
def test_a_code_missing_from_the_catalogue_fails(source: str) -> None:
    """The check can fail: each way of producing a code, with a code the catalogue lacks."""
    missing = missing_from(scan_sources({"x.py": source}), problem_catalogue())
    assert set(missing) == {"no-such-code"}


def test_the_default_code_and_unfollowed_arguments_are_caught() -> None:
    found = scan_sources({"x.py": 'Problem("f", "m")\nProblem("f", "m", code=make())\n'})
    assert set(missing_from(found, {})) == {DEFAULT_CODE}
    assert found.unfollowed == {"x.py:<module>"}
    rules = 'def build():\n    return {"a": ("no-such-code", "m")}\n'
    site = 'def use(rules):\n    code, m = rules["a"]\n    Problem("f", m, code=code)\n'
    found = scan_sources({"x.py": rules + site}, {"x.py:use": ("build",)})
    assert set(missing_from(found, problem_catalogue())) == {"no-such-code"}
