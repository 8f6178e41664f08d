"""Generate one country's synthetic submission, deterministically for a seed.

Shares are calibrated to the targets in `countries/<ISO3>/country.yaml`: every probability is
an intercept plus the planted effects of `planted_effects.yaml` (additive, probability points),
and the intercept is solved on the drawn sample so that the expected share equals the target.
The output is in the *submission format* (national education codes, local currency, local
destination names), so that the harmonization pipeline runs on it exactly as on real files.

This module reads a country into a plan, runs the phases of `phases.py` in their draw order and
writes their records in the submission format; `sampler.py` holds the stream and the calibration.
"""

from __future__ import annotations

import zlib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from ippmd import SYNTHETIC_NOTICE, __version__
from ippmd.core.home import package_data
from ippmd.core.io import load_yaml
from ippmd.core.metadata import load_country, region_list, source_citation
from ippmd.core.schema import SUBMISSION_TABLES, conform, submission_schema
from ippmd.synth.phases import (
    Communities,
    CountryPlan,
    EducationLevels,
    Emigrants,
    Farming,
    Households,
    Persons,
    Remittances,
    draw_communities,
    draw_education_expenditure,
    draw_emigrants,
    draw_farming,
    draw_households,
    draw_persons,
    draw_remittances,
)
from ippmd.synth.sampler import Floats, Ints, Sampler

EFFECTS_FILE = package_data(__package__, "planted_effects.yaml")
NONRESPONSE_FILE = package_data(__package__, "item_nonresponse.yaml")
DONT_KNOW, REFUSED = 1, 2  # codes of the submission's <column>_nonresponse flags
DEFAULT_SEED = 20170217  # the day the IPPMD comparative report was launched


@cache
def planted_effects() -> dict[str, Any]:
    effects: dict[str, Any] = load_yaml(EFFECTS_FILE.read_text(encoding="utf-8"))["effects"]
    return effects


def planted_effect(name: str, iso3: str) -> float:
    """The size of a planted effect for a country (its override, else the default)."""
    sizes = planted_effects()[name]["effect"]
    return float(sizes.get(iso3, sizes["default"]))


@cache
def item_nonresponse() -> dict[str, dict[str, Any]]:
    """The planted "don't know" and "refused" rates by submission column (rates assumed)."""
    items: dict[str, dict[str, Any]] = load_yaml(NONRESPONSE_FILE.read_text(encoding="utf-8"))["items"]
    return items


def plant_nonresponse(tables: dict[str, pl.DataFrame], seed: int, iso3: str) -> dict[str, pl.DataFrame]:
    """Blank a share of the answers asked (value present) and record why in the flag column.

    Drawn from a stream of its own, so the values of every other cell are those of a build
    without nonresponse: only the blanked cells and the flags differ.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(iso3.encode()), 1]))
    out = dict(tables)
    for item, spec in item_nonresponse().items():
        table, column = item.split(".")
        frame = out[table]
        asked = frame[column].is_not_null().to_numpy()
        draw = rng.random(frame.height)
        dont_know = asked & (draw < spec["dont_know"])
        refused = asked & ~dont_know & (draw < spec["dont_know"] + spec["refused"])
        flag = np.where(dont_know, DONT_KNOW, np.where(refused, REFUSED, 0))
        out[table] = frame.with_columns(
            pl.when(pl.Series(dont_know | refused)).then(None).otherwise(pl.col(column)).alias(column),
            pl.Series(spec["flag"], flag).replace(0, None),
        )
    return out


def plan_country(iso3: str, scale: int) -> CountryPlan:
    """Read the country's sizes, targets, spellings and planted effects into the plan the phases take."""
    country = load_country(iso3)
    sub, targets = country["submission"], country["targets"]
    n_communities = max(1, round(_value(country["published"]["communities"]) * scale))
    spellings: dict[str, list[str]] = {}
    for name, code in sub["destinations"].items():
        spellings.setdefault(code, []).append(name)
    return CountryPlan(
        iso3=iso3,
        n_communities=n_communities,
        n_households=max(n_communities, round(_value(country["published"]["households"]) * scale)),
        share={k: float(v["value"]) for k, v in targets.items() if "value" in v},
        params={k: float(_value(v)) for k, v in country["synthetic"].items()},
        effects={name: planted_effect(name, iso3) for name in planted_effects()},
        region_codes=tuple(region["code"] for region in region_list(sub)),
        education=EducationLevels.of(sub["education_levels"]),
        destination_shares=_floats(targets["emigrant_destinations"]["shares"]),
        destination_spellings={code: tuple(sorted(names)) for code, names in spellings.items()},
        departure_shares=_floats(targets["emigrants_years_since_departure"]["shares"]),
        survey_year=int(sub["survey_year"]),
        lcu_per_usd=float(sub["exchange_rate"]["lcu_per_usd"]),
    )


def _value(entry: dict[str, Any]) -> Any:
    return entry["value"]


def _floats(shares: dict[str, Any]) -> dict[str, float]:
    return {key: float(share) for key, share in shares.items()}


