from __future__ import annotations

import subprocess
import sys

import pytest

from patrec.core.cli import main


def _err(capsys, argv):
    with pytest.raises(SystemExit) as e:
        code = main(argv)
        raise SystemExit(code)
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["run", "core/nope"], "unknown method 'core/nope'"),
        (["run", "core/ncds", "--set", "optim.lr=fast"], "optim.lr: expected a float"),
        (["run", "core/ncds", "--set", "optim.lrr=1"], "unknown config key 'optim.lrr'"),
        (["run", "core/ncds", "--set", "novalue"], "expected key=value"),
        (["run", "core/ncds", "--preset", "huge"], "unknown preset 'huge'"),
        (["run", "core/ncds", "--data", "/no/such/dir"], "no such file or folder"),
        (["run", "core/ncds", "--seed", "-1"], "--seed must be >= 0"),
        (["info", "ncdss"], "did you mean core/ncds"),
        (["reproduce", "--domain", "nodomain"], "no installed patrec package"),
        (["reproduce", "--method", "core/nope"], "unknown method(s) core/nope"),
        (["frobnicate"], "invalid choice"),
        (["run"], "required"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, fragment):
    code, out, err = _err(capsys, argv)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_list_shows_core_and_ncds(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "patrec-core 0.1.0" in out and "core/ncds" in out


def test_info_shows_citation_and_presets(capsys):
    assert main(["info", "core/ncds"]) == 0
    out = capsys.readouterr().out
    assert "A Novel Loss for Contrastive Deep Supervision" in out
    assert "preset paper:" in out and "preset smoke:" in out and "compares against" in out


def test_console_entry_point_has_no_traceback_on_error():
    r = subprocess.run(
        [sys.executable, "-m", "patrec.core.cli", "run", "core/ncds", "--set", "train.epochs=x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.strip().startswith("patrec: error: train.epochs: expected an int")
    assert "Traceback" not in r.stderr
