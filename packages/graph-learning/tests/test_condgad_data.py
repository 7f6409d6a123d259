"""Sensor series for ConDGAD: the generator with planted structure and the SWaT/WADI CSV loader."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from patrec.core.errors import DataError, InputError
from patrec.graph_learning.sensors import (
    downsample,
    label_spans,
    load_sensor_csv,
    load_swat_wadi,
    make_sensor_series,
    minmax_apply,
    minmax_fit,
)

SMALL = dict(n_sensors=9, n_drivers=3, train_length=1200, test_length=1500)


def test_generator_plants_groups_and_labels_its_spans():
    s = make_sensor_series(**SMALL, anomalies_per_kind=2, seed=3)
    assert s.train.shape == (1200, 9) and s.test.shape == (1500, 9)
    assert float(s.train.min()) == pytest.approx(0.0) and float(s.train.max()) == pytest.approx(1.0)
    # planted dependency structure: same-group sensors correlate far more than others
    c = torch.corrcoef(s.train.T)
    same = s.groups[:, None] == s.groups[None, :]
    off = ~torch.eye(9, dtype=torch.bool)
    assert float(c[same & off].mean()) > 0.9 > 0.3 > float(c[~same].abs().mean())
    # labels are exactly the union of the spans; spans do not overlap
    lab = torch.zeros(1500, dtype=torch.long)
    for a, b, _ in s.spans:
        lab[a:b] = 1
    assert torch.equal(lab, s.test_labels)
    assert sorted(k for *_, k in s.spans) == ["correlation"] * 2 + ["spike"] * 2 + ["stuck"] * 2
    ends = sorted(s.spans)
    assert all(e1 <= s2 for (_, e1, _), (s2, _, _) in zip(ends[:-1], ends[1:], strict=True))
    assert label_spans(s.test_labels, "x") == [(a, b, "x") for a, b, _ in ends]


def test_anomalies_change_the_test_series_only_inside_their_spans():
    clean = make_sensor_series(**SMALL, anomalies_per_kind=0, seed=4)
    dirty = make_sensor_series(**SMALL, anomalies_per_kind=2, seed=4)
    assert torch.equal(clean.train, dirty.train)
    assert int(clean.test_labels.sum()) == 0
    changed = (clean.test != dirty.test).any(dim=1)
    assert bool((~changed | (dirty.test_labels == 1)).all())  # changes only where labelled
    for a, b, kind in dirty.spans:
        seg, ref = dirty.test[a:b], clean.test[a:b]
        assert bool((seg != ref).any()), kind
        if kind == "stuck":  # some sensor holds one value for the whole span
            assert bool(((seg == seg[0]).all(dim=0)).any())
        if kind == "spike":  # a jump of more than half the training range
            assert float((seg - ref).abs().max()) > 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_sensors=1), "n_sensors"),
        (dict(n_drivers=30), "must not exceed"),
        (dict(noise=-1.0), "noise"),
        (dict(kinds=("drift",)), "kinds"),
        (dict(test_length=100), "lengthen the test series"),
        (dict(n_drivers=1), "n_drivers >= 2"),
    ],
)
def test_generator_rejects_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_sensor_series(**{**SMALL, **kwargs})


def test_minmax_and_downsample():
    x = torch.tensor([[1.0, 5.0], [3.0, 5.0], [2.0, 5.0]])
    lo, rng = minmax_fit(x)
    assert lo.tolist() == [1.0, 5.0] and rng.tolist() == [2.0, 1.0]  # constant sensor: range 1
    assert minmax_apply(x, lo, rng)[:, 0].tolist() == [0.0, 1.0, 0.5]
    v = torch.arange(14.0).view(7, 2)
    lab = torch.tensor([0, 1, 1, 0, 0, 1, 1])
    d, dl = downsample(v, lab, 3)  # blocks [0-2], [3-5]; tick 6 dropped
    assert torch.equal(d, torch.tensor([[2.0, 3.0], [8.0, 9.0]]))  # medians
    assert dl.tolist() == [1, 0]  # majority label
    with pytest.raises(InputError, match="fewer than"):
        downsample(v[:2], None, 3)
    with pytest.raises(InputError, match="finite"):
        minmax_fit(torch.tensor([[math.nan]]))


# ---------------------------------------------------------------------------------------
# SWaT / WADI CSV files
# ---------------------------------------------------------------------------------------

SWAT = (
    " Timestamp,FIT101,LIT101, MV101,Normal/Attack\n"
    "28/12/2015 10:00:00 AM,2.4,520.1,2,Normal\n"
    "28/12/2015 10:00:01 AM,2.5,520.3,2,Normal\n"
    "28/12/2015 10:00:02 AM,2.6,521.0,1,Attack\n"
    "28/12/2015 10:00:03 AM,2.7,522.0,1,A ttack\n"
)


def test_swat_layout(tmp_path):
    p = tmp_path / "swat.csv"
    p.write_text("\n" + SWAT)  # a leading empty line is skipped
    t = load_sensor_csv(p)
    assert t.names == ["FIT101", "LIT101", "MV101"]
    assert t.values.shape == (4, 3) and t.values[2, 1].item() == pytest.approx(521.0)
    assert t.labels.tolist() == [0, 0, 1, 1]


def test_wadi_layout_with_gaps_and_empty_columns(tmp_path):
    p = tmp_path / "wadi.csv"
    p.write_text(
        "note line\n"
        "Row,Date,Time,1_AIT_001_PV,2_LS_001_AL,2_FIT_001_PV,"
        '"Attack LABLE (1:No Attack, -1:Attack)"\n'
        "1,9/10/2017,6:00:00 PM,171.1,,0.5,1\n"
        "2,9/10/2017,6:00:01 PM,,,0.6,1\n"
        "3,9/10/2017,6:00:02 PM,173.0,,0.7,-1\n"
    )
    t = load_sensor_csv(p, skip_rows=1)
    assert t.names == ["1_AIT_001_PV", "2_FIT_001_PV"] and t.dropped == ["2_LS_001_AL"]
    assert t.values[:, 0].tolist() == pytest.approx([171.1, 171.1, 173.0])  # forward filled
    assert t.labels.tolist() == [0, 0, 1]


def test_gdn_style_labels_and_explicit_label_column(tmp_path):
    p = tmp_path / "test.csv"
    p.write_text("timestamp,a,b,attack\n0,1.0,2.0,0\n1,1.5,2.5,1\n")
    assert load_sensor_csv(p).labels.tolist() == [0, 1]
    assert load_sensor_csv(p, label_column=" attack ").names == ["a", "b"]
    q = tmp_path / "nolabel.csv"
    q.write_text("a,b\n1,2\n3,4\n")
    assert load_sensor_csv(q).labels is None


def test_missing_path_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_sensor_csv(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="no path given"):
        load_swat_wadi("")
    with pytest.raises(DataError, match="training file"):
        load_swat_wadi(tmp_path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "header row and at least one data row"),
        (" Timestamp,FIT101,Normal/Attack\n", "header row and at least one data row"),
        (" Timestamp,FIT101,Normal/Attack\nx,1.0\n", "line 2 has 2 fields"),
        (" Timestamp,FIT101,Normal/Attack\nx,open,Normal\n", "FIT101.*numeric.*'open'"),
        (" Timestamp,FIT101,Normal/Attack\nx,1.0,Maybe\n", "Normal/Attack, 0/1 or 1/-1"),
        (" Timestamp,FIT101,Normal/Attack\nx,1.0,2\n", "Normal/Attack, 0/1 or 1/-1"),
        (" Timestamp,Normal/Attack\nx,Normal\n", "no sensor column"),
        ("a,label,attack\n1,0,0\n", "several label-like columns"),
        ("a,b\n1,inf\n", "finite"),
    ],
)
def test_malformed_csv_raises_input_error(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match):
        load_sensor_csv(p)


def test_load_swat_wadi_preprocesses_as_sec_4_1(tmp_path):
    rng = np.random.default_rng(0)
    rows_tr = ["Timestamp,s1,s2,Normal/Attack"] + [
        f"t{i},{rng.uniform(0, 10):.3f},{rng.uniform(5, 6):.3f},Normal" for i in range(40)
    ]
    rows_te = ["Timestamp,s2,s1,Normal/Attack"] + [  # columns in another order
        f"t{i},5.5,{20.0 if 8 <= i < 16 else 5.0},{'Attack' if 8 <= i < 16 else 'Normal'}"
        for i in range(24)
    ]
    (tmp_path / "train.csv").write_text("\n".join(rows_tr) + "\n")
    (tmp_path / "test.csv").write_text("\n".join(rows_te) + "\n")
    s = load_swat_wadi(tmp_path, drop_first=8, downsample_factor=4)
    assert s.names == ["s1", "s2"]
    assert s.train.shape == (8, 2) and s.test.shape == (6, 2)  # (40 - 8) / 4 and 24 / 4
    assert float(s.train.min()) >= 0.0 and float(s.train.max()) <= 1.0
    assert s.test_labels.tolist() == [0, 0, 1, 1, 0, 0]
    assert s.spans == [(2, 4, "attack")]
    assert float(s.test[2, 0]) > 1.0  # the attack lies outside the training range
    with pytest.raises(InputError, match="removes all"):
        load_swat_wadi(tmp_path, drop_first=40)
    (tmp_path / "test.csv").write_text("Timestamp,s1,s2\nt,1,2\n")
    with pytest.raises(InputError, match="needs a label column"):
        load_swat_wadi(tmp_path, downsample_factor=1)
