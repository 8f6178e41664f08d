"""Model specifications, read from `models/specs/*.yaml` (one file per model, data not code).

A spec says what to regress on what, in which sample, with which design (weights, clusters,
fixed effects), and which seed finding and planted effect it is about. Estimation code never
hard-codes a variable: adding a benchmark is adding a YAML file.

Specs are checked when they are loaded, against the columns their model frame will really have
(the unit's table, the joined tables, and the derived variables the spec lists from
`models/derived.yaml`): a misspelt variable or a broken `sample` is an InputError naming the file
and the key, never a failure in the middle of estimation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

import polars as pl

from ippmd.core.config import schema_problems
from ippmd.core.errors import InputError, Problem
from ippmd.core.home import package_data
from ippmd.models.derived import (
    CATALOGUE_PATH,
    SPEC_ERROR,
    DerivedVariable,
    SqlCheckError,
    close_matches,
    load_catalogue,
    read_yaml,
    spec_problem,
    sql_dtype,
)
from ippmd.models.frames import JOIN_KEYS, UNITS, describe_frame, empty_frame

SPECS_DIR = package_data(__package__, "specs")
Scale = Literal["probability", "log"]
Estimator = Literal["ols", "poisson"]
SCALES: tuple[Scale, ...] = get_args(Scale)
ESTIMATORS: tuple[Estimator, ...] = get_args(Estimator)
DIRECTIONS = {"positive": 1.0, "negative": -1.0}
ALL_ROWS = "all"  # `sample: all` keeps every row


class SpecError(ValueError):
    """A spec that loaded but cannot be estimated on these data (found while estimating)."""


@dataclass(frozen=True)
class ModelSpec:
    """One benchmark regression: outcome ~ treatment(s) + controls | fixed effects."""

    id: str
    title: str
    finding: str
    unit: str
    outcome: str
    treatments: tuple[str, ...]
    sample: str
    # The multiplicity family it is declared in: Holm and Benjamini-Hochberg adjust the tests of
    # the specs of one family together (never across families).
    family: str
    scale: Scale = "probability"
    joins: tuple[str, ...] = ()
    derived: tuple[DerivedVariable, ...] = ()
    controls: tuple[str, ...] = ()
    fixed_effects: tuple[str, ...] = ("region_code",)
    cluster: str = "community_id"
    weights: str = "weight"
    planted: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    note: str = ""
    source: str = ""
    # The sign the seed finding gives each treatment's effect: rank 1 is the largest effect in
    # that direction (so a strong negative effect ranks first when the finding is negative).
    direction: dict[str, str] = field(default_factory=dict)
    # ols: weighted least squares (log-linear on the log scale, so zeros must be left out);
    # poisson: pyfixest fepois on the amount itself, keeping zeros (effects in log points).
    estimator: Estimator = "ols"

    @property
    def model_outcome(self) -> str:
        """The dependent variable as it enters the regression (log_<outcome> for a log-linear
        least-squares model; the amount itself for Poisson)."""
        return f"log_{self.outcome}" if self.scale == "log" and self.estimator == "ols" else self.outcome

    def sign(self, term: str) -> float:
        """+1 when the finding says the effect is positive, -1 when negative."""
        return DIRECTIONS[self.direction[term]]

    @property
    def keeps_all_rows(self) -> bool:
        return self.sample.strip().lower() == ALL_ROWS

    def label(self, name: str) -> str:
        """The spec's own label, else the derived variable's catalogue label, else the name."""
        if name in self.labels:
            return self.labels[name]
        derived = {d.name: d.label for d in self.derived}
        return derived.get(name, name.replace("_", " "))

    def columns(self) -> list[str]:
        """Every column the estimation frame needs (before derivation is applied)."""
        names = [self.outcome, *self.treatments, *self.controls, *self.fixed_effects]
        names += [self.cluster, self.weights, "country"]
        return list(dict.fromkeys(names))


def _names(raw: dict[str, Any], key: str, default: str | None = None) -> tuple[str, ...]:
    """A key holding one name or a list of names (the schema checked which), as a tuple."""
    value = raw.get(key, default)
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _mapping(raw: dict[str, Any], key: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in (raw.get(key) or {}).items()}


def _directions(
    value: Any, treatments: tuple[str, ...], origin: str, problems: list[Problem]
) -> dict[str, str]:
    """`direction: positive` for every treatment, or a mapping treatment -> positive/negative."""
    if isinstance(value, str):
        value = dict.fromkeys(treatments, value)
    out = {str(k): str(v) for k, v in value.items()}
    bad = {k: v for k, v in out.items() if v not in DIRECTIONS}
    if bad:
        problems.append(spec_problem(origin, "direction", "each must be 'positive' or 'negative'", repr(bad)))
    if set(out) != set(treatments):
        problems.append(
            spec_problem(
                origin, "direction", f"give one direction per treatment {list(treatments)}", repr(out)
            )
        )
    return out


def _resolve_derived(
    names: tuple[str, ...], unit: str, catalogue: Mapping[str, DerivedVariable], origin: str
) -> tuple[tuple[DerivedVariable, ...], list[Problem]]:
    """The catalogue entries a spec lists under `derived`; unknown or misplaced names refused."""
    resolved: list[DerivedVariable] = []
    problems: list[Problem] = []
    for name in dict.fromkeys(names):
        entry = catalogue.get(name)
        if entry is None:
            problems.append(
                spec_problem(
                    origin,
                    "derived",
                    f"unknown derived variable {name!r}: it is not in the catalogue ({CATALOGUE_PATH.name})",
                    name,
                    close_matches(name, list(catalogue)) or f"define it once in {CATALOGUE_PATH.name}",
                )
            )
        elif entry.table != unit:
            problems.append(
                spec_problem(
                    origin,
                    "derived",
                    f"{name!r} is computed on {entry.table}, this spec's unit is {unit}",
                    name,
                )
            )
        else:
            resolved.append(entry)
    if len(names) != len(set(names)):
        problems.append(spec_problem(origin, "derived", "a derived variable is listed twice"))
    return tuple(resolved), problems


def _check_frame(spec: ModelSpec, catalogue: Mapping[str, DerivedVariable], origin: str) -> list[Problem]:
    """The spec's variables and `sample` checked on its empty model frame (columns + derived)."""
    try:
        frame = empty_frame(spec.unit, spec.joins)
    except ValueError as exc:
        return [spec_problem(origin, "joins", str(exc), ", ".join(spec.joins))]
    frame_name = describe_frame(spec.unit, spec.joins)
    frame = frame.with_columns(d.expression() for d in spec.derived)
    problems: list[Problem] = []
    # Keys naming variables of the model frame, checked against its columns and derived names.
    values = {
        "outcome": (spec.outcome,),
        "treatment": spec.treatments,
        "controls": spec.controls,
        "fixed_effects": spec.fixed_effects,
        "cluster": (spec.cluster,),
        "weights": (spec.weights,),
    }
    for key, names in values.items():
        for name in names:
            if name in frame.columns:
                continue
            hint: str | None
            if name in catalogue:
                hint = f"{name!r} is a derived variable: list it under `derived`"
            else:
                hint = close_matches(name, frame.columns)
            problems.append(
                spec_problem(origin, key, f"unknown variable {name!r} (not in {frame_name})", name, hint)
            )
    used = {name for names in values.values() for name in names}
    if not spec.keeps_all_rows:
        try:
            dtype = sql_dtype(spec.sample, frame, frame_name)
        except SqlCheckError as exc:
            problems.append(spec_problem(origin, "sample", exc.message, spec.sample, exc.hint))
        else:
            used |= set(pl.sql_expr(spec.sample).meta.root_names())
            if dtype != pl.Boolean:
                problems.append(
                    spec_problem(
                        origin, "sample", f"must be a condition (true/false), it gives {dtype}", spec.sample
                    )
                )
    problems += [
        spec_problem(origin, "derived", f"{d.name!r} is listed but not used by the spec", d.name)
        for d in spec.derived
        if d.name not in used
    ]
    return problems


