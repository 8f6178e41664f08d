"""The `ippmd` command line (app floor): exit 0 ok, 1 bad data, 2 usage or environment."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ippmd import SYNTHETIC_NOTICE
from ippmd.core.errors import InputError, UsageError
from ippmd.core.home import HOME_ENV, project_home, shared_dir

if TYPE_CHECKING:
    from ippmd.quality.report import Report

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    help="Harmonized IPPMD migration-and-development survey package.",
)
console = Console(stderr=True)


@app.callback()
def _home(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Project home: the built package, reports/ and countries/<ISO3>/raw/ "
            f"(default ${HOME_ENV}, else the current folder).",
        ),
    ] = None,
) -> None:
    """Harmonized IPPMD migration-and-development survey package."""
    import os

    if home is not None:
        if not home.is_dir():
            console.print(f"[bold red]error:[/] --home {home} is not a folder")
            raise typer.Exit(2)
        os.environ[HOME_ENV] = str(home.resolve())


PARALLEL_MAX_SCALE = (
    10  # as ippmd.build.PARALLEL_MAX_SCALE (kept here so the worker starts before that import)
)


def _home_path(*parts: str) -> Path:
    """A place in the project home, for defaults of --out and --package."""
    return project_home().joinpath(*parts)


def _fail(exc: InputError) -> None:
    console.print(f"[bold red]error:[/] {len(exc.problems)} problem(s) in the input")
    console.print(str(exc), markup=False, highlight=False)
    raise typer.Exit(1)


def _countries(value: str | None) -> list[str] | None:
    if not value:
        return None
    from ippmd.core.metadata import country_codes

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


def _require_package(package: Path | None) -> Path:
    """The package folder given, else the home; exit 2 when it holds no datapackage.json."""
    package = package or _home_path()
    if not (package / "datapackage.json").is_file():
        console.print(f"[bold red]error:[/] no datapackage.json in {package}: run `ippmd build` first")
        raise typer.Exit(2)
    return package


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
    from ippmd.synth.generator import DEFAULT_SEED, write_submission

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
    out: Annotated[
        Path | None, typer.Option(help="Folder that receives datapackage.json and data/ (default: home).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Build the harmonized data package (data/*.csv, data/*.parquet, datapackage.json)."""
    out = out or _home_path()
    _writable_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    # The GX worker starts first: its import (seconds) overlaps everything below.
    from ippmd.quality.parallel import PARALLEL_MAX_SCALE, SuiteRunner

    runner = SuiteRunner(out) if scale <= PARALLEL_MAX_SCALE else None
    from ippmd.build import build as build_package

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
                suite_runner=runner,
            )
    except InputError as exc:
        _fail(exc)
    finally:
        if runner is not None:
            runner.close()
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
    package: Annotated[
        Path | None, typer.Option(help="datapackage.json to document (default: home).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Markdown file to write (default: home).")] = None,
) -> None:
    """Write the Markdown codebook generated from the schemas and the built package."""
    from ippmd.package.codebook import write_codebook

    package = package or _home_path("datapackage.json")
    out = out or _home_path("codebook.md")

    try:
        write_codebook(package, out)
    except InputError as exc:
        _fail(exc)
    console.print(f"wrote {out}")


