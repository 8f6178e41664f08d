"""The GX worker process of the build: the same verdict as GX in this process, and loud failures."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ippmd.quality.parallel import SuiteRunner, WorkerError
from ippmd.quality.validate import expectation_problems

Tables = dict[str, pl.DataFrame]


@pytest.mark.slow
def test_worker_finds_what_gx_finds_in_this_process(tables: Tables, tmp_path: Path) -> None:
    """A broken copy of the package: the worker (two forked halves) and in-process GX agree."""
    persons = tables["persons"]
    head = persons.filter(pl.col("relation_to_head") == 1)["person_id"][0]
    broken = {
        **tables,
        "persons": persons.with_columns(
            pl.when(pl.col("person_id") == head).then(7).otherwise(pl.col("age")).alias("age"),
            pl.when(pl.col("person_id") == head).then(9).otherwise(pl.col("sex")).alias("sex"),
        ),
        "households": tables["households"].with_columns(pl.col("weight") * 3),  # mean 3, not 1
    }
    here = expectation_problems(broken, "gx", label="harmonized ")
    with SuiteRunner(tmp_path) as runner:
        there = runner.submit(broken).result()
    assert there == here
    messages = " ".join(p.message for p in there)
    assert "Head and spouse are at least 12" in messages and "`sex` is one of" in messages
    assert "weights average 1" in messages
    assert list(tmp_path.iterdir()) == []  # the runner's folder is gone once closed


def test_a_dead_worker_is_an_error_not_a_hang(tables: Tables, tmp_path: Path) -> None:
    runner = SuiteRunner(tmp_path)
    try:
        runner._process.kill()
        runner._process.wait()
        with pytest.raises(WorkerError, match="stopped"):
            runner.submit({"countries": tables["countries"]}).result()
    finally:
        runner.close()
