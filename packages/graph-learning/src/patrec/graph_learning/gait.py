"""Lower-limb skeletons and a generator of normal and abnormal 3D gait cycles.

The AGCFN paper (Wang & Wu, ICPR 2024) classifies one gait cycle of seven lower-limb Kinect
joints (pelvis, left/right hip, knee, ankle) into normal gait and six abnormal gaits mimicked
by healthy subjects on a treadmill. Its dataset is not public, so this module makes gait
cycles with the same layout from a kinematic model, with known classes.

Skeleton
--------
:data:`LOWER_LIMB_7` (name ``"lower_limb7"``) orders the joints as::

    0 pelvis   1 left_hip   2 left_knee   3 left_ankle   4 right_hip   5 right_knee   6 right_ankle

Its tree has the pelvis as root; every other joint has one parent (hip -> pelvis,
knee -> hip, ankle -> knee). A bone is named by its child joint: bone ``b`` runs from
``parents[child_b]`` (source) to ``child_b`` (target) and the bone vector is
``x[child] - x[parent]`` (Sec. 3.2: ``e = v_target - v_source``). The root has no bone,
so there are ``N^b = N^j - 1 = 6`` bones, as in the paper.

Coordinates
-----------
Metres; ``x`` points in the walking direction, ``y`` to the subject's left, ``z`` up. The
subject walks on a treadmill, so the pelvis stays near the origin in ``x, y``; its height is
the leg length plus 5 cm (Kinect's SPINE_BASE sits above the hip joints). A sample is an
array ``(3, T, 7)``: coordinate, frame, joint (the ``(C, T, V)`` layout of ST-GCN models).

Kinematic model
---------------
A gait cycle runs from heel strike of the left foot (phase 0) to the next one (phase 1); the
right leg lags by half a cycle. For each leg, with phase ``p``:

- hip flexion ``theta(p) = 12 + 21 cos(2 pi (p - 0.92))`` degrees (about 33 deg flexed
  before heel strike, -9 deg extended at push-off);
- knee flexion ``kappa(p) = 5 + 15 bump(p; 0.15, 0.07) + 55 bump(p; 0.72, 0.11)``: the
  loading-response and swing peaks (``bump`` is a periodic Gaussian of centre and width);
- hip abduction ``beta(p) = 1.5 + 2 sin(2 pi p)`` degrees;

and the pelvis translates (vertical ``2 cm cos 4 pi p``, lateral sway ``2 cm sin 2 pi p``)
and rotates (yaw ``4 cos 2 pi p`` deg, obliquity ``3 sin 2 pi p`` deg). Thigh and shank
directions follow from the angles: ``u = (sin t cos b, +/-sin b, -cos t cos b)`` with
``t = theta`` for the thigh and ``t = theta - kappa`` for the shank (outward ``+y`` for the
left leg, ``-y`` for the right).

Classes (:data:`GAIT_CLASSES`), each with a per-subject severity ``s`` in
``[severity_min, 1]``; "affected" is one leg, drawn per subject:

0. ``normal``.
1. ``antalgic``: shortened stance of the affected leg (its stance ends at
   ``0.62 - 0.12 s`` of the cycle instead of 0.62; its swing is slower), a stiffer stance
   knee (loading peak ``x (1 - 0.6 s)``) and a deeper pelvic drop.
2. ``circumduction``: the affected leg swings outward (``+15 s`` deg abduction bump in swing)
   with less swing knee flexion (``x (1 - 0.5 s)``) and hip hiking on that side.
3. ``stiff_knee``: swing knee flexion of the affected leg ``x (1 - 0.65 s)``, peak delayed by
   ``0.04 s`` of the cycle, no abduction.
4. ``steppage``: high stepping of the affected leg (extra ``+15 s`` deg hip and ``+25 s`` deg
   knee flexion in swing), as with a foot drop.
5. ``short_step``: both legs' hip excursion ``x (1 - 0.45 s)`` and swing knee flexion
   ``x (1 - 0.35 s)`` (shuffling).
6. ``waddling``: lateral sway ``x (1 + 2.5 s)``, obliquity ``+6 s`` deg, wider base
   (``+3 s`` deg abduction of both hips).

Variation: per subject, leg length ``U(0.78, 0.95)`` m, thigh share of the leg
``U(0.50, 0.54)``, hip width ``U(0.16, 0.22)`` m, hip and knee amplitude scales
``U(0.9, 1.1)``, a per-leg natural asymmetry of ``+/-5 %``, the camera's yaw ``U(-10, 10)``
deg and position ``+/-5`` cm; per cycle, a start-phase jitter (``+/-0.03``), ``+/-5 %``
amplitude jitter, a random first/second-harmonic angle perturbation of about 2 deg and
Gaussian joint noise (``noise`` metres, Kinect-like). Everything is drawn from one
``numpy.random.Generator`` seeded by the caller, so a dataset is a pure function of its
arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from patrec.core.errors import ConfigError, InputError

__all__ = [
    "GAIT_CLASSES",
    "LOWER_LIMB_7",
    "SKELETONS",
    "GaitData",
    "GaitSubject",
    "Skeleton",
    "gait_cycle",
    "get_skeleton",
    "joint_angles",
    "make_gait_dataset",
    "sample_subject",
]


# ---------------------------------------------------------------------------------------
# skeletons
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skeleton:
    """A skeleton tree: joint names, each joint's parent (-1 for the root), symmetry pairs.

    Attributes:
        name: the registry name (see :func:`get_skeleton`).
        joint_names: ``V^j`` names; joint ``i`` is column ``i`` of a ``(C, T, V)`` sample.
        parents: ``parents[i]`` is the parent of joint ``i``; exactly one root has ``-1``.
        symmetry: pairs of left/right joints linked by symmetry edges (Sec. 3.2, ``E_2``).

    Raises:
        InputError: not a tree (no or several roots, a parent out of range, a cycle) or a
            symmetry pair that names an unknown joint or a joint with itself.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    symmetry: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        v = len(self.joint_names)
        if v < 2 or len(self.parents) != v:
            raise InputError(
                f"skeleton {self.name!r}: need >= 2 joints and one parent per joint, got "
                f"{v} names and {len(self.parents)} parents"
            )
        roots = [i for i, p in enumerate(self.parents) if p == -1]
        if len(roots) != 1:
            raise InputError(f"skeleton {self.name!r}: need exactly one root (-1), got {roots}")
        for i, p in enumerate(self.parents):
            if (p != -1 and not 0 <= p < v) or p == i:
                raise InputError(f"skeleton {self.name!r}: joint {i} has invalid parent {p}")
        for i in range(v):  # walking up from every joint must reach the root within v steps
            j, steps = i, 0
            while self.parents[j] != -1:
                j, steps = self.parents[j], steps + 1
                if steps > v:
                    raise InputError(f"skeleton {self.name!r}: parents form a cycle at {i}")
        for a, b in self.symmetry:
            if not (0 <= a < v and 0 <= b < v) or a == b:
                raise InputError(f"skeleton {self.name!r}: bad symmetry pair ({a}, {b})")

    @property
    def num_joints(self) -> int:
        """``N^j``."""
        return len(self.joint_names)

    @property
    def num_bones(self) -> int:
        """``N^b = N^j - 1`` (the root has no bone)."""
        return len(self.joint_names) - 1

    @property
    def root(self) -> int:
        """Index of the root joint (the gravity-centre node of the partitions)."""
        return self.parents.index(-1)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """``(source, target)`` = ``(parent, child)`` of every bone, ordered by child index."""
        return tuple((p, i) for i, p in enumerate(self.parents) if p != -1)

    @property
    def bone_names(self) -> tuple[str, ...]:
        """``"parent->child"`` for every bone, in :attr:`bones` order."""
        return tuple(f"{self.joint_names[p]}->{self.joint_names[c]}" for p, c in self.bones)

    @property
    def depth(self) -> tuple[int, ...]:
        """Hop distance of every joint from the root along the tree."""
        out = []
        for i in range(self.num_joints):
            d, j = 0, i
            while self.parents[j] != -1:
                j, d = self.parents[j], d + 1
            out.append(d)
        return tuple(out)


