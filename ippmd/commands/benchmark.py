"""`ippmd benchmark`: fixed-effects benchmarks of a focus country against its peers."""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ippmd.commands.options import ForceBeside, Package, Quiet, home_path, package_folder
from ippmd.commands.output import progress_bar, say, warn_synthetic
from ippmd.core.errors import UsageError
from ippmd.core.io import claim_output_folder, package_files, refuse_output_over
from ippmd.core.iso3 import iso3_option


def benchmark(
    focus: Annotated[str, typer.Option(help="Focus country (ISO3), benchmarked against the others.")] = "KHM",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: reports/<FOCUS> in the project home).")
    ] = None,
    package: Package = None,
    quiet: Quiet = False,
    force: ForceBeside = False,
) -> None:
    """Fixed-effects benchmarks of the focus country vs its peers: tables, charts, report.html."""
    code = iso3_option(focus, "--focus")  # arguments first: a malformed code is refused before any read
    package = package_folder(package, verify=False)
    from ippmd.package.read import read_package  # polars and pyarrow: not at CLI start

    known = sorted(read_package(package).countries)  # admitted ones too
    if code not in known:
        raise UsageError(
            f"focus country {code!r} is not in the package in {package}; it holds: {', '.join(known)}"
        )
    package_folder(package)
    from ippmd.reporting.benchmark import run_benchmark

    out = out or home_path("reports", code)
    refuse_output_over(out, package_files(package), "--out")
    claim_output_folder(out, "benchmark", force, earlier=("report.html", "estimates.csv"))
    started = time.perf_counter()
    progress = progress_bar(quiet)
    try:
        with progress:
            task = progress.add_task("benchmark", total=None)
            result = run_benchmark(
                package, code, out, progress=lambda step: progress.update(task, description=step)
            )
    except OSError as exc:  # disk full or unwritable, where the library did not name the file
        raise UsageError(f"{exc.strerror or exc} (writing {exc.filename or out})") from None
    # Everything left is kept to the end: without this, the final collection at exit walks the
    # object graphs of pandas, scipy and pyfixest for about 0.6 s (measured in bench/).
    gc.freeze()
    _summarize(result, code, out, time.perf_counter() - started)


def _summarize(result: dict[str, Any], code: str, out: Path, seconds: float) -> None:
    """Every finding in one line each, then what was written."""
    warn_synthetic()
    rows = result["summary"]
    say(
        f"All {len(rows)} findings for {result['country_name']} (SYNTHETIC data; full sentences in "
        "report.html): effect [95% CI] method; rank as its 95% confidence set (simultaneous); Holm p of the "
        "difference from peers, within the finding's multiplicity family (declared in the specs; "
        "report.html names each)"
    )
    for number, row in enumerate(rows, 1):
        say(
            f"  {number:2d}. {row['Finding (outcome ~ treatment)']}: {row[f'{code} effect']} "
            f"[{row['95% CI']}] {row['Method']}; rank {row['Rank: 95% confidence set (simultaneous)']}; "
            f"Holm {row['Holm p']}"
        )
    costs = "with" if result["remittance_costs"] else "without (RPW original not found)"
    say(
        f"wrote {result['n_specs']} models, {result['n_charts']} charts and {out / 'report.html'} "
        f"{costs} the real remittance-cost benchmark in {seconds:.1f} s "
        f"(fit {result['timings']['fit']:.2f} s)"
    )
