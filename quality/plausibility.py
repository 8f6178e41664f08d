"""Plausibility rules: content that is well-formed but cannot be right.

Each rule is a problem code (core/problems.yaml) naming file, row and field. Thresholds are data,
in plausibility.yaml next to this file, each with its reason and source or `assumed`; the file is
checked when loaded. `submission_rules` is the one entry point, called by
`quality.validate.validate_submission`, which both `ippmd validate` and `ippmd admit` run.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.config import install_error, load_checked
from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.home import package_data, shared_dir
from ippmd.core.i18n import significant, t
from ippmd.core.io import load_user_yaml
from ippmd.core.metadata import iso3166, yaml_lines
from ippmd.core.schema import SUBMISSION_TABLES, submission_schema
from ippmd.harmonize.destinations import match_destinations
from ippmd.quality.structural import MAX_EXAMPLES, Structure, problem
from ippmd.quality.submission_checks import (
    cell_text_problems,
    metadata_text_problems,
    placeholder_problems,
    unexpected_files,
    visible,
)

THRESHOLDS_FILE = package_data(__package__, "plausibility.yaml")
METADATA = "metadata.yaml"


def load_thresholds(path: Path = THRESHOLDS_FILE) -> dict[str, Any]:
    """The thresholds' values by key (schemas/config/plausibility.schema.json: each typed, with its
    reason, and source and year or `assumed: true`); a UsageError names the file and the key."""
    try:
        entries = load_checked(Path(path), "plausibility")
    except InputError as exc:
        raise install_error(exc) from None
    for key, entry in entries.items():
        value = entry["value"]
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{path}: {key}.value: must be a finite number, not {value!r}")
    return {key: entry["value"] for key, entry in entries.items()}


@cache
def thresholds() -> dict[str, Any]:
    return load_thresholds()


def survey_year_range(today: datetime.date | None = None) -> tuple[int, int]:
    """(earliest, latest) survey year: latest from the clock."""
    today = today or datetime.date.today()
    limits = thresholds()
    return limits["survey_year_earliest"], today.year + limits["survey_year_latest_offset"]


# --- metadata -------------------------------------------------------------------------------------


def metadata_rules(meta: dict[str, Any], lines: dict[tuple[str, ...], int]) -> list[Problem]:
    """Survey year, fieldwork, country code, currency and exchange rate of checked metadata."""

    def at(code: str, message: str, path: tuple[str, ...], value: Any, **extra: Any) -> Problem:
        return problem(
            code,
            METADATA,
            message,
            row=lines.get(path),
            field=".".join(path),
            value=visible(str(value)),
            **extra,
        )

    problems: list[Problem] = []
    year = meta["survey_year"]
    earliest, latest = survey_year_range()
    if not earliest <= year <= latest:
        problems.append(
            at(
                "survey-year",
                t("plausibility.survey-year", earliest=earliest, latest=latest),
                ("survey_year",),
                year,
            )
        )
    problems += _fieldwork(meta, at)
    problems += _origin(meta, at)
    iso3 = str(meta["country_iso3"])
    if iso3 not in iso3166():
        problems.append(at("unknown-country", t("plausibility.unknown-country"), ("country_iso3",), iso3))
        return problems
    problems += _currency(meta, iso3, at)
    problems += _exchange_rate(meta, iso3, at)
    problems += _destination_spellings(meta, at)
    return problems


# A local spelling of a country is a name: letters of any script, spaces, hyphens, apostrophes and
# dots, at most this long. Digits, brackets, commas or @ mean more than a place (a person's name in
# parentheses, a phone number), and such text must not become an accepted, published spelling.
_SPELLING = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ .'’-])*$")
MAX_SPELLING = 60  # characters; the longest country name in English is under 60 (assumed)


def _destination_spellings(meta: dict[str, Any], at: Any) -> list[Problem]:
    """The submission's own destination spellings must look like place names (they are published)."""
    return [
        at(
            "destination-spelling",
            t("plausibility.destination-spelling"),
            ("destinations", str(name)),
            name,
        )
        for name in (meta.get("destinations") or {})
        if len(str(name)) > MAX_SPELLING or not _SPELLING.match(str(name).strip())
    ]


