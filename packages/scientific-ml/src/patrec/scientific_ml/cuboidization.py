"""3D-CUBOIDIZATION: "Approximate Cuboidization of an Orthogonal Polyhedron: A Combinatorial
Approach" (A. Maity, M. Dutt, A. Biswas, B. B. Bhattacharya; inventory 001/18).

A pure combinatorial algorithm: it trains no model. A simple (genus-0, non-self-intersecting)
orthogonal polyhedron ``P`` is partitioned into axis-aligned cuboids by sweeping rectangular
faces through the interior until an obstacle (Sec. 3.1-3.2, Algorithm 1).

**Representation.** ``P`` is given as a voxel set: a boolean array ``voxels`` of shape
``(X, Y, Z)``, voxel ``(i, j, k)`` being the closed unit cube ``[i, i+1] x [j, j+1] x [k, k+1]``
(:func:`voxels_from_boxes` builds one from a union of integer boxes, and
:func:`voxels_from_vertices` from the vertex list of ``P``: in an orthogonal polyhedron the
vertices alone determine it, the voxel indicator being the XOR of the octants
``[v, +inf)^3`` of its vertices, an extreme-vertex representation; a list that is not the
vertex set of what it builds is refused). Internally the voxels are compressed onto the grid
of the distinct face coordinates (each cell a box between consecutive coordinates), so the
work depends on the number of faces, not on the voxel resolution. Cuboids come back as
integer boxes ``(x0, y0, z0, x1, y1, z1)`` in voxel coordinates.

**The paper's parts.**

- Faces, concave/convex edges, vertices (Defs. 3-7): a face is a maximal edge-connected
  planar region of the boundary with one outward normal; an edge element is concave when
  three of the four cells around it are inside (270 deg, Def. 4), convex when one is (Def. 3);
  an edge is a maximal run of collinear elements; vertices are the edges' end points.
- The three lexicographically sorted face lists ``L_xy``, ``L_yz``, ``L_zx`` (Sec. 2: faces of
  ``L_xy`` by z, then x, then y of their lowest corner; ``L_yz`` by x, y, z; ``L_zx`` by y, z, x).
- FIND-START-FACE: the first rectangular face of ``L_xy`` (Alg. 1, step 2).
- The queue loop (steps 5-21): if the head of ``Q`` is not rectangular, FIND-RECT-FACE takes
  the first rectangular face of the same connected part in ``L_xy``, ``L_yz``, ``L_zx`` (in
  that order) and the head stays queued; a rectangular head is dequeued.
- FIND-OBSTACLE and the rules (Sec. 3.1): the rectangle ``f`` is swept along its inward normal
  one grid layer at a time. **Rule 1**: the sweep stops at the first layer the rectangle cannot
  enter (the obstacle face(s) of the sorted list facing it); the cuboid runs from ``f`` to the
  obstacle. **Rule 2**: if, before that, the sweep crosses a rectangle ``f1`` (not a face of
  ``P``) of which three or four edges are concave edges -- the walls along three or four of
  ``f``'s sides end there and ``P`` widens beyond them -- the cuboid runs from ``f`` to
  ``f1`` (going on would leave a tunnel: the rest would not be genus 0). The sweep reads the
  compressed cell grid layer by layer, which finds the same obstacle as scanning the sorted
  list from ``f``'s plane on for the first face facing ``f`` over its rectangle.
- The cut faces of the removed cuboid (the parts of its boundary inside the rest) are
  enqueued, one entry per connected cut region, the far side (the obstacle side) first, then
  the four side walls (the paper does not give an order; our choice).
- Bounds (Sec. 3.5): Lemma 1 ``#cuboids <= k + 1`` (``k`` concave edges), Lemma 2
  ``#cuboids >= k' + 1`` (``k'`` net concave edges), Theorem 1 ``k + 1 <= 4 k' + 1``.

**Choices where the paper is silent or vague (each written where made).**

- Net concave edges ``k'`` (Sec. 3.5, Fig. 7): the paper defines them by words only. Ours:
  two parallel concave edges with the same extent, lying in one plane, facing each other,
  such that the rectangle between them lies inside ``P`` (the cells on both of its sides are
  in ``P``) are joined, and so is every concave edge that is a full side of that rectangle
  (the 3- and 4-edge cases of Fig. 7 b, c); ``k'`` is the number of joined groups. Lemma 2 is
  the paper's claim, not a proven bound: the recipe reports how often the count meets it.
  On random polyhedra it fails on about a third of the larger draws, for the paper's
  algorithm and the greedy baseline alike (fewer cuboids than ``k' + 1``), and the joined
  groups can hold more than four edges (through chains), so Theorem 1 need not hold for it.
  Lemma 1 (``<= k + 1``) held on every draw we ran.
- Queue entries are boundary elements (a cell and a direction); at its turn an entry stands
  for the face that contains it in the current rest (faces merge and split as cuboids go); an
  entry whose element is gone is dropped. If a part had no rectangular face, the largest
  rectangle at the first corner of its first face would be swept instead (counted in
  ``fallbacks``; it does not happen on the generated polyhedra).
- The face lists are rebuilt after each extraction (labelling the boundary, O(grid cells) per
  cuboid), not updated in place as the paper's O(f) step: simpler, and the measured time
  therefore grows faster than the paper's O(n log n); the recipe fits and reports the exponent.

**The recipe** draws random simple orthogonal polyhedra of growing size (unions of boxes,
kept when the union stays genus 0 with three edges at every vertex) and runs the paper's
algorithm (variant ``cuboidization``) against a naive stand-in baseline (``greedy_voxel``:
greedy voxel-box merging, grow a box from the first free voxel in x, then y, then z), both
checked for exactness (disjoint cuboids whose union is the input voxel set). The paper has no
baseline. Metrics: cuboid count, its ratio to the lower bound ``k' + 1``, within-bounds rate,
time, exactness; plots: count against size, time against ``n log n``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from patrec.core.checks import check_int, check_tensor
from patrec.core.config import param, validate_config
from patrec.core.errors import ConfigError, InputError
from patrec.core.registry import Method
from patrec.core.report import pyplot, save_figure

__all__ = [
    "METHOD",
    "CuboidizationConfig",
    "CuboidizationResult",
    "PolyhedronStats",
    "check_partition",
    "cuboidize",
    "fig1_polyhedron",
    "greedy_voxel_boxes",
    "is_simple_polyhedron",
    "polyhedron_stats",
    "random_polyhedron",
    "recipe",
    "sorted_face_lists",
    "voxels_from_boxes",
    "voxels_from_vertices",
]

Box = tuple[int, int, int, int, int, int]


# ---------------------------------------------------------------------------------------
# input, representation
# ---------------------------------------------------------------------------------------
def _check_voxels(voxels: Any, name: str = "voxels") -> np.ndarray:
    check_tensor(voxels, "X Y Z", name=name, dtype="bool", array=True, nonempty=True)
    v = np.asarray(voxels)
    if not v.any():
        raise InputError(f"{name} must hold at least one voxel, got an empty set")
    return v


def voxels_from_boxes(
    boxes: Sequence[Sequence[int]], shape: Sequence[int] | None = None
) -> np.ndarray:
    """The voxel set of a union of integer boxes ``(x0, y0, z0, x1, y1, z1)`` (half-open).

    Returns a bool array of ``shape`` (default: just large enough).
    """
    arr = np.asarray(boxes)
    check_tensor(arr, "B 6", name="boxes", dtype="int", array=True, nonempty=True, nonneg=True)
    if np.any(arr[:, 3:] <= arr[:, :3]):
        raise InputError("boxes must have x1 > x0, y1 > y0, z1 > z0 for every box")
    size = tuple(int(s) for s in (arr[:, 3:].max(0) if shape is None else shape))
    if len(size) != 3 or np.any(arr[:, 3:].max(0) > np.asarray(size)):
        raise InputError(f"shape {size} must be 3 sizes holding every box")
    v = np.zeros(size, dtype=bool)
    for x0, y0, z0, x1, y1, z1 in arr.tolist():
        v[x0:x1, y0:y1, z0:z1] = True
    return v


def voxels_from_vertices(vertices: Sequence[Sequence[int]]) -> np.ndarray:
    """The voxel set of the orthogonal polyhedron with these integer vertices.

    The indicator of the voxel ``(i, j, k)`` is the parity of the number of vertices ``v``
    with ``v <= (i, j, k)`` coordinate-wise (XOR of the octants of the vertices). The list
    must be exactly the vertex set of the result (checked), otherwise ``InputError``.
    """
    arr = np.asarray(vertices)
    check_tensor(arr, "V 3", name="vertices", dtype="int", array=True, nonempty=True, nonneg=True)
    if len({tuple(r) for r in arr.tolist()}) != len(arr):
        raise InputError("vertices must be distinct")
    size = arr.max(0)
    d = np.zeros(tuple(int(s) + 1 for s in size), dtype=np.int64)
    for x, y, z in arr.tolist():
        d[x, y, z] ^= 1
    ind = np.cumsum(np.cumsum(np.cumsum(d, 0), 1), 2) % 2
    vox = ind[:-1, :-1, :-1].astype(bool)
    if not vox.any():
        raise InputError("vertices enclose no volume")
    got = {tuple(p) for p in _vertex_points(vox)}
    if got != {tuple(r) for r in arr.tolist()}:
        raise InputError(
            f"vertices are not the vertex set of an orthogonal polyhedron ({len(arr)} given, "
            f"the polyhedron they build has {len(got)})"
        )
    return vox


@dataclass
class _Grid:
    """Voxels compressed onto the distinct face coordinates: ``cells[i, j, k]`` is the box
    ``[xs[i], xs[i+1]] x [ys[j], ys[j+1]] x [zs[k], zs[k+1]]``."""

    cells: np.ndarray
    coords: tuple[np.ndarray, np.ndarray, np.ndarray]


def _compress(vox: np.ndarray) -> _Grid:
    coords = []
    cells = vox
    for a in range(3):
        moved = np.moveaxis(cells, a, 0)
        n = moved.shape[0]
        change = [0] + [i for i in range(1, n) if not np.array_equal(moved[i], moved[i - 1])]
        coords.append(np.asarray(change + [n], dtype=np.int64))
        cells = np.moveaxis(moved[change], 0, a)
    return _Grid(np.ascontiguousarray(cells), (coords[0], coords[1], coords[2]))


# ---------------------------------------------------------------------------------------
# edges, vertices, faces (Defs. 3-7) and the bounds of Sec. 3.5
# ---------------------------------------------------------------------------------------
def _edge_codes(cells: np.ndarray, a: int) -> np.ndarray:
    """Per edge element along axis ``a``: the 4-bit code of the cells around it.

    Shape ``(n_a, n_b + 1, n_c + 1)`` (b, c the other axes in increasing order), bits
    ``q00 | q10 << 1 | q01 << 2 | q11 << 3`` for the cells at (b-1, c-1), (b, c-1), (b-1, c),
    (b, c).
    """
    p = np.pad(cells, 1)
    m = np.moveaxis(p, a, 0)[1:-1]
    q00 = m[:, :-1, :-1]
    q10 = m[:, 1:, :-1]
    q01 = m[:, :-1, 1:]
    q11 = m[:, 1:, 1:]
    return (q00.astype(np.int8) | q10 << 1 | q01 << 2 | q11 << 3).astype(np.int8)


_POP = np.array([bin(i).count("1") for i in range(16)])
_DIAG = np.zeros(16, dtype=bool)
_DIAG[[0b1001, 0b0110]] = True


def _edge_runs(cells: np.ndarray) -> list[tuple[int, int, int, int, int, int]]:
    """Every edge: ``(axis, start, stop, b, c, code)`` as a list of tuples (grid indices)."""
    runs = []
    for a in range(3):
        code = _edge_codes(cells, a)
        pop = _POP[code]
        is_edge = (pop == 1) | (pop == 3) | _DIAG[code]
        prev = np.concatenate([np.full((1,) + code.shape[1:], -1, np.int8), code[:-1]])
        starts = is_edge & (code != prev)
        nxt = np.concatenate([code[1:], np.full((1,) + code.shape[1:], -1, np.int8)])
        ends = is_edge & (code != nxt)
        sb, sc = np.nonzero(starts.any(0))
        for b, c in zip(sb.tolist(), sc.tolist()):
            s_idx = np.flatnonzero(starts[:, b, c])
            e_idx = np.flatnonzero(ends[:, b, c])
            for s, e in zip(s_idx.tolist(), e_idx.tolist(), strict=True):
                runs.append((a, s, e + 1, b, c, int(code[s, b, c])))
    return runs


def _point(a: int, t: int, b: int, c: int) -> tuple[int, int, int]:
    p = [0, 0, 0]
    others = [x for x in range(3) if x != a]
    p[a], p[others[0]], p[others[1]] = t, b, c
    return (p[0], p[1], p[2])


def _vertex_points(vox: np.ndarray) -> np.ndarray:
    """The vertices of the voxel set, in voxel coordinates, shape ``(V, 3)``."""
    g = _compress(vox)
    pts = set()
    for a, s, e, b, c, _ in _edge_runs(g.cells):
        for t in (s, e):
            p = _point(a, t, b, c)
            pts.add(tuple(int(g.coords[i][p[i]]) for i in range(3)))
    return np.asarray(sorted(pts), dtype=np.int64).reshape(-1, 3)


def _faces_of(cells: np.ndarray) -> dict[tuple[int, int], tuple[np.ndarray, int]]:
    """Per outward direction ``(axis, sign)``: the face labels of the boundary elements."""
    from scipy import ndimage

    out = {}
    p = np.pad(cells, 1)
    for a in range(3):
        st = np.zeros((3, 3, 3), dtype=bool)
        idx: list[Any] = [slice(None)] * 3
        idx[a] = 1
        cross = np.zeros((3, 3), dtype=bool)
        cross[1, :] = cross[:, 1] = True
        st[tuple(idx)] = cross
        for s in (-1, 1):
            nb = np.roll(p, -s, axis=a)[1:-1, 1:-1, 1:-1]
            bnd = cells & ~nb
            lab, n = ndimage.label(bnd, structure=st)
            out[(a, s)] = (lab, n)
    return out


@dataclass
class _Face:
    axis: int
    sign: int  # outward normal = sign * e_axis
    plane: int  # grid plane index
    lo: tuple[int, int, int]  # cell bounding box (inclusive lo, exclusive hi)
    hi: tuple[int, int, int]
    count: int
    label: int
    part: int  # connected part of the rest holding it

    @property
    def rect(self) -> bool:
        return self.count == int(np.prod(np.subtract(self.hi, self.lo)))


_LIST_KEYS = {2: (2, 0, 1), 0: (0, 1, 2), 1: (1, 2, 0)}  # L_xy: z,x,y; L_yz: x,y,z; L_zx: y,z,x


def _face_lists(
    cells: np.ndarray,
) -> tuple[dict[int, list[_Face]], dict[tuple[int, int], tuple[np.ndarray, int]], np.ndarray]:
    from scipy import ndimage

    labels = _faces_of(cells)
    parts, _ = ndimage.label(cells)
    lists: dict[int, list[_Face]] = {0: [], 1: [], 2: []}
    for (a, s), (lab, n) in labels.items():
        if n == 0:
            continue
        counts = np.bincount(lab.ravel(), minlength=n + 1)
        for i, sl in enumerate(ndimage.find_objects(lab), 1):
            if sl is None:
                continue
            lo = tuple(int(x.start) for x in sl)
            hi = tuple(int(x.stop) for x in sl)
            plane = lo[a] + (1 if s > 0 else 0)
            sub = lab[sl] == i
            first = tuple(int(x) for x in np.argwhere(sub)[0] + np.asarray(lo))
            lists[a].append(
                _Face(a, s, plane, lo, hi, int(counts[i]), i, int(parts[first]))  # type: ignore[arg-type]
            )
    for a in lists:
        k = _LIST_KEYS[a]
        lists[a].sort(key=lambda f: (f.plane, f.lo[k[1]], f.lo[k[2]], f.sign))
    return lists, labels, parts


def sorted_face_lists(voxels: np.ndarray) -> dict[str, list[dict[str, Any]]]:
    """The lists ``L_xy``, ``L_yz``, ``L_zx`` of Sec. 2 for a voxel set, in voxel coordinates.

    Each face: ``normal`` (e.g. ``"-z"``), ``plane`` (its coordinate), ``lo``/``hi`` (its
    bounding rectangle) and ``rectangular``.
    """
    vox = _check_voxels(voxels)
    g = _compress(vox)
    lists, _, _ = _face_lists(g.cells)
    names = {2: "L_xy", 0: "L_yz", 1: "L_zx"}
    out: dict[str, list[dict[str, Any]]] = {}
    for a, fs in lists.items():
        rows = []
        for f in fs:
            lo = [int(g.coords[i][f.lo[i]]) for i in range(3)]
            hi = [int(g.coords[i][f.hi[i]]) for i in range(3)]
            lo[a] = hi[a] = int(g.coords[a][f.plane])
            rows.append({
                "normal": ("+" if f.sign > 0 else "-") + "xyz"[a],
                "plane": int(g.coords[a][f.plane]),
                "lo": lo, "hi": hi, "rectangular": f.rect,
            })  # fmt: skip
        out[names[a]] = rows
    return out


@dataclass
class PolyhedronStats:
    """Counts of Table 1: vertices, edges, faces, convex/concave and net concave edges."""

    vertices: int
    edges: int
    faces: int
    convex_edges: int
    concave_edges: int
    net_concave_edges: int
    simple: bool

    @property
    def lower_bound(self) -> int:
        """Lemma 2: ``k' + 1``."""
        return self.net_concave_edges + 1

    @property
    def upper_bound(self) -> int:
        """Lemma 1: ``k + 1``."""
        return self.concave_edges + 1


