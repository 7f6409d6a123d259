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


def _readme_first_run() -> list[str]:
    """The `patrec reproduce ...` of the README's first command, as argv after `patrec`."""
    import re
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```bash\n(.*?)\n```", readme, flags=re.S)
    assert first, "README.md has no bash code block"
    run = first.group(1).split("&&")[-1].strip()
    argv = shlex.split(run)
    assert argv[:2] == ["patrec", "reproduce"], f"the README's first command ends with {run!r}"
    return argv[1:]


@pytest.mark.integration
def test_readme_first_command_run_writes_the_report(tmp_path) -> None:
    """Exactly the run of the README's first command (into a temporary folder)."""
    from pathlib import Path

    from patrec.core import list_methods
    from patrec.core.results import validate_metrics

    argv = _readme_first_run()
    if "--out" in argv:
        k = argv.index("--out")
        argv = argv[:k] + argv[k + 2 :]
    out = tmp_path / "reproduce"
    t0 = time.perf_counter()
    r = _patrec(*argv, "--out", str(out), timeout=900)
    seconds = time.perf_counter() - t0
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    assert seconds < 420, f"the README's first run took {seconds:.0f} s (budget: 7 of 10 min)"
    text = (out / "report.md").read_text()
    assert "failed" not in text
    expected = [m for m in list_methods() if m.flagship or "--flagship" not in argv]
    assert {m.package for m in expected} == {p.name for p in list_packages() if p.methods}
    for m in expected:
        assert f"`{m.name}`" in text
        run_dir = out / m.package / m.slug
        metrics = json.loads((run_dir / "metrics.json").read_text())
        validate_metrics(metrics, m.name)
        assert metrics["plots"], f"{m.name} draws no plot"
        for p in metrics["plots"]:
            assert f"]({m.package}/{m.slug}/{p})" in text
            assert Path(run_dir / p).stat().st_size > 1000
        if m.model is not None:  # the trained model reloads and gives the run's outputs
            from patrec.core.hub import verify_saved_model

            assert verify_saved_model(run_dir / "model", m.model) < 1e-5
    # a second start reuses every finished run
    r = _patrec(*argv, "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("finished earlier: reused") == len(expected)