LOWER_LIMB_7 = Skeleton(
    name="lower_limb7",
    joint_names=(
        "pelvis",
        "left_hip",
        "left_knee",
        "left_ankle",
        "right_hip",
        "right_knee",
        "right_ankle",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5),
    symmetry=((1, 4), (2, 5), (3, 6)),
)
"""The paper's seven lower-limb joints (Sec. 3.2, Fig. 2)."""

SKELETONS: dict[str, Skeleton] = {LOWER_LIMB_7.name: LOWER_LIMB_7}


def get_skeleton(skeleton: str | Skeleton) -> Skeleton:
    """The :class:`Skeleton` named ``skeleton`` (or ``skeleton`` itself).

    Raises:
        InputError: an unknown name (the message lists the known ones).
    """
    if isinstance(skeleton, Skeleton):
        return skeleton
    if isinstance(skeleton, str) and skeleton in SKELETONS:
        return SKELETONS[skeleton]
    raise InputError(f"unknown skeleton {skeleton!r}; known: {', '.join(sorted(SKELETONS))}")


# ---------------------------------------------------------------------------------------
# kinematic gait model
# ---------------------------------------------------------------------------------------

GAIT_CLASSES: tuple[str, ...] = (
    "normal",
    "antalgic",
    "circumduction",
    "stiff_knee",
    "steppage",
    "short_step",
    "waddling",
)
"""Class names by label: normal gait and six abnormalities (see the module docstring)."""

