"""Model specifications, read from `models/specs/*.yaml` (one file per model, data not code).

A spec says what to regress on what, in which sample, with which design (weights, clusters,
fixed effects), and which seed finding and planted effect it is about. Estimation code never
hard-codes a variable: adding a benchmark is adding a YAML file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from ippmd.core.home import package_data

SPECS_DIR = package_data(__package__, "specs")
UNITS = ("persons", "households", "communities")
# What each unit can be joined with, and on which key (persons -> households -> communities).
JOIN_KEYS = {"households": "household_id", "communities": "community_id"}
Scale = Literal["probability", "log"]


class SpecError(ValueError):
    """A spec file that cannot be estimated as written."""


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
    scale: Scale = "probability"
    joins: tuple[str, ...] = ()
    derive: dict[str, str] = field(default_factory=dict)
    controls: tuple[str, ...] = ()
    fixed_effects: tuple[str, ...] = ("region_code",)
    cluster: str = "community_id"
    weights: str = "weight"
    planted: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    note: str = ""
    source: str = ""

    @property
    def model_outcome(self) -> str:
        """The dependent variable as it enters the regression (log_<outcome> on the log scale)."""
        return f"log_{self.outcome}" if self.scale == "log" else self.outcome

    def label(self, name: str) -> str:
        return self.labels.get(name, name.replace("_", " "))

    def columns(self) -> list[str]:
        """Every column the estimation frame needs (before derivation is applied)."""
        names = [self.outcome, *self.treatments, *self.controls, *self.fixed_effects]
        names += [self.cluster, self.weights, "country"]
        return list(dict.fromkeys(names))


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def parse_spec(raw: dict[str, Any], origin: str = "<spec>") -> ModelSpec:
    """Validate one spec mapping; errors name the file and the key at fault."""
    required = ("id", "title", "finding", "unit", "outcome", "treatment", "sample")
    missing = [key for key in required if key not in raw]
    if missing:
        raise SpecError(f"{origin}: missing keys {missing}")
    known = set(required) | {
        "scale", "joins", "derive", "controls", "fixed_effects", "cluster", "weights",
        "planted", "labels", "note", "source",
    }  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SpecError(f"{origin}: unknown keys {unknown}")
    if raw["unit"] not in UNITS:
        raise SpecError(f"{origin}: unit must be one of {UNITS}, not {raw['unit']!r}")
    scale = raw.get("scale", "probability")
    if scale not in ("probability", "log"):
        raise SpecError(f"{origin}: scale must be 'probability' or 'log', not {scale!r}")
    joins = _tuple(raw.get("joins"))
    bad_joins = [j for j in joins if j not in JOIN_KEYS or j == raw["unit"]]
    if bad_joins:
        raise SpecError(f"{origin}: cannot join {bad_joins} onto {raw['unit']}")
    treatments = _tuple(raw["treatment"])
    planted = dict(raw.get("planted") or {})
    stray = sorted(set(planted) - set(treatments))
    if stray:
        raise SpecError(f"{origin}: planted effects given for non-treatments {stray}")
    return ModelSpec(
        id=str(raw["id"]),
        title=str(raw["title"]),
        finding=str(raw["finding"]).strip(),
        unit=raw["unit"],
        outcome=str(raw["outcome"]),
        treatments=treatments,
        sample=str(raw["sample"]),
        scale=scale,
        joins=joins,
        derive={str(k): str(v) for k, v in (raw.get("derive") or {}).items()},
        controls=_tuple(raw.get("controls")),
        fixed_effects=_tuple(raw.get("fixed_effects", "region_code")),
        cluster=str(raw.get("cluster", "community_id")),
        weights=str(raw.get("weights", "weight")),
        planted=planted,
        labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
        note=str(raw.get("note", "")).strip(),
        source=str(raw.get("source", "")).strip(),
    )


@cache
def load_specs(directory: Path = SPECS_DIR) -> tuple[ModelSpec, ...]:
    """All specs, in file-name order (the files are numbered in the seed chapter's order)."""
    specs = []
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = raw if isinstance(raw, list) else [raw]
        specs.extend(parse_spec(entry, path.name) for entry in entries)
    ids = [s.id for s in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SpecError(f"{directory}: duplicate spec ids {duplicates}")
    return tuple(specs)


def get_spec(spec_id: str) -> ModelSpec:
    for spec in load_specs():
        if spec.id == spec_id:
            return spec
    raise KeyError(spec_id)
