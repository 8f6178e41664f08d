"""Unit tests of the harmonization steps: currency, education, regions, destination names."""

from __future__ import annotations

import polars as pl
import pytest

from ippmd.core.errors import InputError
from ippmd.harmonize.currency import to_usd
from ippmd.harmonize.destinations import UnknownCountryName, fold, to_iso3
from ippmd.harmonize.education import harmonize_education
from ippmd.harmonize.regions import harmonize_regions

LEVELS = [
    {"code": "0", "label": "Aucun", "isced": 0, "years": 0},
    {"code": "1", "label": "Primaire", "isced": 1, "years": 6},
    {"code": "2", "label": "Secondaire", "isced": 3, "years": 13},
]


def test_to_usd_divides_by_rate_and_rounds_to_cents() -> None:
    frame = pl.DataFrame({"amount": [4046.1, 1_000_000.0, None]})
    out = frame.select(usd=to_usd(pl.col("amount"), 4046.1))["usd"].to_list()
    assert out == [1.0, 247.15, None]


@pytest.mark.parametrize("rate", [0, -1.5])
def test_to_usd_refuses_non_positive_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        to_usd(pl.col("amount"), rate)


def test_education_maps_national_codes_to_isced_and_years() -> None:
    frame = pl.DataFrame({"education_code": ["2", "0", None, "1"]})
    out = harmonize_education(frame, LEVELS, code_column="education_code", file="persons.csv")
    assert out["education_level"].to_list() == [3, 0, None, 1]
    assert out["education_years"].to_list() == [13, 0, None, 6]


def test_unknown_education_code_fails_with_file_row_and_field() -> None:
    frame = pl.DataFrame({"education_code": ["1", "1", "9"]})
    with pytest.raises(InputError) as info:
        harmonize_education(frame, LEVELS, code_column="education_code", file="persons.csv")
    (problem,) = info.value.problems
    assert (problem.file, problem.row, problem.field, problem.value) == (
        "persons.csv",
        4,
        "education_code",
        "9",
    )


def test_regions_become_iso_3166_2() -> None:
    regions = [{"code": "12", "name": "Phnom Penh", "iso_3166_2": "KH-12"}]
    out = harmonize_regions(pl.DataFrame({"region_code": ["12"]}), regions, file="communities.csv")
    assert out.row(0, named=True) == {"region_code": "KH-12", "region_name": "Phnom Penh"}
    with pytest.raises(InputError, match="region code"):
        harmonize_regions(pl.DataFrame({"region_code": ["99"]}), regions, file="communities.csv")


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("États-Unis", "USA"),  # French, with accent
        ("Etats-Unis", "USA"),  # French, without
        ("Estados Unidos", "USA"),  # Spanish
        ("España", "ESP"),
        ("Costa de Marfil", "CIV"),
        ("Côte d'Ivoire", "CIV"),
        ("Arabie saoudite", "SAU"),
        ("Haití", "HTI"),  # accent folded, then country_converter
        ("Panamá", "PAN"),
        ("Russian Federation", "RUS"),  # English, country_converter
        ("  thailand ", "THA"),
    ],
)
def test_destination_names_to_iso3(name: str, iso3: str) -> None:
    assert to_iso3([name]) == {name: iso3}


def test_local_spellings_take_precedence() -> None:
    assert to_iso3(["Prateh Thai", "Thailand"], {"Prateh Thai": "THA"}) == {
        "Prateh Thai": "THA",
        "Thailand": "THA",
    }


def test_unknown_destination_fails_loudly_naming_every_unknown() -> None:
    with pytest.raises(UnknownCountryName) as info:
        to_iso3(["France", "Atlantis", "Xyzzyland"])
    assert info.value.names == ["Atlantis", "Xyzzyland"]


def test_fold_removes_accents_case_and_spacing() -> None:
    assert fold("  Côte  D’Ivoire ") == "cote d'ivoire"


def test_iso3166_table_equals_country_converter() -> None:
    import country_converter as coco

    from ippmd.core.metadata import iso3166

    data = coco.CountryConverter().data
    expected = {r.ISO3: (r.ISO2, r.name_short) for r in data.itertuples()}
    assert iso3166() == expected
