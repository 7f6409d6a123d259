"""The contract every registered method keeps, checked on a real run of its recipe.

Each method runs its smoke preset with its ``test_overrides`` (a few seconds) and must:

- return metrics in the layout of :mod:`patrec.core.results` and write them as
  ``metrics.json``, with the plots it lists beside it;
- render in the reproduce report without being listed as failed;
- if it trains a model (``Method.model``): leave it in ``<out>/model/``, and
  ``get_method(name).load_model`` gives back a model of that class that reproduces the
  outputs the run saved for its example inputs.

Only a method that trains no model (a solver) may leave ``model`` unset, and it is named
in ``SOLVERS`` with the reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from patrec.core import list_methods
from patrec.core.hub import verify_saved_model
from patrec.core.registry import resolve
from patrec.core.report import write_reproduce_report
from patrec.core.results import validate_metrics

METHODS = list_methods()

# methods that train no model: name -> why
SOLVERS = {
    "scientific-ml/omp_sr": "a sparse-regression solver (OMP): it fits coefficients, not a net",
    "scientific-ml/cuboidization": "a combinatorial partition of a polyhedron into cuboids",
    "scientific-ml/river_trails": "a curve fit per image (grid search, MCMC, L-BFGS-B)",
    "scientific-ml/peel_and_pool": "a geometric analysis of one image (peeling, grouping)",
}

# a run with the test overrides should take seconds; this is the ceiling per method
SECONDS = 90.0


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_method_keeps_the_contract(method: Any, tmp_path: Path) -> None:
    cfg = method.test_config()
    out = tmp_path / "run"
    t0 = time.perf_counter()
    metrics = method.run(cfg, out)
    took = time.perf_counter() - t0

    validate_metrics(metrics, method.name)
    written = json.loads((out / "metrics.json").read_text())
    validate_metrics(written, method.name)
    for plot in written.get("plots", []):
        assert (out / plot).is_file(), f"{method.name}: listed plot {plot} not written"

    report = write_reproduce_report(
        tmp_path / "report", [{"name": method.name, "dir": str(out), "metrics": written}]
    )
    assert "failed" not in report.read_text(), f"{method.name} breaks the report"

    if method.model is None:
        assert method.name in SOLVERS, (
            f"{method.name} declares no model: set Method.model to its main model class "
            "(a PretrainedModel the recipe saves in <out>/model/), or name it in SOLVERS"
        )
    else:
        cls = resolve(method.model)
        loaded = method.load_model(out / "model")
        assert isinstance(loaded, cls), f"{method.name}: loaded {type(loaded).__name__}"
        assert verify_saved_model(out / "model", method.model) < 1e-5

    assert took < SECONDS, (
        f"{method.name}: the recipe with test_overrides took {took:.0f} s; "
        "make Method.test_overrides smaller"
    )