def _origin(meta: dict[str, Any], at: Any) -> list[Problem]:
    """`data_origin` (default survey) agrees with the `synthetic:` block `ippmd synth` writes: survey
    records with a generator's seed would be published without their synthetic label."""
    origin = meta.get("data_origin")
    if "synthetic" in meta and origin != "synthetic":
        message = (
            t("plausibility.origin-survey-with-block", origin=str(origin))
            if origin
            else t("plausibility.origin-missing-with-block")
        )
        return [
            at(
                "origin-contradiction",
                message,
                ("data_origin",) if origin else ("synthetic",),
                origin or "synthetic: block",
            )
        ]
    if origin == "synthetic" and "synthetic" not in meta:
        return [
            at(
                "origin-contradiction",
                t("plausibility.origin-synthetic-without-block"),
                ("data_origin",),
                origin,
                severity="warning",
            )
        ]
    return []


def _fieldwork(meta: dict[str, Any], at: Any) -> list[Problem]:
    """Fieldwork start <= end (both YYYY-MM), and both within the slack of survey_year."""
    fieldwork = meta.get("fieldwork") or {}
    start, end = fieldwork.get("start"), fieldwork.get("end")
    problems = []
    if isinstance(start, str) and isinstance(end, str) and start > end:
        problems.append(
            at(
                "fieldwork-order",
                t("plausibility.fieldwork-order", start=start, end=end),
                ("fieldwork", "end"),
                end,
            )
        )
    slack, year = thresholds()["fieldwork_slack_years"], meta["survey_year"]
    for key, value in (("start", start), ("end", end)):
        if isinstance(value, str) and value[:4].isdigit() and abs(int(value[:4]) - year) > slack:
            problems.append(
                at(
                    "fieldwork-year",
                    (
                        t("plausibility.fieldwork-start-year", slack=slack, year=str(year))
                        if key == "start"
                        else t("plausibility.fieldwork-end-year", slack=slack, year=str(year))
                    ),
                    ("fieldwork", key),
                    value,
                )
            )
    return problems


def _currency(meta: dict[str, Any], iso3: str, at: Any) -> list[Problem]:
    from babel.numbers import list_currencies

    currency, year = meta["currency"], meta["survey_year"]
    if currency not in list_currencies():
        return []  # not ISO 4217 at all: metadata-error (submission_checks.metadata_problems)
    legal = _legal_currencies(iso3, year)
    if not legal:
        return [
            at(
                "currency-unchecked",
                t("plausibility.currency-unchecked", iso3=iso3, year=str(year)),
                ("currency",),
                currency,
                severity="warning",
            )
        ]
    if currency not in legal:
        return [
            at(
                "wrong-currency",
                t("plausibility.wrong-currency", iso3=iso3, year=str(year), legal=", ".join(legal)),
                ("currency",),
                currency,
            )
        ]
    return []


@cache
def _legal_currencies(iso3: str, year: int) -> tuple[str, ...]:
    """ISO 4217 currencies legal tender in the country at any time of the year (CLDR, via babel)."""
    from babel.numbers import get_territory_currencies

    iso2 = iso3166()[iso3][0]
    start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    return tuple(get_territory_currencies(iso2, start_date=start, end_date=end, tender=True))


def wdi_file() -> Path:
    return shared_dir() / "data" / "external" / thresholds()["wdi_exchange_rates"]