def parse_spec(
    raw: Any, origin: Path | str = "<spec>", catalogue: Mapping[str, DerivedVariable] | None = None
) -> ModelSpec:
    """Validate one spec mapping against its model frame; every problem found (each naming the
    file and the key at fault) raises one InputError."""
    origin = str(origin)
    catalogue = load_catalogue() if catalogue is None else catalogue
    derive = f"define derived variables in {CATALOGUE_PATH.name}; list their names under `derived`"
    problems = [  # the shape (keys, types); `derive:` was the old way to define a variable in a spec
        replace(p, hint=derive) if p.field == "derive" else p
        for p in schema_problems(raw, "model-spec", origin, SPEC_ERROR)
    ]
    if problems:
        raise InputError(problems)
    unit = raw["unit"]
    if unit not in UNITS:
        problems.append(spec_problem(origin, "unit", f"must be one of {', '.join(UNITS)}", str(unit)))
    scale = raw.get("scale", "probability")
    if scale not in SCALES:
        problems.append(spec_problem(origin, "scale", f"must be one of {', '.join(SCALES)}", str(scale)))
    joins = _names(raw, "joins")
    bad_joins = [j for j in joins if j not in JOIN_KEYS or j == unit]
    if bad_joins:
        problems.append(
            spec_problem(origin, "joins", f"cannot join {bad_joins} onto {unit}", ", ".join(joins))
        )
    treatments = _names(raw, "treatment")
    planted = _mapping(raw, "planted")
    stray = sorted(set(planted) - set(treatments))
    if stray:
        problems.append(spec_problem(origin, "planted", f"planted effects given for non-treatments {stray}"))
    derived, found = _resolve_derived(_names(raw, "derived"), unit, catalogue, origin)
    problems += found
    direction = _directions(raw.get("direction"), treatments, origin, problems)
    estimator = raw.get("estimator", "ols")
    if estimator not in ESTIMATORS:
        problems.append(
            spec_problem(origin, "estimator", f"must be one of {', '.join(ESTIMATORS)}", str(estimator))
        )
    if estimator == "poisson" and scale != "log":
        problems.append(spec_problem(origin, "estimator", "poisson needs scale: log (effects in log points)"))
    spec = ModelSpec(
        id=str(raw["id"]),
        title=str(raw["title"]),
        finding=str(raw["finding"]).strip(),
        unit=str(unit),
        outcome=str(raw["outcome"]),
        treatments=treatments,
        sample=str(raw["sample"]),
        family=str(raw["family"]),
        scale=scale,
        joins=joins,
        derived=derived,
        controls=_names(raw, "controls"),
        fixed_effects=_names(raw, "fixed_effects", "region_code"),
        cluster=str(raw.get("cluster", "community_id")),
        weights=str(raw.get("weights", "weight")),
        planted=planted,
        labels=_mapping(raw, "labels"),
        note=str(raw.get("note", "")).strip(),
        source=str(raw.get("source", "")).strip(),
        direction=direction,
        estimator=estimator,
    )
    if not any(p.field in ("unit", "joins") for p in problems):  # else the frame is unknown
        problems += _check_frame(spec, catalogue, origin)
    if problems:
        raise InputError(problems)
    return spec


