"""`ippmd template`: a blank submission kit for a survey team."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import ForceFilled, writable_folder
from ippmd.commands.output import say
from ippmd.core.iso3 import iso3_option


def template(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code (any, for a new country).")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the kit into (new or empty).")],
    force: ForceFilled = False,
) -> None:
    """Write a blank submission kit: CSV headers, metadata.yaml to fill in, GUIDE.md."""
    from ippmd.template import refuse_filled_folder, write_template

    code = iso3_option(iso3, "the country code")
    writable_folder(out_dir)
    refuse_filled_folder(out_dir, force)
    for path in write_template(code, out_dir, force=force):
        say(f"wrote {path}")
