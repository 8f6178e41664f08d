"""Harmonize one country's submission into the package's tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.core.metadata import region_list
from ippmd.core.schema import conform, harmonized_schema
from ippmd.harmonize.currency import to_usd
from ippmd.harmonize.derived import household_flags
from ippmd.harmonize.destinations import UnknownCountryName, to_iso3
from ippmd.harmonize.education import harmonize_education
from ippmd.harmonize.regions import harmonize_regions
from ippmd.harmonize.submission import Submission

MONEY = {  # submission column -> harmonized stem (<stem>_lcu, <stem>_usd)
    "agricultural_assets": "agricultural_assets",
    "remittances_amount": "remittances",
    "education_expenditure": "education_expenditure",
}
# Item-nonresponse flags: submission value column -> (its flag, the harmonized flag), by table.
NONRESPONSE = {
    "households": {
        "agricultural_assets": ("agricultural_assets_nonresponse", "agricultural_assets_nonresponse"),
        "remittances_amount": ("remittances_amount_nonresponse", "remittances_nonresponse"),
        "education_expenditure": ("education_expenditure_nonresponse", "education_expenditure_nonresponse"),
    },
    "persons": {"years_abroad": ("years_abroad_nonresponse", "years_abroad_nonresponse")},
    "emigrants": {
        "age": ("age_nonresponse", "age_nonresponse"),
        "year_left": ("year_left_nonresponse", "year_left_nonresponse"),
    },
}
ANSWERED = 0
# What every member and emigrant row inherits from its household: the survey design.
DESIGN = ("community_id", "region_code", "weight")


def response_status(table: str) -> list[pl.Expr]:
    """Harmonized flags: the submission's reason (1 don't know, 2 refused), 0 where answered,
    null where neither (outside the universe, where the value is blank too: NIU; or a blank
    whose reason the submission did not give: unknown)."""
    return [
        pl.when(pl.col(flag).is_not_null())
        .then(pl.col(flag))
        .when(pl.col(value).is_not_null())
        .then(pl.lit(ANSWERED))
        .otherwise(None)
        .cast(pl.Int64)
        .alias(harmonized)
        for value, (flag, harmonized) in NONRESPONSE[table].items()
    ]


def _id(prefix: pl.Expr | str, letter: str, number: str, width: int) -> pl.Expr:
    return pl.format("{}-{}{}", prefix, pl.lit(letter), pl.col(number).cast(pl.String).str.zfill(width))


def _width(frame: pl.DataFrame, column: str, minimum: int) -> int:
    """Digits for zero-padded ids, wide enough that ids sort in number order at any scale."""
    largest = frame[column].max()
    return max(minimum, len(str(largest)) if largest is not None else minimum)


def _check_keys(frame: pl.DataFrame, keys: list[str], file: str) -> None:
    dup = frame.with_row_index("__row").filter(pl.struct(keys).is_duplicated())
    if dup.height:
        raise InputError(
            [
                Problem(
                    file,
                    "duplicate key",
                    row=int(r[0]) + 2,
                    field="+".join(keys),
                    value="/".join(str(v) for v in r[1:]),
                    code="primary-key",
                )
                for r in dup.select("__row", *keys).head(20).iter_rows()
            ]
        )


def _check_reference(
    child: pl.DataFrame, parent: pl.DataFrame, key: str, file: str, parent_file: str
) -> None:
    orphans = child.with_row_index("__row").join(parent.select(key), on=key, how="anti")
    if orphans.height:
        raise InputError(
            [
                Problem(
                    file,
                    f"no such {key} in {parent_file}",
                    row=int(r) + 2,
                    field=key,
                    value=str(v),
                    code="foreign-key",
                )
                for r, v in orphans.select("__row", key).head(20).iter_rows()
            ]
        )


def harmonize(sub: Submission) -> dict[str, pl.DataFrame]:
    """The harmonized communities, households, persons and emigrants of one country."""
    _check_links(sub)
    widths = IdWidths(
        community=_width(sub.tables["communities"], "community_number", 3),
        household=_width(sub.tables["households"], "household_number", 5),
    )
    communities = _communities(sub, widths)
    households = _households(sub, widths, communities)
    persons = _persons(sub, widths)
    emigrants = _emigrants(sub, widths)
    households = household_flags(households, persons, emigrants)
    design = households.select("household_id", *DESIGN)
    persons = persons.join(design, on="household_id", how="left", maintain_order="left")
    emigrants = emigrants.join(design, on="household_id", how="left", maintain_order="left")
    return {
        "communities": conform(communities, harmonized_schema("communities")),
        "households": conform(households, harmonized_schema("households")),
        "persons": conform(persons, harmonized_schema("persons")),
        "emigrants": conform(emigrants, harmonized_schema("emigrants")),
    }


@dataclass(frozen=True)
class IdWidths:
    """Digits of the community and household numbers in the ids (at least 3 and 5; wider when
    a submission's numbers are longer), so that ids sort as numbers do."""

    community: int
    household: int


def _check_links(sub: Submission) -> None:
    """Each table's key is unique and every row's parent exists (named problems, exit 1)."""
    t, f = sub.tables, sub.files
    _check_keys(t["communities"], ["community_number"], f["communities"])
    _check_keys(t["households"], ["household_number"], f["households"])
    _check_keys(t["persons"], ["household_number", "line_number"], f["persons"])
    _check_keys(t["emigrants"], ["household_number", "emigrant_number"], f["emigrants"])
    _check_reference(t["households"], t["communities"], "community_number", f["households"], f["communities"])
    _check_reference(t["persons"], t["households"], "household_number", f["persons"], f["households"])
    _check_reference(t["emigrants"], t["households"], "household_number", f["emigrants"], f["households"])


def _communities(sub: Submission, widths: IdWidths) -> pl.DataFrame:
    frame = harmonize_regions(
        sub.tables["communities"], region_list(sub.metadata), file=sub.files["communities"]
    )
    return frame.with_columns(
        community_id=_id(pl.lit(sub.iso3), "C", "community_number", widths.community),
        country=pl.lit(sub.iso3),
        weight=pl.lit(1.0),  # communities are analysed unweighted, as in the reports
    )


def _households(sub: Submission, widths: IdWidths, communities: pl.DataFrame) -> pl.DataFrame:
    """Households with ids, money in local currency and USD, response status, and their
    community's region and urban flag."""
    rate = float(sub.metadata["exchange_rate"]["lcu_per_usd"])
    return (
        sub.tables["households"]
        .with_columns(
            household_id=_id(pl.lit(sub.iso3), "H", "household_number", widths.household),
            community_id=_id(pl.lit(sub.iso3), "C", "community_number", widths.community),
            country=pl.lit(sub.iso3),
            **{f"{stem}_lcu": pl.col(col) for col, stem in MONEY.items()},
            **{f"{stem}_usd": to_usd(pl.col(col), rate) for col, stem in MONEY.items()},
        )
        .with_columns(response_status("households"))
        .join(
            communities.select("community_id", "region_code", "urban"),
            on="community_id",
            how="left",
            maintain_order="left",
        )
    )


def _persons(sub: Submission, widths: IdWidths) -> pl.DataFrame:
    persons = harmonize_education(
        sub.tables["persons"],
        sub.metadata["education_levels"],
        code_column="education_code",
        file=sub.files["persons"],
    )
    line_width = _width(sub.tables["persons"], "line_number", 2)
    return persons.with_columns(
        household_id=_id(pl.lit(sub.iso3), "H", "household_number", widths.household),
        country=pl.lit(sub.iso3),
        src_education_code=pl.col("education_code"),
    ).with_columns(
        *response_status("persons"),
        person_id=pl.format(
            "{}-{}", pl.col("household_id"), pl.col("line_number").cast(pl.String).str.zfill(line_width)
        ),
    )


def _emigrants(sub: Submission, widths: IdWidths) -> pl.DataFrame:
    emigrants = harmonize_education(
        sub.tables["emigrants"],
        sub.metadata["education_levels"],
        code_column="education_code",
        file=sub.files["emigrants"],
    )
    iso = _destination_codes(sub, emigrants)
    number_width = _width(sub.tables["emigrants"], "emigrant_number", 1)
    return emigrants.with_columns(
        household_id=_id(pl.lit(sub.iso3), "H", "household_number", widths.household),
        country=pl.lit(sub.iso3),
        src_education_code=pl.col("education_code"),
        src_destination_name=pl.col("destination"),
        destination=pl.col("destination").replace_strict(iso, default=None),
    ).with_columns(
        *response_status("emigrants"),
        emigrant_id=pl.format(
            "{}-E{}",
            pl.col("household_id"),
            pl.col("emigrant_number").cast(pl.String).str.zfill(number_width),
        ),
    )


def _destination_codes(sub: Submission, emigrants: pl.DataFrame) -> dict[str, str]:
    """Destination name -> ISO3 (country_converter and the submission's own spellings); an
    unknown name is a problem naming its rows (at most 20)."""
    try:
        return to_iso3(emigrants["destination"].drop_nulls().to_list(), sub.metadata.get("destinations"))
    except UnknownCountryName as exc:
        rows = emigrants.with_row_index("__row").filter(pl.col("destination").is_in(exc.names))
        raise InputError(
            [
                Problem(
                    sub.files["emigrants"],
                    "unknown destination country name: add it to destinations in "
                    "metadata.yaml with its ISO3 code",
                    row=int(r) + 2,
                    field="destination",
                    value=v,
                    code="unknown-code",
                )
                for r, v in rows.select("__row", "destination").head(20).iter_rows()
            ]
        ) from exc


def country_row(
    sub: Submission,
    tables: dict[str, pl.DataFrame],
    published: dict[str, Any] | None,
    published_source: str | None,
) -> pl.DataFrame:
    """The `countries` row: metadata, exchange rate used, origin of the data, sizes."""
    meta = sub.metadata
    rate = meta["exchange_rate"]
    origin = meta.get("data_origin", "survey")
    published = published or {}

    def pub(key: str) -> int | None:
        """A published sample size; assumed ones are not published and stay empty."""
        entry = published.get(key)
        return int(entry["value"]) if entry and not entry.get("assumed") else None

    row = {
        "iso3": sub.iso3,
        "name": meta["country_name"],
        "data_origin": origin,
        "synthetic_seed": meta.get("synthetic", {}).get("seed") if origin == "synthetic" else None,
        "currency": meta["currency"],
        "exchange_rate_lcu_per_usd": float(rate["lcu_per_usd"]),
        "exchange_rate_year": int(rate.get("year", meta["survey_year"])),
        "exchange_rate_source": rate.get("source_citation") or rate.get("source") or "assumed",
        "survey_year": int(meta["survey_year"]),
        "fieldwork_start": (meta.get("fieldwork") or {}).get("start"),
        "fieldwork_end": (meta.get("fieldwork") or {}).get("end"),
        "households_published": pub("households"),
        "persons_published": pub("persons"),
        "communities_published": pub("communities"),
        "published_source": published_source,
        "communities": tables["communities"].height,
        "households": tables["households"].height,
        "persons": tables["persons"].height,
        "emigrants": tables["emigrants"].height,
    }
    schema = harmonized_schema("countries")
    return conform(pl.DataFrame([row], infer_schema_length=None), schema)
