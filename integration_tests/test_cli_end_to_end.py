"""The installed `patrec` command, end to end, with every package installed together."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from patrec.core import list_packages
from patrec.core.inventory import load_inventory

PACKAGES = {e.package for e in load_inventory()}  # the eight packages of the design


def _patrec(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("patrec")
    assert exe, "the patrec console script is not installed"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)


def test_registry_sees_all_eight_packages() -> None:
    assert len(PACKAGES) == 8
    assert {p.name for p in list_packages()} == PACKAGES


def test_patrec_list_shows_the_eight_packages() -> None:
    r = _patrec("list")
    assert r.returncode == 0, r.stderr
    for name in PACKAGES:
        assert f"patrec-{name} 0.1.0" in r.stdout
    assert "core/ncds" in r.stdout


@pytest.mark.slow
@pytest.mark.integration
def test_smoke_run_then_reproduce_report(tmp_path) -> None:
    run_dir = tmp_path / "report" / "core" / "ncds"
    t0 = time.perf_counter()
    r = _patrec("run", "core/ncds", "--preset", "smoke", "--out", str(run_dir))
    seconds = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr[-2000:]
    assert seconds < 120, f"the smoke recipe took {seconds:.0f} s"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["variants"]) == {"ce", "cds", "ncds"}
    assert json.loads((run_dir / "config.json").read_text())["data"]["name"] == "digits"
    assert (run_dir / "accuracy.png").stat().st_size > 1000
    assert "ours - cds" in r.stdout

    # reproduce reuses the finished runs in the same folder and writes the report
    r = _patrec(
        "reproduce", "--domain", "core", "--method", "core/ncds", "--out", str(tmp_path / "report")
    )
    assert r.returncode == 0, r.stderr[-2000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "`core/ncds`" in text and "accuracy.png" in text