@cache
def wdi_rates(path: Path) -> dict[str, dict[int, float]]:
    """ISO3 -> year -> LCU per US$ from the WDI bulk CSV (banner lines, then one row per economy)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    start = text.find('"Country Name"')
    if start < 0:
        raise ValueError('no header line starting with "Country Name"')
    reader = csv.reader(io.StringIO(text[start:]))
    header = next(reader)
    years = {i: int(name) for i, name in enumerate(header) if name.strip().isdigit()}
    rates: dict[str, dict[int, float]] = {}
    for row in reader:
        if len(row) < 2:
            continue
        rates[row[1]] = {year: float(row[i]) for i, year in years.items() if i < len(row) and row[i].strip()}
    return rates


def _exchange_rate(meta: dict[str, Any], iso3: str, at: Any) -> list[Problem]:
    """The submitted LCU per US$ within the stated factor of the WDI official rate."""
    rate = meta["exchange_rate"]
    given, year = float(rate["lcu_per_usd"]), int(rate.get("year", meta["survey_year"]))
    path = ("exchange_rate", "lcu_per_usd")
    legal = _legal_currencies(iso3, int(meta["survey_year"]))
    reference: float | None
    if meta["currency"] == "USD":
        reference, source = 1.0, t("plausibility.rate-usd")
    elif legal and meta["currency"] != legal[0]:
        return [
            at(
                "exchange-rate-unchecked",
                t("plausibility.rate-other-currency", wdi=legal[0], currency=str(meta["currency"])),
                path,
                given,
                severity="warning",
            )
        ]
    else:
        file = wdi_file()
        try:
            reference = wdi_rates(file).get(iso3, {}).get(year)
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
            message = (
                t("plausibility.wdi-missing", file=str(file))
                if not file.exists()
                else t("plausibility.wdi-unreadable", file=str(file), error=str(exc))
            )
            return [
                at(
                    "exchange-rate-unchecked",
                    message,
                    path,
                    given,
                    severity="warning",
                )
            ]
        if reference is None or reference <= 0:
            return [
                at(
                    "exchange-rate-unchecked",
                    t("plausibility.wdi-no-rate", iso3=iso3, year=str(year)),
                    path,
                    given,
                    severity="warning",
                )
            ]
        source = t("plausibility.rate-wdi", rate=significant(reference, 4), year=str(year))
    factor = thresholds()["exchange_rate_factor"]
    if not reference / factor <= given <= reference * factor:
        return [
            at(
                "exchange-rate",
                t(
                    "plausibility.exchange-rate",
                    given=significant(given, 4),
                    currency=str(meta["currency"]),
                    times=significant(given / reference, 3),
                    source=source,
                    factor=factor,
                ),
                path,
                given,
            )
        ]
    return []


# --- tables --------------------------------------------------------------------------------------


def _with_lines(structure: Structure, name: str, columns: list[str]) -> pl.DataFrame | None:
    """The typed table with its file line (`__line`), when it has these columns; else None."""
    frame, text = structure.frames.get(name), structure.texts.get(name)
    if frame is None or text is None or any(c not in frame.columns for c in columns):
        return None
    if frame.height != len(text.lines):
        return None
    return frame.select(columns).with_columns(__line=text.lines)


def _rows(
    code: str, file: str, message: str, hits: pl.DataFrame, field: str, value: str | pl.Expr
) -> list[Problem]:
    values = hits.head(MAX_EXAMPLES).select(
        "__line", (pl.lit(value) if isinstance(value, str) else value).cast(pl.String).alias("__value")
    )
    problems = [
        problem(code, file, message, row=int(line), field=field, value=visible(str(shown), 80))
        for line, shown in values.iter_rows()
    ]
    if hits.height > MAX_EXAMPLES:
        problems.append(
            problem(code, file, t("plausibility.more-rows", count=hits.height - MAX_EXAMPLES), field=field)
        )
    return problems


def table_rules(
    meta: dict[str, Any], structure: Structure, files: dict[str, str], amounts: bool = True
) -> list[Problem]:
    """Sample size, weights, roster line numbers, money amounts (unless `amounts` is False: the
    exchange rate they are converted with is wrong), household ages, year_left and destinations."""
    limits = thresholds()
    problems: list[Problem] = []
    for name, minimum in (
        ("households", limits["min_households"]),
        ("communities", limits["min_communities"]),
    ):
        frame = structure.frames.get(name)
        if frame is not None and 0 < frame.height < minimum:  # 0 rows: no-rows already
            problems.append(
                problem(
                    "sample-too-small",
                    files[name],
                    (
                        t("plausibility.too-few-households", count=frame.height, minimum=minimum)
                        if name == "households"
                        else t("plausibility.too-few-communities", count=frame.height, minimum=minimum)
                    ),
                )
            )
    households = _with_lines(structure, "households", ["household_number", "household_size", "weight"])
    if households is not None:
        total = households["weight"].sum()
        share = limits["max_household_weight_share"]
        if total and total > 0:
            heavy = households.filter(pl.col("weight") > share * total).sort("weight", descending=True)
            problems += _rows(
                "weight-concentrated",
                files["households"],
                t("plausibility.weight-concentrated", share=share),
                heavy,
                "weight",
                pl.format(
                    "{} ({}% of the total)", pl.col("weight"), (pl.col("weight") / total * 100).round(1)
                ),
            )
        persons = _with_lines(structure, "persons", ["household_number", "line_number"])
        if persons is not None:
            over = persons.join(
                households.select("household_number", "household_size"), on="household_number", how="inner"
            ).filter(pl.col("line_number") > pl.col("household_size"))
            problems += _rows(
                "line-number-over-size",
                files["persons"],
                t("plausibility.line-number-over-size"),
                over.sort("__line"),
                "line_number",
                pl.format("{} (household_size {})", pl.col("line_number"), pl.col("household_size")),
            )
    problems += _amounts(meta, structure, files) if amounts else []
    problems += _household_ages(structure, files["persons"])
    problems += _year_left(meta, structure, files["emigrants"])
    problems += _destinations(meta, structure, files["emigrants"])
    return problems


@cache
def amount_columns() -> dict[str, tuple[str, ...]]:
    """Table -> its money amounts: the submission schema's fields whose unit is local currency."""
    return {
        table: tuple(f["name"] for f in submission_schema(table)["fields"] if _is_money(f))
        for table in SUBMISSION_TABLES
    }


