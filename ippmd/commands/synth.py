"""`ippmd synth`: one country's synthetic submission, as a survey team would send it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import ForceFilled, country_codes_of, writable_folder
from ippmd.commands.output import say, warn_synthetic
from ippmd.core.errors import UsageError


def synth(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code, e.g. KHM.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the submission into.")],
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed (default: the package seed).")] = None,
    scale: Annotated[
        int, typer.Option(min=1, max=100, help="Multiply the published sample size (as build: at most 100).")
    ] = 1,
    force: ForceFilled = False,
) -> None:
    """Write one country's SYNTHETIC submission (submission format), deterministic for a seed."""
    from ippmd.synth.generator import DEFAULT_SEED, write_submission
    from ippmd.template import refuse_filled_folder

    if "," in iso3:
        raise UsageError("synth writes one country: give one ISO3 code")
    (code,) = country_codes_of(iso3) or [iso3]
    writable_folder(out_dir)
    refuse_filled_folder(out_dir, force)
    write_submission(code, out_dir, seed=DEFAULT_SEED if seed is None else seed, scale=scale)
    warn_synthetic()
    say(f"wrote synthetic submission for {code} to {out_dir}")
