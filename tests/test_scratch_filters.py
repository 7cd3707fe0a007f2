import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.scratch import edge_filters, feature_maps, feature_maps_loops, probe_patches, response_table


def test_l3_response_table():
    table = response_table(edge_filters(7), probe_patches(7))
    for patch in ("blank", "ones", "checkerboard"):  # no edge: every filter stays silent
        assert all(r == 0 for r in table[patch].values())
    assert table["edge"]["diagonal"] == 21 == -table["reversed edge"]["diagonal"]  # 21 cells below the diagonal
    assert table["edge"]["diagonal"] == max(row["diagonal"] for row in table.values())
    assert abs(table["mixed"]["diagonal"]) < table["edge"]["diagonal"]


def test_filters_have_the_four_directions():
    filters = edge_filters(5)
    assert set(filters) == {"diagonal", "antidiagonal", "horizontal", "vertical"}
    for filt in filters.values():
        assert filt.shape == (5, 5) and filt.sum() == 0 and set(np.unique(filt)) == {-1, 0, 1}


@pytest.mark.parametrize("stride, mode", [(1, "crop"), (2, "crop"), (3, "crop"), (2, "pad")])
def test_feature_maps_loop_matmul_and_torch_agree(stride, mode):
    rng = np.random.default_rng(1)
    images, filters = rng.random((2, 28, 28)), rng.normal(size=(3, 7, 7))
    maps = feature_maps(images, filters, stride, mode)
    np.testing.assert_allclose(maps, feature_maps_loops(images, filters, stride, mode), rtol=1e-12, atol=1e-12)
    x = torch.tensor(images)[:, None]
    if mode == "pad":  # our padding: zeros on the bottom and right only, as many as the last patch needs
        extra = (maps.shape[-1] - 1) * stride + 7 - 28
        x = F.pad(x, (0, extra, 0, extra))
    reference = F.conv2d(x, torch.tensor(filters)[:, None], stride=stride).numpy()  # cross-correlation
    np.testing.assert_allclose(maps, reference, rtol=1e-12, atol=1e-12)


def test_opposing_filters_give_opposite_maps():
    digit = np.random.default_rng(2).random((1, 28, 28))
    diagonal = edge_filters(7)["diagonal"]
    maps = feature_maps(digit, np.stack([diagonal, -diagonal]), 2)
    np.testing.assert_allclose(maps[0, 0], -maps[0, 1])