@cache
def load_specs(directory: Path = SPECS_DIR, catalogue_path: Path = CATALOGUE_PATH) -> tuple[ModelSpec, ...]:
    """All specs, in file-name order (the files are numbered in the seed chapter's order),
    checked against the catalogue of derived variables; one InputError lists every problem."""
    catalogue = load_catalogue(catalogue_path)
    specs: list[ModelSpec] = []
    problems: list[Problem] = []
    first_file: dict[str, Path] = {}
    paths = sorted(Path(directory).glob("*.yaml"))
    if not paths:
        raise InputError([spec_problem(directory, None, "no spec files (*.yaml) in this folder")])
    for path in paths:
        try:
            raw = read_yaml(path)
        except InputError as exc:
            problems += exc.problems
            continue
        parsed = []
        for entry in raw if isinstance(raw, list) else [raw]:
            try:
                parsed.append(parse_spec(entry, path, catalogue))
            except InputError as exc:
                problems += exc.problems
        for spec in parsed:
            if spec.id in first_file:
                problems.append(
                    spec_problem(
                        path, "id", f"duplicate spec id, first used in {first_file[spec.id]}", spec.id
                    )
                )
            first_file.setdefault(spec.id, path)
        specs += parsed
    if problems:
        raise InputError(problems)
    return tuple(specs)


def get_spec(spec_id: str) -> ModelSpec:
    for spec in load_specs():
        if spec.id == spec_id:
            return spec
    raise KeyError(spec_id)
