"""Tests of scientific-ml/cuboidization (Algorithm 1, Rules 1-2, face lists, bounds, recipe)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from patrec.core.errors import ConfigError, InputError
from patrec.scientific_ml import cuboidization as C


def _box(*b: int) -> np.ndarray:
    return C.voxels_from_boxes([b])


def test_single_box_is_one_cuboid_and_counts_of_a_cube() -> None:
    v = _box(0, 0, 0, 3, 2, 5)
    st = C.polyhedron_stats(v)
    assert (st.vertices, st.edges, st.faces, st.concave_edges) == (8, 12, 6, 0)
    res = C.cuboidize(v)
    assert res.cuboids == [(0, 0, 0, 3, 2, 5)]


def test_fig1_reconstruction_gives_five_cuboids_within_the_bounds() -> None:
    v = C.fig1_polyhedron()
    st = C.polyhedron_stats(v)
    assert (st.faces, st.concave_edges, st.net_concave_edges, st.simple) == (18, 8, 4, True)
    assert st.vertices - st.edges + st.faces == 2  # Euler, genus 0
    res = C.cuboidize(v)
    assert res.count == 5
    assert st.lower_bound <= res.count <= st.upper_bound
    assert C.check_partition(v, res.cuboids) == {"disjoint": True, "exact": True}
    # the slab first (the start face is its bottom, Rule 1), then the four towers
    assert res.cuboids[0] == (0, 0, 0, 6, 6, 2)
    assert sorted(res.cuboids[1:]) == [(0, 0, 2, 2, 2, 5), (0, 4, 2, 2, 6, 5),
                                       (4, 0, 2, 6, 2, 5), (4, 4, 2, 6, 6, 5)]  # fmt: skip


def test_rule2_stops_at_the_rectangle_of_four_concave_edges() -> None:
    # a 4x4x2 block on a 2x2x2 foot: the start face (the foot's bottom) sweeping up would
    # pierce the block (a tunnel); Rule 2 stops at the foot's top, bounded by 4 concave edges
    v = C.voxels_from_boxes([(1, 1, 0, 3, 3, 2), (0, 0, 2, 4, 4, 4)])
    res = C.cuboidize(v)
    assert res.start_face == {"normal": "-z", "box": [1, 1, 0, 3, 3, 0]}
    assert res.cuboids == [(1, 1, 0, 3, 3, 2), (0, 0, 2, 4, 4, 4)]
    assert res.rules == [2, 1]
    st = C.polyhedron_stats(v)  # the foot's 4 concave edges bound one rectangle: k' = 1
    assert (st.concave_edges, st.net_concave_edges, st.simple) == (4, 1, True)
    assert st.lower_bound <= res.count <= st.upper_bound
    # three concave edges (the foot flush with one side): Rule 2 too
    v3 = C.voxels_from_boxes([(1, 0, 0, 3, 2, 2), (0, 0, 2, 4, 4, 4)])
    assert C.polyhedron_stats(v3).concave_edges == 3
    assert C.cuboidize(v3).rules == [2, 1]


def test_rule1_sweeps_to_the_obstacle_and_an_l_prism_gives_two() -> None:
    v = C.voxels_from_boxes([(0, 0, 0, 6, 2, 2), (0, 0, 0, 2, 6, 2)])
    res = C.cuboidize(v)
    # start: the first rectangular face of L_xy; there is none at z = 0 (an L), so the
    # first of L_yz: x = 0, the face of the long bar along y, swept in +x until x = 2
    assert res.rules == [1, 1]
    assert res.count == 2
    st = C.polyhedron_stats(v)
    assert (st.concave_edges, st.net_concave_edges) == (1, 1)
    assert st.lower_bound == res.count == st.upper_bound
    assert res.cuboids[0] == (0, 0, 0, 2, 6, 2)
    assert C.check_partition(v, res.cuboids)["exact"]


def test_sorted_face_lists_are_lexicographic() -> None:
    lists = C.sorted_face_lists(C.fig1_polyhedron())
    lxy = lists["L_xy"]
    assert [f["plane"] for f in lxy] == [0, 2, 5, 5, 5, 5]
    assert [f["rectangular"] for f in lxy] == [True, False, True, True, True, True]
    assert [f["lo"][:2] for f in lxy[2:]] == [[0, 0], [0, 4], [4, 0], [4, 4]]  # x, then y
    assert len(lists["L_yz"]) == len(lists["L_zx"]) == 6
    for name, keys in (("L_yz", (0, 1, 2)), ("L_zx", (1, 2, 0))):
        got = [(f["plane"], f["lo"][keys[1]], f["lo"][keys[2]]) for f in lists[name]]
        assert got == sorted(got)


@pytest.mark.parametrize("m", [2, 4, 8, 16])
def test_random_polyhedra_partitions_are_exact_and_under_lemma1(m: int) -> None:
    for seed in (0, 1):
        v = C.random_polyhedron(m, 100 * seed + m)
        st = C.polyhedron_stats(v)
        assert st.simple
        res = C.cuboidize(v)
        assert C.check_partition(v, res.cuboids) == {"disjoint": True, "exact": True}
        assert res.count <= st.upper_bound  # Lemma 1
        assert res.fallbacks == 0
        greedy = C.greedy_voxel_boxes(v)
        assert C.check_partition(v, greedy)["exact"]


def test_greedy_baseline_by_hand() -> None:
    v = C.voxels_from_boxes([(0, 0, 0, 3, 1, 1), (0, 1, 0, 1, 3, 1)])
    assert C.greedy_voxel_boxes(v) == [(0, 0, 0, 3, 1, 1), (0, 1, 0, 1, 3, 1)]


def test_check_partition_finds_overlap_and_gap() -> None:
    v = _box(0, 0, 0, 2, 2, 2)
    assert C.check_partition(v, [(0, 0, 0, 2, 2, 1), (0, 0, 1, 2, 2, 2)])["exact"]
    assert not C.check_partition(v, [(0, 0, 0, 2, 2, 2), (0, 0, 1, 2, 2, 2)])["disjoint"]
    assert not C.check_partition(v, [(0, 0, 0, 2, 2, 1)])["exact"]


def test_vertices_round_trip_and_bad_vertex_lists() -> None:
    v = C.fig1_polyhedron()
    verts = C._vertex_points(v)
    assert len(verts) == C.polyhedron_stats(v).vertices == 32
    assert np.array_equal(C.voxels_from_vertices(verts.tolist()), v)
    cube = [(x, y, z) for x in (0, 2) for y in (0, 2) for z in (0, 2)]
    assert C.voxels_from_vertices(cube).sum() == 8
    with pytest.raises(InputError, match="vertex set"):
        C.voxels_from_vertices(cube[:-1] + [(1, 1, 1)])
    with pytest.raises(InputError, match="distinct"):
        C.voxels_from_vertices(cube + [cube[0]])


def test_simplicity_check_rejects_tunnels_and_degenerate_vertices() -> None:
    ring = C.voxels_from_boxes([(0, 0, 0, 3, 3, 1)])
    ring[1, 1, 0] = False  # a torus
    assert not C.is_simple_polyhedron(ring)
    tripod = C.voxels_from_boxes([(0, 0, 0, 6, 2, 2), (0, 0, 0, 2, 6, 2), (0, 0, 0, 2, 2, 6)])
    assert not C.is_simple_polyhedron(tripod)  # a vertex with six edges
    edge_touch = C.voxels_from_boxes([(0, 0, 0, 1, 1, 1), (1, 1, 0, 2, 2, 1)])
    assert not C.is_simple_polyhedron(edge_touch)
    assert C.is_simple_polyhedron(C.fig1_polyhedron())


def test_bad_inputs_raise_input_error() -> None:
    with pytest.raises(InputError, match="bool"):
        C.cuboidize(np.ones((2, 2, 2), dtype=np.int64))
    with pytest.raises(InputError, match="3 dimensions"):
        C.cuboidize(np.ones((2, 2), dtype=bool))
    with pytest.raises(InputError, match="at least one voxel"):
        C.cuboidize(np.zeros((2, 2, 2), dtype=bool))
    with pytest.raises(InputError, match="x1 > x0"):
        C.voxels_from_boxes([(2, 0, 0, 1, 1, 1)])
    with pytest.raises(InputError, match="n_boxes"):
        C.random_polyhedron(0, 0)


def test_config_rules() -> None:
    from patrec.core.config import apply_overrides

    with pytest.raises(ConfigError, match="sizes"):
        apply_overrides(C.smoke_config(), {"sizes": (2, 2)})
    with pytest.raises(ConfigError, match="variants"):
        apply_overrides(C.smoke_config(), {"variants": ("greedy_voxel",)})


def test_recipe_at_smoke_scale(tmp_path: Path) -> None:
    from patrec.core.config import apply_overrides

    cfg = apply_overrides(C.smoke_config(), list(C.METHOD.test_overrides))
    m = C.recipe(cfg, tmp_path)
    ours = m["variants"]["cuboidization"]
    assert ours["exact_rate"]["mean"] == 1.0
    assert m["variants"]["greedy_voxel"]["exact_rate"]["mean"] == 1.0
    assert set(ours["count"]) == {f"m{s}" for s in cfg.sizes}
    for p in ("count_vs_size.png", "time_vs_nlogn.png"):
        assert (tmp_path / p).is_file()
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["primary"] == "ratio_to_lower_bound_mean"
    assert not (tmp_path / "model").exists()  # a solver: no model
    assert C.METHOD.model is None