def generate(iso3: str, seed: int = DEFAULT_SEED, scale: int = 1) -> dict[str, pl.DataFrame]:
    """One country's synthetic submission tables (submission format), keyed by table name."""
    country = plan_country(iso3, scale)
    s = Sampler(seed, iso3)
    communities = draw_communities(country, s)
    households = draw_households(country, s, communities)
    farming = draw_farming(country, s, households)
    remittances = draw_remittances(country, s, households)
    persons = draw_persons(country, s, households)
    emigrants = draw_emigrants(country, s, households)
    education_usd = draw_education_expenditure(country, s, households, persons)
    tables = {
        "communities": communities_table(communities),
        "households": households_table(
            country, households, farming, remittances, persons.roster.household_size, education_usd
        ),
        "persons": persons_table(persons),
        "emigrants": emigrants_table(emigrants),
    }
    tables = plant_nonresponse(tables, seed, iso3)
    return {name: conform(tables[name], submission_schema(name)) for name in SUBMISSION_TABLES}


def _asked(values: Ints) -> pl.Series:
    """0/1 or code, with -1 meaning 'not asked' -> blank."""
    return pl.Series(values).replace(-1, None)


def _in_lcu(usd: Floats, lcu_per_usd: float) -> pl.Series:
    """Amounts in local currency to the cent; NaN (not asked) -> blank."""
    return pl.Series(np.round(usd * lcu_per_usd, 2)).fill_nan(None)


def communities_table(communities: Communities) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "community_number": np.arange(1, communities.region_code.size + 1),
            "region_code": communities.region_code,
            "urban": communities.urban,
            "public_employment_programme": communities.public_employment_programme,
            "bank_branch": communities.bank_branch,
            "money_transfer_operator": communities.money_transfer_operator,
            "vocational_training_centre": communities.vocational_training_centre,
        }
    )


def households_table(
    country: CountryPlan,
    households: Households,
    farming: Farming,
    remittances: Remittances,
    household_size: Ints,
    education_usd: Floats,
) -> pl.DataFrame:
    """Farming questions are asked of agricultural households only; amounts in local currency."""
    agricultural = households.agricultural == 1
    rate = country.lcu_per_usd
    return pl.DataFrame(
        {
            "household_number": np.arange(1, households.count + 1),
            "community_number": households.community + 1,
            "weight": households.weight,
            "household_size": household_size,
            "agricultural": households.agricultural,
            "agricultural_subsidy": _asked(np.where(agricultural, households.subsidy, -1)),
            "hires_farm_labour": _asked(np.where(agricultural, farming.hires_labour, -1)),
            "agricultural_assets": _in_lcu(farming.assets_usd, rate),
            "remittances_received": households.remittances_received,
            "remittances_amount": _in_lcu(remittances.amount_usd, rate),
            "remittance_channel": pl.Series(remittances.channel.tolist(), dtype=pl.String),
            "bank_account": households.bank_account,
            "financial_training": households.financial_training,
            "owns_business": households.owns_business,
            "owns_real_estate": households.owns_real_estate,
            "education_expenditure": _in_lcu(education_usd, rate),
            **households.programmes,
        }
    )


def persons_table(persons: Persons) -> pl.DataFrame:
    roster, activity = persons.roster, persons.activity
    return pl.DataFrame(
        {
            "household_number": roster.household + 1,
            "line_number": roster.line,
            "sex": roster.sex,
            "age": roster.age,
            "relation_to_head": roster.relation,
            "education_code": pl.Series(persons.education_code.tolist(), dtype=pl.String),
            "attending_school": _asked(persons.plans.attending_school),
            "working": _asked(activity.working),
            "sector": _asked(activity.sector),
            "job_via_public_agency": _asked(activity.job_via_public_agency),
            "vocational_training": _asked(activity.vocational_training),
            "plans_to_emigrate": _asked(persons.plans.plans_to_emigrate),
            "return_migrant": _asked(persons.migration.return_migrant),
            "years_abroad": pl.Series(persons.migration.years_abroad).fill_nan(None),
            "born_abroad": persons.migration.born_abroad,
        }
    )


def emigrants_table(emigrants: Emigrants) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "household_number": emigrants.household + 1,
            "emigrant_number": emigrants.number,
            "sex": emigrants.sex,
            "age": emigrants.age,
            "education_code": emigrants.education_code,
            "destination": pl.Series(emigrants.destination.tolist(), dtype=pl.String),
            "year_left": emigrants.year_left,
            "sends_remittances": emigrants.sends_remittances,
        }
    )


def submission_metadata(iso3: str, seed: int, scale: int) -> dict[str, Any]:
    """The metadata.yaml of a synthetic submission: the country's submission block, labelled."""
    country = load_country(iso3)
    meta = dict(country["submission"])
    meta["exchange_rate"] = {
        **meta["exchange_rate"],
        "source_citation": source_citation(country, meta["exchange_rate"]),
    }
    meta["data_origin"] = "synthetic"
    meta["synthetic"] = {
        "seed": seed,
        "scale": scale,
        "generator": f"ippmd {__version__} synth",
        "notice": SYNTHETIC_NOTICE,
    }
    return meta


def write_submission(iso3: str, out_dir: Path, seed: int = DEFAULT_SEED, scale: int = 1) -> Path:
    """Write a synthetic submission folder: one CSV per table plus metadata.yaml."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in generate(iso3, seed=seed, scale=scale).items():
        frame.write_csv(out_dir / f"{name}.csv", null_value="")
    meta = submission_metadata(iso3, seed, scale)
    (out_dir / "metadata.yaml").write_text(
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return out_dir
