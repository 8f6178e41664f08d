"""Where a report's numbers come from: the provenance stamp and the origin of each country's data.

Every report and chart is stamped with the ippmd version, the package version, the package's
`dataHash` (the descriptor's, the same string the extracts, DDI and citation carry), the seeds and a date
(SOURCE_DATE_EPOCH when set, for reproducible files). Every CSV made from the microdata carries a
`data_origin` column ("synthetic" or "survey", from the package's `countries` table): per country,
and for rows that combine countries (pooled ALL rows, the focus-against-peers comparison)
"synthetic" as soon as one country in the model is synthetic.
"""

from __future__ import annotations

import datetime

import polars as pl

from ippmd.core.env import env_epoch
from ippmd.models.data import PackageData
from ippmd.models.estimate import POOLED, SpecFit
from ippmd.models.inference import settings
from ippmd.package.read import SURVEY, SYNTHETIC, combined_origin

__all__ = ["SURVEY", "SYNTHETIC", "combined_origin", "country_origins", "model_origins", "provenance"]

from ippmd import __version__


def report_date() -> str:
    """SOURCE_DATE_EPOCH (reproducible builds) when set, else today's date (UTC)."""
    epoch = env_epoch("SOURCE_DATE_EPOCH")
    moment = (
        datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
        if epoch is not None
        else datetime.datetime.now(tz=datetime.UTC)
    )
    return moment.date().isoformat()


def provenance(data: PackageData) -> dict[str, str]:
    """What every report and chart says about where its numbers come from."""
    config = settings()
    build = data.package.build_options  # checked: whole numbers in range
    return {
        "ippmd_version": __version__,
        "package_version": str(data.descriptor.get("version", "")),
        "data_hash": data.package.data_hash,  # the descriptor's dataHash: the string extracts cite
        "package_seed": str(build.get("seed", "")),
        "package_scale": str(build.get("scale", "")),
        "bootstrap_seed": str(config.bootstrap_seed),
        "rank_seed": str(config.rank_seed),
        "date": report_date(),
    }


def synthetic_footer(stamp: dict[str, str]) -> tuple[str, ...]:
    return (
        "SYNTHETIC DATA: illustrates the method; not a finding about any real country.",
        f"Source: ippmd {stamp['ippmd_version']} benchmark of the synthetic IPPMD package "
        f"{stamp['package_version']} (seed {stamp['package_seed']}).",
        f"Data hash {stamp['data_hash']}.",
    )


def real_footer(source: str, vintage: str) -> tuple[str, ...]:
    return ("REAL DATA (published figures, not synthetic).", f"Source: {source}; vintage {vintage}.")


def country_origins(data: PackageData) -> dict[str, str]:
    """iso3 -> "synthetic" or "survey": the package reader's one rule (`ippmd.package.read`)."""
    return dict(data.package.origins)


def model_origins(fits: list[SpecFit], origins: dict[str, str]) -> dict[str, str]:
    """spec id -> combined origin of the countries in its estimation sample."""
    return {
        fit.spec.id: combined_origin([c for c, n in fit.n_by_country.items() if n > 0], origins)
        for fit in fits
    }


def with_data_origin(
    frame: pl.DataFrame, origins: dict[str, str], pooled: dict[str, str] | None = None
) -> pl.DataFrame:
    """The frame with a last column data_origin: the country's origin on country rows; on pooled
    (ALL) rows and on rows without a country column (one spec's focus-against-peers comparison),
    the spec's combined origin from `pooled`. Unknown countries and specs count as synthetic."""
    pooled = pooled or {}

    def by_spec() -> pl.Expr:
        return pl.col("spec").replace_strict(pooled, default=SYNTHETIC, return_dtype=pl.String)

    if "country" in frame.columns:
        origin = pl.col("country").replace_strict(origins, default=SYNTHETIC, return_dtype=pl.String)
        if "spec" in frame.columns:
            origin = pl.when(pl.col("country") == POOLED).then(by_spec()).otherwise(origin)
    elif "spec" in frame.columns:
        origin = by_spec()
    else:
        origin = pl.lit(combined_origin(set(origins), origins))
    return frame.with_columns(origin.alias("data_origin"))
