"""One set of rules from submission to package: `ippmd validate` holds a submission to every rule
`ippmd check` holds the published package to, through the same functions over the same declared
schemas and limits, so a package built from a valid submission never breaks its own schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

import ippmd.quality.engine_gx as engine_gx
import ippmd.quality.engine_polars as engine_polars
import ippmd.quality.validate as validate
from ippmd.build import build
from ippmd.core.errors import Problem
from ippmd.core.i18n import t
from ippmd.harmonize.pipeline import harmonize
from ippmd.harmonize.submission import Submission
from ippmd.quality.expectations import Prepared
from ippmd.quality.structural import MAX_CELL_BYTES, Structure, check_tables
from ippmd.quality.validate import (
    PACKAGE_ONLY_LAYERS,
    PACKAGE_ONLY_TABLES,
    PACKAGE_RULES,
    check_package,
    deduplicate,
    package_rule_problems,
    validate_submission,
)
from tests.conftest import frictionless_validate, set_cell

COUNTRY = "KHM"
IPPMD = Path(sys.executable).with_name("ippmd")


def _spy_rules(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Structure], list[tuple[str, Any]]]:
    """Record every structural check (its Structure, with the rules applied per table) and every
    expectation prepared for an engine, whoever calls them."""
    structures: list[Structure] = []
    checks: list[tuple[str, Any]] = []
    real_tables = validate.check_tables

    def tables_spy(*args: Any, **kwargs: Any) -> Structure:
        structures.append(real_tables(*args, **kwargs))
        return structures[-1]

    monkeypatch.setattr(validate, "check_tables", tables_spy)
    for module in (engine_polars, engine_gx):
        real_prepare = module.prepare

        def prepare_spy(*args: Any, _real: Callable[..., list[Prepared]] = real_prepare, **kw: Any) -> Any:
            prepared = _real(*args, **kw)
            checks.extend((p.resource, c) for p in prepared for c in p.checks)
            return prepared

        monkeypatch.setattr(module, "prepare", prepare_spy)
    return structures, checks


def _identities(checks: list[tuple[str, Any]], country: str) -> dict[str, set[str]]:
    """Each prepared expectation as text, by resource (per-country rules of other countries left out)."""
    found: dict[str, set[str]] = {}
    for resource, check in checks:
        if check.meta.get("country") not in (None, country):
            continue
        text = json.dumps([check.type, check.kwargs, check.where], sort_keys=True, default=str)
        found.setdefault(resource, set()).add(text)
    return found


def test_validate_applies_every_rule_that_check_applies(
    package_dir: Path, submission: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enumerated from what check_package runs (its layers, the rules its structural layer applied
    to each table, the expectations it prepared), never from a hand list: each must be applied by
    validate to the tables the submission would publish, or be declared package-only with a reason."""
    structures, checks = _spy_rules(monkeypatch)
    package = check_package(package_dir, engine="polars")
    assert package.valid, package.problems[:3]
    package_structure = structures[-1]
    package_checks = _identities(checks, COUNTRY)
    structures.clear()
    checks.clear()
    report = validate_submission(submission)
    assert report.valid, report.problems[:3]
    # Every layer of check is one validate runs, or declared package-only.
    kinds = {layer.split(" (")[0] for layer in package.layers} - set(PACKAGE_ONLY_LAYERS)
    assert kinds == {"structure", "expectations"}, f"a new layer of check_package: {kinds}"
    assert PACKAGE_RULES in report.layers and any(x.startswith("expectations") for x in report.layers)
    # The structural rules: the same, table by table (the last structural check validate ran is
    # the package rules layer's, on the CSV the package's writer makes of the harmonized tables).
    ours = structures[-1].rules
    theirs = {n: r for n, r in package_structure.rules.items() if n not in PACKAGE_ONLY_TABLES}
    assert set(ours) == set(theirs)
    for name, rules in theirs.items():
        assert rules, name
        assert ours[name] == rules, name
    # The expectations: each one check prepared for this country's tables, validate prepared too.
    validated = _identities(checks, COUNTRY)
    for name, expected in package_checks.items():
        if name in PACKAGE_ONLY_TABLES:
            continue
        missing = expected - validated.get(name, set())
        assert not missing, f"{name}: {len(missing)} rules check applies and validate does not: {missing}"
    assert set(package_checks) - set(PACKAGE_ONLY_TABLES) == set(validated)


