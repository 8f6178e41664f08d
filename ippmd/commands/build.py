"""`ippmd build`: the harmonized data package, as one transaction."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import (
    Countries,
    Quiet,
    SuiteEngine,
    country_codes_of,
    home_path,
    suite_engine,
    writable_folder,
)
from ippmd.commands.output import progress_bar, say, warn_synthetic
from ippmd.core.errors import InputError
from ippmd.core.io import refuse_inside_a_package


def build(
    countries: Countries = None,
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
    quiet: Quiet = False,
    force: Annotated[
        bool, typer.Option(help="Build into a folder that holds other files (never over a foreign data/).")
    ] = False,
    engine: SuiteEngine = "gx",
    release: Annotated[
        bool,
        typer.Option(
            help="The code's own release: the version of schemas/package.yaml and no `changes`, "
            "whatever package the folder held (`make data`); by default a change of data bumps the version."
        ),
    ] = False,
) -> None:
    """Build the harmonized data package (data/*.csv, data/*.parquet, datapackage.json)."""
    from ippmd.core.publish import check_target

    codes = country_codes_of(countries)  # arguments first: nothing is written for a usage error
    suites = suite_engine(engine)
    out = out or home_path()
    writable_folder(out)
    refuse_inside_a_package(out, "--out")  # a package built inside another's data/ or admitted/
    check_target(out, force)
    out.mkdir(parents=True, exist_ok=True)
    # The GX worker starts first: its import (seconds) overlaps everything below.
    from ippmd.quality.parallel import PARALLEL_MAX_SCALE, SuiteRunner

    runner = SuiteRunner(out) if scale <= PARALLEL_MAX_SCALE and suites == "gx" else None
    from ippmd.build import build as build_package

    started = time.perf_counter()
    progress = progress_bar(quiet)
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
                engine=suites,
                release=release,
            )
    except InputError as exc:
        raw = sorted({Path(p.file).parent for p in exc.problems if "raw" in Path(p.file).parts})
        where = " ".join(str(r) for r in raw) or "PATH"
        exc.add_note(f"Run `ippmd validate {where}` for every problem of the submission, each with its fix.")
        raise
    finally:
        if runner is not None:
            runner.close()
    rows = {r["name"]: r["rows"] for r in package["resources"]}
    if package["synthetic"]:
        warn_synthetic()
    say(
        f"built {out / 'datapackage.json'}: {rows['countries']} countries, "
        f"{rows['communities']:,} communities, "
        f"{rows['households']:,} households, {rows['persons']:,} persons, {rows['emigrants']:,} emigrants "
        f"in {time.perf_counter() - started:.1f} s"
    )