def _is_money(field: dict[str, Any]) -> bool:
    return str(field.get("unit", "")).startswith("local currency")


@cache
def gdp_per_capita(iso3: str, year: int) -> tuple[float, int] | None:
    """(GDP per capita in current US$, its year) for the year nearest `year`, derived from the real
    indicators of indicators/country_indicators.csv: WDI personal remittances received (current
    US$) / WDI remittances (% of GDP) x 100 / UN DESA population (nearest year); None without them."""
    indicators = pl.read_csv(package_data("ippmd.indicators", "country_indicators.csv"), infer_schema=False)
    rows = indicators.filter(pl.col("iso3") == iso3, pl.col("partner_iso3") == "WLD").select(
        "indicator", "source", pl.col("year").cast(pl.Int64), pl.col("value").cast(pl.Float64)
    )

    def series(indicator: str, source: str) -> dict[int, float]:
        found = rows.filter(pl.col("indicator") == indicator, pl.col("source") == source)
        return dict(zip(found["year"].to_list(), found["value"].to_list(), strict=True))

    sources = thresholds()["gdp_per_capita_sources"]
    received = series("remittance_inflows", sources["remittances_usd_million"])
    share = series("remittances_pct_gdp", sources["remittances_pct_gdp"])
    population = series("population", sources["population"])
    years = sorted(y for y in received.keys() & share.keys() if share[y] > 0 and received[y] > 0)
    if not years or not population:
        return None
    nearest = min(years, key=lambda y: (abs(y - year), -y))
    people = population[min(population, key=lambda y: (abs(y - nearest), -y))]
    gdp = received[nearest] * 1e6 / (share[nearest] / 100)
    return gdp / people, nearest


def _amounts(meta: dict[str, Any], structure: Structure, files: dict[str, str]) -> list[Problem]:
    """Every money amount, in US$ at the submission's exchange rate, within a multiple of the
    country's GDP per capita (plausibility.yaml; an absolute bound without the GDP figure)."""
    limits = thresholds()
    rate, currency = float(meta["exchange_rate"]["lcu_per_usd"]), str(meta["currency"])
    reference = gdp_per_capita(str(meta["country_iso3"]), int(meta["survey_year"]))
    if reference is None:
        bound, why = float(limits["amount_usd_max"]), t("plausibility.amount-no-gdp")
    else:
        multiple = limits["amount_gdp_per_capita_multiple"]
        bound = multiple * reference[0]
        why = t("plausibility.amount-gdp", multiple=multiple, gdp=reference[0], year=str(reference[1]))
    problems: list[Problem] = []
    for table, columns in amount_columns().items():
        for column in columns:
            rows = _with_lines(structure, table, [column])
            if rows is None:
                continue
            usd = pl.col(column).cast(pl.Float64) / rate
            hits = rows.filter(usd > bound).sort("__line")
            head = [f"{lcu:,.6g} {currency} = US$ {lcu / rate:,.4g}" for lcu in hits[column][:MAX_EXAMPLES]]
            shown = pl.Series(head + [None] * (hits.height - len(head)), dtype=pl.String)
            problems += _rows(
                "amount-implausible",
                files[table],
                t(
                    "plausibility.amount-implausible",
                    bound=bound,
                    why=why,
                    rate=significant(rate, 10),
                    currency=currency,
                ),
                hits.with_columns(__shown=shown),
                column,
                pl.col("__shown"),
            )
    return problems


HEAD, SPOUSE, CHILD = 1, 2, 3  # relation_to_head codes (schemas/submission/persons.json)


def _household_ages(structure: Structure, file: str) -> list[Problem]:
    """Each son or daughter of the head at least the minimum gap younger than the head, and at most
    the maximum gap younger than the younger of head and spouse (the head alone without a spouse)."""
    persons = _with_lines(structure, "persons", ["household_number", "relation_to_head", "age"])
    if persons is None:
        return []
    limits = thresholds()
    least, most = limits["parent_child_min_age_gap"], limits["parent_child_max_age_gap"]
    relation = pl.col("relation_to_head")
    couple = persons.group_by("household_number").agg(
        head=pl.col("age").filter(relation == HEAD).max(),
        spouse=pl.col("age").filter(relation == SPOUSE).min(),
    )
    children = persons.filter(relation == CHILD).join(couple, on="household_number", how="inner")
    younger = pl.min_horizontal("head", "spouse")
    shown = pl.format(
        "{} (head {}, spouse {})",
        pl.col("age"),
        pl.col("head"),
        pl.col("spouse").cast(pl.String).fill_null("none"),
    )
    return _rows(
        "household-ages",
        file,
        t("plausibility.child-too-old", least=least),
        children.filter(pl.col("head") - pl.col("age") < least).sort("__line"),
        "age",
        shown,
    ) + _rows(
        "household-ages",
        file,
        t("plausibility.child-too-young", most=most),
        children.filter(younger - pl.col("age") > most).sort("__line"),
        "age",
        shown,
    )


