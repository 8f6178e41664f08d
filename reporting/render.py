"""Chart files (SVG, and PNG rasterized from it) drawn in worker processes.

vl-convert draws every Vega-Lite chart in one JavaScript runtime per process, so threads queue
behind each other. `ChartWorkers` starts plain child processes (`python -m
ippmd.reporting.render`, not multiprocessing: nothing of the caller's script is re-run in them),
each with its own runtime, warmed up at once; jobs go to them as JSON lines and come back as
the paths written. This module imports vl-convert only, so a worker starts in a fraction of a
second. The same spec gives the same bytes in any process; when a worker cannot be started or
dies, the chart is drawn in the calling process instead.

Every process draws with `render-fonts.conf` as its font configuration: no system fonts, only
the Liberation Sans that vl-convert carries in memory (`charts.FONT`). The files are then the
same on any machine, and about 2.5 times faster to draw (a system font is opened and mapped
again for every glyph).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

FONTS_CONF = Path(__file__).with_name("render-fonts.conf")
_fonts_lock = threading.Lock()

WARM_UP_SPEC = {"mark": "point", "data": {"values": [{"x": 0}]}, "encoding": {"x": {"field": "x"}}}


def render(spec: dict[str, Any], name: str, directory: str, vl_version: str, scale: int) -> dict[str, str]:
    """directory/name.svg and directory/name.png (at `scale` times the SVG size); returns the
    paths by format."""
    _use_chart_fonts()
    import vl_convert

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"png": folder / f"{name}.png", "svg": folder / f"{name}.svg"}
    svg = vl_convert.vegalite_to_svg(spec, vl_version=vl_version)
    paths["svg"].write_text(svg, encoding="utf-8")
    paths["png"].write_bytes(vl_convert.svg_to_png(svg, scale=scale))
    return {fmt: str(path) for fmt, path in paths.items()}


def _use_chart_fonts() -> None:
    """Point this process's vl-convert at `render-fonts.conf` before it first draws: it reads
    FONTCONFIG_FILE once, when its font database is built. The variable is put back at once, so
    that programs this process starts later (a browser) see the system's fonts."""
    with _fonts_lock:
        if getattr(_use_chart_fonts, "done", False):
            return
        before = os.environ.get("FONTCONFIG_FILE")
        os.environ["FONTCONFIG_FILE"] = str(FONTS_CONF)
        try:
            import vl_convert

            vl_convert.svg_to_png('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
        finally:
            if before is None:
                os.environ.pop("FONTCONFIG_FILE", None)
            else:
                os.environ["FONTCONFIG_FILE"] = before
        _use_chart_fonts.done = True  # type: ignore[attr-defined]


class ChartWorkers:
    """Worker processes (`workers` of them) fed from one queue; `start` queues charts, `finish`
    waits for them."""

    def __init__(self, vl_version: str, scale: int, workers: int = 2) -> None:
        self.version, self.scale = vl_version, scale
        self.jobs: queue.Queue[tuple[str, dict[str, Any], str] | None] = queue.Queue()
        self.results: dict[str, dict[str, str]] = {}
        self.errors: list[OSError] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._serve, daemon=True) for _ in range(workers)]
        for thread in self.threads:
            thread.start()

    def _spawn(self) -> subprocess.Popen[str] | None:
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "ippmd.reporting.render", self.version, str(self.scale)],
                env={**os.environ, "FONTCONFIG_FILE": str(FONTS_CONF)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
            )
        except OSError:
            return None

    def _serve(self) -> None:
        """One worker process: send each job, read back its paths (or draw it here on failure)."""
        process = self._spawn()
        while (job := self.jobs.get()) is not None:
            name, spec, directory = job
            paths = None
            if process is not None and process.poll() is None:
                try:
                    assert process.stdin is not None and process.stdout is not None
                    process.stdin.write(
                        json.dumps({"spec": spec, "name": name, "directory": directory}) + "\n"
                    )
                    process.stdin.flush()
                    answer = json.loads(process.stdout.readline() or "null")
                    paths = answer.get("paths") if isinstance(answer, dict) else None
                except (OSError, ValueError):
                    paths = None
            if paths is None:
                try:
                    paths = render(spec, name, directory, self.version, self.scale)
                except OSError as exc:  # disk full, read-only: raised by `finish`, in the caller
                    with self.lock:
                        self.errors.append(exc)
                    continue
            with self.lock:
                self.results[name] = paths
        if process is not None:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
            process.wait(timeout=30)

    def start(self, charts: dict[str, dict[str, Any]], directory: Path) -> list[str]:
        for name in sorted(charts):
            self.jobs.put((name, charts[name], str(directory)))
        return sorted(charts)

    def finish(self) -> dict[str, dict[str, str]]:
        """Wait for every queued chart and stop the workers; name -> format -> path."""
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]
        return dict(self.results)


def _worker(vl_version: str, scale: int) -> None:
    """The child's loop: one JSON job per line on stdin, one JSON answer per line on stdout."""
    _use_chart_fonts()
    import vl_convert

    vl_convert.vegalite_to_svg(WARM_UP_SPEC, vl_version=vl_version)  # start the runtime now
    for line in sys.stdin:
        job = json.loads(line)
        try:
            paths = render(job["spec"], job["name"], job["directory"], vl_version, scale)
            answer: dict[str, Any] = {"paths": paths}
        except Exception as exc:  # the parent draws the chart itself and reports the error there
            answer = {"error": str(exc)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]))
