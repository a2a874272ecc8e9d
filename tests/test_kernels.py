"""The grid editors' bookkeeping and the picture helpers of cnnviz.lessons.kernels, by hand."""
from __future__ import annotations

import numpy as np

from cnnviz.lessons import kernels


def test_typed_cells_become_grid_numbers():
    typed = kernels.typed(np.array([[np.nan, 2.4, -2.6], [1e9, -1e9, 7.0]]))
    assert typed.dtype == np.int64
    assert typed.tolist() == [[0, 2, -3], [kernels.CELLS.stop - 1, kernels.CELLS.start, 7]]


def test_edited_grids_come_from_the_links_text_else_the_presets():
    presets = np.zeros((1, 2, 2), dtype=np.int64)
    np.testing.assert_array_equal(kernels.edited("1,2;3,4", presets), [[[1, 2], [3, 4]]])
    np.testing.assert_array_equal(kernels.edited("5", presets), [[[5, 0], [0, 0]]])  # fitted to the size
    assert kernels.edited("", presets) is presets and kernels.edited("1,x", presets) is presets


def test_edit_text_is_empty_while_the_grids_are_the_presets():
    presets = np.ones((2, 1, 2), dtype=np.int64)
    assert kernels.edit_text(presets.copy(), presets) == ""
    edited = presets.copy()
    edited[1, 0, 1] = -4
    assert kernels.edit_text(edited, presets) == "1,1|1,-4"
    np.testing.assert_array_equal(kernels.edited(kernels.edit_text(edited, presets), presets), edited)


def test_enlarged_repeats_whole_pixels():
    pixels = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    big = kernels.enlarged(pixels, 5)  # 5 // 2: each pixel becomes a 2 x 2 square
    assert big.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert kernels.enlarged(np.zeros((400, 300)), 420).shape == (400, 300)  # big pictures stay as they are
    assert kernels.enlarged(np.zeros((32, 32, 3)), 420).shape == (416, 416, 3)


def test_view_legend_names_the_scale():
    assert "full red is +41 or more, full blue -41 or less" in kernels.view_legend("signed", 40.6)
    assert kernels.view_legend("abs", 12.2).startswith("Black is 0, white is 12 or more")
    assert "above 255 turn white" in kernels.view_legend("clip", 3.0)
