"""Multivariate sensor series: a generator with planted structure, and SWaT/WADI CSV loading.

Two sources give the same :class:`SensorSeries` (a normal training series, a test series and
its per-tick anomaly labels):

- :func:`make_sensor_series`: ``N`` sensors driven by a few latent drivers (each sensor
  follows one driver, so sensors of one group are strongly correlated and those of
  different groups are not), with anomalies injected into the test series at known spans:
  ``correlation`` (a few sensors of a group follow another group's driver, staying in their
  normal range), ``stuck`` (a sensor freezes at its current value) and ``spike`` (short
  bursts of large deviations on one or a few sensors). Labels are 1 inside the spans.
- :func:`load_sensor_csv` / :func:`load_swat_wadi`: the CSV layout of the SWaT and WADI
  testbeds (iTrust): timestamp column(s), one numeric column per sensor/actuator, and a
  label column (SWaT: ``Normal/Attack`` with ``Normal``/``Attack``; WADI 2019:
  ``Attack LABLE (1:No Attack, -1:Attack)`` with ``1``/``-1``; GDN-style files: ``attack``
  with ``0``/``1``). :func:`load_swat_wadi` reads a training and a test file from a local
  folder, drops the first ticks, downsamples and min-max normalises with the training
  statistics, as ConDGAD's Sec. 4.1 prescribes. Nothing is downloaded.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from patrec.core.checks import check_tensor, describe
from patrec.core.data import require_path
from patrec.core.errors import DataError, InputError

__all__ = [
    "ANOMALY_KINDS",
    "SensorSeries",
    "SensorTable",
    "downsample",
    "label_spans",
    "load_sensor_csv",
    "load_swat_wadi",
    "make_sensor_series",
    "minmax_fit",
    "minmax_apply",
]

ANOMALY_KINDS = ("correlation", "stuck", "spike")

# column names (stripped, lower case) that hold time, not a sensor
_TIME_COLUMNS = {"timestamp", "date", "time", "row", "datetime", "index", ""}


@dataclass
class SensorSeries:
    """A training series (normal operation) and a labelled test series of the same sensors.

    Attributes:
        train: ``(T_train, N)`` float32 sensor values (assumed normal).
        test: ``(T_test, N)`` float32 sensor values.
        test_labels: ``(T_test,)`` int64, 1 where the tick is anomalous.
        names: the ``N`` sensor names.
        spans: ``(start, end, kind)`` of every anomaly in the test series (``end``
            exclusive); for CSV data the runs of label 1 with kind ``"attack"``.
        groups: ``(N,)`` int64 planted group (driver) of each sensor, or None for real data.
    """

    train: Tensor
    test: Tensor
    test_labels: Tensor
    names: list[str]
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    groups: Tensor | None = None

    @property
    def num_sensors(self) -> int:
        return int(self.train.shape[1])


@dataclass
class SensorTable:
    """One CSV file: ``values (T, N)`` float32, ``labels (T,)`` int64 or None, sensor names."""

    values: Tensor
    labels: Tensor | None
    names: list[str]
    dropped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def label_spans(labels: Tensor, kind: str = "attack") -> list[tuple[int, int, str]]:
    """The maximal runs of nonzero labels as ``(start, end, kind)`` with ``end`` exclusive.

    Args:
        labels: ``(T,)`` integer or bool labels.
    """
    if not isinstance(labels, Tensor) or labels.ndim != 1:
        raise InputError(f"labels must be a (T,) tensor, got {describe(labels)}")
    lab = (labels != 0).to(torch.int8)
    if lab.numel() == 0:
        return []
    padded = torch.cat([torch.zeros(1, dtype=torch.int8), lab, torch.zeros(1, dtype=torch.int8)])
    diff = padded[1:] - padded[:-1]
    starts = torch.nonzero(diff == 1).flatten().tolist()
    ends = torch.nonzero(diff == -1).flatten().tolist()
    return [(int(s), int(e), kind) for s, e in zip(starts, ends, strict=True)]


def _check_series(name: str, x: object) -> Tensor:
    """A floating ``(T, N)`` series, T ticks of N sensors, finite and non-empty."""
    check_tensor(x, "T N", name=name, dtype="float", nonempty=True, finite=True)
    t: Tensor = x  # type: ignore[assignment]
    return t


def minmax_fit(train: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sensor minimum and range of ``train (T, N)``; a constant sensor gets range 1."""
    _check_series("train", train)
    lo = train.min(dim=0).values
    rng = train.max(dim=0).values - lo
    rng = torch.where(rng > 0, rng, torch.ones_like(rng))
    return lo, rng


