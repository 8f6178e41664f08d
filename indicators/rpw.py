"""World Bank Remittance Prices Worldwide: corridor costs averaged into a cost per receiving country.

RPW prices corridors (sending x receiving country), not countries. A country's cost in a quarter is
the simple mean over its receiving corridors with data in that quarter, as in the IPPMD reports; a
year's value is the mean of that year's quarterly country values, so that a corridor surveyed in
more quarters does not weigh more. A country without any priced corridor gets no row: a missing
cost is never shown as zero.
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ippmd.core.errors import InputError, Problem
from ippmd.indicators.provenance import Source
from ippmd.indicators.sheets import MISSING_TEXT, header_text, to_number
from ippmd.indicators.table import Row

SERIES = "ATCR.CORR"  # Average Total Cost to remit in corridor (% of USD 200)
_QUARTER = re.compile(r"^(\d{4})Q([1-4])\b")
_ISO3 = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class CorridorCost:
    """Cost of sending USD 200 in one corridor and quarter (% of the amount sent)."""

    sender: str
    receiver: str
    period: str
    value: float
    line: int


def read_corridors(path: Path, label: str | None = None) -> list[CorridorCost]:
    """Every priced corridor-quarter of a DataBank corridor export (CSV, UTF-8 with or without BOM)."""
    label = label or path.name
    if not path.is_file():
        raise InputError([Problem(file=label, message=f"original file not found at {path}")])
    problems: list[Problem] = []
    costs: list[CorridorCost] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:  # utf-8-sig drops the BOM
        reader = csv.reader(handle)
        header = next(reader, [])
        names = [header_text(h) for h in header]  # "Receiving Countries  Code" has two spaces
        columns = {}
        for wanted in ("sending countries code", "receiving countries code", "series code"):
            if wanted not in names:
                raise InputError([Problem(file=label, message=f"no column '{wanted}' in the header", row=1)])
            columns[wanted] = names.index(wanted)
        quarters = {i: f"{m[1]}Q{m[2]}" for i, h in enumerate(header) if (m := _QUARTER.match(h.strip()))}
        if not quarters:
            raise InputError(
                [Problem(file=label, message="no quarter columns (e.g. '2015Q4 [YR2015Q4]')", row=1)]
            )
        seen: dict[tuple[str, str], int] = {}
        for row in reader:
            line = reader.line_num
            cells = row + [""] * (len(header) - len(row))
            series = cells[columns["series code"]].strip()
            if not series:
                continue  # blank and footer rows ("Data from database: ...", "Last Updated: ...")
            if series != SERIES:
                continue  # another series in the same export
            sender = cells[columns["sending countries code"]].strip()
            receiver = cells[columns["receiving countries code"]].strip()
            bad = [
                (f, v)
                for f, v in (("Sending Countries Code", sender), ("Receiving Countries Code", receiver))
            ]
            bad = [(f, v) for f, v in bad if not _ISO3.match(v)]
            for field, code in bad:
                problems.append(
                    Problem(file=label, message="not an ISO3 country code", row=line, field=field, value=code)
                )
            if bad:
                continue
            if (sender, receiver) in seen:
                problems.append(
                    Problem(
                        file=label,
                        message=f"corridor repeated (first on line {seen[(sender, receiver)]})",
                        row=line,
                        value=f"{sender}->{receiver}",
                    )
                )
                continue
            seen[(sender, receiver)] = line
            for i, period in quarters.items():
                if cells[i] in MISSING_TEXT:
                    continue  # ".." in 33 of every 34 cells: skipped before the full number check
                try:
                    value = to_number(cells[i])
                except ValueError:
                    problems.append(
                        Problem(
                            file=label,
                            message="expected a number or '..'",
                            row=line,
                            field=header[i],
                            value=cells[i],
                        )
                    )
                    continue
                if value is not None:
                    costs.append(CorridorCost(sender, receiver, period, value, line))
    if problems:
        raise InputError(problems)
    return costs


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values)  # fsum: the same result whatever the order


def cost_rows(costs: Iterable[CorridorCost], source: Source, countries: Iterable[str]) -> list[Row]:
    """remittance_cost_usd200 per receiving country: every quarter with data, and each year."""
    keep = set(countries)
    cells: dict[tuple[str, str], dict[str, float]] = defaultdict(
        dict
    )  # (receiver, quarter) -> sender -> cost
    for c in costs:
        if c.receiver in keep:
            cells[(c.receiver, c.period)][c.sender] = c.value
    rows: list[Row] = []
    years: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)  # (receiver, year) -> quarter -> mean
    senders_in_year: dict[tuple[str, int], set[str]] = defaultdict(set)
    for (receiver, quarter), by_sender in sorted(cells.items()):
        mean = _mean(by_sender.values())
        senders = sorted(by_sender)
        rows.append(
            Row(
                receiver,
                "remittance_cost_usd200",
                quarter,
                mean,
                source,
                f"column '{quarter}': simple mean over the {len(senders)} corridor(s) to {receiver} "
                f"with data (senders {', '.join(senders)})",
                n_corridors=len(senders),
            )
        )
        years[(receiver, int(quarter[:4]))][quarter] = mean
        senders_in_year[(receiver, int(quarter[:4]))].update(senders)
    for (receiver, year), by_quarter in sorted(years.items()):
        quarters = sorted(by_quarter)
        senders = sorted(senders_in_year[(receiver, year)])
        rows.append(
            Row(
                receiver,
                "remittance_cost_usd200",
                str(year),
                _mean(by_quarter.values()),
                source,
                f"mean of the {len(quarters)} quarterly values of {year} ({', '.join(quarters)}), "
                f"each the simple mean over the corridors with data in the quarter; "
                f"{len(senders)} corridor(s) (senders {', '.join(senders)})",
                n_corridors=len(senders),
            )
        )
    return rows


def corridor_rows(costs: Iterable[CorridorCost], source: Source, countries: Iterable[str]) -> list[Row]:
    """corridor_remittance_cost: each corridor (sender -> one of `countries`) and year, the mean of
    its quarters with data in that year (so the emigrants of a country can carry the cost of
    sending money home from where they live)."""
    keep = set(countries)
    quarters: dict[tuple[str, str, int], dict[str, float]] = defaultdict(dict)
    lines: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for c in costs:
        if c.receiver in keep:
            key = (c.receiver, c.sender, int(c.period[:4]))
            quarters[key][c.period] = c.value
            lines[key].append(c.line)
    rows = []
    for (receiver, sender, year), by_quarter in sorted(quarters.items()):
        periods = sorted(by_quarter)
        method = (
            f"mean of the corridor's {len(periods)} quarterly value(s) of {year} ({', '.join(periods)}); "
            f"line(s) {', '.join(map(str, sorted(set(lines[(receiver, sender, year)]))))}"
        )
        value = _mean(by_quarter[q] for q in periods)
        rows.append(
            Row(
                receiver,
                "corridor_remittance_cost",
                str(year),
                value,
                source,
                method,
                partner_iso3=sender,
                n_corridors=1,
            )
        )
    return rows