def _meta(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        path = folder / "metadata.yaml"
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(meta)
        path.write_text(yaml.safe_dump(meta, allow_unicode=True, width=10**7), encoding="utf-8")

    return run


def _region(key: str, value: str) -> Callable[[Path], None]:
    return _meta(lambda meta: meta["regions"]["list"][0].__setitem__(key, value))


def _cell(table: str, line: int, column: str, value: str) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        set_cell(folder, table, line, column, value)

    return run


# Hostile submissions: each is refused by validate at the one place named (file, field), or (None)
# admitted into a package that `ippmd check` and `frictionless validate` then pass.
CORPUS = [
    pytest.param(_region("name", "A" * 1_000_000), ("metadata.yaml", "regions.list.0.name"), id="region-1MB"),
    pytest.param(  # quoted in the CSV, and past the CSV parser's own limit on a field
        _region("name", "A, " * 200_000), ("metadata.yaml", "regions.list.0.name"), id="region-600kB-quoted"
    ),
    pytest.param(_region("name", "NIU"), ("metadata.yaml", "regions.list.0.name"), id="region-NIU"),
    pytest.param(
        _meta(lambda m: m.__setitem__("country_name", "NIU")),
        ("metadata.yaml", "country_name"),
        id="country-NIU",
    ),
    pytest.param(
        _meta(lambda m: m.__setitem__("country_name", "C" * 2 * MAX_CELL_BYTES)),
        ("metadata.yaml", "country_name"),
        id="country-20kB",
    ),
    pytest.param(  # the schema of metadata.yaml allows 30 years, the harmonized one 25
        _meta(lambda m: m["education_levels"][8].__setitem__("years", 28)),
        ("metadata.yaml", "education_levels.8.years"),
        id="schooling-28-years",
    ),
    pytest.param(  # named at its own key, not "regions has the wrong shape" (the schema's oneOf)
        _region("iso_3166_2", "kh-2"),
        ("metadata.yaml", "regions.list.0.iso_3166_2"),
        id="region-iso-lowercase",
    ),
    pytest.param(  # two regions under one code would be one stratum with two names in the package
        _meta(
            lambda m: m["regions"]["list"][1].__setitem__("iso_3166_2", m["regions"]["list"][0]["iso_3166_2"])
        ),
        ("metadata.yaml", "regions.list.1.iso_3166_2"),
        id="region-code-twice",
    ),
    pytest.param(  # refused by the metadata's own size rule (quality/submission_checks)
        _meta(lambda m: m["exchange_rate"].__setitem__("source", "S" * 2 * MAX_CELL_BYTES)),
        ("metadata.yaml", "exchange_rate.source"),
        id="rate-source-20kB",
    ),
    pytest.param(  # just under the limit: admitted, and the package still passes check
        _meta(lambda m: m["exchange_rate"].__setitem__("source", "S" * (MAX_CELL_BYTES - 1000))),
        None,
        id="rate-source-9kB",
        marks=pytest.mark.slow,
    ),
    pytest.param(  # NIU is the package's not-in-universe code: a value NIU would be read as missing
        _cell("emigrants", 2, "destination", "NIU"), ("emigrants.csv", "destination"), id="destination-NIU"
    ),
    pytest.param(  # refused by the plausibility bound on amounts (quality/plausibility.yaml)
        _cell("households", 2, "remittances_amount", "1e308"),
        ("households.csv", "remittances_amount"),
        id="remittances-1e308",
    ),
]


@pytest.fixture(scope="module")
def small_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rules-pkg")
    build(out, ["KHM", "PHL"], expectations=False)
    return out


@pytest.mark.parametrize(("plant", "refused_at"), CORPUS)
def test_a_hostile_submission_is_refused_or_makes_a_package_that_passes_check(
    plant: Callable[[Path], None],
    refused_at: tuple[str, str] | None,
    submission: Path,
    small_package: Path,
    tmp_path: Path,
) -> None:
    folder = Path(shutil.copytree(submission, tmp_path / "sub"))
    plant(folder)
    report = validate_submission(folder)
    if refused_at is not None:
        assert not report.valid
        assert [(p.file, p.field) for p in report.problems] == [refused_at], report.problems
        return
    assert report.valid, report.problems[:3]
    package = Path(shutil.copytree(small_package, tmp_path / "pkg"))
    admitted = subprocess.run(
        [str(IPPMD), "admit", str(folder), "--out", str(package), "--engine", "polars"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert admitted.returncode == 0, admitted.stdout + admitted.stderr
    checked = subprocess.run(
        [str(IPPMD), "check", "--package", str(package)], capture_output=True, text=True, timeout=600
    )
    assert checked.returncode == 0, checked.stdout
    assert frictionless_validate(package)["valid"]


def _harmonized(folder: Path) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame], Submission]:
    from ippmd.harmonize.submission import read_submission

    read = read_submission(folder)
    sub = replace(read, files={name: f"{name}.csv" for name in read.tables})  # as validate names them
    kept = {
        name: frame.with_columns(__line=pl.int_range(2, frame.height + 2))
        for name, frame in sub.tables.items()
    }
    return harmonize(sub), kept, sub


def test_a_published_cell_is_reported_at_its_submitted_line_and_column(submission: Path) -> None:
    """A harmonized value that breaks the package's schema is named at the submitted cell it comes
    from (households.csv, its line, remittances_amount), not at the package's file."""
    tables, kept, sub = _harmonized(submission)
    households = tables["households"]
    row = 7
    tables["households"] = households.with_columns(
        remittances_usd=pl.when(pl.int_range(households.height) == row)
        .then(float("inf"))
        .otherwise(pl.col("remittances_usd"))
    )
    problems, broken = package_rule_problems(tables, kept, sub)
    assert [(p.file, p.row, p.field, p.code) for p in problems] == [
        ("households.csv", row + 2, "remittances_amount", "type-error")
    ]
    assert ("households", "remittances_usd") in broken
    assert problems[0].context is not None and households["household_id"][row] in problems[0].context


def test_check_tables_reads_a_table_from_bytes_as_from_its_file(tmp_path: Path) -> None:
    """The package rules layer hands check_tables the CSV's bytes; a file with the same bytes gives
    the same problems and rules. A cell too large or a missing-value code in a required column is
    one problem, not also 'required value is empty'."""
    schema = {
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"required": True}},
            {"name": "name", "type": "string", "constraints": {"required": True}},
        ],
        "missingValues": ["", "NIU"],
    }
    data = f"id,name\n1,{'x' * (MAX_CELL_BYTES + 1)}\n2,NIU\n3,\n4,ok\n".encode()
    (tmp_path / "t.csv").write_bytes(data)
    from_bytes = check_tables({"t": lambda: data}, {"t": schema}, {"t": "t.csv"}, max_rows=None)
    from_file = check_tables({"t": tmp_path / "t.csv"}, {"t": schema}, {"t": "t.csv"}, max_rows=None)
    assert from_bytes.problems == from_file.problems and from_bytes.rules == from_file.rules
    assert [(p.row, p.code, p.message) for p in from_bytes.problems] == [
        (2, "field-too-large", f"cell longer than {MAX_CELL_BYTES:,} bytes"),
        (4, "constraint-error", "required value is empty"),
        (3, "constraint-error", "required value is a code this table reads as missing"),
    ]


def test_a_defect_reported_at_its_metadata_key_is_not_reported_again_as_published() -> None:
    """When an earlier layer names a metadata.yaml key (written regions.list[0].name or
    regions.list.0.name), the package rules layer's problem at that key is the same defect."""
    earlier = Problem(
        "metadata.yaml", "value is too long", field="regions.list[0].name", code="field-too-large"
    )
    published = Problem(
        "metadata.yaml",
        "cell longer than 10000 bytes, once published",
        field="regions.list.0.name",
        code="field-too-large",
        context=t("validate.published-line", file="data/communities.csv", line=3),
    )
    other = Problem(
        "metadata.yaml",
        "x, once published",
        field="country_name",
        code="constraint-error",
        context=t("validate.published-line", file="data/countries.csv", line=2),
    )
    assert deduplicate([earlier, published, other]) == [earlier, other]
