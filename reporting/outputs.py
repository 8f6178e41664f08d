"""The benchmark's files: CSVs at a fixed precision, the chart pool, and the clean-up of a rerun."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.models.remittance_costs import CostBenchmark
from ippmd.reporting import charts as ch
from ippmd.reporting import render
from ippmd.reporting.provenance import with_data_origin

SIGNIFICANT_DIGITS = 12

PNG_SCALE = 2  # PNGs at twice the SVG's size, sharp on high-density screens and in print

# Chart processes beside this one: one, for two cores (this process fits the models while the
# charts of the specs fitted so far are drawn; a second chart process only competed with the fits:
# 10.9 s against 11.1 s wall and 17.1 against 18.3 CPU seconds, three runs each of `ippmd benchmark`
# on this package, 2026-12-01, bench of issue 12).
CHART_PROCESSES = 1

# The CSV outputs computed from the microdata: each gets a data_origin column.
MICRODATA_OUTPUTS = ("estimates", "comparison", "ranks", "diagnostics", "planted", "descriptives")

# Names this module writes; a rerun into the same folder removes its own outputs that it did not
# write this time (e.g. country_indicators.csv once the resource is gone), and nothing else.
OWN_OUTPUTS = (
    "estimates.csv", "comparison.csv", "ranks.csv", "diagnostics.csv", "planted.csv", "descriptives.csv",
    "country_indicators.csv", "report.html", "tables/regression_tables.*", "charts/effect_*.png",
    "charts/effect_*.svg", "charts/fig_*.png", "charts/fig_*.svg", "charts/remittance_cost.*",
    "charts/migrant_stocks.*", "charts/remittance_cost_premium.*", "remittance_cost_effects.csv",
    "remittance_cost_pairs.csv", "remittance_cost_comparison.csv", "remittance_cost_windows.csv",
)  # fmt: skip


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """CSV with floats at 12 significant digits: polars sums groups in a varying order, so the
    last bits of a clustered SE can differ between runs; rounding keeps the files identical."""
    frame.with_columns(pl.col(pl.Float64).round_sig_figs(SIGNIFICANT_DIGITS)).write_csv(path)
    return path


class ChartPool:
    """Charts drawn by worker processes (`ippmd.reporting.render.ChartWorkers`) while the models
    are fitted; the files are the same as drawn here."""

    def __init__(self) -> None:
        self.workers = render.ChartWorkers(ch.VL_VERSION, PNG_SCALE, CHART_PROCESSES)
        self.names: list[str] = []

    def start(self, charts: dict[str, dict[str, Any]], directory: Path) -> None:
        """Queue every chart (specs are built with validate=False for speed; tests validate
        every spec against the Vega-Lite schema)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.names += self.workers.start(charts, directory)

    def finish(self) -> dict[str, Path]:
        """The files of the queued charts, keyed chart_<name>_<fmt>."""
        drawn = self.workers.finish()
        return {f"chart_{name}_{fmt}": Path(path) for name in self.names for fmt, path in drawn[name].items()}

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already raised by `finish` on the way out
            self.workers.finish()


def remove_stale(out_dir: Path, written: dict[str, Path]) -> list[Path]:
    keep = {path.resolve() for path in written.values()}
    stale = [p for pattern in OWN_OUTPUTS for p in out_dir.glob(pattern) if p.resolve() not in keep]
    for path in stale:
        path.unlink()
    return stale


def cost_outputs(bench: CostBenchmark | None) -> dict[str, pl.DataFrame]:
    """The real-data CSVs, each with data_origin 'real', source and vintage columns."""
    if bench is None:
        return {}
    label = {"data_origin": pl.lit("real"), "source": pl.lit(bench.source), "vintage": pl.lit(bench.vintage)}
    outputs = {
        "remittance_cost_effects": bench.countries.with_columns(**label),
        "remittance_cost_pairs": bench.pairs.with_columns(**label),
    }
    if bench.windows is not None:
        outputs["remittance_cost_windows"] = bench.windows.with_columns(**label)
    if bench.comparison:
        outputs["remittance_cost_comparison"] = pl.DataFrame([bench.comparison]).with_columns(**label)
    return outputs


def write_csvs(
    outputs: dict[str, pl.DataFrame | None],
    origins: dict[str, str],
    pooled_origins: dict[str, str],
    out_dir: Path,
) -> dict[str, Path]:
    """Each table as <name>.csv (absent ones skipped); the microdata ones with data_origin."""
    return {
        name: write_csv(
            with_data_origin(frame, origins, pooled_origins) if name in MICRODATA_OUTPUTS else frame,
            out_dir / f"{name}.csv",
        )
        for name, frame in outputs.items()
        if frame is not None
    }
