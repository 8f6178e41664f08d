"""The draws of one synthetic country, phase by phase: communities, households, persons, emigrants.

Each phase takes the country's plan and the country's one random stream and returns a frozen
record of what it drew, in USD and in codes; the generator turns the records into the
submission format. The order of the draws is the output: the phases run in a fixed order and
draw in a fixed order inside (keyword arguments are evaluated left to right), so moving one draw,
or swapping two, changes every value drawn after it and so every package built from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ippmd.synth.sampler import Flags, Floats, Ints, Sampler, rank_within, solve_intercept

Codes = npt.NDArray[np.str_]
Labels = npt.NDArray[np.object_]  # text, or None where not asked

PROGRAMMES = ("programme_scholarship", "programme_school_meals", "programme_textbooks")
FORMAL_CHANNELS = ("bank", "money_transfer_operator", "mobile", "carried")
FORMAL_CHANNEL_SHARES = (0.35, 0.40, 0.15, 0.10)  # assumed
OTHER_RELATIONS = (3, 4, 5, 6, 7)  # son or daughter, grandchild, parent, other relative, non-relative
OTHER_RELATION_SHARES = (0.74, 0.10, 0.05, 0.09, 0.02)  # assumed
SECTOR_SHARES = (0.10, 0.15, 0.12, 0.25, 0.08, 0.15, 0.15)  # sectors 1-7 (assumed)
DEPARTURE_BANDS = {"0-1": (0, 1), "1-2": (1, 2), "2-5": (2, 5), "5+": (5, 15)}  # years since leaving


@dataclass(frozen=True)
class EducationLevels:
    """A country's national education levels, to code drawn years of schooling as the field team did."""

    years: Ints
    codes: Codes

    @classmethod
    def of(cls, levels: list[dict[str, Any]]) -> EducationLevels:
        ordered = sorted(levels, key=lambda level: level["years"])
        return cls(np.array([lv["years"] for lv in ordered]), np.array([str(lv["code"]) for lv in ordered]))

    def code(self, years: Floats) -> Codes:
        """The highest level whose years of schooling do not exceed `years`."""
        return self.codes[np.searchsorted(self.years, years, side="right") - 1]


@dataclass(frozen=True)
class CountryPlan:
    """What one country's draws are calibrated to, read once so that every phase takes one record."""

    iso3: str
    n_communities: int
    n_households: int
    share: dict[str, float]  # published target shares
    params: dict[str, float]  # structural means the reports do not give as shares
    effects: dict[str, float]  # planted effect sizes for this country
    region_codes: tuple[str, ...]
    education: EducationLevels
    destination_shares: dict[str, float]  # emigrants by destination ISO3
    destination_spellings: dict[str, tuple[str, ...]]  # ISO3 -> the field team's spellings, sorted
    departure_shares: dict[str, float]  # emigrants by band of years since they left
    survey_year: int
    lcu_per_usd: float


@dataclass(frozen=True)
class Communities:
    """The sampled communities: households inherit their urbanity, services, propensity and weight."""

    region_code: Codes
    urban: Flags
    public_employment_programme: Flags
    bank_branch: Flags
    money_transfer_operator: Flags
    vocational_training_centre: Flags
    emigration_propensity: Floats  # unobserved, shared by the community's households
    weight: Floats  # the community's factor of its households' design weights


def draw_communities(country: CountryPlan, s: Sampler) -> Communities:
    """Exact shares of urban communities and services: with few communities a coin would miss them."""
    n, share = country.n_communities, country.share
    region_code = np.array(country.region_codes)[s.rng.integers(len(country.region_codes), size=n)]
    return Communities(
        region_code=region_code,
        urban=s.exact_share(share["urban_households"], n),
        public_employment_programme=s.exact_share(share["community_public_employment_programme"], n),
        bank_branch=s.exact_share(share["community_bank_branch"], n),
        money_transfer_operator=s.exact_share(share["community_money_transfer_operator"], n),
        vocational_training_centre=s.exact_share(share["community_vocational_training_centre"], n),
        emigration_propensity=np.clip(s.rng.normal(0.0, 0.05, n), -0.1, 0.1),
        weight=s.rng.lognormal(0.0, 0.3, n),
    )


