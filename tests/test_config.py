"""ippmd's own YAML files, one JSON Schema per family (schemas/config/), checked when loaded.

For each family a broken copy (a key missing, a value of the wrong type, a key unknown) is refused
by the family's real loader with a message naming the file and the key path, never a traceback.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ippmd.core.config import key_path, load_checked, read_yaml, schema_file, schema_problems
from ippmd.core.errors import InputError, UsageError
from ippmd.core.limits import load_limits
from ippmd.models.derived import load_catalogue
from ippmd.models.inference import load_settings
from ippmd.models.spec import load_specs
from ippmd.quality.plausibility import load_thresholds

ROOT = Path(__file__).resolve().parents[1]
Edit = Callable[[Any], None]

# family -> the shipped files it covers
FAMILIES: dict[str, list[Path]] = {
    "limits": [ROOT / "core/limits.yaml"],
    "plausibility": [ROOT / "quality/plausibility.yaml"],
    "inference": [ROOT / "models/inference.yaml"],
    "derived": [ROOT / "models/derived.yaml"],
    "suite": [
        p
        for p in sorted((ROOT / "quality/suites").glob("*.yaml"))
        if p.stem not in ("distribution", "schema_rules")
    ],
    "distribution": [ROOT / "quality/suites/distribution.yaml"],
    "schema-rules": [ROOT / "quality/suites/schema_rules.yaml"],
    "identifiers": [ROOT / "quality/identifiers.yaml"],
    "model-spec": sorted((ROOT / "models/specs").glob("*.yaml")),
    "translations": sorted((ROOT / "core/translations").glob("*/*.yaml")),
    # not a YAML family: what ippmd.package.read holds a built descriptor to (tests/test_read.py)
    "built-package": [ROOT / "datapackage.json"],
}


def test_every_shipped_file_passes_its_schema() -> None:
    for family, paths in FAMILIES.items():
        assert paths, family
        for path in paths:
            raw = read_yaml(path)
            for entry in raw if family == "model-spec" and isinstance(raw, list) else [raw]:
                assert schema_problems(entry, family, path) == [], path


def test_every_schema_is_shipped_and_used() -> None:
    """Each schema file has its family here (so its files are tested) and ships as package data."""
    folder = schema_file("limits").parent
    assert {p.name.removesuffix(".schema.json") for p in folder.glob("*.schema.json")} == set(FAMILIES)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "config/*.json" in config["tool"]["setuptools"]["package-data"]["ippmd.schemas"]
    for path in folder.glob("*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$id"] == f"urn:ippmd:config:{path.name.removesuffix('.schema.json')}"


def _broken(tmp_path: Path, source: Path, edit: Edit) -> Path:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / source.name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _delete(*keys: str | int) -> Edit:
    def edit(data: Any) -> None:
        for key in keys[:-1]:
            data = data[key]
        del data[keys[-1]]

    return edit


def _set(value: Any, *keys: str | int) -> Edit:
    def edit(data: Any) -> None:
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return edit


LIMITS, INFERENCE, DISTRIBUTION = (
    "core/limits.yaml",
    "models/inference.yaml",
    "quality/suites/distribution.yaml",
)

# Install files: a broken one is a UsageError (exit 2), one line `file: key: message` per problem.
INSTALL_CASES = [
    (load_limits, LIMITS, _delete("rows", "reason"), "rows.reason: missing required key"),
    (
        load_limits,
        "core/limits.yaml",
        _set("many", "rows", "value"),
        "rows.value: must be a positive integer",
    ),
    (
        load_thresholds,
        "quality/plausibility.yaml",
        _delete("min_households", "value"),
        "min_households.value: missing required key",
    ),
    (
        load_thresholds,
        "quality/plausibility.yaml",
        _set([1990], "survey_year_earliest", "value"),
        "survey_year_earliest.value: must be an integer",
    ),
    (
        load_settings,
        "models/inference.yaml",
        _delete("bootstrap", "draws"),
        "bootstrap.draws: missing required key",
    ),
    (
        load_settings,
        "models/inference.yaml",
        _set("many", "ranks", "draws"),
        "ranks.draws: must be a positive integer",
    ),
    (load_settings, INFERENCE, _set(True, "level"), "level: must be a confidence level"),
    (load_settings, INFERENCE, _set("PM", "random_effects", "tau2"), "random_effects.tau2: must be REML"),
    (
        load_settings,
        INFERENCE,
        _set([1, 2], "random_effects", "reml", "step_adjustments"),
        "random_effects.reml.step_adjustments[1]: must be a number in (0, 1]",
    ),
    (load_settings, INFERENCE, _set(1, "bootstrap", "reps"), "bootstrap.reps: unknown key"),
    (
        load_settings,
        "models/inference.yaml",
        _set("HC1", "few_cluster_method", "community_level"),
        "few_cluster_method.community_level: must be WCR or CR2",
    ),
]


@pytest.mark.parametrize(("loader", "shipped", "edit", "says"), INSTALL_CASES)
def test_a_broken_install_file_names_file_and_key(
    tmp_path: Path, loader: Callable[[Path], Any], shipped: str, edit: Edit, says: str
) -> None:
    path = _broken(tmp_path, ROOT / shipped, edit)
    with pytest.raises(UsageError) as raised:
        loader(path)
    assert f"{path}: {says}" in str(raised.value)


def test_the_catalogue_of_derived_variables_names_file_and_key(tmp_path: Path) -> None:
    for edit, field, says in [
        (_delete("derived", 0, "sql"), "derived.age_band_15_plus.sql", "missing required key"),
        (_set(3, "derived", 1, "label"), "derived.age_band_15_64.label", "must be text"),
        (_set("x", "derived", 2, "labl"), "derived.age_years.labl", "unknown key"),
        (_set({"a": 1}, "derived"), "derived", "is not of type 'array'"),
    ]:
        path = _broken(tmp_path, ROOT / "models/derived.yaml", edit)
        load_catalogue.cache_clear()
        with pytest.raises(InputError) as raised:
            load_catalogue(path)
        (problem,) = raised.value.problems
        assert (problem.file, problem.field, problem.code) == (str(path), field, "spec-error")
        assert says in problem.message
    load_catalogue.cache_clear()


def test_a_spec_file_names_file_and_key(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    for source in sorted((ROOT / "models/specs").glob("*.yaml")):
        (specs / source.name).write_bytes(source.read_bytes())
    first = sorted(specs.glob("*.yaml"))[0]
    data = yaml.safe_load(first.read_text(encoding="utf-8"))
    del data["outcome"]
    data["controls"] = {"age": 1}
    first.write_text(yaml.safe_dump(data), encoding="utf-8")
    load_specs.cache_clear()
    with pytest.raises(InputError) as raised:
        load_specs(specs)
    load_specs.cache_clear()
    found = {(p.file, p.field): p.message for p in raised.value.problems}
    assert found == {
        (str(first), "outcome"): "missing required key",
        (str(first), "controls"): "must be a name or a list of names",
    }


@pytest.mark.parametrize(
    ("family", "shipped", "edit", "field", "says"),
    [
        ("distribution", DISTRIBUTION, _delete("default_tolerance"), "default_tolerance", "missing"),
        (
            "distribution",
            DISTRIBUTION,
            _set("x", "targets", "bank_account", "tolerance"),
            "targets.bank_account.tolerance",
            "must be a share",
        ),
        (
            "schema-rules",
            "quality/suites/schema_rules.yaml",
            _set("x", "enum", "type"),
            "enum.type",
            "supported",
        ),
        (
            "identifiers",
            "quality/identifiers.yaml",
            _set("e-mail", "column_words", "e-mail"),
            "column_words.e-mail",
            "is not of type 'array'",
        ),
        ("suite", "quality/suites/households.yaml", _delete("key"), "key", "missing required key"),
        (
            "suite",
            "quality/suites/households.yaml",
            _set(5, "derived_columns", "members_listed", "by"),
            "derived_columns.members_listed.by",
            "must be a column name",
        ),
    ],
)
def test_suites_and_identifiers_name_file_and_key(
    tmp_path: Path, family: str, shipped: str, edit: Edit, field: str, says: str
) -> None:
    path = _broken(tmp_path, ROOT / shipped, edit)
    with pytest.raises(InputError) as raised:
        load_checked(path, family)
    (problem,) = raised.value.problems
    assert (problem.file, problem.field) == (str(path), field)
    assert says in problem.message


def test_a_key_given_twice_or_broken_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "inference.yaml"
    path.write_text("level: 0.95\nssc: {}\nlevel: 0.9\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_checked(path, "inference")
    (problem,) = raised.value.problems
    assert (problem.field, problem.row) == ("level", 3)
    assert "given twice (lines 1 and 3)" in problem.message
    path.write_text("level: [0.95\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML") as raised:
        load_checked(path, "inference")
    with pytest.raises(UsageError, match=f"{path}: not valid YAML"):
        load_settings(path)


def test_key_paths_name_list_items_by_their_name() -> None:
    value = {"derived": [{"name": "female", "sql": 1}, {"sql": 2}], "a": {"b": [0, [1]]}}
    assert key_path(value, ["derived", 0, "sql"]) == "derived.female.sql"
    assert key_path(value, ["derived", 1, "sql"]) == "derived[1].sql"
    assert key_path(value, ["a", "b", 1, 0]) == "a.b[1][0]"
    assert key_path(value, []) == ""