def minmax_apply(x: Tensor, lo: Tensor, rng: Tensor) -> Tensor:
    """``(x - lo) / rng``: training data lands in ``[0, 1]`` (Sec. 4.1), test data may not."""
    _check_series("x", x)
    if lo.shape != (x.shape[1],) or rng.shape != (x.shape[1],):
        raise InputError(
            f"lo and rng must be ({x.shape[1]},) like the sensors of x, got "
            f"{tuple(lo.shape)} and {tuple(rng.shape)}"
        )
    return (x - lo) / rng


def downsample(values: Tensor, labels: Tensor | None, factor: int) -> tuple[Tensor, Tensor | None]:
    """One tick per ``factor`` ticks: the median of each block, its majority label.

    Sec. 4.1 downsamples SWaT and WADI to one point every 10 s; the median and majority
    label follow GDN [5], whose graph construction the paper extends (the paper does not say
    how). A trailing incomplete block is dropped.

    Args:
        values: ``(T, N)`` series.
        labels: ``(T,)`` labels or None.
        factor: block length ``>= 1``.

    Returns:
        ``(T // factor, N)`` values and ``(T // factor,)`` labels (or None).
    """
    _check_series("values", values)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise InputError(f"factor must be an integer >= 1, got {factor!r}")
    if factor == 1:
        return values, labels
    t = (values.shape[0] // factor) * factor
    if t == 0:
        raise InputError(
            f"the series has {values.shape[0]} ticks, fewer than the downsampling factor {factor}"
        )
    blocks = values[:t].reshape(t // factor, factor, values.shape[1])
    out = blocks.median(dim=1).values
    lab = None
    if labels is not None:
        if labels.shape != (values.shape[0],):
            raise InputError(
                f"labels must be ({values.shape[0]},) like values, got {tuple(labels.shape)}"
            )
        votes = (labels[:t] != 0).reshape(t // factor, factor).sum(dim=1)
        lab = (2 * votes > factor).to(torch.int64)
    return out, lab


# ---------------------------------------------------------------------------------------
# synthetic sensors
# ---------------------------------------------------------------------------------------


def _drivers(rng: np.random.Generator, n_drivers: int, t: np.ndarray) -> np.ndarray:
    """``(n_drivers, T)`` latent signals: two tones each, periods spread over 60-200 ticks.

    Driver ``j`` is ``sin(2 pi t / p_j + phi) + 0.5 sin(2 pi t / q_j + psi)`` with ``p_j``
    evenly spread over ``[60, 200]`` (jittered by 10%) and ``q_j ~ 0.37 p_j``.
    """
    out = np.empty((n_drivers, t.size))
    base = np.linspace(60.0, 200.0, n_drivers) if n_drivers > 1 else np.array([100.0])
    for j in range(n_drivers):
        p1 = base[j] * rng.uniform(0.9, 1.1)
        p2 = p1 * 0.37 * rng.uniform(0.9, 1.1)
        ph1, ph2 = rng.uniform(0, 2 * math.pi, size=2)
        out[j] = np.sin(2 * math.pi * t / p1 + ph1) + 0.5 * np.sin(2 * math.pi * t / p2 + ph2)
    return out


def make_sensor_series(
    n_sensors: int = 20,
    n_drivers: int = 3,
    train_length: int = 6000,
    test_length: int = 4000,
    *,
    noise: float = 0.05,
    anomalies_per_kind: int = 3,
    kinds: Sequence[str] = ANOMALY_KINDS,
    seed: int = 0,
    normalize: bool = True,
) -> SensorSeries:
    """Sensors with planted dependency structure and labelled injected anomalies.

    Sensor ``i`` belongs to group ``g(i) = i mod n_drivers`` and reads
    ``s_i(t) = a_i d_g(t - l_i) + b_i + noise``, with gain ``a_i in [0.6, 1.4]``, offset
    ``b_i``, a lag ``l_i`` of 0-2 ticks and Gaussian noise of std ``noise`` (relative to the
    unit driver amplitude). Drivers are two-tone sinusoids with distinct periods, so the
    correlation structure is the group partition. The training series is anomaly free; the
    test series continues it in time and receives ``anomalies_per_kind`` anomalies of every
    kind in ``kinds`` at random, non-overlapping spans (separated by at least 40 ticks):

    - ``correlation`` (60-200 ticks): 2-3 sensors of one group follow another driver with
      their own gain and offset, so each stays inside its normal range while its
      correlations break;
    - ``stuck`` (60-200 ticks): one sensor holds its value at the span start;
    - ``spike`` (5-15 ticks): 1-3 sensors jump by 2-4 times the driver amplitude.

    Args:
        n_sensors: ``N >= 2``.
        n_drivers: number of latent drivers (groups), ``1 <= n_drivers <= N``.
        train_length, test_length: ticks of each series.
        noise: measurement noise std ``>= 0``.
        anomalies_per_kind: anomalies of each kind in the test series.
        kinds: which kinds to inject (subset of :data:`ANOMALY_KINDS`).
        seed: seed of everything random here.
        normalize: min-max normalise both series with the training statistics (Sec. 4.1).

    Returns:
        A :class:`SensorSeries` with ``groups`` set and ``spans`` naming each kind.

    Raises:
        InputError: sizes out of range, unknown kinds, or more anomalies than fit.
    """
    for nm, v, lo in (
        ("n_sensors", n_sensors, 2),
        ("n_drivers", n_drivers, 1),
        ("train_length", train_length, 1),
        ("test_length", test_length, 1),
        ("anomalies_per_kind", anomalies_per_kind, 0),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise InputError(f"{nm} must be an integer >= {lo}, got {v!r}")
    if n_drivers > n_sensors:
        raise InputError(f"n_drivers ({n_drivers}) must not exceed n_sensors ({n_sensors})")
    if not math.isfinite(noise) or noise < 0:
        raise InputError(f"noise must be a finite float >= 0, got {noise!r}")
    bad = [k for k in kinds if k not in ANOMALY_KINDS]
    if bad:
        raise InputError(f"kinds: expected some of {', '.join(ANOMALY_KINDS)}, got {bad}")
    if "correlation" in kinds and anomalies_per_kind > 0 and n_drivers < 2:
        raise InputError("correlation anomalies need n_drivers >= 2 (another driver to follow)")

    rng = np.random.default_rng(seed)
    total = train_length + test_length
    t = np.arange(total + 3, dtype=np.float64)
    drivers = _drivers(rng, n_drivers, t)
    groups = np.arange(n_sensors) % n_drivers
    gain = rng.uniform(0.6, 1.4, size=n_sensors)
    offset = rng.uniform(-1.0, 1.0, size=n_sensors)
    lag = rng.integers(0, 3, size=n_sensors)

    def sensor(i: int, driver: int, a: float, b: float) -> np.ndarray:
        start = 3 - int(lag[i])
        return a * drivers[driver, start : start + total] + b

    x = np.stack([sensor(i, int(groups[i]), gain[i], offset[i]) for i in range(n_sensors)], 1)
    x = x + noise * rng.standard_normal(x.shape)

    # anomalies: choose non-overlapping spans in the test part, gap >= 40 ticks
    gap = 40
    plan: list[tuple[str, int]] = []
    for k in kinds:
        for _ in range(anomalies_per_kind):
            length = int(rng.integers(5, 16)) if k == "spike" else int(rng.integers(60, 201))
            plan.append((k, length))
    rng.shuffle(plan)
    need = sum(length + gap for _, length in plan) + gap
    if need > test_length:
        raise InputError(
            f"{len(plan)} anomalies need about {need} test ticks, got test_length={test_length}; "
            "lower anomalies_per_kind or lengthen the test series"
        )
    slack = test_length - need
    cuts = np.sort(rng.integers(0, slack + 1, size=len(plan)))
    spans: list[tuple[int, int, str]] = []
    pos = gap
    prev_cut = 0
    for (kind, length), cut in zip(plan, cuts, strict=True):
        pos += int(cut - prev_cut)
        prev_cut = int(cut)
        spans.append((pos, pos + length, kind))
        pos += length + gap

    labels = np.zeros(test_length, dtype=np.int64)
    test = x[train_length:].copy()
    for s, e, kind in spans:
        labels[s:e] = 1
        if kind == "correlation":
            g = int(rng.integers(0, n_drivers))
            members = np.flatnonzero(groups == g)
            m = max(2, (len(members) + 1) // 2)
            chosen = rng.choice(members, size=m, replace=False)
            other = int((g + rng.integers(1, n_drivers)) % n_drivers)
            for i in chosen:
                seg = sensor(int(i), other, gain[i], offset[i])[train_length + s : train_length + e]
                test[s:e, i] = seg + noise * rng.standard_normal(e - s)
        elif kind == "stuck":
            m = int(rng.integers(1, 4))
            chosen = rng.choice(n_sensors, size=m, replace=False)
            test[s:e, chosen] = test[s, chosen]
        else:  # spike
            m = int(rng.integers(2, 6))
            chosen = rng.choice(n_sensors, size=m, replace=False)
            for i in chosen:
                sign = rng.choice([-1.0, 1.0])
                test[s:e, i] += sign * rng.uniform(3.0, 5.0) * gain[i]

    train_t = torch.from_numpy(x[:train_length]).float()
    test_t = torch.from_numpy(test).float()
    if normalize:
        low, span = minmax_fit(train_t)
        train_t, test_t = minmax_apply(train_t, low, span), minmax_apply(test_t, low, span)
    return SensorSeries(
        train=train_t,
        test=test_t,
        test_labels=torch.from_numpy(labels),
        names=[f"s{i:02d}_g{int(groups[i])}" for i in range(n_sensors)],
        spans=spans,
        groups=torch.from_numpy(groups).long(),
    )


# ---------------------------------------------------------------------------------------
# SWaT / WADI CSV files
# ---------------------------------------------------------------------------------------


def _is_label_column(name: str) -> bool:
    low = name.strip().lower()
    return "attack" in low or "label" in low or "lable" in low


def _parse_labels(raw: list[str], column: str, path: Path) -> Tensor:
    """SWaT words (Normal / Attack, also 'A ttack'), 0/1, or WADI's 1 / -1 (-1 = attack)."""
    cells = [c.strip() for c in raw]
    words = {c.replace(" ", "").lower() for c in cells}
    if words <= {"normal", "attack"}:
        return torch.tensor([c.replace(" ", "").lower() == "attack" for c in cells]).long()
    try:
        nums = np.array([float(c) for c in cells])
    except ValueError:
        bad = sorted(words - {"normal", "attack"})[:3]
        raise InputError(
            f"{path}: label column {column!r} must hold Normal/Attack, 0/1 or 1/-1, got {bad}"
        ) from None
    uniq = set(np.unique(nums).tolist())
    if -1.0 in uniq or "-1" in column:
        if not uniq <= {1.0, -1.0}:
            raise InputError(
                f"{path}: label column {column!r} mixes 1/-1 with other values {sorted(uniq)}"
            )
        return torch.from_numpy((nums == -1.0).astype(np.int64))
    if not uniq <= {0.0, 1.0}:
        raise InputError(
            f"{path}: label column {column!r} must hold Normal/Attack, 0/1 or 1/-1, "
            f"got values {sorted(uniq)[:5]}"
        )
    return torch.from_numpy(nums.astype(np.int64))


def load_sensor_csv(
    path: str | Path,
    *,
    label_column: str | None = None,
    skip_rows: int = 0,
) -> SensorTable:
    """Read one SWaT/WADI-layout CSV file.

    Layout: a header row, then one row per tick. Columns named like time (``Timestamp``,
    ``Date``, ``Time``, ``Row``; surrounding spaces ignored, as in SWaT's `` Timestamp``) are
    dropped; the label column is ``label_column`` or else the one whose name mentions
    ``attack`` or ``label`` (``Normal/Attack``, ``Attack LABLE (1:No Attack, -1:Attack)``,
    ``attack``); every other column is a sensor and must be numeric. Empty cells (WADI has
    them) are filled forward then backward within their column; a column with no value at
    all is dropped and listed in ``dropped``. Leading empty lines are skipped.

    Args:
        path: the CSV file.
        label_column: the label column's name (spaces around it ignored); None: detect it,
            and a file without one gives ``labels=None``.
        skip_rows: lines to skip before the header (e.g. WADI's notes above its header).

    Returns:
        A :class:`SensorTable` with labels 1 = attack, 0 = normal.

    Raises:
        DataError: the file does not exist.
        InputError: an empty file, no sensor column, rows of the wrong length, text in a
            sensor column, or labels that are not Normal/Attack, 0/1 or 1/-1.
    """
    p = require_path(path, "sensor CSV", "a SWaT/WADI-layout CSV file")
    if not p.is_file():
        raise DataError(f"sensor CSV: {p} is not a file")
    with p.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        rows = [r for i, r in enumerate(reader) if i >= skip_rows]
    while rows and all(c.strip() == "" for c in rows[0]):
        rows.pop(0)
    while rows and all(c.strip() == "" for c in rows[-1]):
        rows.pop()
    if len(rows) < 2:
        raise InputError(f"{p}: expected a header row and at least one data row, got {len(rows)}")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    width = len(header)
    for lineno, r in enumerate(body, start=skip_rows + 2):
        if len(r) != width:
            raise InputError(
                f"{p}: line {lineno} has {len(r)} fields, the header has {width}; "
                "is this a SWaT/WADI-layout CSV?"
            )
    if label_column is not None:
        if label_column.strip() not in header:
            raise InputError(f"{p}: no label column {label_column!r}; columns are {header[:8]}...")
        lab_idx: int | None = header.index(label_column.strip())
    else:
        cands = [i for i, h in enumerate(header) if _is_label_column(h)]
        if len(cands) > 1:
            raise InputError(
                f"{p}: several label-like columns {[header[i] for i in cands]}; pass label_column"
            )
        lab_idx = cands[0] if cands else None
    sensor_idx = [
        i for i, h in enumerate(header) if i != lab_idx and h.strip().lower() not in _TIME_COLUMNS
    ]
    if not sensor_idx:
        raise InputError(f"{p}: no sensor column besides time and label columns {header}")
    values = np.empty((len(body), len(sensor_idx)), dtype=np.float64)
    for j, ci in enumerate(sensor_idx):
        col = [r[ci].strip() for r in body]
        try:
            values[:, j] = [float(c) if c != "" else math.nan for c in col]
        except ValueError:
            bad = next(c for c in col if c != "" and not _is_float(c))
            raise InputError(
                f"{p}: sensor column {header[ci]!r} must be numeric, got {bad!r}"
            ) from None
    keep = np.asarray(~np.isnan(values).all(axis=0), dtype=bool)
    flags = [bool(keep[j]) for j in range(keep.size)]
    dropped = [header[ci] for ci, k in zip(sensor_idx, flags, strict=True) if not k]
    values = values[:, keep]
    names = [header[ci] for ci, k in zip(sensor_idx, flags, strict=True) if k]
    if not names:
        raise InputError(f"{p}: every sensor column is empty")
    if not np.isfinite(values).all():
        values = _fill_gaps(values)
    labels = None
    if lab_idx is not None:
        labels = _parse_labels([r[lab_idx] for r in body], header[lab_idx], p)
    return SensorTable(torch.from_numpy(values).float(), labels, names, dropped)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """Forward- then backward-fill NaNs per column; infinities are rejected."""
    if np.isinf(values).any():
        raise InputError("sensor values must be finite numbers, got inf")
    out = values.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        idx = np.where(~np.isnan(col), np.arange(col.size), 0)
        np.maximum.accumulate(idx, out=idx)
        col = col[idx]
        first = np.flatnonzero(~np.isnan(col))[0]
        col[:first] = col[first]
        out[:, j] = col
    return out


def load_swat_wadi(
    root: str | Path,
    *,
    train_file: str = "train.csv",
    test_file: str = "test.csv",
    label_column: str | None = None,
    skip_rows: int = 0,
    drop_first: int = 0,
    downsample_factor: int = 10,
) -> SensorSeries:
    """A SWaT or WADI recording from a local folder, preprocessed as in Sec. 4.1.

    Reads ``root/train_file`` (normal operation) and ``root/test_file`` (with attacks; must
    have a label column), keeps the sensors both share (in the training file's order),
    drops the first ``drop_first`` training ticks (SWaT: 6 h = 21600 one-second ticks are
    unstable start-up), downsamples both by ``downsample_factor`` (10: one point every
    10 s) with :func:`downsample`, and min-max normalises both with the training minimum and
    range. Sensors constant over the training data are kept (range set to 1).

    Args:
        root: the folder holding both files (``--data PATH``).
        train_file, test_file: their names inside ``root`` (e.g. SWaT's
            ``SWaT_Dataset_Normal_v1.csv`` and ``SWaT_Dataset_Attack_v0.csv``).
        label_column, skip_rows: as in :func:`load_sensor_csv`.
        drop_first: training ticks dropped before downsampling.
        downsample_factor: block length of :func:`downsample`.

    Raises:
        DataError: the folder or a file is missing.
        InputError: a malformed file, no label column in the test file, no shared sensors,
            or nothing left after dropping and downsampling.
    """
    folder = require_path(root, "SWaT/WADI folder", "a folder with the training and test CSVs")
    if not folder.is_dir():
        raise DataError(f"SWaT/WADI folder: {folder} is not a folder")
    tr_path, te_path = folder / train_file, folder / test_file
    for fp, what in ((tr_path, "training"), (te_path, "test")):
        if not fp.is_file():
            raise DataError(
                f"SWaT/WADI folder: {what} file {fp} does not exist; set data.train_file / "
                "data.test_file to the CSV names in the folder"
            )
    if isinstance(drop_first, bool) or not isinstance(drop_first, int) or drop_first < 0:
        raise InputError(f"drop_first must be an integer >= 0, got {drop_first!r}")
    tr = load_sensor_csv(tr_path, label_column=label_column, skip_rows=skip_rows)
    te = load_sensor_csv(te_path, label_column=label_column, skip_rows=skip_rows)
    if te.labels is None:
        raise InputError(f"{te_path}: the test file needs a label column (e.g. Normal/Attack)")
    shared = [n for n in tr.names if n in set(te.names)]
    if not shared:
        raise InputError(f"{tr_path} and {te_path} share no sensor column")
    tr_vals = tr.values[:, [tr.names.index(n) for n in shared]]
    te_vals = te.values[:, [te.names.index(n) for n in shared]]
    if drop_first >= tr_vals.shape[0]:
        raise InputError(f"drop_first={drop_first} removes all {tr_vals.shape[0]} training ticks")
    tr_vals = tr_vals[drop_first:]
    tr_vals, _ = downsample(tr_vals, None, downsample_factor)
    te_vals, te_lab = downsample(te_vals, te.labels, downsample_factor)
    assert te_lab is not None
    lo, rg = minmax_fit(tr_vals)
    return SensorSeries(
        train=minmax_apply(tr_vals, lo, rg),
        test=minmax_apply(te_vals, lo, rg),
        test_labels=te_lab,
        names=shared,
        spans=label_spans(te_lab),
    )
