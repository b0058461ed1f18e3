"""Drawings become inputs like the digits data: 4x4 block counts of a fitted, thick-penned bitmap."""

import numpy as np
import pytest

from hearth.app.widgets.drawing_pad import rasterize
from hearth.train.data import load_builtin


@pytest.fixture(scope="module")
def class_means():
    data = load_builtin("digits")
    return {c: data.x[data.labels == i].mean(axis=0)[:, :, 0] for i, c in enumerate(data.classes)}


def nearest(image, means):
    def corr(a, b):
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    return max(means, key=lambda c: corr(image, means[c]))


def circle(n=60):
    t = np.linspace(0, 2 * np.pi, n)
    return (0.5 + 0.18 * np.cos(t)).tolist(), (0.5 + 0.3 * np.sin(t)).tolist()


@pytest.mark.parametrize("digit,strokes", [
    ("1", [([0.5, 0.5], [0.85, 0.15])]),
    ("0", [circle()]),
    ("7", [([0.25, 0.75, 0.45], [0.85, 0.85, 0.1])]),
])
def test_drawn_digits_look_most_like_their_class(class_means, digit, strokes):
    image = rasterize(strokes, 8, 8)
    assert nearest(image, class_means) == digit


def test_drawing_is_fitted_to_the_box_and_counts_ink():
    small = rasterize([([0.45, 0.55], [0.55, 0.45])], 8, 8)  # a tiny stroke in a corner of the pad
    big = rasterize([([0.1, 0.9], [0.9, 0.1])], 8, 8)
    # the same picture, whatever its size on the pad (up to how lines fall on sub-pixels)
    assert np.corrcoef(small.ravel(), big.ravel())[0, 1] > 0.95
    assert abs(small.sum() - big.sum()) < 0.05 * big.sum()
    assert small.shape == (8, 8) and small.min() == 0.0 and 0.9 < small.max() <= 1.0
    rows = np.flatnonzero(rasterize([([0.5, 0.5], [0.9, 0.1])], 8, 8).max(axis=1) > 0)
    assert rows[0] == 0 and rows[-1] == 7  # fills the height, like the digits
    assert rasterize([], 8, 8).sum() == 0


def test_other_sizes():
    image = rasterize([([0.2, 0.8], [0.5, 0.5])], 28, 20, pen=0.1, fill=0.8)
    assert image.shape == (28, 20)
    values = np.unique(image)
    assert set(np.round(values * 16)).issubset(set(range(17)))  # counts of 16 sub-pixels
