"""patrec.core.checks: shape specs, dtype families, values, the device switch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patrec.core.checks import (
    check_choice,
    check_int,
    check_scalar,
    check_shape,
    check_tensor,
    set_value_checks,
    value_checks,
)
from patrec.core.errors import InputError


def test_named_sizes_agree_across_arguments() -> None:
    dims: dict[str, int] = {}
    check_tensor(torch.zeros(2, 3, 4, 5), "B C H W", name="pred", dims=dims)
    assert dims == {"B": 2, "C": 3, "H": 4, "W": 5}
    check_tensor(torch.zeros(2, 3, 4, 5), "B C H W", name="target", dims=dims)
    with pytest.raises(InputError, match=r"target must have C = 3 .* got C = 1"):
        check_tensor(torch.zeros(2, 1, 4, 5), "B C H W", name="target", dims=dims)


def test_rank_literal_wildcard_and_star() -> None:
    with pytest.raises(
        InputError, match=r"x must have 4 dimensions \(B, 3, H, W\), got shape \(2, 3, 4\)"
    ):
        check_shape(torch.zeros(2, 3, 4), "B 3 H W", name="x")
    with pytest.raises(InputError, match="size 3"):
        check_shape(torch.zeros(2, 1, 4, 4), "B 3 H W", name="x")
    assert check_shape(torch.zeros(7, 9), "_ D") == {"D": 9}
    for shape in [(5,), (2, 5), (2, 3, 5)]:
        assert check_shape(torch.zeros(shape), "* C")["C"] == 5
    with pytest.raises(InputError, match="at least 2"):
        check_shape(torch.zeros(5), "B * C")


def test_dtype_families_and_not_a_tensor() -> None:
    check_tensor(torch.zeros(3, dtype=torch.long), "N", dtype="int")
    with pytest.raises(InputError, match="must have a float dtype, got shape \\(3,\\) torch.int64"):
        check_tensor(torch.zeros(3, dtype=torch.long), "N", name="x", dtype="float")
    with pytest.raises(InputError, match="must be a tensor of shape \\(N\\), got list"):
        check_tensor([1, 2, 3], "N", name="x")
    check_tensor(np.zeros((2, 2)), "H W", array=True, dtype="float")


def test_values_finite_range_binary_probs() -> None:
    x = torch.tensor([0.0, 0.5, float("nan")])
    with pytest.raises(InputError, match="finite"):
        check_tensor(x, finite=True)
    with pytest.raises(InputError, match=r"probabilities in \[0, 1\], got values in \[-1, 2\]"):
        check_tensor(torch.tensor([-1.0, 2.0]), name="p", probs=True)
    with pytest.raises(InputError, match="binary mask"):
        check_tensor(torch.tensor([0.0, 1.0, 0.5]), binary=True)
    check_tensor(torch.tensor([0, 1, 1], dtype=torch.bool), binary=True)
    with pytest.raises(InputError, match=r"in \[0, 10\]"):
        check_tensor(torch.tensor([11.0]), range=(0, 10))
    check_tensor(torch.tensor([3.0]), range=(None, 10))


def test_value_checks_switch() -> None:
    bad = torch.tensor([float("nan")])
    with value_checks("off"):
        check_tensor(bad, finite=True)  # skipped
        with pytest.raises(InputError):  # shapes are still checked
            check_tensor(bad, "N M")
    with pytest.raises(InputError):
        check_tensor(bad, finite=True)
    old = set_value_checks("all")
    assert old == "cpu"
    set_value_checks(old)
    with pytest.raises(InputError, match="value-check mode"):
        set_value_checks("sometimes")  # type: ignore[arg-type]


def test_scalars() -> None:
    assert check_scalar(0.5, "alpha", ge=0, le=1) == 0.5
    assert check_int(3.0, "k", ge=1) == 3
    for bad, match in [(True, "a number"), (float("inf"), "finite"), (-1.0, ">= 0")]:
        with pytest.raises(InputError, match=match):
            check_scalar(bad, "alpha", ge=0)
    with pytest.raises(InputError, match="must be an int"):
        check_int(2.5, "k")
    with pytest.raises(InputError, match="'mean', 'sum'"):
        check_choice("max", "reduction", ("mean", "sum"))


def test_as_float_array_and_check_dataset() -> None:
    from torch.utils.data import TensorDataset

    from patrec.core.checks import as_float_array, check_dataset

    a = as_float_array([1, 2.5], "x")
    assert a.dtype == np.float64 and a.tolist() == [1.0, 2.5]
    assert as_float_array(torch.ones(2, requires_grad=True), "x").tolist() == [1.0, 1.0]
    with pytest.raises(InputError, match="x must be numbers"):
        as_float_array(["a", "b"], "x")
    assert check_dataset(TensorDataset(torch.zeros(3, 1)), "train") == 3
    with pytest.raises(InputError, match="train is empty"):
        check_dataset(TensorDataset(torch.zeros(0, 1)), "train")
    with pytest.raises(InputError, match="map-style"):
        check_dataset(iter([1, 2]), "train")
