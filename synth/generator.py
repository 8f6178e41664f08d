"""Generate one country's synthetic submission, deterministically for a seed.

Shares are calibrated to the targets in `countries/<ISO3>/country.yaml`: every probability is
an intercept plus the planted effects of `planted_effects.yaml` (additive, probability points),
and the intercept is solved on the drawn sample so that the expected share equals the target.
The output is in the *submission format* (national education codes, local currency, local
destination names), so that the harmonization pipeline runs on it exactly as on real files.
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

EFFECTS_FILE = package_data(__package__, "planted_effects.yaml")
NONRESPONSE_FILE = package_data(__package__, "item_nonresponse.yaml")
DONT_KNOW, REFUSED = 1, 2  # codes of the submission's <column>_nonresponse flags
DEFAULT_SEED = 20170217  # the day the IPPMD comparative report was launched


@cache
def planted_effects() -> dict[str, Any]:
    return load_yaml(EFFECTS_FILE.read_text(encoding="utf-8"))["effects"]


def planted_effect(name: str, iso3: str) -> float:
    """The size of a planted effect for a country (its override, else the default)."""
    sizes = planted_effects()[name]["effect"]
    return float(sizes.get(iso3, sizes["default"]))


@cache
def item_nonresponse() -> dict[str, dict[str, Any]]:
    """The planted "don't know" and "refused" rates by submission column (rates assumed)."""
    return load_yaml(NONRESPONSE_FILE.read_text(encoding="utf-8"))["items"]


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


class _Sampler:
    """Random draws for one country, with the calibration helpers used throughout."""

    def __init__(self, seed: int, iso3: str) -> None:
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(iso3.encode())]))

    def bernoulli(self, p: np.ndarray | float, size: int | None = None) -> np.ndarray:
        p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
        size = p.shape if size is None else size
        return (self.rng.random(size) < p).astype(np.int64)

    def calibrated(self, target: float, shift: np.ndarray) -> np.ndarray:
        """Draw 0/1 with P = clip(b + shift), b solved so that mean(P) equals the target."""
        if shift.size == 0:
            return np.zeros(0, dtype=np.int64)
        return self.bernoulli(calibrated_probability(target, shift))

    def exact_share(self, share: float, size: int) -> np.ndarray:
        """0/1 with exactly round(share * size) ones at random places (for small samples)."""
        flags = np.zeros(size, dtype=np.int64)
        flags[self.rng.permutation(size)[: round(share * size)]] = 1
        return flags

    def lognormal(self, mean: float, shift: np.ndarray, sigma: float) -> np.ndarray:
        """Amounts whose log is additive in the shift, with the sample mean near `mean`."""
        if shift.size == 0:
            return np.zeros(0)
        log_mu = np.log(mean) - sigma**2 / 2 - shift.mean()
        return np.exp(log_mu + shift + self.rng.normal(0.0, sigma, shift.size))


def solve_intercept(target: float, shift: np.ndarray, lo: float = 0.005, hi: float = 0.995) -> float:
    """b such that mean(clip(b + shift, lo, hi)) = target, by bisection (clipping included)."""
    low, high = lo - shift.max(), hi - shift.min()
    for _ in range(60):
        mid = (low + high) / 2
        if np.clip(mid + shift, lo, hi).mean() < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def calibrated_probability(target: float, shift: np.ndarray) -> np.ndarray:
    return np.clip(solve_intercept(target, shift) + shift, 0.005, 0.995)


def _value(entry: dict[str, Any]) -> Any:
    return entry["value"]


def _rank_within(groups: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """0-based rank of each element within its group, ordered by key."""
    order = np.lexsort((keys, groups))
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    run_lengths = np.diff(np.r_[starts, len(groups)])
    ranks_sorted = np.arange(len(groups)) - np.repeat(starts, run_lengths)
    ranks = np.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    return ranks


def generate(iso3: str, seed: int = DEFAULT_SEED, scale: int = 1) -> dict[str, pl.DataFrame]:
    """One country's synthetic submission tables (submission format), keyed by table name."""
    country = load_country(iso3)
    sub = country["submission"]
    target = {k: v for k, v in country["targets"].items()}
    share = {k: float(v["value"]) for k, v in target.items() if "value" in v}
    params = {k: float(_value(v)) for k, v in country["synthetic"].items()}
    s = _Sampler(seed, iso3)
    rng = s.rng

    def eff(name: str) -> float:
        return planted_effect(name, iso3)

    n_comm = max(1, round(_value(country["published"]["communities"]) * scale))
    n_hh = max(n_comm, round(_value(country["published"]["households"]) * scale))

    # --- communities -------------------------------------------------------------------
    regions = region_list(sub)
    comm_region = np.array([r["code"] for r in regions])[rng.integers(len(regions), size=n_comm)]
    comm_urban = s.exact_share(share["urban_households"], n_comm)
    comm_pep = s.exact_share(share["community_public_employment_programme"], n_comm)
    comm_bank = s.exact_share(share["community_bank_branch"], n_comm)
    comm_mto = s.exact_share(share["community_money_transfer_operator"], n_comm)
    comm_vtc = s.exact_share(share["community_vocational_training_centre"], n_comm)
    comm_propensity = np.clip(rng.normal(0.0, 0.05, n_comm), -0.1, 0.1)
    comm_weight = rng.lognormal(0.0, 0.3, n_comm)

    # --- households: equal allocation to communities --------------------------------------
    per_comm = np.full(n_comm, n_hh // n_comm)
    per_comm[: n_hh % n_comm] += 1
    hh_comm = np.repeat(np.arange(n_comm), per_comm)
    urban = comm_urban[hh_comm]
    weight = comm_weight[hh_comm] * rng.lognormal(0.0, 0.1, n_hh)
    weight = np.round(weight / weight.mean(), 6)

    agricultural = s.calibrated(share["agricultural_households"], -0.35 * urban.astype(float))
    subsidy = np.where(agricultural == 1, s.bernoulli(share["agricultural_subsidy"], n_hh), 0)
    has_return = s.bernoulli(share["households_with_return_migrant"], n_hh)
    has_emigrant = s.calibrated(
        share["households_with_emigrant"],
        eff("subsidy_on_emigrant") * subsidy
        + eff("public_employment_programme_on_emigrant") * comm_pep[hh_comm]
        + comm_propensity[hh_comm],
    )
    remittances_received = s.bernoulli(
        np.where(
            has_emigrant == 1,
            share["emigrant_households_receiving_remittances"],
            share["non_emigrant_households_receiving_remittances"],
        )
    )
    bank_account = s.calibrated(share["bank_account"], 0.10 * urban.astype(float))
    financial_training = s.bernoulli(share["financial_training"], n_hh)
    owns_business = s.calibrated(share["owns_business"], eff("return_migrant_on_business") * has_return)
    owns_real_estate = s.bernoulli(share["owns_real_estate"], n_hh)
    programmes = {
        name: s.bernoulli(share[name], n_hh)
        for name in ("programme_scholarship", "programme_school_meals", "programme_textbooks")
    }

    is_agri = agricultural == 1
    hires = np.zeros(n_hh, dtype=np.int64)
    hires[is_agri] = s.calibrated(
        share["hires_farm_labour"], eff("emigrant_on_farm_labour") * has_emigrant[is_agri]
    )
    agri_assets_usd = np.full(n_hh, np.nan)
    agri_assets_usd[is_agri] = s.lognormal(
        params["agricultural_assets_usd"],
        eff("return_migrant_on_agricultural_assets") * has_return[is_agri],
        1.0,
    )

    receives = remittances_received == 1
    remittances_usd = np.full(n_hh, np.nan)
    remittances_usd[receives] = s.lognormal(
        params["remittances_per_receiving_household_usd"],
        eff("bank_account_on_remittances") * bank_account[receives],
        0.8,
    )
    informal = np.zeros(n_hh, dtype=np.int64)
    informal[receives] = s.calibrated(
        share["remittances_informal_channel"],
        eff("bank_account_on_informal_channel") * bank_account[receives],
    )
    formal_channels = np.array(["bank", "money_transfer_operator", "mobile", "carried"])
    formal_draw = formal_channels[rng.choice(len(formal_channels), size=n_hh, p=[0.35, 0.40, 0.15, 0.10])]
    channel = np.where(receives, np.where(informal == 1, "informal", formal_draw), None)

    # --- persons: household rosters -------------------------------------------------------
    size = np.clip(1 + rng.poisson(params["household_size_mean"] - 1, n_hh), 1, 25)
    n_p = int(size.sum())
    p_hh = np.repeat(np.arange(n_hh), size)
    starts = np.r_[0, np.cumsum(size)[:-1]]
    line = np.arange(n_p) - np.repeat(starts, size) + 1

    head_age = np.clip(rng.normal(46, 13, n_hh), 18, 90).round().astype(np.int64)
    head_male = s.bernoulli(0.75, n_hh)
    other_rel = rng.choice([3, 4, 5, 6, 7], size=n_p, p=[0.74, 0.10, 0.05, 0.09, 0.02])
    spouse = (line == 2) & (s.bernoulli(0.8, n_p) == 1)
    relation = np.where(line == 1, 1, np.where(spouse, 2, other_rel))
    ha = head_age[p_hh]
    age_by_relation = {
        1: ha,
        2: np.clip(ha + rng.integers(-8, 4, n_p), 16, 95),
        3: np.minimum(rng.integers(0, np.maximum(ha - 16, 1) + 1), 45),
        4: rng.integers(0, 16, n_p),
        5: np.clip(ha + rng.integers(20, 36, n_p), 40, 100),
        6: rng.integers(0, 71, n_p),
        7: rng.integers(15, 61, n_p),
    }
    age = np.zeros(n_p, dtype=np.int64)
    for code, ages in age_by_relation.items():
        mask = relation == code
        age[mask] = np.asarray(ages)[mask]
    hm = head_male[p_hh]
    sex = np.where(
        relation == 1,
        np.where(hm == 1, 1, 2),
        np.where(relation == 2, np.where(hm == 1, 2, 1), 1 + s.bernoulli(0.5, n_p)),
    )
    female = (sex == 2).astype(float)

    # Education: years completed, then the national level that corresponds.
    mean_years = params["mean_years_of_schooling_adults"]
    capacity = np.clip(rng.normal(mean_years + 0.08 * (45 - age), 3.5), 0, 20)
    in_school_age = age < 25
    years = np.where(
        in_school_age,
        np.minimum(np.maximum(age - 6 - rng.poisson(1.0, n_p), 0), capacity + 2),
        capacity,
    )
    levels = sorted(sub["education_levels"], key=lambda lv: lv["years"])
    level_years = np.array([lv["years"] for lv in levels])
    level_codes = np.array([str(lv["code"]) for lv in levels])
    education_code = level_codes[np.searchsorted(level_years, years, side="right") - 1]
    education_code = np.where(age >= 6, education_code, None)

    adult = age >= 15
    working_age = adult & (age <= 64)
    hh_rem = remittances_received[p_hh]
    age_profile = np.select(
        [age < 20, age < 25, age < 55, age < 65], [-0.25, -0.05, 0.05, -0.05], default=-0.35
    )
    work_shift = (
        age_profile
        - 0.15 * female
        + np.where(sex == 1, eff("remittances_on_working_men"), eff("remittances_on_working_women")) * hh_rem
    )
    intercept = solve_intercept(share["working"], work_shift[working_age], 0.01, 0.99)
    working = np.where(adult, s.bernoulli(np.clip(intercept + work_shift, 0.01, 0.99)), -1)
    is_working = working == 1
    agri_member = agricultural[p_hh] == 1
    sector_other = rng.choice(np.arange(1, 8), size=n_p, p=[0.10, 0.15, 0.12, 0.25, 0.08, 0.15, 0.15])
    sector = np.where(agri_member & (s.bernoulli(0.65, n_p) == 1), 1, sector_other)
    sector = np.where(is_working, sector, -1)
    agency = np.where(is_working, s.bernoulli(share["job_via_public_agency"], n_p), -1)
    vocational = np.where(adult, s.bernoulli(share["vocational_training"], n_p), -1)

    plan_shift = (
        eff("vocational_training_on_plans") * (vocational == 1)
        + eff("public_agency_on_plans") * (agency == 1)
        + eff("subsidy_on_plans") * subsidy[p_hh]
        + np.select([age < 35, age >= 50], [0.04, -0.06], default=0.0)
    )
    plans = np.full(n_p, -1)
    plans[adult] = s.calibrated(share["plans_to_emigrate"], plan_shift[adult])

    school_age = (age >= 6) & (age <= 24)
    youth = (age >= 15) & (age <= 22)
    attending = np.full(n_p, -1)
    attending[school_age] = s.bernoulli(np.where(age[school_age] < 15, 0.92, 0.12))
    attending[youth] = s.calibrated(
        share["attending_school_15_22"], eff("plans_on_school_attendance") * (plans[youth] == 1)
    )

    # Return migrants: k adults (18+) in each household flagged as having one.
    eligible = (age >= 18) & (has_return[p_hh] == 1)
    k = 1 + rng.poisson(max(params["return_migrants_per_return_household"] - 1, 0), n_hh)
    rank = _rank_within(p_hh, np.where(eligible, rng.random(n_p), 2.0))
    return_migrant = np.where(adult, (eligible & (rank < k[p_hh])).astype(np.int64), -1)
    time_abroad = np.minimum(np.clip(rng.lognormal(0.9, 0.7, n_p), 0.3, 30), np.maximum(age - 15, 0.3))
    years_abroad = np.where(return_migrant == 1, np.round(time_abroad, 1), np.nan)
    born_abroad = s.bernoulli(share["born_abroad"], n_p)

    # --- emigrants: former members abroad -------------------------------------------------
    emig_hh = np.flatnonzero(has_emigrant == 1)
    n_emig = 1 + rng.poisson(max(params["emigrants_per_emigrant_household"] - 1, 0), emig_hh.size)
    e_hh = np.repeat(emig_hh, n_emig)
    n_e = e_hh.size
    e_number = np.arange(n_e) - np.repeat(np.r_[0, np.cumsum(n_emig)[:-1]], n_emig) + 1
    e_sex = 1 + s.bernoulli(share["emigrants_female"], n_e)
    young = s.bernoulli(share["emigrants_aged_15_34"], n_e) == 1
    e_age = np.where(young, rng.integers(15, 35, n_e), rng.integers(35, 65, n_e))
    e_years = np.clip(rng.normal(mean_years + 0.5 + 0.08 * (45 - e_age), 3.5), 0, np.minimum(20, e_age - 6))
    e_education = level_codes[np.searchsorted(level_years, e_years, side="right") - 1]
    dest = country["targets"]["emigrant_destinations"]["shares"]
    dest_iso3 = np.array(list(dest))
    dest_p = np.array(list(dest.values()), dtype=float)
    e_dest_iso3 = dest_iso3[rng.choice(len(dest_iso3), size=n_e, p=dest_p / dest_p.sum())]
    spellings: dict[str, list[str]] = {}
    for name, code in sub["destinations"].items():
        spellings.setdefault(code, []).append(name)
    e_dest_name = np.empty(n_e, dtype=object)
    for code in dest_iso3:
        mask = e_dest_iso3 == code
        names = np.array(sorted(spellings[code]))
        e_dest_name[mask] = names[rng.integers(len(names), size=int(mask.sum()))]
    bands = country["targets"]["emigrants_years_since_departure"]["shares"]
    band_range = {"0-1": (0, 1), "1-2": (1, 2), "2-5": (2, 5), "5+": (5, 15)}
    band_keys = list(bands)
    band_p = np.array([bands[b] for b in band_keys], dtype=float)
    band = rng.choice(len(band_keys), size=n_e, p=band_p / band_p.sum())
    low = np.array([band_range[b][0] for b in band_keys])[band]
    high = np.array([band_range[b][1] for b in band_keys])[band]
    years_since = low + rng.random(n_e) * (high - low)
    year_left = int(sub["survey_year"]) - np.floor(years_since).astype(np.int64)

    # Senders: households receiving remittances have at least one sender; calibrated share.
    receiving_e = remittances_received[e_hh] == 1
    first = e_number == 1
    n_first = int((receiving_e & first).sum())
    n_rest = int((receiving_e & ~first).sum())
    q = (share["emigrants_sending_remittances"] * n_e - n_first) / n_rest if n_rest else 0.0
    sends = np.where(receiving_e, np.where(first, 1, s.bernoulli(np.clip(q, 0, 1), n_e)), 0)

    # Education expenditure: households with a member in school.
    in_school_hh = np.bincount(p_hh, weights=(attending == 1), minlength=n_hh) > 0
    education_usd = np.zeros(n_hh)
    education_usd[in_school_hh] = s.lognormal(
        params["education_expenditure_usd"],
        eff("remittances_on_education_expenditure") * remittances_received[in_school_hh]
        + eff("emigrant_on_education_expenditure") * has_emigrant[in_school_hh],
        0.9,
    )

    # --- to the submission format: local currency, national codes, blanks outside universe --
    rate = float(sub["exchange_rate"]["lcu_per_usd"])

    def lcu(usd: np.ndarray) -> pl.Series:
        return pl.Series(np.round(usd * rate, 2)).fill_nan(None)

    def opt(values: np.ndarray) -> pl.Series:
        """0/1 or code, with -1 meaning 'not asked' -> blank."""
        return pl.Series(values).replace(-1, None)

    agri_only = lambda values: pl.Series(np.where(is_agri, values, -1)).replace(-1, None)  # noqa: E731
    tables = {
        "communities": pl.DataFrame(
            {
                "community_number": np.arange(1, n_comm + 1),
                "region_code": comm_region,
                "urban": comm_urban,
                "public_employment_programme": comm_pep,
                "bank_branch": comm_bank,
                "money_transfer_operator": comm_mto,
                "vocational_training_centre": comm_vtc,
            }
        ),
        "households": pl.DataFrame(
            {
                "household_number": np.arange(1, n_hh + 1),
                "community_number": hh_comm + 1,
                "weight": weight,
                "household_size": size,
                "agricultural": agricultural,
                "agricultural_subsidy": agri_only(subsidy),
                "hires_farm_labour": agri_only(hires),
                "agricultural_assets": lcu(agri_assets_usd),
                "remittances_received": remittances_received,
                "remittances_amount": lcu(remittances_usd),
                "remittance_channel": pl.Series(channel.tolist(), dtype=pl.String),
                "bank_account": bank_account,
                "financial_training": financial_training,
                "owns_business": owns_business,
                "owns_real_estate": owns_real_estate,
                "education_expenditure": lcu(education_usd),
                **programmes,
            }
        ),
        "persons": pl.DataFrame(
            {
                "household_number": p_hh + 1,
                "line_number": line,
                "sex": sex,
                "age": age,
                "relation_to_head": relation,
                "education_code": pl.Series(education_code.tolist(), dtype=pl.String),
                "attending_school": opt(attending),
                "working": opt(working),
                "sector": opt(sector),
                "job_via_public_agency": opt(agency),
                "vocational_training": opt(vocational),
                "plans_to_emigrate": opt(plans),
                "return_migrant": opt(return_migrant),
                "years_abroad": pl.Series(years_abroad).fill_nan(None),
                "born_abroad": born_abroad,
            }
        ),
        "emigrants": pl.DataFrame(
            {
                "household_number": e_hh + 1,
                "emigrant_number": e_number,
                "sex": e_sex,
                "age": e_age,
                "education_code": e_education,
                "destination": pl.Series(e_dest_name.tolist(), dtype=pl.String),
                "year_left": year_left,
                "sends_remittances": sends,
            }
        ),
    }
    tables = plant_nonresponse(tables, seed, iso3)
    return {name: conform(tables[name], submission_schema(name)) for name in SUBMISSION_TABLES}


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
