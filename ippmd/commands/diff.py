"""`ippmd diff`: what changed between two builds, as Unix diff answers (0 same, 1 different)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.output import Unusable, terminal, verdict
from ippmd.core.errors import InputError, UsageError
from ippmd.core.io import package_files, refuse_output_over, write_atomic


def diff(
    old: Annotated[Path, typer.Argument(help="Folder of the older package (its datapackage.json).")],
    new: Annotated[Path, typer.Argument(help="Folder of the newer package.")],
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the differences as JSON.")
    ] = None,
) -> None:
    """What changed between two builds: rows added, removed and changed per table and country,
    and schema changes (as Unix diff: exit 0 identical, 1 different, 2 trouble: a missing,
    unreadable or corrupt package)."""
    from ippmd.core.publish import recover_before_reading
    from ippmd.package.diff import diff_packages
    from ippmd.package.read import read_package

    for folder in (old, new):
        recover_before_reading(folder)  # a killed writer's publish, finished or undone first
        if not (folder / "datapackage.json").is_file():
            raise UsageError(f"no datapackage.json in {folder}")
    for folder in (old, new):
        refuse_output_over(json_file, package_files(folder), "--json")
    try:
        for folder in (old, new):
            read_package(folder).verify()
        result = diff_packages(old, new)
    except InputError as exc:  # exit 1 means "different" here: trouble is 2
        raise Unusable(exc.problems) from None
    if json_file:
        write_atomic(json_file, json.dumps(result.to_json(), indent=2) + "\n")
    terminal().print(result.describe(), markup=False, highlight=False)
    verdict(result.identical)
