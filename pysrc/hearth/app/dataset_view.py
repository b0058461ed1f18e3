"""What a dataset looks like at a glance: its size, its classes, a few samples and the first rows."""

from __future__ import annotations

from html import escape

import numpy as np

from hearth.app.widgets.html import bars, table
from hearth.app.widgets.images import gallery, img_tag
from hearth.train.data import Dataset


def shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        h, w, c = shape
        return f"{h}×{w} {'grey' if c == 1 else 'colour' if c == 3 else f'{c}-channel'} images"
    return f"{shape[0]} numbers per sample"


def summary(data: Dataset) -> str:
    kind = (f"{len(data.classes)} classes" if data.is_classification
            else f"{data.y.shape[1]} numeric target(s) (regression)")
    skipped = ""
    if data.skipped:
        more = f" and {len(data.skipped) - 3} more" if len(data.skipped) > 3 else ""
        skipped = f"<br>Left out: {escape('; '.join(data.skipped[:3]))}{more}."
    return (f'<p style="margin:.2rem 0"><strong>{escape(data.name)}</strong>: {len(data):,} samples of '
            f"{shape_text(data.sample_shape)}, {kind}.{skipped}</p>")


def class_counts(data: Dataset) -> str:
    if not data.is_classification:
        values = data.y[:, 0]
        return (f"<p>Target: from {values.min():.4g} to {values.max():.4g}, average {values.mean():.4g}.</p>"
                if len(values) else "")
    counts = data.class_counts()
    return bars(list(counts.items()), label="Samples per class")


def samples(data: Dataset, per_class: int = 2, limit: int = 20) -> str:
    """A few images of each class (image data only)."""
    if len(data.sample_shape) != 3 or not len(data):
        return ""
    labels = data.labels if data.is_classification else np.zeros(len(data), int)
    figures = []
    for index, name in enumerate(data.classes or ["sample"]):
        for i in np.flatnonzero(labels == index)[:per_class]:
            figures.append(img_tag(data.x[i], alt=f"a sample of class {name}", size=56, caption=name))
    return gallery(figures[:limit], "Sample images")


def preview(data: Dataset, rows: int = 8) -> str:
    """The first rows as a table: the features (tabular data) or a line per image."""
    n = min(rows, len(data))
    labels = [data.classes[i] for i in data.labels[:n]] if data.is_classification else [
        f"{v:.4g}" for v in data.y[:n, 0]]
    if len(data.sample_shape) == 3:
        body = [(i + 1, labels[i], f"{data.x[i].mean():.3f}", f"{data.x[i].max():.3f}") for i in range(n)]
        return table(["#", "label", "mean pixel", "brightest pixel"], body, caption=f"First {n} samples")
    names = data.feature_names or [f"x{j + 1}" for j in range(data.x.shape[1])]
    shown = min(len(names), 8)
    header = ["#", *names[:shown]] + (["…"] if len(names) > shown else []) + ["label"]
    body = [(i + 1, *[float(v) for v in data.x[i, :shown]], *(["…"] if len(names) > shown else []), labels[i])
            for i in range(n)]
    note = " (features as scaled for training)" if data.normalization else ""
    return table(header, body, caption=f"First {n} rows{note}")