_TOE_OFF = 0.62  # share of the cycle in stance, normal gait


@dataclass(frozen=True)
class GaitSubject:
    """One simulated subject: body sizes, style and, for abnormal gaits, side and severity."""

    leg: float
    thigh_share: float
    hip_width: float
    hip_amp: float
    knee_amp: float
    asym: tuple[float, float]
    yaw_deg: float
    offset: tuple[float, float, float]
    affected: int  # 0 = left leg, 1 = right leg
    severity: float


def sample_subject(rng: np.random.Generator, severity_min: float = 0.5) -> GaitSubject:
    """Draw a subject's body and gait style (ranges in the module docstring)."""
    if not 0.0 <= severity_min <= 1.0:
        raise InputError(f"severity_min must be in [0, 1], got {severity_min}")
    return GaitSubject(
        leg=float(rng.uniform(0.78, 0.95)),
        thigh_share=float(rng.uniform(0.50, 0.54)),
        hip_width=float(rng.uniform(0.16, 0.22)),
        hip_amp=float(rng.uniform(0.9, 1.1)),
        knee_amp=float(rng.uniform(0.9, 1.1)),
        asym=(float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.05, 0.05))),
        yaw_deg=float(rng.uniform(-10.0, 10.0)),
        offset=tuple(float(v) for v in rng.uniform(-0.05, 0.05, size=3)),  # type: ignore[arg-type]
        affected=int(rng.integers(0, 2)),
        severity=float(rng.uniform(severity_min, 1.0)),
    )


