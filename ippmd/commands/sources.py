"""`ippmd sources`: the real country indicators, regenerated from the original public files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.output import say
from ippmd.core.errors import UsageError
from ippmd.core.home import shared_dir
from ippmd.core.io import refuse_output_over


def sources(
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Folder with the original public files (default: data/external in ../shared beside "
            "the project home, or $IPPMD_SHARED).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="CSV to write (default: the committed indicators/country_indicators.csv)."),
    ] = None,
) -> None:
    """Regenerate the REAL country indicators (indicators/country_indicators.csv) from the originals."""
    from ippmd.indicators.ingest import committed_csv, ingest, write_indicators

    from_dir = from_dir or shared_dir() / "data" / "external"
    out = out or committed_csv()
    refuse_output_over(out, [from_dir], "--out")  # nor over a package's files

    if not from_dir.is_dir():
        raise UsageError(f"{from_dir} is not a folder of original files (see SOURCES.md)")
    started = time.perf_counter()
    frame = ingest(from_dir)
    write_indicators(frame, out)
    say(
        f"wrote {out}: {frame.height:,} real indicator values for "
        f"{frame['iso3'].n_unique()} countries in {time.perf_counter() - started:.1f} s; "
        "run `make data` to put them in the package"
    )
