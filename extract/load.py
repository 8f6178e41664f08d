"""`ippmd.load`: one table of the built package as a data frame, for notebooks.

Why: an analyst wants `load("persons", countries=["KHM"], attach=["households.urban"],
where="age >= 15")` and a frame, without writing a zip. It uses the extract's selection (same
checks, same design variables and country kept, same attach and where semantics) and returns:

- polars (default): coded columns as stored; with `labels=True` every categorical integer or
  string column becomes a `pl.Enum` of its value labels (nulls stay null). Variable labels,
  value labels, universes and the not-in-universe masks are in `labels_of(frame)`.
- pandas (`as_pandas=True`): the same, categoricals as `pd.Categorical`, and the metadata in
  `frame.attrs["ippmd"]` (variable labels, value labels, universes, surveyDesign, version,
  data hash, synthetic notice).

Not in universe vs unknown: both are null in a frame; `labels_of(frame)["niu"][column]` (or
`attrs["ippmd"]["niu"]`) is the list of row positions that are *not in universe*.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from weakref import finalize

import polars as pl

from ippmd import synthetic_notice
from ippmd.core.errors import UsageError
from ippmd.core.home import project_home
from ippmd.extract.documents import synthetic_countries
from ippmd.extract.make import _typed_table, table_fields
from ippmd.extract.selection import resolve
from ippmd.extract.source import open_package

# Metadata of the polars frames `load` returned, by id, dropped when the frame is collected
# (polars frames carry no metadata of their own, and a derived frame is a new frame).
_META: dict[int, dict[str, Any]] = {}


def labels_of(frame: pl.DataFrame) -> dict[str, Any]:
    """The metadata `load` kept for a polars frame it returned (empty for any other frame)."""
    return _META.get(id(frame), {})


def load(
    table: str,
    countries: Sequence[str] | None = None,
    attach: Sequence[str] | None = None,
    where: str | None = None,
    package: Path | str | None = None,
    variables: Sequence[str] | None = None,
    labels: bool = True,
    as_pandas: bool = False,
) -> Any:
    """One table of the package (default: the project home) as a polars or pandas frame."""
    source = open_package(Path(package) if package is not None else project_home())
    if table not in source.resources:
        raise UsageError(f"no table {table!r} in the package; tables: {', '.join(source.resources)}")
    # A single name is one item, not a sequence of letters: countries="KHM", variables="age".
    countries, variables, attach = ([v] if isinstance(v, str) else v for v in (countries, variables, attach))
    selection = resolve(source, countries, [table], variables, attach, where)
    frame, niu, _ = _typed_table(source, selection, table, {})
    frame = frame.select(selection.output_columns(table))
    fields = table_fields(source, selection, table)
    resource = source.resources[table]
    synthetic = [c for c in synthetic_countries(source, selection) if "country" in frame.columns]
    meta: dict[str, Any] = {
        "table": table,
        "version": source.descriptor.get("version"),
        "dataHash": source.data_hash(),
        "synthetic": bool(synthetic),
        "notice": synthetic_notice(synthetic) if synthetic else None,
        "surveyDesign": resource.get("surveyDesign"),
        "variable_labels": {f["name"]: f.get("title", "") for f in fields},
        "value_labels": {
            f["name"]: {c["value"]: c["label"] for c in f["categories"]}
            for f in fields
            if f.get("categories")
        },
        "universe": {f["name"]: f["universe"] for f in fields if f.get("universe")},
        "niu": {name: mask.arg_true().to_list() for name, mask in niu.items() if bool(mask.any())},
    }
    if labels:
        frame = frame.with_columns(
            pl.col(name)
            .replace_strict(list(values), list(values.values()), default=None)
            .cast(pl.Enum(list(dict.fromkeys(values.values()))))
            for name, values in meta["value_labels"].items()
        )
    if as_pandas:
        result = frame.to_pandas()
        result.attrs["ippmd"] = meta
        return result
    _META[id(frame)] = meta
    finalize(frame, _META.pop, id(frame), None)
    return frame