def _bump(p: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Periodic Gaussian bump on the unit circle of phases."""
    d = (p - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / width) ** 2)


def _warp_stance(p: np.ndarray, stance_end: float) -> np.ndarray:
    """Map the leg's phase so that its stance ``[0, stance_end)`` fills ``[0, 0.62)``."""
    return np.where(
        p < stance_end,
        p / stance_end * _TOE_OFF,
        _TOE_OFF + (p - stance_end) / (1.0 - stance_end) * (1.0 - _TOE_OFF),
    )


def joint_angles(
    phase: np.ndarray, label: int, subject: GaitSubject, side: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hip flexion, knee flexion and hip abduction (degrees) of one leg over ``phase``.

    Args:
        phase: ``(T,)`` phases of the leg's own cycle in ``[0, 1)``, heel strike at 0.
        label: class index into :data:`GAIT_CLASSES`.
        subject: the subject (sizes, amplitudes, affected side, severity).
        side: 0 for the left leg, 1 for the right.

    Returns:
        ``(theta, kappa, beta)``, each ``(T,)``.
    """
    if not 0 <= label < len(GAIT_CLASSES):
        raise InputError(f"label must be in [0, {len(GAIT_CLASSES) - 1}], got {label}")
    name = GAIT_CLASSES[label]
    s = subject.severity
    hit = side == subject.affected
    p = np.asarray(phase, dtype=np.float64) % 1.0
    if name == "antalgic" and hit:
        p = _warp_stance(p, _TOE_OFF - 0.12 * s)
    hip_amp = 21.0 * subject.hip_amp * (1.0 + subject.asym[side])
    load_pk, swing_pk, swing_c = 15.0, 55.0 * subject.knee_amp * (1.0 + subject.asym[side]), 0.72
    abd = np.full_like(p, 0.0)
    extra_hip = np.zeros_like(p)
    extra_knee = np.zeros_like(p)
    if name == "antalgic" and hit:
        load_pk *= 1.0 - 0.6 * s
    elif name == "circumduction" and hit:
        abd += 15.0 * s * _bump(p, 0.78, 0.1)
        swing_pk *= 1.0 - 0.5 * s
    elif name == "stiff_knee" and hit:
        swing_pk *= 1.0 - 0.65 * s
        swing_c += 0.04 * s
    elif name == "steppage" and hit:
        extra_hip += 15.0 * s * _bump(p, 0.82, 0.1)
        extra_knee += 25.0 * s * _bump(p, 0.72, 0.1)
    elif name == "short_step":
        hip_amp *= 1.0 - 0.45 * s
        swing_pk *= 1.0 - 0.35 * s
    elif name == "waddling":
        abd += 3.0 * s
    theta = 12.0 + hip_amp * np.cos(2 * math.pi * (p - 0.92)) + extra_hip
    kappa = 5.0 + load_pk * _bump(p, 0.15, 0.07) + swing_pk * _bump(p, swing_c, 0.11) + extra_knee
    beta = 1.5 + 2.0 * np.sin(2 * math.pi * p) + abd
    return theta, kappa, beta


def _rot_z(deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def gait_cycle(
    subject: GaitSubject,
    label: int,
    rng: np.random.Generator,
    *,
    frames: int = 32,
    noise: float = 0.01,
    phase_jitter: float = 0.03,
    angle_jitter: float = 2.0,
) -> np.ndarray:
    """One gait cycle of ``subject`` walking with gait ``label``.

    Args:
        subject: from :func:`sample_subject`.
        label: class index into :data:`GAIT_CLASSES`.
        rng: the generator of the per-cycle randomness.
        frames: ``T``, frames per cycle (Kinect at 30 Hz sees about 32 per cycle).
        noise: standard deviation of the Gaussian joint noise, metres.
        phase_jitter: the cycle starts at a phase drawn from ``U(-j, j)``.
        angle_jitter: scale (degrees) of the random first/second-harmonic perturbation of
            every angle of every leg (0: the legs follow the model exactly).

    Returns:
        ``(3, T, 7)`` float32 joint coordinates of :data:`LOWER_LIMB_7` (metres).
    """
    if frames < 2:
        raise InputError(f"frames must be >= 2, got {frames}")
    if noise < 0 or not math.isfinite(noise):
        raise InputError(f"noise must be a finite value >= 0, got {noise}")
    if not 0 <= label < len(GAIT_CLASSES):
        raise InputError(f"label must be in [0, {len(GAIT_CLASSES) - 1}], got {label}")
    name = GAIT_CLASSES[label]
    s = subject.severity
    t = np.arange(frames) / frames
    p0 = float(rng.uniform(-phase_jitter, phase_jitter))
    amp_jit = rng.uniform(0.95, 1.05, size=3)
    harm = rng.normal(0.0, 1.0, size=(2, 3, 2))  # leg, angle, (cos, sin) of 1st/2nd harmonic
    p = (t + p0) % 1.0

    sway, ob_extra = 0.02, 0.0
    if name == "waddling":
        sway *= 1.0 + 2.5 * s
        ob_extra = 6.0 * s
    # pelvis: translation and rotation (yaw psi, obliquity phi: positive lifts the left hip)
    pel = np.stack(
        [
            np.zeros_like(p),
            sway * np.sin(2 * math.pi * p),
            subject.leg + 0.05 + 0.02 * np.cos(4 * math.pi * p),
        ]
    )
    psi = 4.0 * np.cos(2 * math.pi * p)
    phi = (3.0 + ob_extra) * np.sin(2 * math.pi * p)
    aff_phase = (p + 0.5 * subject.affected) % 1.0  # phase of the affected leg's own cycle
    aff_sign = 1.0 if subject.affected == 0 else -1.0
    if name == "antalgic":  # deeper drop while the affected leg bears weight
        pel[2] -= 0.015 * s * _bump(aff_phase, 0.3, 0.12)
    if name == "circumduction":  # hip hiking on the affected side during its swing
        phi = phi + aff_sign * 6.0 * s * _bump(aff_phase, 0.78, 0.1)

    joints = np.zeros((frames, 7, 3))
    joints[:, 0] = pel.T
    thigh = subject.leg * subject.thigh_share
    shank = subject.leg - thigh
    for side in (0, 1):
        sign = 1.0 if side == 0 else -1.0  # outward: +y for the left leg
        leg_p = (p + 0.5 * side) % 1.0
        theta, kappa, beta = joint_angles(leg_p, label, subject, side)
        angles = [theta, kappa, beta]
        for k in range(3):
            c1, s1 = harm[side, k]
            angles[k] = angles[k] * amp_jit[k] + angle_jitter * (
                c1 * np.cos(2 * math.pi * leg_p) + s1 * np.sin(4 * math.pi * leg_p)
            )
        theta, kappa, beta = (np.radians(a) for a in angles)
        # hip centre: pelvis midpoint 5 cm below the pelvis joint, half a hip width outward,
        # turned by the pelvic yaw and tilted by the obliquity
        half = sign * subject.hip_width / 2.0
        yaw, obl = np.radians(psi), np.radians(phi)
        off = np.stack([-np.sin(yaw) * half, np.cos(yaw) * half, np.sin(obl) * half - 0.05], 1)
        hip = joints[:, 0] + off
        u = np.stack(
            [np.sin(theta) * np.cos(beta), sign * np.sin(beta), -np.cos(theta) * np.cos(beta)], 1
        )
        ts = theta - kappa
        v = np.stack(
            [np.sin(ts) * np.cos(beta), sign * np.sin(beta), -np.cos(ts) * np.cos(beta)], 1
        )
        knee = hip + thigh * u
        ankle = knee + shank * v
        base = 1 + 3 * side
        joints[:, base], joints[:, base + 1], joints[:, base + 2] = hip, knee, ankle
    # camera: yaw about the vertical and a shift
    joints = joints @ _rot_z(subject.yaw_deg).T + np.asarray(subject.offset)
    joints = joints + rng.normal(0.0, noise, size=joints.shape)
    return np.ascontiguousarray(joints.transpose(2, 0, 1), dtype=np.float32)  # (3, T, 7)


@dataclass
class GaitData:
    """A subject-wise split of gait cycles.

    Attributes:
        x_train, x_test: ``(N, 3, T, 7)`` float32 joint coordinates (metres).
        y_train, y_test: ``(N,)`` int64 class labels.
        subject_train, subject_test: ``(N,)`` int64 subject ids (disjoint between splits).
        class_names: name of every label.
        skeleton: the joints' :class:`Skeleton`.
    """

    x_train: Tensor
    y_train: Tensor
    subject_train: Tensor
    x_test: Tensor
    y_test: Tensor
    subject_test: Tensor
    class_names: tuple[str, ...]
    skeleton: Skeleton = LOWER_LIMB_7

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def frames(self) -> int:
        return int(self.x_train.shape[2])


def make_gait_dataset(
    *,
    n_subjects: int = 12,
    test_subjects: int = 3,
    cycles_per_class: int = 6,
    frames: int = 32,
    noise: float = 0.01,
    severity_min: float = 0.5,
    classes: Sequence[str] = GAIT_CLASSES,
    seed: int = 0,
) -> GaitData:
    """Simulated subjects walking every class, split by subject (no subject in both splits).

    Every subject walks ``cycles_per_class`` cycles of every class in ``classes``. The
    last ``test_subjects`` subjects of a seeded permutation are the test split, so test
    accuracy measures generalisation to unseen people, as the paper's leave-one-subject-out
    protocol does.

    Returns:
        A :class:`GaitData`; labels index ``classes``.

    Raises:
        ConfigError: sizes out of range or an unknown class name.
    """
    unknown = [c for c in classes if c not in GAIT_CLASSES]
    if unknown or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ConfigError(
            f"classes: need >= 2 distinct names from {', '.join(GAIT_CLASSES)}, got {classes}"
        )
    if n_subjects < 2 or not 1 <= test_subjects < n_subjects:
        raise ConfigError(
            f"need n_subjects >= 2 and 1 <= test_subjects < n_subjects, got {n_subjects} "
            f"and {test_subjects}"
        )
    if cycles_per_class < 1:
        raise ConfigError(f"cycles_per_class must be >= 1, got {cycles_per_class}")
    if frames < 2:
        raise ConfigError(f"frames must be >= 2, got {frames}")
    if not 0.0 <= severity_min <= 1.0:
        raise ConfigError(f"severity_min must be in [0, 1], got {severity_min}")
    if noise < 0:
        raise ConfigError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    xs: list[np.ndarray] = []
    ys: list[int] = []
    ss: list[int] = []
    for subj in range(n_subjects):
        sub = sample_subject(rng, severity_min)
        for y, cname in enumerate(classes):
            label = GAIT_CLASSES.index(cname)
            for _ in range(cycles_per_class):
                xs.append(gait_cycle(sub, label, rng, frames=frames, noise=noise))
                ys.append(y)
                ss.append(subj)
    x = torch.from_numpy(np.stack(xs))
    yt = torch.tensor(ys, dtype=torch.int64)
    st = torch.tensor(ss, dtype=torch.int64)
    order = rng.permutation(n_subjects)
    test_ids = torch.from_numpy(order[n_subjects - test_subjects :].copy())
    te = torch.isin(st, test_ids)
    return GaitData(x[~te], yt[~te], st[~te], x[te], yt[te], st[te], tuple(classes))