def _net_concave(cells: np.ndarray, runs: list[tuple[int, int, int, int, int, int]]) -> int:
    """``k'``: concave edges joined by interior rectangles (Sec. 3.5, Fig. 7; our reading).

    A candidate rectangle lies in the plane of one face of a concave edge ``e``, on the
    interior side (the face extended into ``P``), spanned by ``e`` and a second concave edge of
    that plane: a parallel one of the same extent facing it, or a perpendicular one starting
    at an end of ``e``. If the cells on both sides of the rectangle are in ``P``, every concave
    edge that is a full side of it is joined to one group (two, three or four, Fig. 7 a-c).
    """
    conc = [r for r in runs if _POP[r[5]] == 3]
    key = {(a, s, e, b, c): i for i, (a, s, e, b, c, _) in enumerate(conc)}
    parent = list(range(len(conc)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def line(axis: int, s: int, e: int, at: dict[int, int]) -> int | None:
        o = [x for x in range(3) if x != axis]
        return key.get((axis, s, e, at[o[0]], at[o[1]]))

    # the outside quadrant of a concave element: the missing bit -> side (0: -, 1: +) in (b, c)
    miss = {0b1110: (0, 0), 0b1101: (1, 0), 0b1011: (0, 1), 0b0111: (1, 1)}
    p = np.pad(cells, 1)
    by_plane: dict[tuple[int, int], list[int]] = {}
    for i, (a, _s, _e, b, c, _) in enumerate(conc):
        o = [x for x in range(3) if x != a]
        by_plane.setdefault((o[0], b), []).append(i)
        by_plane.setdefault((o[1], c), []).append(i)
    for i, (a, s, e, b, c, code) in enumerate(conc):
        o = [x for x in range(3) if x != a]
        pos = {o[0]: b, o[1]: c}
        for n_ax, u_ax in ((o[0], o[1]), (o[1], o[0])):  # plane normal n_ax, sweep along u_ax
            out_side = miss[int(code)][o.index(u_ax)]
            step = -1 if out_side == 1 else 1  # away from the outside quadrant
            h, u = pos[n_ax], pos[u_ax]
            rects = []
            for j in by_plane[(n_ax, h)]:
                a2, s2, e2, b2, c2, code2 = conc[j]
                o2 = [x for x in range(3) if x != a2]
                pos2 = {o2[0]: b2, o2[1]: c2}
                if a2 == a and (s2, e2) == (s, e):
                    u2 = pos2[u_ax]
                    if (u2 - u) * step > 0 and miss[int(code2)][o2.index(u_ax)] != out_side:
                        rects.append((min(u, u2), max(u, u2)))
                elif a2 == u_ax and pos2[a] in (s, e):
                    if step > 0 and s2 == u:
                        rects.append((u, e2))
                    elif step < 0 and e2 == u:
                        rects.append((s2, u))
            for u0, u1 in rects:
                sl: list[Any] = [0, 0, 0]
                sl[a] = slice(s + 1, e + 1)
                sl[u_ax] = slice(u0 + 1, u1 + 1)
                sl[n_ax] = slice(h, h + 2)
                if not p[tuple(sl)].all():
                    continue
                sides = [
                    line(a, s, e, {n_ax: h, u_ax: u0}),
                    line(a, s, e, {n_ax: h, u_ax: u1}),
                    line(u_ax, u0, u1, {n_ax: h, a: s}),
                    line(u_ax, u0, u1, {n_ax: h, a: e}),
                ]
                for k2 in sides:
                    if k2 is not None:
                        parent[find(k2)] = find(i)
    return len({find(i) for i in range(len(conc))})


def polyhedron_stats(voxels: np.ndarray) -> PolyhedronStats:
    """Vertices, edges, faces, convex/concave edges and net concave edges of a voxel set."""
    vox = _check_voxels(voxels)
    g = _compress(vox)
    runs = _edge_runs(g.cells)
    lists, _, _ = _face_lists(g.cells)
    verts = {_point(a, t, b, c) for a, s, e, b, c, _ in runs for t in (s, e)}
    return PolyhedronStats(
        vertices=len(verts),
        edges=len(runs),
        faces=sum(len(v) for v in lists.values()),
        convex_edges=sum(1 for r in runs if _POP[r[5]] == 1),
        concave_edges=sum(1 for r in runs if _POP[r[5]] == 3),
        net_concave_edges=_net_concave(g.cells, runs),
        simple=_simple(g.cells, runs),
    )


def _simple(cells: np.ndarray, runs: list[tuple[int, int, int, int, int, int]]) -> bool:
    """Genus 0, one piece, no cavity, no edge or vertex contacts, three edges per vertex."""
    from scipy import ndimage

    if any(_DIAG[r[5]] for r in runs):
        return False
    if ndimage.label(cells)[1] != 1 or ndimage.label(~np.pad(cells, 1))[1] != 1:
        return False
    ends: dict[tuple[int, int, int], set[int]] = {}
    n_ends: dict[tuple[int, int, int], int] = {}
    for a, s, e, b, c, _ in runs:
        for t in (s, e):
            q = _point(a, t, b, c)
            ends.setdefault(q, set()).add(a)
            n_ends[q] = n_ends.get(q, 0) + 1
    if any(len(v) != 3 or n_ends[q] != 3 for q, v in ends.items()):
        return False
    # Euler characteristic of the closed cubical complex: 1 for a genus-0 solid
    p = np.pad(cells, 1)
    cubes = int(cells.sum())
    sq = ed = 0
    for a in range(3):
        full = np.moveaxis(p, a, 0)
        sq += int((full[1:] | full[:-1])[:, 1:-1, 1:-1].sum())
        m = full[1:-1]
        ed += int((m[:, 1:, 1:] | m[:, :-1, 1:] | m[:, 1:, :-1] | m[:, :-1, :-1]).sum())
    v8 = p[1:, 1:, 1:] | p[:-1, 1:, 1:] | p[1:, :-1, 1:] | p[1:, 1:, :-1]
    v8 = v8 | p[:-1, :-1, 1:] | p[:-1, 1:, :-1] | p[1:, :-1, :-1] | p[:-1, :-1, :-1]
    vt = int(v8.sum())
    return vt - ed + sq - cubes == 1


def is_simple_polyhedron(voxels: np.ndarray) -> bool:
    """Whether the voxel set is a simple orthogonal polyhedron (Def. 2): one genus-0 piece
    without cavities whose every vertex has three perpendicular edges."""
    return polyhedron_stats(voxels).simple


# ---------------------------------------------------------------------------------------
# Algorithm 1: 3D-CUBOIDIZATION
# ---------------------------------------------------------------------------------------
@dataclass
class CuboidizationResult:
    """What :func:`cuboidize` found.

    Attributes:
        cuboids: integer boxes ``(x0, y0, z0, x1, y1, z1)`` (half-open), in extraction order.
        rules: the rule that cut each cuboid (1 or 2, Sec. 3.1).
        start_face: the start face (``normal``, ``lo``, ``hi``), from ``L_xy``.
        fallbacks: parts without a rectangular face, swept from a rectangle of a face.
    """

    cuboids: list[Box]
    rules: list[int]
    start_face: dict[str, Any]
    fallbacks: int = 0

    @property
    def count(self) -> int:
        return len(self.cuboids)


def _slab(f_lo: Sequence[int], f_hi: Sequence[int], a: int, t: int) -> tuple[slice, ...]:
    sl = [slice(f_lo[i], f_hi[i]) for i in range(3)]
    sl[a] = slice(t, t + 1)
    return tuple(sl)


def _concave_sides(
    rest: np.ndarray, lo: Sequence[int], hi: Sequence[int], a: int, prev: int, t: int
) -> int:
    """How many sides of the swept rectangle are concave edges at the plane between layers
    ``prev`` and ``t`` (Rule 2): the outside strip is empty at ``prev`` and full at ``t``."""
    n = 0
    for b in (x for x in range(3) if x != a):
        for side in (lo[b] - 1, hi[b]):
            if side < 0 or side >= rest.shape[b]:
                continue
            sl_prev = list(_slab(lo, hi, a, prev))
            sl_next = list(_slab(lo, hi, a, t))
            sl_prev[b] = sl_next[b] = slice(side, side + 1)
            if not rest[tuple(sl_prev)].any() and rest[tuple(sl_next)].all():
                n += 1
    return n


def _sweep(rest: np.ndarray, f: _Face) -> tuple[tuple[int, int, int], tuple[int, int, int], int]:
    """FIND-OBSTACLE + CHECK-EDGE + APPLY-RULE1/2: the cuboid swept from ``f`` and its rule."""
    a, d = f.axis, -f.sign
    lo, hi = list(f.lo), list(f.hi)
    first = f.plane if d > 0 else f.plane - 1
    last = t = first
    rule = 1
    while True:
        t = last + d
        if t < 0 or t >= rest.shape[a] or not rest[_slab(lo, hi, a, t)].all():
            break  # Rule 1: the obstacle face(s) facing f at this plane
        if _concave_sides(rest, lo, hi, a, last, t) >= 3:
            rule = 2  # Rule 2: f1 bounded by 3 or 4 concave edges
            break
        last = t
    lo[a], hi[a] = min(first, last), max(first, last) + 1
    return (lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]), rule


def _rect_part(f: _Face, labels: np.ndarray) -> _Face:
    """The largest rectangle of face ``f`` grown from its first element (fallback)."""
    sl = tuple(slice(f.lo[i], f.hi[i]) for i in range(3))
    mask = labels[sl] == f.label
    first = np.argwhere(mask)[0]
    lo = [int(x) for x in first]
    hi = [x + 1 for x in lo]
    for b in (x for x in range(3) if x != f.axis):
        while hi[b] < mask.shape[b]:
            trial = hi.copy()
            trial[b] += 1
            if not mask[tuple(slice(lo[i], trial[i]) for i in range(3))].all():
                break
            hi = trial
    glo = tuple(int(lo[i] + f.lo[i]) for i in range(3))
    ghi = tuple(int(hi[i] + f.lo[i]) for i in range(3))
    count = int(np.prod(np.subtract(ghi, glo)))
    return _Face(f.axis, f.sign, f.plane, glo, ghi, count, f.label, f.part)  # type: ignore[arg-type]


def _cut_seeds(
    rest: np.ndarray, lo: Sequence[int], hi: Sequence[int], far: tuple[int, int]
) -> list[tuple[tuple[int, int, int], int, int]]:
    """The cut faces of a removed box: one (cell, axis, sign) per connected cut region,
    the far side (``far`` = (axis, side)) first, then the others."""
    from scipy import ndimage

    sides = [(a, s) for a in range(3) for s in (-1, 1)]
    sides.sort(key=lambda x: x != far)
    seeds = []
    for a, s in sides:
        layer = lo[a] - 1 if s < 0 else hi[a]
        if layer < 0 or layer >= rest.shape[a]:
            continue
        sl = [slice(lo[i], hi[i]) for i in range(3)]
        sl[a] = slice(layer, layer + 1)
        mask = rest[tuple(sl)]
        if not mask.any():
            continue
        lab, n = ndimage.label(mask)
        for i in range(1, n + 1):
            q = np.argwhere(lab == i)[0]
            cell = (int(q[0] + lo[0]), int(q[1] + lo[1]), int(q[2] + lo[2]))
            cell_l = list(cell)
            cell_l[a] = layer
            # the boundary element of that cell faces the removed box: outward sign = -s
            seeds.append(((cell_l[0], cell_l[1], cell_l[2]), a, -s))
    return seeds


def cuboidize(voxels: np.ndarray) -> CuboidizationResult:
    """Algorithm 1 (3D-CUBOIDIZATION) on a voxel set: a partition into cuboids.

    Args:
        voxels: bool array ``(X, Y, Z)``, a simple orthogonal polyhedron (not checked here:
            see :func:`is_simple_polyhedron`; on other voxel sets the result is still an exact
            partition, without the paper's bounds).

    Returns:
        :class:`CuboidizationResult` (boxes in voxel coordinates).
    """
    vox = _check_voxels(voxels)
    g = _compress(vox)
    rest = g.cells.copy()
    lists, labels, parts = _face_lists(rest)  # step 1: SORT-LIST

    def to_box(lo: Sequence[int], hi: Sequence[int]) -> Box:
        c = g.coords
        return (int(c[0][lo[0]]), int(c[1][lo[1]]), int(c[2][lo[2]]),
                int(c[0][hi[0]]), int(c[1][hi[1]]), int(c[2][hi[2]]))  # fmt: skip

    def find_rect(part: int | None) -> _Face | None:  # FIND-START-FACE / FIND-RECT-FACE
        for a in (2, 0, 1):
            for f in lists[a]:
                if f.rect and (part is None or f.part == part):
                    return f
        return None

    def seed_of(f: _Face) -> tuple[tuple[int, int, int], int, int]:
        sl = tuple(slice(f.lo[i], f.hi[i]) for i in range(3))
        q = np.argwhere(labels[(f.axis, f.sign)][0][sl] == f.label)[0]
        return (int(q[0] + f.lo[0]), int(q[1] + f.lo[1]), int(q[2] + f.lo[2])), f.axis, f.sign

    def face_at(cell: tuple[int, int, int], a: int, s: int) -> _Face | None:
        lab = int(labels[(a, s)][0][cell])
        if lab == 0:
            return None
        for f in lists[a]:
            if f.sign == s and f.label == lab:
                return f
        return None  # pragma: no cover

    start = find_rect(None)
    fallbacks = 0
    if start is None:  # no rectangular face at all: a rectangle of the first face
        start = _rect_part(lists[2][0], labels[(2, lists[2][0].sign)][0])
        fallbacks += 1
    face_box = list(to_box(start.lo, start.hi))
    face_box[start.axis] = face_box[start.axis + 3] = int(g.coords[start.axis][start.plane])
    start_info = {"normal": ("+" if start.sign > 0 else "-") + "xyz"[start.axis], "box": face_box}
    queue: deque[tuple[tuple[int, int, int], int, int]] = deque([seed_of(start)])
    pending: _Face | None = start
    cuboids: list[Box] = []
    rules: list[int] = []
    while rest.any():
        if pending is None:
            if not queue:  # every part keeps a queued cut face; restart defensively
                queue.append(seed_of(lists[2][0] if lists[2] else lists[0][0]))
            cell, a, s = queue[0]
            f = face_at(cell, a, s)
            if f is None:  # the element was consumed by a later cut
                queue.popleft()
                continue
            if f.rect:
                queue.popleft()
            else:  # CHECK-RECT false: FIND-RECT-FACE in that part, the head stays
                r = find_rect(f.part)
                if r is None:
                    r = _rect_part(f, labels[(f.axis, f.sign)][0])
                    fallbacks += 1
                f = r
        else:
            f, pending = pending, None
            queue.popleft()
        lo, hi, rule = _sweep(rest, f)
        rest[tuple(slice(lo[i], hi[i]) for i in range(3))] = False
        cuboids.append(to_box(lo, hi))
        rules.append(rule)
        queue.extend(_cut_seeds(rest, lo, hi, (f.axis, f.sign * -1)))
        if rest.any():
            lists, labels, parts = _face_lists(rest)
    return CuboidizationResult(cuboids, rules, start_info, fallbacks)


def greedy_voxel_boxes(voxels: np.ndarray) -> list[Box]:
    """Baseline (a stand-in, the paper has none): greedy voxel-box merging.

    From the first free voxel in (z, y, x) order grow a box as far as it stays inside the free
    voxels in x, then in y, then in z; mark it and repeat. Runs on the unit voxels.
    """
    vox = _check_voxels(voxels)
    free = vox.copy()
    boxes: list[Box] = []
    order = np.argwhere(np.transpose(free, (2, 1, 0)))  # z, y, x lexicographic
    for z, y, x in order.tolist():
        if not free[x, y, z]:
            continue
        x1, y1, z1 = x + 1, y + 1, z + 1
        while x1 < free.shape[0] and free[x1, y, z]:
            x1 += 1
        while y1 < free.shape[1] and free[x:x1, y1, z].all():
            y1 += 1
        while z1 < free.shape[2] and free[x:x1, y:y1, z1].all():
            z1 += 1
        free[x:x1, y:y1, z:z1] = False
        boxes.append((x, y, z, x1, y1, z1))
    return boxes


def check_partition(voxels: np.ndarray, boxes: Sequence[Sequence[int]]) -> dict[str, bool]:
    """``disjoint``: no voxel in two boxes; ``exact``: the union is the voxel set exactly."""
    vox = _check_voxels(voxels)
    cover = np.zeros(vox.shape, dtype=np.int32)
    inside = True
    for b in boxes:
        x0, y0, z0, x1, y1, z1 = (int(v) for v in b)
        if min(x0, y0, z0) < 0 or x1 > vox.shape[0] or y1 > vox.shape[1] or z1 > vox.shape[2]:
            inside = False
            continue
        cover[x0:x1, y0:y1, z0:z1] += 1
    disjoint = bool(cover.max(initial=0) <= 1)
    return {
        "disjoint": disjoint,
        "exact": bool(inside and disjoint and np.array_equal(cover > 0, vox)),
    }


# ---------------------------------------------------------------------------------------
# test polyhedra: the Fig. 1 stand-in and random simple orthogonal polyhedra
# ---------------------------------------------------------------------------------------
def fig1_polyhedron() -> np.ndarray:
    """A reconstruction of Fig. 1 from its stated counts (the figure is an image).

    A 6x6x2 slab with a 2x2x3 tower on each corner: 18 faces, 8 concave edges, 5 cuboids
    (the minimum), as the paper states. The paper's 36 vertices and 50 edges do not fit its
    18 faces (36 - 50 + 18 = 4, Euler needs 2); ours has 32 vertices and 48 edges.
    """
    towers = [(0, 0), (4, 0), (0, 4), (4, 4)]
    return voxels_from_boxes([(0, 0, 0, 6, 6, 2)] + [(x, y, 0, x + 2, y + 2, 5) for x, y in towers])


def random_polyhedron(
    n_boxes: int, seed: int, *, box_side_max: int = 6, max_tries: int = 60
) -> np.ndarray:
    """A random simple orthogonal polyhedron: a union of ``n_boxes`` random boxes.

    Each new box overlaps a random voxel of the current shape and is kept only if the
    union stays simple (genus 0, no cavity, three edges at each vertex); a box is retried
    up to ``max_tries`` times (fewer boxes when none fits).
    """
    check_int(n_boxes, "n_boxes", ge=1)
    check_int(seed, "seed", ge=0)
    check_int(box_side_max, "box_side_max", ge=2)
    check_int(max_tries, "max_tries", ge=1)
    rng = np.random.default_rng(seed)
    side = int(2 * box_side_max * n_boxes ** (1 / 3)) + box_side_max
    vox = np.zeros((side, side, side), dtype=bool)
    size = rng.integers(2, box_side_max + 1, 3)
    lo = (side - size) // 2
    vox[lo[0] : lo[0] + size[0], lo[1] : lo[1] + size[1], lo[2] : lo[2] + size[2]] = True
    for _ in range(n_boxes - 1):
        cells = np.argwhere(vox)
        for _try in range(max_tries):
            anchor = cells[rng.integers(len(cells))]
            size = rng.integers(1, box_side_max + 1, 3)
            lo = np.clip(anchor - rng.integers(0, size), 0, side - size)
            trial = vox.copy()
            trial[lo[0] : lo[0] + size[0], lo[1] : lo[1] + size[1], lo[2] : lo[2] + size[2]] = True
            if trial.sum() == vox.sum():
                continue
            g = _compress(trial)
            if _simple(g.cells, _edge_runs(g.cells)):
                vox = trial
                break
    return vox


# ---------------------------------------------------------------------------------------
# config, recipe
# ---------------------------------------------------------------------------------------
VARIANTS = ("greedy_voxel", "cuboidization")


@dataclass
class CuboidizationConfig:
    """The benchmark: random simple orthogonal polyhedra of growing size, both variants."""

    sizes: tuple[int, ...] = param(
        (2, 4, 8, 16, 32),
        "boxes per random polyhedron, one size group each",
        source="Table 1: hand-built polyhedra of 24-288 vertices; ours: random unions of "
        "boxes (32 boxes give about 150-300 vertices)",
        ge=1,
        le=512,
        min_len=1,
    )
    box_side_max: int = param(6, "largest box side in voxels", source="our choice", ge=2, le=64)
    max_tries: int = param(
        60, "draws per box before it is skipped", source="our choice", ge=1, le=10000
    )
    variants: tuple[str, ...] = param(VARIANTS, "what to run", choices=VARIANTS, min_len=1)
    seeds: tuple[int, ...] = param((0, 1, 2), "one random polyhedron per size and seed", min_len=1)

    def validate(self) -> None:
        if len(set(self.sizes)) != len(self.sizes):
            raise ConfigError(f"sizes must be distinct, got {self.sizes}")
        if "cuboidization" not in self.variants:
            raise ConfigError("variants must include 'cuboidization' (the paper's method)")


def paper_config() -> CuboidizationConfig:
    """Sizes up to 64 boxes (about 300-600 vertices, beyond Table 1's 288), 5 draws."""
    return CuboidizationConfig(sizes=(2, 4, 8, 16, 32, 64), seeds=(0, 1, 2, 3, 4))


def smoke_config() -> CuboidizationConfig:
    """Sizes 2-16 boxes, 2 draws: seconds on a CPU."""
    return CuboidizationConfig(sizes=(2, 4, 8, 16), seeds=(0, 1))


def _fit_exponent(n: Sequence[float], t: Sequence[float]) -> float:
    """Slope of log t against log(n log n): 1 for the paper's O(n log n)."""
    x = np.log([v * math.log(v) for v in n])
    y = np.log(np.maximum(t, 1e-9))
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def recipe(cfg: CuboidizationConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Run the paper's algorithm and the greedy baseline on the same random polyhedra.

    Per (variant, seed), groups by size ``m<boxes>``: ``count``, ``ratio_to_lower_bound``
    (count / (k' + 1)), ``within_bounds`` (1 when k' + 1 <= count <= k + 1), ``exact``
    (1 when the cuboids are disjoint and their union is the input), ``time_s``,
    ``vertices``; and the scalars ``ratio_to_lower_bound_mean`` (primary, lower is better),
    ``within_bounds_rate``, ``exact_rate``, ``time_exponent`` (slope of log time against
    log(n log n)). The cuboidization runs also give ``rule2_share``. Plots:
    ``count_vs_size.png``, ``time_vs_nlogn.png``. No model is trained (a solver).
    ``data`` is unused: the polyhedra are generated.
    """
    from patrec.core.experiment import Experiment, run_experiment

    validate_config(cfg)
    out = Path(out_dir)
    cache: dict[tuple[int, int], tuple[np.ndarray, PolyhedronStats]] = {}

    def poly(m: int, seed: int) -> tuple[np.ndarray, PolyhedronStats]:
        if (m, seed) not in cache:
            v = random_polyhedron(
                m, 1000 * seed + m, box_side_max=cfg.box_side_max, max_tries=cfg.max_tries
            )
            cache[(m, seed)] = (v, polyhedron_stats(v))
        return cache[(m, seed)]

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        groups: dict[str, dict[str, float]] = {k: {} for k in
                                               ("count", "ratio_to_lower_bound", "within_bounds",
                                                "exact", "time_s", "vertices")}  # fmt: skip
        rows = []
        rule2 = total = 0
        for m in cfg.sizes:
            v, st = poly(m, seed)
            t0 = time.perf_counter()
            if variant == "cuboidization":
                res = cuboidize(v)
                boxes = res.cuboids
                rule2 += sum(r == 2 for r in res.rules)
                total += len(res.rules)
            else:
                boxes = greedy_voxel_boxes(v)
            took = time.perf_counter() - t0
            chk = check_partition(v, boxes)
            g = f"m{m}"
            groups["count"][g] = len(boxes)
            groups["ratio_to_lower_bound"][g] = len(boxes) / st.lower_bound
            groups["within_bounds"][g] = float(st.lower_bound <= len(boxes) <= st.upper_bound)
            groups["exact"][g] = float(chk["exact"] and chk["disjoint"])
            groups["time_s"][g] = took
            groups["vertices"][g] = st.vertices
            rows.append({"boxes": m, "vertices": st.vertices, "concave": st.concave_edges,
                         "net_concave": st.net_concave_edges, "count": len(boxes),
                         "time_s": took, "simple": st.simple, "voxels": int(v.sum())})  # fmt: skip
        n = len(cfg.sizes)
        metrics: dict[str, Any] = {
            "ratio_to_lower_bound_mean": sum(groups["ratio_to_lower_bound"].values()) / n,
            "within_bounds_rate": sum(groups["within_bounds"].values()) / n,
            "exact_rate": sum(groups["exact"].values()) / n,
            "time_exponent": _fit_exponent(
                [r["vertices"] for r in rows], [r["time_s"] for r in rows]
            ),
            **groups,
        }
        if variant == "cuboidization":
            metrics["rule2_share"] = rule2 / max(total, 1)
        return {"metrics": metrics, "rows": rows}

    def plots(exp: Experiment) -> list[Path]:
        plt = pyplot()
        written = []
        fig, ax = plt.subplots(figsize=(6, 4))
        first = exp.results[cfg.variants[0]]
        pts = [r for res in first for r in res["rows"]]
        order = sorted(range(len(pts)), key=lambda i: pts[i]["vertices"])
        xs = [pts[i]["vertices"] for i in order]
        ax.scatter(
            xs,
            [pts[i]["net_concave"] + 1 for i in order],
            marker="_",
            s=120,
            c="k",
            label="lower bound k'+1 (Lemma 2)",
        )
        ax.scatter(
            xs,
            [pts[i]["concave"] + 1 for i in order],
            marker="_",
            s=120,
            c="grey",
            label="upper bound k+1 (Lemma 1)",
        )
        for var in cfg.variants:
            rr = [r for res in exp.results[var] for r in res["rows"]]
            ax.scatter([r["vertices"] for r in rr], [r["count"] for r in rr], label=var, s=18)
        ax.set_xlabel("vertices n")
        ax.set_ylabel("cuboids")
        ax.set_title("cuboid count against polyhedron size")
        ax.legend()
        written.append(save_figure(fig, out / "count_vs_size.png"))
        fig, ax = plt.subplots(figsize=(6, 4))
        for var in cfg.variants:
            rr = [r for res in exp.results[var] for r in res["rows"]]
            x = [r["vertices"] * math.log(r["vertices"]) for r in rr]
            slope = _fit_exponent([r["vertices"] for r in rr], [r["time_s"] for r in rr])
            ax.loglog(
                x,
                [max(r["time_s"], 1e-6) for r in rr],
                "o",
                ms=4,
                label=f"{var} (slope {slope:.2f})",
            )
        ax.set_xlabel("n log n (n vertices)")
        ax.set_ylabel("time (s)")
        ax.set_title("time against n log n (slope 1 = O(n log n))")
        ax.legend()
        written.append(save_figure(fig, out / "time_vs_nlogn.png"))
        return written

    ours = "cuboidization"
    return run_experiment(
        out,
        method="scientific-ml/cuboidization",
        variants=cfg.variants,
        seeds=list(cfg.seeds),
        run_one=run_one,
        primary="ratio_to_lower_bound_mean",
        ours=ours,
        baselines=[v for v in cfg.variants if v != ours],
        higher_is_better=False,
        bars=["ratio_to_lower_bound_mean", "within_bounds_rate"],
        labels={"ratio_to_lower_bound_mean": "cuboids / (k' + 1), mean over sizes"},
        extra={
            "sizes": list(cfg.sizes),
            "seeds": list(cfg.seeds),
            "note": "k' (net concave edges) follows our reading of Sec. 3.5; no model",
        },
        plots=plots,
    ).metrics


METHOD = Method(
    name="scientific-ml/cuboidization",
    title="Approximate Cuboidization of an Orthogonal Polyhedron: A Combinatorial Approach",
    paper="001/18",
    citation=(
        "A. Maity, M. Dutt, A. Biswas, B. B. Bhattacharya. Approximate Cuboidization of an "
        "Orthogonal Polyhedron: A Combinatorial Approach. ICPR 2024"
    ),
    task="partition a simple orthogonal polyhedron (voxel set or vertex list) into few "
    "axis-aligned cuboids",
    config=CuboidizationConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    baselines=(
        "greedy_voxel: greedy voxel-box merging (x, then y, then z from the first free "
        "voxel); a stand-in, the paper compares with no method (Table 1 lists its own counts)",
    ),
    status="done",
    summary=(
        "Algorithm 1: sorted face lists L_xy, L_yz, L_zx, a queue of faces, each rectangular "
        "face swept into the interior until an obstacle (Rule 1) or a rectangle of 3-4 "
        "concave edges (Rule 2); the cut faces are queued. A solver: it trains no model."
    ),
    paper_numbers={
        "Table 1 (22 hand-built polyhedra, 24-288 vertices)": (
            "components = net concave edges + 1 on every one (the minimum by Lemma 2), e.g. "
            "Fig. 11(c) 280 vertices, 64 concave, 30 net -> 31; Fig. 11(d) 288, 69, 37 -> 38"
        ),
        "Fig. 1": "36 vertices, 8 concave edges -> 5 cuboids (minimum)",
        "Sec. 3.3": "O(n log n) time",
    },
    measured={
        "smoke (sizes 2-16 boxes, 2 draws; shared 2-core CPU)": (
            "exact partitions (disjoint, union = input) for both variants on every draw; "
            "cuboids 3.0 / 7.5 / 13.0 / 31.5 (greedy 3.0 / 7.5 / 13.5 / 29.5) at 18-123 "
            "vertices; count / (k'+1) 1.47 (greedy 1.47); within [k'+1, k+1] on 7 of 8 draws "
            "(the miss is below k'+1, for both methods); Rule 2 cut 0.9 % of the cuboids"
        ),
        "paper preset (sizes 2-64 boxes, 5 draws, up to 486 vertices)": (
            "count / (k'+1) 1.24 vs greedy 1.27; 48.6 and 90.4 cuboids at 32 and 64 boxes "
            "(greedy 51.4, 91.4); never above Lemma 1's k+1; below our k'+1 on 9 of 30 draws "
            "(greedy 7): Lemma 2 as we read 'net concave edges' is not a lower bound on random "
            "polyhedra, so Table 1's 'components = k'+1' does not reproduce as a bound"
        ),
        "time": (
            "slope of log time against log(n log n): 1.18 (paper preset; 1.21 smoke), with the "
            "face lists rebuilt after every cut (O(grid) per cuboid); 0.23 s at 387 vertices"
        ),
        "Fig. 1 (reconstructed from its counts)": (
            "18 faces, 8 concave edges, 4 net -> 5 cuboids, as the paper states"
        ),
    },
    test_overrides=("sizes=2,4", "seeds=0"),
)
