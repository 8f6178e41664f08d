"""Run mypy on the `ippmd` namespace as the installed wheel lays it out, naming the real files.

pyproject's `[tool.setuptools.package-dir]` maps top-level folders into one namespace (core/ ->
ippmd.core, ...). mypy knows no such mapping, and the editable install's import hook is invisible to
it, so this script lays the namespace out as links: `.venv/mypy-tree/ippmd/` holds a link to every
entry of ippmd/ and one link per mapped folder (`core -> ../../../core`). The tree is rebuilt on each
run (a few milliseconds), and folders are linked whole, so a new .py file is checked without a
reinstall. mypy reports paths inside the tree; they are mapped back (`.venv/mypy-tree/ippmd/core/io.py`
-> `core/io.py`) so each error names the file to edit. tests/ and bench/ are checked as they are.

Usage: python .ci/typecheck.py [extra mypy arguments]; exits with mypy's code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / ".venv" / "mypy-tree"
CHECKED_AS_IS = ("tests", "bench", ".ci")  # not in the namespace: mypy finds them by their path


def package_dirs() -> dict[str, str]:
    """Import name -> folder (relative to the checkout), from pyproject."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(config["tool"]["setuptools"]["package-dir"])


def link_tree(mapping: dict[str, str]) -> dict[str, str]:
    """Lay out the namespace under TREE; returns tree prefix -> real folder prefix (both relative)."""
    shutil.rmtree(TREE, ignore_errors=True)
    back: dict[str, str] = {}
    for name in sorted(mapping, key=lambda n: n.count(".")):  # parents before children
        folder = mapping[name]
        target = TREE.joinpath(*name.split("."))
        if target.exists() or target.is_symlink():  # already inside a linked parent folder
            continue
        if "." in name:  # a mapped folder: one link, so files added later are seen
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.path.relpath(ROOT / folder, target.parent), target_is_directory=True)
        else:  # the root package: a real folder of links, so its children can be mapped in
            target.mkdir(parents=True)
            for entry in (ROOT / folder).iterdir():
                if entry.name != "__pycache__" and f"{name}.{entry.name}" not in mapping:
                    (target / entry.name).symlink_to(os.path.relpath(entry, target))
        back[f"{target.relative_to(ROOT).as_posix()}/"] = f"{folder}/"
    return back


def main(argv: list[str]) -> int:
    back = link_tree(package_dirs())
    roots = sorted({(TREE / name.split(".")[0]).relative_to(ROOT).as_posix() for name in package_dirs()})
    command = [sys.executable, "-m", "mypy", *argv, *roots]
    command += [folder for folder in CHECKED_AS_IS if (ROOT / folder).is_dir()]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    # longest prefix first: ippmd/core/ before ippmd/
    pattern = re.compile("|".join(re.escape(p) for p in sorted(back, key=len, reverse=True)))
    for stream, text in ((sys.stdout, result.stdout), (sys.stderr, result.stderr)):
        stream.write(pattern.sub(lambda match: back[match.group(0)], text) if back else text)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
