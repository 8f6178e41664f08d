"""The `ippmd` command: synth, build, codebook."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ippmd import SYNTHETIC_NOTICE
from ippmd.errors import InputError
from ippmd.paths import ROOT

if TYPE_CHECKING:
    from quality.report import Report

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


# Report files of `validate` and `check`.
JsonReport = Annotated[Path | None, typer.Option("--json", help="Write one record per problem (JSON).")]
HtmlReport = Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report.")]


def _require_package(package: Path) -> None:
    if not (package / "datapackage.json").is_file():
        console.print(f"[bold red]error:[/] no datapackage.json in {package}: run `ippmd build` first")
        raise typer.Exit(2)


def _writable_folder(path: Path) -> None:
    if path.exists() and not path.is_dir():
        console.print(f"[bold red]error:[/] {path} exists and is not a folder")
        raise typer.Exit(2)


@app.command()
def synth(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code, e.g. KHM.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the submission into.")],
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed (default: the package seed).")] = None,
    scale: Annotated[int, typer.Option(min=1, help="Multiply the published sample size.")] = 1,
) -> None:
    """Write one country's SYNTHETIC submission (submission format), deterministic for a seed."""
    from synth.generator import DEFAULT_SEED, write_submission

    if "," in iso3:
        console.print("[bold red]error:[/] synth writes one country: give one ISO3 code")
        raise typer.Exit(2)
    (code,) = _countries(iso3) or [iso3]
    _writable_folder(out_dir)
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
    seed: Annotated[int | None, typer.Option(min=0, help="Seed of the synthetic generator.")] = None,
    out: Annotated[Path, typer.Option(help="Folder that receives datapackage.json and data/.")] = ROOT,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Build the harmonized data package (data/*.csv, data/*.parquet, datapackage.json)."""
    from ippmd.package import build as build_package

    codes = _countries(countries)
    _writable_folder(out)
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


@app.command()
def sources(
    from_dir: Annotated[Path, typer.Option("--from", help="Folder with the original public files.")] = (
        ROOT.parent / "shared" / "data" / "external"
    ),
) -> None:
    """Regenerate the REAL country indicators (indicators/country_indicators.csv) from the originals."""
    from indicators.ingest import COMMITTED_CSV, ingest, write_indicators

    if not from_dir.is_dir():
        console.print(f"[bold red]error:[/] {from_dir} is not a folder of original files (see SOURCES.md)")
        raise typer.Exit(2)
    started = time.perf_counter()
    try:
        frame = ingest(from_dir)
    except InputError as exc:
        _fail(exc)
    write_indicators(frame, COMMITTED_CSV)
    console.print(
        f"wrote {COMMITTED_CSV}: {frame.height:,} real indicator values for "
        f"{frame['iso3'].n_unique()} countries in {time.perf_counter() - started:.1f} s; "
        "run `make data` to put them in the package"
    )


@app.command()
def figures(
    highlight: Annotated[
        str, typer.Option(help="Country (ISO3) to highlight; comma-separated for several.")
    ] = "KHM",
    out: Annotated[Path, typer.Option(help="Folder for the tables and charts.")] = ROOT
    / "reports"
    / "figures",
    period: Annotated[
        str, typer.Option(help="Period of Figure 1.3: a year, a quarter or 'latest'.")
    ] = "2016",
) -> None:
    """Figures 1.2 (migrant stocks) and 1.3 (remittance costs vs SDG 10.c) from the real indicators."""
    from indicators.figures import figure_1_2, figure_1_3
    from ippmd.metadata import country_codes
    from ippmd.package import country_indicators

    codes = [c.strip().upper() for c in highlight.split(",") if c.strip()]
    unknown = [c for c in codes if c not in country_codes()]
    if unknown:
        console.print(f"[bold red]error:[/] unknown country code(s) {', '.join(unknown)}")
        raise typer.Exit(2)
    frame = country_indicators(country_codes())
    out.mkdir(parents=True, exist_ok=True)
    figure_1_2(frame, codes, out_dir=out)
    figure_1_3(frame, codes, out_dir=out, period=period)
    console.print(f"wrote Figures 1.2 and 1.3 (CSV, PNG, SVG) to {out}")


@app.command()
def benchmark(
    focus: Annotated[str, typer.Option(help="Focus country (ISO3), benchmarked against the others.")] = "KHM",
    out: Annotated[Path | None, typer.Option(help="Output folder (default reports/<FOCUS>).")] = None,
    package: Annotated[Path, typer.Option(help="Folder of the built package.")] = ROOT,
) -> None:
    """Fixed-effects benchmarks of the focus country vs its peers: tables, charts, report.html."""
    _require_package(package)
    from ippmd.package import package_countries

    code = focus.strip().upper()
    if code not in package_countries():
        console.print(
            f"[bold red]error:[/] unknown focus country {code}; known: {', '.join(package_countries())}"
        )
        raise typer.Exit(2)
    from models.benchmark import run_benchmark

    out = out or ROOT / "reports" / code
    started = time.perf_counter()
    try:
        result = run_benchmark(package, code, out)
    except InputError as exc:
        _fail(exc)
    console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")
    for sentence in result["findings"][:3]:
        console.print(f"  {sentence}", markup=False, highlight=False)
    console.print(
        f"wrote {result['n_specs']} models, {result['n_charts']} charts and {out / 'report.html'} "
        f"in {time.perf_counter() - started:.1f} s (fit {result['timings']['fit']:.2f} s)"
    )


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command()
def extract(
    countries: Annotated[str | None, typer.Option(help="Comma-separated ISO3 codes (default: all).")] = None,
    tables: Annotated[str | None, typer.Option(help="Comma-separated tables (default: all).")] = None,
    variables: Annotated[
        str | None, typer.Option(help="Comma-separated variables (keys always kept).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet, dta (Stata) or sav (SPSS).")] = "csv",
    out: Annotated[Path | None, typer.Option(help="The zip file to write.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print the tables and variables, then exit.")] = False,
    package: Annotated[Path, typer.Option(help="Folder of the built package.")] = ROOT,
) -> None:
    """Write a self-contained extract (data, datapackage.json, codebook, license, checksums) as one zip."""
    _require_package(package)
    from extract import list_variables, make_extract

    if list_:
        Console().print(list_variables(package), markup=False, highlight=False)
        return
    if out is None:
        console.print("[bold red]error:[/] --out FILE.zip is required")
        raise typer.Exit(2)
    request = (
        ["ippmd", "extract"]
        + [
            f"--{name} {value}"
            for name, value in (("countries", countries), ("tables", tables), ("variables", variables))
            if value
        ]
        + [f"--format {fmt}"]
    )
    started = time.perf_counter()
    try:
        summary = make_extract(
            package,
            out,
            countries=_split(countries),
            tables=_split(tables),
            variables=_split(variables),
            fmt=fmt,  # type: ignore[arg-type]
            command_line=" ".join(request),
        )
    except InputError as exc:
        _fail(exc)
    if '"synthetic": true' in package.joinpath("datapackage.json").read_text(encoding="utf-8"):
        console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(summary.describe(), markup=False, highlight=False)
    console.print(f"wrote {out} in {time.perf_counter() - started:.1f} s")


def _report_outputs(report: Report, json_file: Path | None, html_file: Path | None) -> None:
    from quality.report import render_terminal

    if json_file:  # files first: they hold every problem, whatever happens on the terminal
        report.write_json(json_file)
    if html_file:
        report.write_html(html_file)
    render_terminal(report, Console())


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Submission folder(s) or .zip file(s).")],
    json_file: JsonReport = None,
    html_file: HtmlReport = None,
    engine: Annotated[str, typer.Option(help="Expectation engine: polars (fast) or gx.")] = "polars",
) -> None:
    """Check country submissions: exit 0 all valid, 1 any invalid, 2 unusable arguments."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        console.print(f"[bold red]error:[/] {', '.join(map(str, missing))} does not exist")
        raise typer.Exit(2)
    if engine not in ("polars", "gx"):
        console.print("[bold red]error:[/] --engine must be polars or gx")
        raise typer.Exit(2)
    if len(paths) > 1 and (json_file or html_file):
        console.print("[bold red]error:[/] --json and --html take one submission at a time")
        raise typer.Exit(2)
    from quality.validate import validate_submission

    reports = [validate_submission(path, engine=engine) for path in paths]  # type: ignore[arg-type]
    for report in reports:
        _report_outputs(report, json_file, html_file)
    raise typer.Exit(0 if all(r.valid for r in reports) else 1)


@app.command()
def check(
    package: Annotated[Path, typer.Option(help="Folder of the built package.")] = ROOT,
    json_file: JsonReport = None,
    html_file: HtmlReport = None,
) -> None:
    """Run the quality layers on the built package (datapackage.json + data/)."""
    _require_package(package)
    from quality.validate import check_package

    report = check_package(package)
    _report_outputs(report, json_file, html_file)
    raise typer.Exit(0 if report.valid else 1)


@app.command()
def template(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code (any, for a new country).")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the kit into.")],
) -> None:
    """Write a blank submission kit: CSV headers, metadata.yaml to fill in, GUIDE.md."""
    from quality.template import write_template

    code = iso3.strip().upper()
    if len(code) != 3 or not code.isalpha():
        console.print("[bold red]error:[/] ISO3 must be three letters")
        raise typer.Exit(2)
    _writable_folder(out_dir)
    for path in write_template(code, out_dir):
        console.print(f"wrote {path}")


@app.command()
def admit(
    path: Annotated[Path, typer.Argument(help="Submission folder or .zip.")],
    out: Annotated[Path, typer.Option(help="Folder of the package to update.")] = ROOT,
) -> None:
    """Validate a submission and add (or replace) its country in the package; all or nothing."""
    if not path.exists():
        console.print(f"[bold red]error:[/] {path} does not exist")
        raise typer.Exit(2)
    from quality.admit import admit as admit_submission

    report = admit_submission(path, out)
    _report_outputs(report, None, None)
    if not report.valid:
        console.print("[bold red]not admitted:[/] the package is unchanged")
        raise typer.Exit(1)
    console.print(f"admitted {report.country} into {out / 'datapackage.json'}")


def main() -> None:
    """The console entry point: a last safety net, so no user ever sees a bare traceback."""
    import os

    try:
        app()  # exits itself (SystemExit) on success, usage errors (2) and typer.Exit
    except Exception as exc:
        if os.environ.get("IPPMD_DEBUG"):
            raise
        console.print(f"internal error: {exc.__class__.__name__}: {exc}", markup=False, highlight=False)
        console.print("This is a bug in ippmd; rerun with IPPMD_DEBUG=1 for the traceback and report it.")
        sys.exit(1)


if __name__ == "__main__":
    main()
