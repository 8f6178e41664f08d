"""The `ippmd` command line (app floor): exit 0 ok, 1 bad data, 2 usage or environment."""

from __future__ import annotations

import gc
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
from ippmd.core.io import (
    claim_output_folder,
    descriptor_countries,
    package_files,
    read_descriptor,
    refuse_inside_a_package,
    refuse_output_over,
    verify_parquet_files,
    write_atomic,
)
from ippmd.core.text import printable, shown

if TYPE_CHECKING:
    from ippmd.quality.report import Report


def _no_type_for_flags() -> None:
    """`--help`, `--quiet` and the other flags take no value: show no `<bool>` type for them."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: object) -> str | None:
        return None if getattr(self, "is_flag", False) else shown(self, ctx)  # type: ignore[arg-type]

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_type_for_flags()

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    help="Harmonized IPPMD migration-and-development survey package.",
)


class SafeConsole(Console):
    """A console that never hands the terminal a control character from what it prints (a
    country code or path given as `KH\x1b[2JM` would clear the screen): they are written out."""

    def print(self, *objects: object, **options: object) -> None:  # type: ignore[override]
        cleaned = (shown(o) if isinstance(o, str) else o for o in objects)
        super().print(*cleaned, **options)  # type: ignore[arg-type]


console = SafeConsole(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from ippmd import __version__
        from ippmd.package.write import data_version

        print(f"ippmd {__version__} (data package {data_version()})")
        raise typer.Exit(0)


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
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the code and data versions, then exit.",
        ),
    ] = False,
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


def _fail(exc: InputError, usage: bool = False, hint: str | None = None) -> None:
    """Report the problems of an input; exit 1 (bad data), or 2 when they are the command line's."""
    if usage:  # an unknown table, variable or format given on the command line
        for p in exc.problems:
            console.print(f"error: {p.message}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    console.print(f"[bold red]error:[/] {len(exc.problems)} problem(s) in the input")
    console.print(str(exc), markup=False, highlight=False)
    if hint:
        console.print(hint, markup=False, highlight=False, soft_wrap=True)
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
SuiteEngine = Annotated[
    str,
    typer.Option(
        help="Engine of the package's expectation suites: gx (Great Expectations, the reference) or "
        "polars (the same suites translated, held to GX's verdicts by the tests; no 4 s GX start)."
    ),
]


def _suite_engine(engine: str) -> str:
    engine = engine.strip().lower()
    if engine not in ("gx", "polars"):
        console.print(f"error: --engine {engine!r}: use gx or polars", markup=False, highlight=False)
        raise typer.Exit(2)
    return engine


JsonReport = Annotated[Path | None, typer.Option("--json", help="Write one record per problem (JSON).")]
HtmlReport = Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report.")]


def _require_package(package: Path | None, verify: bool = True) -> Path:
    """The package folder given, else the home; exit 2 when it holds no datapackage.json.

    `verify`: check its Parquet files against the descriptor's hashes first (exit 1 naming a
    corrupt or edited file), for the commands that read them."""
    package = package or _home_path()
    if not (package / "datapackage.json").is_file():
        console.print(f"[bold red]error:[/] no datapackage.json in {package}: run `ippmd build` first")
        raise typer.Exit(2)
    if verify and not (package / "data").is_dir():
        # A clean checkout carries the descriptor but not the data it describes: not built yet,
        # which is a step to take (exit 2), not a corrupt package (exit 1).
        console.print(
            f"error: the package in {package} is not built yet (no data/ folder): "
            "run `ippmd build` (or `make`) first",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    if verify:
        try:
            verify_parquet_files(package)
        except InputError as exc:
            _fail(exc)
    return package


def _descriptor_countries(package: Path) -> list[str]:
    """The ISO3 codes a built package's descriptor lists (its `countries`), admitted ones included."""
    try:
        return sorted(descriptor_countries(package, read_descriptor(package)))
    except InputError as exc:
        _fail(exc)


def _refuse_filled(out_dir: Path, force: bool) -> None:
    """Exit 2, in one line, rather than write over a folder of someone's files (without --force)."""
    from ippmd.template import refuse_filled_folder

    try:
        refuse_filled_folder(out_dir, force)
    except UsageError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _writable_folder(path: Path) -> None:
    if path.exists() and not path.is_dir():
        console.print(f"[bold red]error:[/] {path} exists and is not a folder")
        raise typer.Exit(2)


@app.command()
def synth(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code, e.g. KHM.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the submission into.")],
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed (default: the package seed).")] = None,
    scale: Annotated[
        int, typer.Option(min=1, max=100, help="Multiply the published sample size (as build: at most 100).")
    ] = 1,
    force: Annotated[bool, typer.Option(help="Write into a folder that already holds files.")] = False,
) -> None:
    """Write one country's SYNTHETIC submission (submission format), deterministic for a seed."""
    from ippmd.synth.generator import DEFAULT_SEED, write_submission

    if "," in iso3:
        console.print("[bold red]error:[/] synth writes one country: give one ISO3 code")
        raise typer.Exit(2)
    (code,) = _countries(iso3) or [iso3]
    _writable_folder(out_dir)
    _refuse_filled(out_dir, force)
    try:
        write_submission(code, out_dir, seed=DEFAULT_SEED if seed is None else seed, scale=scale)
    except InputError as exc:
        _fail(exc)
    console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(f"wrote synthetic submission for {code} to {out_dir}")


@app.command()
def build(
    countries: Annotated[str | None, typer.Option(help="Comma-separated ISO3 codes (default: all).")] = None,
    scale: Annotated[
        int,
        typer.Option(
            min=1, max=100, help="Multiply synthetic sample sizes (benchmarks; 100x peaks at 3.6 GiB)."
        ),
    ] = 1,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed of the synthetic generator.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder that receives datapackage.json and data/ (default: home).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
    force: Annotated[
        bool, typer.Option(help="Build into a folder that holds other files (never over a foreign data/).")
    ] = False,
    engine: SuiteEngine = "gx",
) -> None:
    """Build the harmonized data package (data/*.csv, data/*.parquet, datapackage.json)."""
    from ippmd.core.publish import check_target

    codes = _countries(countries)  # arguments first: nothing is written for a usage error
    engine = _suite_engine(engine)
    out = out or _home_path()
    _writable_folder(out)
    refuse_inside_a_package(out, "--out")  # a package built inside another's data/ or admitted/
    check_target(out, force)
    out.mkdir(parents=True, exist_ok=True)
    # The GX worker starts first: its import (seconds) overlaps everything below.
    from ippmd.quality.parallel import PARALLEL_MAX_SCALE, SuiteRunner

    runner = SuiteRunner(out) if scale <= PARALLEL_MAX_SCALE and engine == "gx" else None
    from ippmd.build import build as build_package

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
                engine=engine,  # type: ignore[arg-type]
            )
    except InputError as exc:
        raw = sorted({Path(p.file).parent for p in exc.problems if "raw" in Path(p.file).parts})
        where = " ".join(str(r) for r in raw) or "PATH"
        _fail(
            exc, hint=f"Run `ippmd validate {where}` for every problem of the submission, each with its fix."
        )
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
        Path | None, typer.Option(help="Folder of the built package to document (default: home).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="File to write (default: codebook.md, or codebook.xml for ddi, in the project home)."
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="markdown (default) or ddi (DDI Codebook 2.5 XML).")
    ] = "markdown",
) -> None:
    """Write the codebook generated from the schemas and the built package (Markdown or DDI 2.5)."""
    from ippmd.package.codebook import write_codebook

    fmt = fmt.strip().lower()
    if fmt not in ("markdown", "md", "ddi"):
        console.print(f"[bold red]error:[/] --format {fmt}: use markdown or ddi")
        raise typer.Exit(2)
    # --package is the package folder, as in every other command (its datapackage.json is accepted too).
    if package is not None and package.name == "datapackage.json":
        package = package.parent
    folder = _require_package(package)
    out = out or _home_path("codebook.xml" if fmt == "ddi" else "codebook.md")
    refuse_output_over(out, package_files(folder), "--out")

    try:
        if fmt == "ddi":
            from ippmd.core.io import read_descriptor
            from ippmd.package.ddi import write_ddi

            write_ddi(read_descriptor(folder), folder, out)
        else:
            write_codebook(folder / "datapackage.json", out)
    except InputError as exc:
        _fail(exc)
    console.print(f"wrote {out}")


