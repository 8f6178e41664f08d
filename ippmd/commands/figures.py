"""`ippmd figures`: Figures 1.2 and 1.3 of the IPPMD report, from the real indicators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import ForceBeside, home_path
from ippmd.commands.output import say
from ippmd.core.errors import UsageError
from ippmd.core.io import claim_output_folder
from ippmd.core.iso3 import iso3_options


def figures(
    highlight: Annotated[
        str, typer.Option(help="Country (ISO3) to highlight; comma-separated for several.")
    ] = "KHM",
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the tables and charts (default: reports/figures in the project home)."),
    ] = None,
    period: Annotated[
        str, typer.Option(help="Period of Figure 1.3: a year, a quarter or 'latest'.")
    ] = "2016",
    force: ForceBeside = False,
) -> None:
    """Figures 1.2 (migrant stocks) and 1.3 (remittance costs vs SDG 10.c) from the real indicators."""
    import polars as pl

    from ippmd.core.metadata import country_codes
    from ippmd.indicators.figures import figure_1_2, figure_1_3
    from ippmd.package.write import country_indicators

    codes = iso3_options(highlight, "--highlight")
    unknown = [c for c in codes if c not in country_codes()]
    if unknown:
        raise UsageError(f"unknown country code(s) {', '.join(unknown)}")
    frame = country_indicators(country_codes())
    periods = sorted(
        frame.filter(pl.col("indicator") == "remittance_cost_usd200")["period"].unique().to_list()
    )
    period = period.strip().upper() if period.strip().lower() != "latest" else "latest"
    if period != "latest" and period not in periods:
        raise UsageError(
            f"no remittance costs for --period {period}; periods with data: latest, {', '.join(periods)}"
        )
    out = claim_output_folder(out or home_path("reports", "figures"), "figures", force)
    figure_1_2(frame, codes, out_dir=out)
    figure_1_3(frame, codes, out_dir=out, period=period)
    say(f"wrote Figures 1.2 and 1.3 (CSV, PNG, SVG) to {out}")