@dataclass(frozen=True)
class Households:
    """Households and the traits that the later phases (and the planted effects) depend on."""

    community: Ints  # 0-based index into Communities
    weight: Floats  # design weight, mean 1
    agricultural: Flags
    subsidy: Flags  # agricultural subsidy (0 outside agricultural households)
    has_return_migrant: Flags
    has_emigrant: Flags
    remittances_received: Flags
    bank_account: Flags
    financial_training: Flags
    owns_business: Flags
    owns_real_estate: Flags
    programmes: dict[str, Flags]

    @property
    def count(self) -> int:
        return self.community.size


def allocate_equally(n_households: int, n_communities: int) -> Ints:
    """Each household's community, the households split among communities as equally as can be."""
    per_community = np.full(n_communities, n_households // n_communities)
    per_community[: n_households % n_communities] += 1
    return np.repeat(np.arange(n_communities), per_community)


def draw_households(country: CountryPlan, s: Sampler, communities: Communities) -> Households:
    """Household traits at the target shares, with the planted effects on emigration and business."""
    n, share, effect = country.n_households, country.share, country.effects
    community = allocate_equally(n, country.n_communities)
    urban = communities.urban[community].astype(np.float64)
    weight = communities.weight[community] * s.rng.lognormal(0.0, 0.1, n)
    agricultural = s.calibrated(share["agricultural_households"], -0.35 * urban)
    subsidy = np.where(agricultural == 1, s.bernoulli(share["agricultural_subsidy"], n), 0)
    has_return_migrant = s.bernoulli(share["households_with_return_migrant"], n)
    public_employment = communities.public_employment_programme[community]
    has_emigrant = s.calibrated(
        share["households_with_emigrant"],
        effect["subsidy_on_emigrant"] * subsidy
        + effect["public_employment_programme_on_emigrant"] * public_employment
        + communities.emigration_propensity[community],
    )
    receiving_share = np.where(
        has_emigrant == 1,
        share["emigrant_households_receiving_remittances"],
        share["non_emigrant_households_receiving_remittances"],
    )
    return Households(
        community=community,
        weight=np.round(weight / weight.mean(), 6),
        agricultural=agricultural,
        subsidy=subsidy,
        has_return_migrant=has_return_migrant,
        has_emigrant=has_emigrant,
        remittances_received=s.bernoulli(receiving_share),
        bank_account=s.calibrated(share["bank_account"], 0.10 * urban),
        financial_training=s.bernoulli(share["financial_training"], n),
        owns_business=s.calibrated(
            share["owns_business"], effect["return_migrant_on_business"] * has_return_migrant
        ),
        owns_real_estate=s.bernoulli(share["owns_real_estate"], n),
        programmes={name: s.bernoulli(share[name], n) for name in PROGRAMMES},
    )


@dataclass(frozen=True)
class Farming:
    """What agricultural households alone are asked: hired farm labour and the value of farm assets."""

    hires_labour: Flags  # 0 outside agricultural households
    assets_usd: Floats  # NaN outside agricultural households


def draw_farming(country: CountryPlan, s: Sampler, households: Households) -> Farming:
    """Hiring raised by an emigrant (labour lost), assets by a returned migrant (savings brought home)."""
    farming = households.agricultural == 1
    hires_labour = np.zeros(households.count, dtype=np.int64)
    hires_labour[farming] = s.calibrated(
        country.share["hires_farm_labour"],
        country.effects["emigrant_on_farm_labour"] * households.has_emigrant[farming],
    )
    assets_usd = np.full(households.count, np.nan)
    assets_usd[farming] = s.lognormal(
        country.params["agricultural_assets_usd"],
        country.effects["return_migrant_on_agricultural_assets"] * households.has_return_migrant[farming],
        1.0,
    )
    return Farming(hires_labour=hires_labour, assets_usd=assets_usd)


@dataclass(frozen=True)
class Remittances:
    """How much the receiving households receive, and through which channel."""

    amount_usd: Floats  # NaN where none are received
    channel: Labels  # None where none are received


def draw_remittances(country: CountryPlan, s: Sampler, households: Households) -> Remittances:
    """A bank account raises the amount and lowers the informal channel (planted effects)."""
    receives = households.remittances_received == 1
    bank_account = households.bank_account[receives]
    amount_usd = np.full(households.count, np.nan)
    amount_usd[receives] = s.lognormal(
        country.params["remittances_per_receiving_household_usd"],
        country.effects["bank_account_on_remittances"] * bank_account,
        0.8,
    )
    informal = np.zeros(households.count, dtype=np.int64)
    informal[receives] = s.calibrated(
        country.share["remittances_informal_channel"],
        country.effects["bank_account_on_informal_channel"] * bank_account,
    )
    formal_draw = s.rng.choice(len(FORMAL_CHANNELS), size=households.count, p=FORMAL_CHANNEL_SHARES)
    channel = np.where(informal == 1, "informal", np.array(FORMAL_CHANNELS)[formal_draw]).astype(object)
    channel[~receives] = None
    return Remittances(amount_usd=amount_usd, channel=channel)


@dataclass(frozen=True)
class Rosters:
    """Who lives in each household: line 1 is the head, line 2 often the spouse; ages follow relation."""

    household_size: Ints  # per household
    household: Ints  # per person: 0-based index into Households
    line: Ints
    relation: Ints  # 1 head, 2 spouse, then OTHER_RELATIONS
    age: Ints
    sex: Ints  # 1 male, 2 female

    @property
    def count(self) -> int:
        return self.household.size


def draw_rosters(country: CountryPlan, s: Sampler, households: Households) -> Rosters:
    """Household sizes around the published mean; heads mostly men, spouses of the other sex."""
    size = np.clip(1 + s.rng.poisson(country.params["household_size_mean"] - 1, households.count), 1, 25)
    n = int(size.sum())
    household = np.repeat(np.arange(households.count), size)
    line = np.arange(n) - np.repeat(np.r_[0, np.cumsum(size)[:-1]], size) + 1
    head_age = np.clip(s.rng.normal(46, 13, households.count), 18, 90).round().astype(np.int64)
    head_male = s.bernoulli(0.75, households.count)[household]
    other_relation = s.rng.choice(OTHER_RELATIONS, size=n, p=OTHER_RELATION_SHARES)
    spouse = (line == 2) & (s.bernoulli(0.8, n) == 1)
    relation = np.where(line == 1, 1, np.where(spouse, 2, other_relation))
    age = draw_ages(s, relation, head_age[household])
    sex = np.where(
        relation == 1,
        np.where(head_male == 1, 1, 2),
        np.where(relation == 2, np.where(head_male == 1, 2, 1), 1 + s.bernoulli(0.5, n)),
    )
    return Rosters(household_size=size, household=household, line=line, relation=relation, age=age, sex=sex)


def draw_ages(s: Sampler, relation: Ints, head_age: Ints) -> Ints:
    """Ages near the head's by relation: every person gets a draw for every relation, keeps its own."""
    n = relation.size
    age_by_relation = {
        1: head_age,
        2: np.clip(head_age + s.rng.integers(-8, 4, n), 16, 95),
        3: np.minimum(s.rng.integers(0, np.maximum(head_age - 16, 1) + 1), 45),
        4: s.rng.integers(0, 16, n),
        5: np.clip(head_age + s.rng.integers(20, 36, n), 40, 100),
        6: s.rng.integers(0, 71, n),
        7: s.rng.integers(15, 61, n),
    }
    age = np.zeros(n, dtype=np.int64)
    for code, ages in age_by_relation.items():
        mask = relation == code
        age[mask] = np.asarray(ages)[mask]
    return age


def draw_education(country: CountryPlan, s: Sampler, roster: Rosters) -> Labels:
    """Years completed (more for the young; under 25 still climbing), coded to the national level."""
    age = roster.age
    capacity = np.clip(
        s.rng.normal(country.params["mean_years_of_schooling_adults"] + 0.08 * (45 - age), 3.5), 0, 20
    )
    years = np.where(
        age < 25,
        np.minimum(np.maximum(age - 6 - s.rng.poisson(1.0, roster.count), 0), capacity + 2),
        capacity,
    )
    education_code = country.education.code(years).astype(object)
    education_code[age < 6] = None
    return education_code


@dataclass(frozen=True)
class Activity:
    """The work of persons aged 15 and over; -1 where a question is not asked."""

    working: Flags  # -1 under 15
    sector: Ints  # national sector code; -1 unless working
    job_via_public_agency: Flags  # -1 unless working
    vocational_training: Flags  # -1 under 15


def draw_activity(country: CountryPlan, s: Sampler, households: Households, roster: Rosters) -> Activity:
    """Work by an age profile, less for women, shifted by remittances by sex (planted effects)."""
    age, sex, n = roster.age, roster.sex, roster.count
    share, effect = country.share, country.effects
    adult = age >= 15
    age_profile = np.select(
        [age < 20, age < 25, age < 55, age < 65], [-0.25, -0.05, 0.05, -0.05], default=-0.35
    )
    remittance_effect = np.where(
        sex == 1, effect["remittances_on_working_men"], effect["remittances_on_working_women"]
    )
    work_shift = (
        age_profile
        - 0.15 * (sex == 2).astype(float)
        + remittance_effect * households.remittances_received[roster.household]
    )
    intercept = solve_intercept(share["working"], work_shift[adult & (age <= 64)], 0.01, 0.99)
    working = np.where(adult, s.bernoulli(np.clip(intercept + work_shift, 0.01, 0.99)), -1)
    is_working = working == 1
    farming = households.agricultural[roster.household] == 1
    other_sector = s.rng.choice(np.arange(1, 8), size=n, p=SECTOR_SHARES)
    sector = np.where(farming & (s.bernoulli(0.65, n) == 1), 1, other_sector)
    return Activity(
        working=working,
        sector=np.where(is_working, sector, -1),
        job_via_public_agency=np.where(is_working, s.bernoulli(share["job_via_public_agency"], n), -1),
        vocational_training=np.where(adult, s.bernoulli(share["vocational_training"], n), -1),
    )


@dataclass(frozen=True)
class PlansAndSchooling:
    """Plans to emigrate (15+) and school attendance (6-24); plans lower attendance at 15-22."""

    plans_to_emigrate: Flags  # -1 under 15
    attending_school: Flags  # -1 outside ages 6-24


def draw_plans_and_schooling(
    country: CountryPlan, s: Sampler, households: Households, roster: Rosters, activity: Activity
) -> PlansAndSchooling:
    """Plans raised by training, a public-agency job and a subsidy (planted effects), and by youth."""
    age, n, effect = roster.age, roster.count, country.effects
    adult = age >= 15
    plan_shift = (
        effect["vocational_training_on_plans"] * (activity.vocational_training == 1)
        + effect["public_agency_on_plans"] * (activity.job_via_public_agency == 1)
        + effect["subsidy_on_plans"] * households.subsidy[roster.household]
        + np.select([age < 35, age >= 50], [0.04, -0.06], default=0.0)
    )
    plans = np.full(n, -1)
    plans[adult] = s.calibrated(country.share["plans_to_emigrate"], plan_shift[adult])
    school_age = (age >= 6) & (age <= 24)
    youth = (age >= 15) & (age <= 22)
    attending = np.full(n, -1)
    attending[school_age] = s.bernoulli(np.where(age[school_age] < 15, 0.92, 0.12))
    attending[youth] = s.calibrated(
        country.share["attending_school_15_22"], effect["plans_on_school_attendance"] * (plans[youth] == 1)
    )
    return PlansAndSchooling(plans_to_emigrate=plans, attending_school=attending)


@dataclass(frozen=True)
class MigrationHistory:
    """Returned migrants among the members, and the members born abroad."""

    return_migrant: Flags  # -1 under 15
    years_abroad: Floats  # NaN unless a returned migrant
    born_abroad: Flags


def draw_migration_history(
    country: CountryPlan, s: Sampler, households: Households, roster: Rosters
) -> MigrationHistory:
    """k adults (18+) are returned migrants in each household flagged as having one, k around the mean."""
    age, n = roster.age, roster.count
    eligible = (age >= 18) & (households.has_return_migrant[roster.household] == 1)
    mean_k = country.params["return_migrants_per_return_household"]
    k = 1 + s.rng.poisson(max(mean_k - 1, 0), households.count)
    rank = rank_within(roster.household, np.where(eligible, s.rng.random(n), 2.0))
    return_migrant = np.where(age >= 15, (eligible & (rank < k[roster.household])).astype(np.int64), -1)
    time_abroad = np.minimum(np.clip(s.rng.lognormal(0.9, 0.7, n), 0.3, 30), np.maximum(age - 15, 0.3))
    return MigrationHistory(
        return_migrant=return_migrant,
        years_abroad=np.where(return_migrant == 1, np.round(time_abroad, 1), np.nan),
        born_abroad=s.bernoulli(country.share["born_abroad"], n),
    )


@dataclass(frozen=True)
class Persons:
    """The household members: their roster, then schooling, work, plans and migration."""

    roster: Rosters
    education_code: Labels  # None under 6
    activity: Activity
    plans: PlansAndSchooling
    migration: MigrationHistory


def draw_persons(country: CountryPlan, s: Sampler, households: Households) -> Persons:
    """The members' phases in draw order: each later one may depend on the earlier ones."""
    roster = draw_rosters(country, s, households)
    education_code = draw_education(country, s, roster)
    activity = draw_activity(country, s, households, roster)
    plans = draw_plans_and_schooling(country, s, households, roster, activity)
    migration = draw_migration_history(country, s, households, roster)
    return Persons(
        roster=roster, education_code=education_code, activity=activity, plans=plans, migration=migration
    )


@dataclass(frozen=True)
class Emigrants:
    """Former members now abroad, numbered within each household flagged as having an emigrant."""

    household: Ints  # 0-based index into Households
    number: Ints
    sex: Ints  # 1 male, 2 female
    age: Ints
    education_code: Codes
    destination: Labels  # the field team's spelling
    year_left: Ints
    sends_remittances: Flags


def draw_emigrants(country: CountryPlan, s: Sampler, households: Households) -> Emigrants:
    """Emigrants at the published shares of women, of the young, by destination and years away."""
    with_emigrant = np.flatnonzero(households.has_emigrant == 1)
    mean_count = country.params["emigrants_per_emigrant_household"]
    per_household = 1 + s.rng.poisson(max(mean_count - 1, 0), with_emigrant.size)
    household = np.repeat(with_emigrant, per_household)
    n = household.size
    number = np.arange(n) - np.repeat(np.r_[0, np.cumsum(per_household)[:-1]], per_household) + 1
    sex = 1 + s.bernoulli(country.share["emigrants_female"], n)
    young = s.bernoulli(country.share["emigrants_aged_15_34"], n) == 1
    age = np.where(young, s.rng.integers(15, 35, n), s.rng.integers(35, 65, n))
    mean_years = country.params["mean_years_of_schooling_adults"] + 0.5  # emigrants: a little more
    years = np.clip(s.rng.normal(mean_years + 0.08 * (45 - age), 3.5), 0, np.minimum(20, age - 6))
    return Emigrants(
        household=household,
        number=number,
        sex=sex,
        age=age,
        education_code=country.education.code(years),
        destination=draw_destinations(country, s, n),
        year_left=draw_years_left(country, s, n),
        sends_remittances=draw_senders(country, s, households.remittances_received[household] == 1, number),
    )


def draw_destinations(country: CountryPlan, s: Sampler, n: int) -> Labels:
    """A destination by the published shares, written in one of the field team's spellings of it."""
    codes = np.array(list(country.destination_shares))
    shares = np.array(list(country.destination_shares.values()), dtype=float)
    drawn = codes[s.rng.choice(len(codes), size=n, p=shares / shares.sum())]
    names = np.empty(n, dtype=object)
    for code in codes:
        mask = drawn == code
        spellings = np.array(country.destination_spellings[code])
        names[mask] = spellings[s.rng.integers(len(spellings), size=int(mask.sum()))]
    return names


def draw_years_left(country: CountryPlan, s: Sampler, n: int) -> Ints:
    """A band of years since leaving by the published shares, then a uniform time within the band."""
    bands = list(country.departure_shares)
    shares = np.array([country.departure_shares[band] for band in bands], dtype=float)
    band = s.rng.choice(len(bands), size=n, p=shares / shares.sum())
    low = np.array([DEPARTURE_BANDS[b][0] for b in bands])[band]
    high = np.array([DEPARTURE_BANDS[b][1] for b in bands])[band]
    years_since = low + s.rng.random(n) * (high - low)
    year_left: Ints = country.survey_year - np.floor(years_since).astype(np.int64)
    return year_left


def draw_senders(country: CountryPlan, s: Sampler, receiving: npt.NDArray[np.bool_], number: Ints) -> Flags:
    """A receiving household's first emigrant sends; the others at the rate that brings senders to target."""
    n, first = number.size, number == 1
    n_first = int((receiving & first).sum())
    n_rest = int((receiving & ~first).sum())
    rate = (country.share["emigrants_sending_remittances"] * n - n_first) / n_rest if n_rest else 0.0
    sends: Flags = np.where(receiving, np.where(first, 1, s.bernoulli(np.clip(rate, 0, 1), n)), 0)
    return sends


def draw_education_expenditure(
    country: CountryPlan, s: Sampler, households: Households, persons: Persons
) -> Floats:
    """Spending (USD) of households with a member in school, raised by remittances and an emigrant."""
    attending = persons.plans.attending_school == 1
    in_school = np.bincount(persons.roster.household, weights=attending, minlength=households.count) > 0
    spending = np.zeros(households.count)
    spending[in_school] = s.lognormal(
        country.params["education_expenditure_usd"],
        country.effects["remittances_on_education_expenditure"] * households.remittances_received[in_school]
        + country.effects["emigrant_on_education_expenditure"] * households.has_emigrant[in_school],
        0.9,
    )
    return spending
