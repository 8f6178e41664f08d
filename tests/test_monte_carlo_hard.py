"""bench/bench_monte_carlo_hard.py: its smoke run, and that it measures the package's estimators.

The full Monte Carlo (6 designs x 1000 replications) runs by hand; here `--quick` runs with a
fixed seed (shape of the table, determinism), the randomisation test is held to brute-force refits
of the package's absorbed model, and the CR2 and bootstrap code it calls is shown to be the
package's own (a spy on the package's classes sees every call). No timing is asserted.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from ippmd.models import inference

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_monte_carlo_hard.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_monte_carlo_hard", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_one_row_per_design_and_method(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.main(["--quick", "--seed", "11"])
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| design")]
    assert len(rows) == len(bench.DESIGNS) * len(bench.METHODS) == 24
    seen: Counter[tuple[str, str]] = Counter()
    for line in rows:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == 7, line
        design, method, coverage, size, width, unbounded = cells[:6]
        seen[(design[0], method)] += 1
        for rate in (coverage, size):
            value, se = re.fullmatch(r"(\d\.\d{3}) \((\d\.\d{3})\)", rate).groups()  # type: ignore[union-attr]
            assert 0 <= float(value) <= 1
            assert float(se) == pytest.approx(math.sqrt(float(value) * (1 - float(value)) / 20), abs=6e-4)
        assert float(width) > 0
        assert int(unbounded) >= 0
        assert (cells[6] != "") == (method == "CR2")  # the Bell-McCaffrey df belongs to CR2 alone
    assert set(seen) == {(d.key, m) for d in bench.DESIGNS for m in bench.METHODS}


def test_same_seed_same_rows_and_any_split(bench: ModuleType) -> None:
    designs = [bench.DESIGNS[3]]
    one = bench.run(designs, 3, seed=5, draws=99)
    again = bench.run(designs, 3, seed=5, draws=99)
    assert one.equals(again)
    assert not one.equals(bench.run(designs, 3, seed=6, draws=99))
    assert one.height == 3 * len(bench.METHODS)


def test_the_bench_calls_the_package_estimators(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not copies: the names are the package's objects, and a spy on the package's methods sees
    each replication's fits and contrasts (the effect and the null, for CR2 and the bootstrap)."""
    for name in ("AbsorbedWLS", "CR2Model", "WildBootstrap", "BootstrapContrast", "webb_weights"):
        assert getattr(bench, name) is getattr(inference, name)
    calls: Counter[str] = Counter()

    def spy(owner: type, name: str) -> None:
        original = getattr(owner, name)

        def wrapped(*args: object, **kwargs: object) -> object:
            calls[f"{owner.__name__}.{name}"] += 1
            return original(*args, **kwargs)

        # a plain function on the class: called on the class (fit, prepare) it passes the
        # arguments to the bound classmethod; on an instance (contrast) it gets self first
        monkeypatch.setattr(owner, name, wrapped)

    for owner, name in (
        (inference.AbsorbedWLS, "fit"),
        (inference.CR2Model, "prepare"),
        (inference.CR2Model, "contrast"),
        (inference.WildBootstrap, "prepare"),
        (inference.WildBootstrap, "contrast"),
    ):
        spy(owner, name)
    bench.one_replication(bench.DESIGNS[4], 0, seed=3, draws=99)
    assert calls == {
        "AbsorbedWLS.fit": 2,
        "CR2Model.prepare": 1,
        "CR2Model.contrast": 2,
        "WildBootstrap.prepare": 1,
        "WildBootstrap.contrast": 2,
    }


def sample_and_model(bench: ModuleType, key: int = 4) -> tuple[Any, inference.AbsorbedWLS]:
    sample = bench.draw_sample(bench.DESIGNS[key], inference.seeded_rng(1, "test"))
    return sample, bench.fit(sample, sample.y)


def test_randomisation_draws_are_refits_of_the_package_model(bench: ModuleType) -> None:
    """Each re-assignment's t for the sharp null tau = r equals the CRV1 t of AbsorbedWLS refitted
    on y - r D with the re-assigned treatment; the first re-assignment is the observed one."""
    sample, model = sample_and_model(bench)
    assigned = bench.assignments(sample, 6, np.random.default_rng(2))
    test = bench.randomisation(model, assigned, 200.0)
    r = 0.25
    observed, draws = test.t_draws(r)
    D = sample.treated[sample.cluster]
    for a in range(assigned.shape[1]):
        refit = inference.AbsorbedWLS.fit(
            sample.y - r * D,
            np.column_stack([assigned[:, a][sample.cluster], sample.x]),
            ["treated", "x"],
            sample.weights,
            sample.cluster,
            sample.region,
            inference.settings().ssc,
        )
        assert draws[a] == pytest.approx(refit.beta[0] / math.sqrt(refit.vcov()[0, 0]), rel=1e-9)
    assert draws[0] == pytest.approx(observed, rel=1e-9)
    assert test.p_value(r) >= 1 / assigned.shape[1]


def test_the_null_fit_may_reuse_cr2_and_bootstrap_preparations(bench: ModuleType) -> None:
    """The bench prepares CR2 and the bootstrap once per sample and swaps in the no-effect fit:
    the same numbers as preparing them on that fit."""
    sample, model = sample_and_model(bench)
    null = bench.fit(sample, sample.y_null)
    c = model.contrast_vector({"treated": 1.0})
    reused = dataclasses.replace(inference.CR2Model.prepare(model), model=null).contrast(c)
    fresh = inference.CR2Model.prepare(null).contrast(c)
    assert (reused.std_error, reused.df) == pytest.approx((fresh.std_error, fresh.df), rel=1e-12)
    weights = inference.webb_weights(model.n_clusters, 99, 1, "x")
    boot = dataclasses.replace(inference.WildBootstrap.prepare(model, weights), model=null).contrast(c)
    again = inference.WildBootstrap.prepare(null, weights).contrast(c)
    assert boot.p_value(0.1) == again.p_value(0.1)
    np.testing.assert_allclose(boot.t_draws(0.1)[1], again.t_draws(0.1)[1], rtol=1e-12)
