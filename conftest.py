"""Test-time budget per method, printed at the end of every pytest run of the repository.

A method's tests (``packages/<pkg>/tests/test_<slug>*.py``) should take about
``PATREC_TEST_BUDGET`` seconds (default 10) on 2 cores; longer tests are marked ``slow``
and run by the nox session ``slow``. The summary lists each method's time, the ones over
budget first. A method whose tests outside ``slow`` exceed ``PATREC_TEST_BUDGET_FAIL``
seconds (default 60; 0 turns it off) fails the run: with 106 methods the budget is what
keeps ``nox`` within its 20 minutes.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent
_TIMES: dict[str, float] = defaultdict(float)
_SLOW: dict[str, bool] = {}


def _method_slugs() -> dict[str, list[str]]:
    """package folder -> slugs of its method modules (files that define ``METHOD``)."""
    out: dict[str, list[str]] = {}
    for pkg in sorted((ROOT / "packages").glob("*")):
        slugs = []
        for f in pkg.glob("src/patrec/*/*.py"):
            if not f.name.startswith("_") and "\nMETHOD = Method(" in f.read_text():
                slugs.append(f.stem)
        out[pkg.name] = sorted(slugs, key=len, reverse=True)
    return out


_SLUGS = _method_slugs()


def method_of(path: str) -> str | None:
    """``<pkg>/<slug>`` of a test file ``packages/<pkg>/tests/test_<slug>[_part].py``."""
    m = re.match(r"packages/([^/]+)/tests/test_(\w+)\.py$", path)
    if not m:
        return None
    pkg, stem = m.groups()
    for slug in _SLUGS.get(pkg, []):
        if stem == slug or stem.startswith(slug + "_"):
            return f"{pkg}/{slug}"
    return None


def pytest_runtest_logreport(report: Any) -> None:
    path = report.nodeid.split("::", 1)[0]
    name = method_of(path)
    if name is None:
        return
    _TIMES[name] += report.duration
    if report.when == "call":
        _SLOW.setdefault(name, False)
        if "slow" in report.keywords:
            _SLOW[name] = True


def _limits() -> tuple[float, float]:
    return (
        float(os.environ.get("PATREC_TEST_BUDGET", "10")),
        float(os.environ.get("PATREC_TEST_BUDGET_FAIL", "60")),
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TIMES:
        return
    budget, ceiling = _limits()
    tr = terminalreporter
    tr.section(f"test time per method (budget {budget:.0f} s on 2 cores)")
    for name, t in sorted(_TIMES.items(), key=lambda kv: -kv[1]):
        flag = "  over budget" if t > budget else ""
        slow = " (incl. slow tests)" if _SLOW.get(name) else ""
        tr.write_line(f"{t:7.1f} s  {name}{slow}{flag}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    _, ceiling = _limits()
    if ceiling <= 0 or exitstatus != 0:
        return
    over = [n for n, t in _TIMES.items() if t > ceiling and not _SLOW.get(n)]
    if over:
        shown = ", ".join(f"{n} {_TIMES[n]:.0f} s" for n in sorted(over))
        session.config.get_terminal_writer().line(
            f"test-time budget: over {ceiling:.0f} s outside the slow tests: {shown}; "
            "make them cheaper or mark the long ones @pytest.mark.slow",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
