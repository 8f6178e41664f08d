"""R's metafor as the independent implementation of the random-effects mean (tests only).

`metafor_reference(sets, folder)` writes the sets to a CSV, runs rma() and predict() on each in
one Rscript call and returns, per set, what metafor gives: mean, SE, tau^2, CI, prediction
interval and the tau^2 estimator it finally used (its fallback when REML does not converge).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

# One row per set: rma(yi, sei, method, test) with metafor's Fisher scoring threshold set to the
# same tolerance as ours (its default 1e-5 stops too early to compare to 1e-6), predict() with
# its default prediction interval or pi.type = "riley". REML that does not converge is retried
# with each smaller step (control stepadj, metafor's documented remedy), then DL.
METAFOR_R = """
suppressMessages(library(metafor))
d <- read.csv(commandArgs(TRUE)[1], stringsAsFactors = FALSE)
fit_one <- function(s, method, stepadj) {
  rma(yi = s$yi, sei = s$sei, method = method, test = s$test[1],
      control = list(threshold = 1e-12, maxiter = s$maxiter[1], stepadj = stepadj))
}
out <- do.call(rbind, lapply(split(d, factor(d$set, levels = unique(d$set))), function(s) {
  fit <- NULL
  used_step <- NA
  if (s$method[1] == "REML") {
    for (a in as.numeric(strsplit(s$steps[1], ";", fixed = TRUE)[[1]])) {
      fit <- tryCatch(fit_one(s, "REML", a), error = function(e) NULL)
      if (!is.null(fit)) { used_step <- a; break }
    }
  }
  if (is.null(fit)) fit <- fit_one(s, "DL", 1)
  p <- predict(fit, pi.type = s$pi_type[1])
  data.frame(set = s$set[1], used = fit$method, step = used_step, mean = c(fit$beta), se = fit$se,
             tau2 = fit$tau2, ci_low = fit$ci.lb, ci_high = fit$ci.ub, pi_low = p$pi.lb,
             pi_high = p$pi.ub, q = fit$QE)
}))
write.csv(out, stdout(), row.names = FALSE)
"""

# our interval setting -> metafor's `test`
TESTS = {"HKSJ": "knha", "HKSJ-truncated": "adhoc", "normal": "z"}


@dataclass(frozen=True)
class MetaSet:
    """One meta-analysis for metafor: estimates, standard errors and how to fit them."""

    name: str
    estimates: list[float]
    std_errors: list[float]
    method: str = "REML"  # or DL; REML that does not converge falls back to DL
    interval: str = "HKSJ"
    prediction: str = "default"
    max_iterations: int = 1000
    step_adjustments: tuple[float, ...] = (1.0, 0.5, 0.25)

    def label(self, used: str, step: float) -> str:
        """How our method names the tau^2 estimator metafor ended with."""
        if used == "DL" and self.method != "DL":
            return f"DL tau2 (REML did not converge in {self.max_iterations} iterations)"
        return (
            "REML tau2"
            if used == "REML" and step == 1
            else (f"REML tau2 (Fisher scoring step x{step:g})" if used == "REML" else "DL tau2")
        )


def metafor_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('metafor', quietly = TRUE))"],
        capture_output=True,
    )
    return probe.returncode == 0


def metafor_reference(sets: list[MetaSet], folder: Path) -> dict[str, dict[str, Any]]:
    """metafor's results, keyed by set name."""
    rows = [
        {
            "set": s.name,
            "yi": y,
            "sei": se,
            "method": s.method,
            "test": TESTS[s.interval],
            "pi_type": s.prediction,
            "maxiter": s.max_iterations,
            "steps": ";".join(f"{a:g}" for a in s.step_adjustments),
        }
        for s in sets
        for y, se in zip(s.estimates, s.std_errors, strict=True)
    ]
    pd.DataFrame(rows).to_csv(folder / "meta.csv", index=False, float_format="%.17g")
    (folder / "meta.R").write_text(METAFOR_R, encoding="utf-8")
    run = subprocess.run(
        ["Rscript", str(folder / "meta.R"), str(folder / "meta.csv")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    frame = pd.read_csv(io.StringIO(run.stdout), keep_default_na=True)
    return {str(row["set"]): {str(k): v for k, v in row.items()} for row in frame.to_dict("records")}
