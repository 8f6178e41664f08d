"""The `ippmd` command: synth, build, codebook."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ippmd import SYNTHETIC_NOTICE
from ippmd.errors import InputError
from ippmd.paths import ROOT

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    help="Harmonized IPPMD migration-and-development survey package.",
)
console = Console(stderr=True)


def _fail(exc: InputError) -> None:
    console.print(f"[bold red]error:[/] {len(exc.problems)} problem(s) in the input")
    console.print(str(exc), markup=False, highlight=False)
    raise typer.Exit(1)


def _countries(value: str | None) -> list[str] | None:
    if not value:
        return None
    from ippmd.metadata import country_codes

    codes = [c.strip().upper() for c in value.split(",") if c.strip()]
    unknown = [c for c in codes if c not in country_codes()]
    if unknown:
        console.print(
            f"[bold red]error:[/] unknown country code(s) {', '.join(unknown)}; "
            f"known: {', '.join(country_codes())}"
        )
        raise typer.Exit(2)
    return codes


@app.command()
def synth(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code, e.g. KHM.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the submission into.")],
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the package seed).")] = None,
    scale: Annotated[int, typer.Option(min=1, help="Multiply the published sample size.")] = 1,
) -> None:
    """Write one country's SYNTHETIC submission (submission format), deterministic for a seed."""
    from synth.generator import DEFAULT_SEED, write_submission

    (code,) = _countries(iso3) or [iso3]
    try:
        write_submission(code, out_dir, seed=DEFAULT_SEED if seed is None else seed, scale=scale)
    except InputError as exc:
        _fail(exc)
    console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(f"wrote synthetic submission for {code} to {out_dir}")


@app.command()
def build(
    countries: Annotated[str | None, typer.Option(help="Comma-separated ISO3 codes (default: all).")] = None,
    scale: Annotated[int, typer.Option(min=1, help="Multiply synthetic sample sizes (benchmarks).")] = 1,
    seed: Annotated[int | None, typer.Option(help="Seed of the synthetic generator.")] = None,
    out: Annotated[Path, typer.Option(help="Folder that receives datapackage.json and data/.")] = ROOT,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Build the harmonized data package (data/*.csv, data/*.parquet, datapackage.json)."""
    from ippmd.package import build as build_package

    codes = _countries(countries)
    started = time.perf_counter()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not sys.stderr.isatty(),
    )
    try:
        with progress:
            task = progress.add_task("building", total=None)
            package = build_package(
                out,
                codes,
                seed=seed,
                scale=scale,
                progress=lambda step: progress.update(task, description=step),
            )
    except InputError as exc:
        _fail(exc)
    rows = {r["name"]: r["rows"] for r in package["resources"]}
    if package["synthetic"]:
        console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(
        f"built {out / 'datapackage.json'}: {rows['countries']} countries, "
        f"{rows['communities']:,} communities, "
        f"{rows['households']:,} households, {rows['persons']:,} persons, {rows['emigrants']:,} emigrants "
        f"in {time.perf_counter() - started:.1f} s"
    )


@app.command()
def codebook(
    package: Annotated[Path, typer.Option(help="datapackage.json to document.")] = ROOT / "datapackage.json",
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = ROOT / "codebook.md",
) -> None:
    """Write the Markdown codebook generated from the schemas and the built package."""
    from ippmd.codebook import write_codebook

    try:
        write_codebook(package, out)
    except InputError as exc:
        _fail(exc)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