@app.command()
def sources(
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from", help="Folder with the original public files (default: ../shared/data/external)."
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

    if not from_dir.is_dir():
        console.print(f"[bold red]error:[/] {from_dir} is not a folder of original files (see SOURCES.md)")
        raise typer.Exit(2)
    started = time.perf_counter()
    try:
        frame = ingest(from_dir)
    except InputError as exc:
        _fail(exc)
    write_indicators(frame, out)
    console.print(
        f"wrote {out}: {frame.height:,} real indicator values for "
        f"{frame['iso3'].n_unique()} countries in {time.perf_counter() - started:.1f} s; "
        "run `make data` to put them in the package"
    )


@app.command()
def figures(
    highlight: Annotated[
        str, typer.Option(help="Country (ISO3) to highlight; comma-separated for several.")
    ] = "KHM",
    out: Annotated[
        Path | None, typer.Option(help="Folder for the tables and charts (default: reports/figures).")
    ] = None,
    period: Annotated[
        str, typer.Option(help="Period of Figure 1.3: a year, a quarter or 'latest'.")
    ] = "2016",
) -> None:
    """Figures 1.2 (migrant stocks) and 1.3 (remittance costs vs SDG 10.c) from the real indicators."""
    from ippmd.core.metadata import country_codes
    from ippmd.indicators.figures import figure_1_2, figure_1_3
    from ippmd.package.write import country_indicators

    codes = [c.strip().upper() for c in highlight.split(",") if c.strip()]
    unknown = [c for c in codes if c not in country_codes()]
    if unknown:
        console.print(f"[bold red]error:[/] unknown country code(s) {', '.join(unknown)}")
        raise typer.Exit(2)
    frame = country_indicators(country_codes())
    out = out or _home_path("reports", "figures")
    out.mkdir(parents=True, exist_ok=True)
    figure_1_2(frame, codes, out_dir=out)
    figure_1_3(frame, codes, out_dir=out, period=period)
    console.print(f"wrote Figures 1.2 and 1.3 (CSV, PNG, SVG) to {out}")


@app.command()
def benchmark(
    focus: Annotated[str, typer.Option(help="Focus country (ISO3), benchmarked against the others.")] = "KHM",
    out: Annotated[Path | None, typer.Option(help="Output folder (default reports/<FOCUS>).")] = None,
    package: Annotated[Path | None, typer.Option(help="Folder of the built package (default: home).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Fixed-effects benchmarks of the focus country vs its peers: tables, charts, report.html."""
    package = _require_package(package)
    from ippmd.build import package_countries

    code = focus.strip().upper()
    if code not in package_countries():
        console.print(
            f"[bold red]error:[/] unknown focus country {code}; known: {', '.join(package_countries())}"
        )
        raise typer.Exit(2)
    from ippmd.models.benchmark import run_benchmark

    out = out or _home_path("reports", code)
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
            task = progress.add_task("benchmark", total=None)
            result = run_benchmark(
                package, code, out, progress=lambda step: progress.update(task, description=step)
            )
    except InputError as exc:
        _fail(exc)
    console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")
    rows = result["summary"]
    console.print(
        f"All {len(rows)} findings for {result['country_name']} (SYNTHETIC data; full sentences in "
        "report.html): effect [95% CI] method; rank [95% interval]; Holm p of the difference from peers"
    )
    for number, row in enumerate(rows, 1):
        console.print(
            f"  {number:2d}. {row['Finding (outcome ~ treatment)']}: {row[f'{code} effect']} "
            f"[{row['95% CI']}] {row['Method']}; rank {row['Rank [95% interval]']}; Holm {row['Holm p']}",
            markup=False,
            highlight=False,
        )
    costs = "with" if result["remittance_costs"] else "without (RPW original not found)"
    console.print(
        f"wrote {result['n_specs']} models, {result['n_charts']} charts and {out / 'report.html'} "
        f"{costs} the real remittance-cost benchmark in {time.perf_counter() - started:.1f} s "
        f"(fit {result['timings']['fit']:.2f} s)"
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
    package: Annotated[Path | None, typer.Option(help="Folder of the built package (default: home).")] = None,
) -> None:
    """Write a self-contained extract (data, datapackage.json, codebook, license, checksums) as one zip."""
    package = _require_package(package)
    from ippmd.extract import list_variables, make_extract

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
    from ippmd.quality.report import render_terminal

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
    from ippmd.quality.validate import validate_submission

    reports = [validate_submission(path, engine=engine) for path in paths]  # type: ignore[arg-type]
    for report in reports:
        _report_outputs(report, json_file, html_file)
    raise typer.Exit(0 if all(r.valid for r in reports) else 1)


@app.command()
def check(
    package: Annotated[Path | None, typer.Option(help="Folder of the built package (default: home).")] = None,
    json_file: JsonReport = None,
    html_file: HtmlReport = None,
) -> None:
    """Run the quality layers on the built package (datapackage.json + data/)."""
    package = _require_package(package)
    from ippmd.quality.validate import check_package

    report = check_package(package)
    _report_outputs(report, json_file, html_file)
    raise typer.Exit(0 if report.valid else 1)


@app.command()
def template(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code (any, for a new country).")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the kit into.")],
) -> None:
    """Write a blank submission kit: CSV headers, metadata.yaml to fill in, GUIDE.md."""
    from ippmd.template import write_template

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
    out: Annotated[Path | None, typer.Option(help="Folder of the package to update (default: home).")] = None,
) -> None:
    """Validate a submission and add (or replace) its country in the package; all or nothing."""
    if not path.exists():
        console.print(f"[bold red]error:[/] {path} does not exist")
        raise typer.Exit(2)
    from ippmd.admit import admit as admit_submission

    out = out or _home_path()

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
    except UsageError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(2)
    except OSError as exc:  # the environment (read-only, disk full, wrong path), not a bug
        where = f" ({exc.filename})" if exc.filename else ""
        console.print(f"error: {exc.strerror or exc}{where}", markup=False, highlight=False)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("IPPMD_DEBUG"):
            raise
        console.print(f"internal error: {exc.__class__.__name__}: {exc}", markup=False, highlight=False)
        console.print("This is a bug in ippmd; rerun with IPPMD_DEBUG=1 for the traceback and report it.")
        sys.exit(1)


if __name__ == "__main__":
    main()