def _year_left(meta: dict[str, Any], structure: Structure, file: str) -> list[Problem]:
    emigrants = _with_lines(structure, "emigrants", ["year_left", "age"])
    if emigrants is None:
        return []
    year, slack = int(meta["survey_year"]), thresholds()["year_left_birth_slack_years"]
    late = emigrants.filter(pl.col("year_left") > year)
    early = emigrants.filter(pl.col("year_left") < year - pl.col("age") - slack)
    return _rows(
        "year-left-after-survey",
        file,
        t("plausibility.left-after-survey", year=str(year)),
        late,
        "year_left",
        pl.col("year_left"),
    ) + _rows(
        "year-left-before-birth",
        file,
        t("plausibility.left-before-birth", year=str(year), slack=slack),
        early,
        "year_left",
        pl.format("{} (age {})", pl.col("year_left"), pl.col("age")),
    )


def _destinations(meta: dict[str, Any], structure: Structure, file: str) -> list[Problem]:
    """Every destination a known spelling (exact after folding), and not the surveyed country."""
    emigrants = _with_lines(structure, "emigrants", ["destination"])
    if emigrants is None:
        return []
    local = meta.get("destinations") if isinstance(meta.get("destinations"), dict) else {}
    mapped, unknown = match_destinations(emigrants["destination"].drop_nulls().unique().to_list(), local)
    iso3 = str(meta["country_iso3"])
    home = sorted(name for name, code in mapped.items() if code == iso3)
    problems = _rows(
        "unknown-code",
        file,
        t("plausibility.unknown-destination"),
        emigrants.filter(pl.col("destination").is_in(unknown)),
        "destination",
        pl.col("destination"),
    )
    problems += _rows(
        "destination-is-origin",
        file,
        t("plausibility.destination-is-origin", iso3=iso3),
        emigrants.filter(pl.col("destination").is_in(home)),
        "destination",
        pl.col("destination"),
    )
    return problems


# --- the entry point ------------------------------------------------------------------------------


def _raw_metadata(folder: Path) -> tuple[Any, dict[tuple[str, ...], int]]:
    """metadata.yaml as parsed YAML (before its schema check) and its key lines, or (None, {}).

    Read with the same limits as the metadata layer (core.io.load_user_yaml: size, depth, no
    aliases); what that refuses is reported there, not here."""
    path = folder / METADATA
    try:
        raw = load_user_yaml(path, METADATA)
        return raw, yaml_lines(path.read_text(encoding="utf-8-sig"))
    except (InputError, OSError, UnicodeDecodeError):
        return None, {}


def submission_rules(folder: Path, meta: dict[str, Any] | None, structure: Structure) -> list[Problem]:
    """Every plausibility, placeholder, formula, control-character and unexpected-file problem.

    `meta` is the checked metadata (None when it did not pass its schema: then only the rules on
    the metadata's raw text and on the tables' cells run)."""
    files = {name: text.file for name, text in structure.texts.items()}
    files = {
        name: files.get(name, f"{name}.csv") for name in ("communities", "households", "persons", "emigrants")
    }
    raw, lines = _raw_metadata(folder)
    placeholders = placeholder_problems(raw, METADATA, lines) if raw is not None else []
    problems = list(placeholders)
    if raw is not None:
        problems += metadata_text_problems(raw, METADATA, lines)
    for table in structure.texts.values():
        problems += cell_text_problems(table)
    problems += unexpected_files(folder)
    if meta is not None:
        rules = metadata_rules(meta, lines)
        rate_wrong = any(p.code == "exchange-rate" for p in rules)  # then every amount is off in US$
        problems += rules + table_rules(meta, structure, files, amounts=not rate_wrong)
    # A placeholder is the one problem of its key: not also an unknown country or a wrong year.
    covered = {p.field for p in placeholders}
    return [p for p in problems if p in placeholders or p.file != METADATA or p.field not in covered]