@app.command()
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
        Path | None,
        typer.Option(help="Folder for the tables and charts (default: reports/figures in the project home)."),
    ] = None,
    period: Annotated[
        str, typer.Option(help="Period of Figure 1.3: a year, a quarter or 'latest'.")
    ] = "2016",
    force: Annotated[bool, typer.Option(help="Write into a folder that holds other files.")] = False,
) -> None:
    """Figures 1.2 (migrant stocks) and 1.3 (remittance costs vs SDG 10.c) from the real indicators."""
    import polars as pl

    from ippmd.core.metadata import country_codes
    from ippmd.indicators.figures import figure_1_2, figure_1_3
    from ippmd.package.write import country_indicators

    codes = [c.strip().upper() for c in highlight.split(",") if c.strip()]
    unknown = [c for c in codes if c not in country_codes()]
    if unknown:
        console.print(f"[bold red]error:[/] unknown country code(s) {', '.join(unknown)}")
        raise typer.Exit(2)
    frame = country_indicators(country_codes())
    periods = sorted(
        frame.filter(pl.col("indicator") == "remittance_cost_usd200")["period"].unique().to_list()
    )
    period = period.strip().upper() if period.strip().lower() != "latest" else "latest"
    if period != "latest" and period not in periods:
        console.print(
            f"error: no remittance costs for --period {period}; periods with data: latest, "
            f"{', '.join(periods)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    out = claim_output_folder(out or _home_path("reports", "figures"), "figures", force)
    figure_1_2(frame, codes, out_dir=out)
    figure_1_3(frame, codes, out_dir=out, period=period)
    console.print(f"wrote Figures 1.2 and 1.3 (CSV, PNG, SVG) to {out}")


@app.command()
def benchmark(
    focus: Annotated[str, typer.Option(help="Focus country (ISO3), benchmarked against the others.")] = "KHM",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: reports/<FOCUS> in the project home).")
    ] = None,
    package: Annotated[Path | None, typer.Option(help="Folder of the built package (default: home).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
    force: Annotated[bool, typer.Option(help="Write into a folder that holds other files.")] = False,
) -> None:
    """Fixed-effects benchmarks of the focus country vs its peers: tables, charts, report.html."""
    package = _require_package(package, verify=False)
    code = focus.strip().upper()
    known = _descriptor_countries(package)
    if code not in known:
        console.print(
            f"error: focus country {code!r} is not in the package in {package}; it holds: {', '.join(known)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    _require_package(package)
    from ippmd.reporting.benchmark import run_benchmark

    out = out or _home_path("reports", code)
    refuse_output_over(out, package_files(package), "--out")
    claim_output_folder(out, "benchmark", force, earlier=("report.html", "estimates.csv"))
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
    except OSError as exc:  # disk full or unwritable, where the library did not name the file
        where = exc.filename or out
        console.print(
            f"error: {exc.strerror or exc} (writing {where})", markup=False, highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    # Everything left is kept to the end: without this, the final collection at exit walks the
    # object graphs of pandas, scipy and pyfixest for about 0.6 s (measured in bench/).
    gc.freeze()
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
    attach: Annotated[
        str | None,
        typer.Option(
            help="Variables of linked tables to put on each row, e.g. households.weight,households.urban."
        ),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(help='Case selection (SQL), e.g. "age >= 15", on the tables that have its columns.'),
    ] = None,
) -> None:
    """Write a self-contained extract (data, descriptor, codebook, DDI, licence, citation, checksums)."""
    package = _require_package(package, verify=False)
    from ippmd.extract import make_extract

    fmt = fmt.strip().lower()

    if list_:
        _list_extractable(package, _split(tables))
        return
    if out is None:
        console.print("[bold red]error:[/] --out FILE.zip is required")
        raise typer.Exit(2)
    request = (
        ["ippmd", "extract"]
        + [
            f"--{name} {value}"
            for name, value in (
                ("countries", countries),
                ("tables", tables),
                ("variables", variables),
                ("attach", attach),
            )
            if value
        ]
        + ([f'--where "{where}"'] if where else [])
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
            attach=_split(attach),
            where=where,
        )
    except InputError as exc:
        given = {fmt, *(_split(",".join(v for v in (countries, tables, variables, attach) if v)) or [])}
        _fail(exc, usage=all(p.value is not None and p.value in given for p in exc.problems))
    except UsageError as exc:  # a bad --out or --where: exit 2
        from rich.markup import escape

        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    if '"synthetic": true' in package.joinpath("datapackage.json").read_text(encoding="utf-8"):
        console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(summary.describe(), markup=False, highlight=False)
    console.print(f"wrote {out} in {time.perf_counter() - started:.1f} s")


@app.command()
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
    import json

    from ippmd.package.diff import diff_packages

    for folder in (old, new):
        if not (folder / "datapackage.json").is_file():
            console.print(f"[bold red]error:[/] no datapackage.json in {folder}")
            raise typer.Exit(2)
    for folder in (old, new):
        refuse_output_over(json_file, package_files(folder), "--json")
    try:
        for folder in (old, new):
            verify_parquet_files(folder)
        result = diff_packages(old, new)
    except InputError as exc:  # exit 1 means "different" here: trouble is 2
        console.print(f"error: {len(exc.problems)} problem(s) in the input", markup=False, highlight=False)
        console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    if json_file:
        write_atomic(json_file, json.dumps(result.to_json(), indent=2) + "\n")
    SafeConsole().print(result.describe(), markup=False, highlight=False)
    raise typer.Exit(0 if result.identical else 1)


def _list_extractable(package: Path, tables: list[str] | None) -> None:
    """`extract --list`: rich tables in a terminal, unwrapped Markdown when piped (`--tables` honoured)."""
    from rich.markup import escape

    from ippmd.explore.listing import render_listing
    from ippmd.extract import variable_catalog
    from ippmd.extract.source import open_package

    source = open_package(package)
    try:
        render_listing(
            SafeConsole(), source.descriptor, source.country_names, variable_catalog(source), tables
        )
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def tabulate(
    variable: Annotated[str, typer.Argument(help="Variable to estimate, e.g. remittances_received.")],
    table: Annotated[str, typer.Option(help="Its table: households, persons, emigrants or communities.")],
    by: Annotated[
        str | None, typer.Option(help="Comma-separated columns to estimate by, e.g. country,sex.")
    ] = None,
    where: Annotated[
        str | None, typer.Option(help='A domain, as a polars SQL condition, e.g. "age >= 15".')
    ] = None,
    countries: Annotated[str | None, typer.Option(help="Comma-separated ISO3 codes (default: all).")] = None,
    package: Annotated[Path | None, typer.Option(help="Folder of the built package (default: home).")] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv, md, html or xlsx (default: from the --out suffix; else a table on a terminal, "
            "CSV when piped).",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="File to write (default: standard output).")] = None,
) -> None:
    """Design-based weighted mean or shares, with SE, 95% CI, n and PSUs (as R's survey package).

    Exit 0 ok; 1 the query selects no rows; 2 an unknown table, variable, column, country or bad SQL.
    """
    from rich.markup import escape

    from ippmd.explore.render import FORMATS, print_table, render
    from ippmd.explore.tabulate import EmptySelection, Query
    from ippmd.explore.tabulate import tabulate as run_tabulation

    package = _require_package(package)
    refuse_output_over(out, package_files(package), "--out")
    chosen = fmt.strip().lower() if fmt else (out.suffix.lstrip(".").lower() if out is not None else None)
    if chosen is not None and chosen not in FORMATS:
        console.print(f"[bold red]error:[/] unknown format {chosen!r}; use one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    if chosen == "xlsx" and out is None:
        console.print("[bold red]error:[/] --format xlsx needs --out FILE.xlsx")
        raise typer.Exit(2)
    query = Query(
        variable=variable.strip(),
        table=table.strip(),
        by=tuple(dict.fromkeys(_split(by) or ())),
        where=where,
        countries=tuple(_countries(countries) or ()) or None,
    )
    try:
        result = run_tabulation(package, query)
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    except EmptySelection as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    except InputError as exc:
        _fail(exc)
    if chosen is None and sys.stdout.isatty():
        print_table(result, SafeConsole())
        return
    data = render(result, chosen or "csv")  # type: ignore[arg-type]
    if result.synthetic:
        console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, data)
        console.print(f"wrote {out} ({result.frame.height} rows)")


@app.command()
def site(
    out: Annotated[
        Path | None, typer.Option(help="Folder to write (default: reports/site in the project home).")
    ] = None,
    package: Annotated[Path | None, typer.Option(help="Folder of the built package (default: home).")] = None,
) -> None:
    """Write the offline, searchable codebook site (HTML, no network): variables, availability, indicators."""
    from rich.markup import escape

    from ippmd.explore.site import write_site

    package = _require_package(package)
    out = out or _home_path("reports", "site")
    refuse_output_over(out, package_files(package), "--out")
    _writable_folder(out)
    started = time.perf_counter()
    try:
        summary = write_site(package, out)
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    console.print(
        f"wrote {summary.pages} pages ({summary.variables} variables, {summary.indicators} country "
        f"indicators) to {out / 'index.html'} in {time.perf_counter() - started:.1f} s"
    )


def _report_outputs(report: Report, json_file: Path | None, html_file: Path | None) -> None:
    from ippmd.quality.report import render_terminal

    if json_file:  # files first: they hold every problem, whatever happens on the terminal
        report.write_json(json_file)
    if html_file:
        report.write_html(html_file)
    render_terminal(report, SafeConsole())


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Submission folder(s) or .zip file(s).")],
    json_file: JsonReport = None,
    html_file: HtmlReport = None,
    engine: Annotated[str, typer.Option(help="Expectation engine: polars (fast) or gx.")] = "polars",
) -> None:
    """Check country submissions: exit 0 all valid, 1 any invalid, 2 unusable arguments."""
    engine = engine.strip().lower()
    missing = [p for p in paths if not p.exists()]
    if missing:
        said = printable(f"{', '.join(map(str, missing))} does not exist")
        console.print(f"error: {said}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if engine not in ("polars", "gx"):
        console.print("[bold red]error:[/] --engine must be polars or gx")
        raise typer.Exit(2)
    for path in paths:
        if path.is_file() and path.suffix.lower() != ".zip":
            console.print(
                f"error: {path} is a file, not a submission: give the submission folder that holds "
                "metadata.yaml and the four tables (or a .zip of it)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2)
    from ippmd.quality.report import write_html, write_json
    from ippmd.quality.validate import validate_submission

    for option, file in (("--json", json_file), ("--html", html_file)):
        refuse_output_over(file, list(paths), option)
    reports = [validate_submission(path, engine=engine) for path in paths]  # type: ignore[arg-type]
    if json_file:  # files first: they hold every problem of every submission
        write_json(reports, json_file)
    if html_file:
        write_html(reports, html_file)
    for report in reports:
        _report_outputs(report, None, None)
    raise typer.Exit(0 if all(r.valid for r in reports) else 1)


@app.command()
def check(
    package: Annotated[Path | None, typer.Option(help="Folder of the built package (default: home).")] = None,
    json_file: JsonReport = None,
    html_file: HtmlReport = None,
) -> None:
    """Run the quality layers on the built package (datapackage.json + data/)."""
    package = _require_package(package, verify=False)
    for option, file in (("--json", json_file), ("--html", html_file)):
        refuse_output_over(file, package_files(package), option)
    from ippmd.quality.validate import check_package

    report = check_package(package)
    _report_outputs(report, json_file, html_file)
    raise typer.Exit(0 if report.valid else 1)


@app.command()
def template(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code (any, for a new country).")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the kit into (new or empty).")],
    force: Annotated[bool, typer.Option(help="Write into a folder that already holds files.")] = False,
) -> None:
    """Write a blank submission kit: CSV headers, metadata.yaml to fill in, GUIDE.md."""
    from ippmd.template import write_template

    code = iso3.strip().upper()
    if len(code) != 3 or not code.isalpha():
        console.print("[bold red]error:[/] ISO3 must be three letters")
        raise typer.Exit(2)
    _writable_folder(out_dir)
    _refuse_filled(out_dir, force)
    for path in write_template(code, out_dir, force=force):
        console.print(f"wrote {path}")


