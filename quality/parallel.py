"""Run the Great Expectations suites in a second process, started early, while the build goes on.

Importing GX costs seconds and judging the suites as long again; neither needs the main process.
`SuiteRunner` starts one worker (`python -m ippmd.quality.parallel`) at once: it imports GX while
the main process synthesizes and harmonizes, then takes tables as they are ready. Each `submit`
writes the tables as Arrow IPC files into the runner's folder and returns a `Pending` whose
`result()` is the list of problems found (empty: the tables pass). Requests and answers are one
JSON line each on the worker's stdin and stdout; problems travel as a pickle file beside them.
The worker is a plain module run, not multiprocessing, so it imports nothing of the caller's.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.core.io import remove_stale_staging, staging_folder
from ippmd.core.schema import RESOURCES

# Up to this --scale a build runs the suites in a worker started with it: its GX import overlaps the
# synthesis and its checks overlap the writing. Larger builds check in their own process, one
# country at a time, so that only one large country is ever in memory.
PARALLEL_MAX_SCALE = 10


class WorkerError(RuntimeError):
    """The worker process died or could not run the suites (its stderr is in the message)."""


class Pending:
    """The answer to one `submit`: `result()` waits for the worker and returns its problems."""

    def __init__(self, runner: SuiteRunner, number: int) -> None:
        self._runner, self._number = runner, number

    def result(self) -> list[Problem]:
        return self._runner._answer(self._number)


class SuiteRunner:
    """One GX worker process for the length of a build (a context manager; `close` ends it)."""

    def __init__(self, workdir: Path) -> None:
        remove_stale_staging(workdir, ".ippmd-gx-")  # leftovers of killed builds
        self._folder = staging_folder(Path(workdir), ".ippmd-gx-")
        self._stderr = (self._folder / "worker.err").open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ippmd.quality.parallel"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, "GX_ANALYTICS_ENABLED": "False"},
        )
        self._sent = 0
        self._answers: dict[int, list[Problem]] = {}

    def submit(self, tables: dict[str, pl.DataFrame], label: str = "harmonized ") -> Pending:
        """Judge `tables` in the worker; they are written out first, so the caller may drop them."""
        self._sent += 1
        folder = self._folder / str(self._sent)
        folder.mkdir()
        paths = {}
        for name, frame in tables.items():
            path = folder / f"{name}.arrow"
            frame.write_ipc(path, compression="uncompressed")
            paths[name] = str(path)
        request = {"number": self._sent, "paths": paths, "label": label, "answer": str(folder / "answer")}
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise self._died() from None
        return Pending(self, self._sent)

    def _answer(self, number: int) -> list[Problem]:
        """Read the worker's answers, in order, up to `number`."""
        assert self._process.stdout is not None
        while number not in self._answers:
            line = self._process.stdout.readline()
            if not line:
                raise self._died()
            done = json.loads(line)
            with Path(done["answer"]).open("rb") as handle:
                outcome = pickle.load(handle)  # written by our own worker, in our own folder
            if "failed" in outcome:  # the suites could not run: a suite file or a bug
                raise (
                    InputError(outcome["failed"]) if outcome.get("input") else WorkerError(outcome["failed"])
                )
            self._answers[done["number"]] = outcome["problems"]
        return self._answers.pop(number)

    def _died(self) -> WorkerError:
        self._process.wait()
        self._stderr.flush()
        said = (self._folder / "worker.err").read_text(encoding="utf-8", errors="replace")[-2000:]
        return WorkerError(f"the expectation-suite worker stopped (exit {self._process.returncode}): {said}")

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            try:
                self._process.stdin.close()
                self._process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._stderr.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> SuiteRunner:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


# After GX is imported, each request is judged by two forked children, one per half of the suites
# (about as many expectations each), on both cores: GX spends its time per expectation.
SUITE_HALVES = (("communities", "households"), ("countries", "persons", "emigrants"))


def _judge(request: dict[str, Any], resources: Sequence[str] | None) -> dict[str, Any]:
    """The outcome of one request for some suites: problems, or why the suites could not run."""
    from ippmd.quality.validate import expectation_problems

    try:
        tables = {name: pl.read_ipc(Path(path).read_bytes()) for name, path in request["paths"].items()}
        return {"problems": expectation_problems(tables, "gx", label=request["label"], resources=resources)}
    except InputError as exc:  # a suite file that cannot run, named by file and key
        return {"failed": exc.problems, "input": True}
    except Exception:  # handed to the caller, who raises it with the traceback
        return {"failed": traceback.format_exc()}


def _judge_in_halves(request: dict[str, Any]) -> dict[str, Any]:
    """Fork one child per half of the suites (the parent has run no polars query, so no thread
    pool is copied mid-flight), then merge their outcomes in package order."""
    children = []
    for number, half in enumerate(SUITE_HALVES):
        answer = Path(f"{request['answer']}.{number}")
        pid = os.fork()
        if pid == 0:  # the child: judge, write, leave without running the parent's clean-up
            code = 0
            try:
                with answer.open("wb") as handle:
                    pickle.dump(_judge(request, half), handle)
            except BaseException:
                code = 1
            os._exit(code)
        children.append((pid, answer))
    outcomes = []
    for pid, answer in children:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0 or not answer.exists():
            return {"failed": f"a suite worker child stopped (status {status})"}
        with answer.open("rb") as handle:
            outcomes.append(pickle.load(handle))
        answer.unlink()
    failed = [o for o in outcomes if "failed" in o]
    if failed:
        return failed[0]
    order = {name: index for index, name in enumerate(RESOURCES)}
    problems = [p for o in outcomes for p in o["problems"]]
    problems.sort(key=lambda p: order.get(p.file.removeprefix(request["label"]), len(order)))
    return {"problems": problems}


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The worker: import GX first (the slow part, while the caller works), then answer requests."""
    from ippmd.quality.engine_gx import import_gx

    import_gx()
    for line in requests:
        request = json.loads(line)
        outcome = _judge_in_halves(request) if hasattr(os, "fork") else _judge(request, None)
        for path in request["paths"].values():
            Path(path).unlink(missing_ok=True)
        with Path(request["answer"]).open("wb") as handle:
            pickle.dump(outcome, handle)
        answers.write(json.dumps({"number": request["number"], "answer": request["answer"]}).encode() + b"\n")
        answers.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