@app.command()
def admit(
    path: Annotated[Path, typer.Argument(help="Submission folder or .zip.")],
    out: Annotated[Path | None, typer.Option(help="Folder of the package to update (default: home).")] = None,
    engine: SuiteEngine = "gx",
) -> None:
    """Validate a submission and add (or replace) its country in the package; all or nothing."""
    engine = _suite_engine(engine)
    if not path.exists():
        console.print(f"error: {printable(str(path))} does not exist", markup=False, highlight=False)
        raise typer.Exit(2)
    from ippmd.admit import admit as admit_submission

    out = out or _home_path()
    refuse_inside_a_package(out, "--out")  # a package inside another's data/ or admitted/
    with console.status("admitting") as status:
        report = admit_submission(path, out, progress=lambda step: status.update(step), engine=engine)
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
    except UsageError as exc:  # one line each, never folded: paths stay copyable
        console.print(f"error: {printable(str(exc))}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except InputError as exc:  # problems of the data that a command did not report itself
        console.print(f"error: {len(exc.problems)} problem(s) in the input", markup=False, highlight=False)
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except OSError as exc:  # the environment (read-only, disk full, wrong path), not a bug
        where = f" ({exc.filename})" if exc.filename else ""
        said = printable(f"error: {exc.strerror or exc}{where}")
        console.print(said, markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("IPPMD_DEBUG"):
            raise
        console.print(f"internal error: {exc.__class__.__name__}: {exc}", markup=False, highlight=False)
        console.print("This is a bug in ippmd; rerun with IPPMD_DEBUG=1 for the traceback and report it.")
        sys.exit(1)


if __name__ == "__main__":
    main()
