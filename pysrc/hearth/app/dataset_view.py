"""What a dataset looks like at a glance: its size, its classes, a few samples and the first rows."""

from __future__ import annotations

from html import escape

import numpy as np

from hearth.app.widgets.html import bars, table
from hearth.app.widgets.images import gallery, img_tag
from hearth.i18n import number, t
from hearth.train.data import Dataset


def shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        h, w, c = shape
        if c == 1:
            return t("{height}×{width} grey images", height=h, width=w)
        if c == 3:
            return t("{height}×{width} colour images", height=h, width=w)
        return t("{height}×{width} {channels}-channel images", height=h, width=w, channels=c)
    return t("{count} numbers per sample", count=shape[0])


def summary(data: Dataset) -> str:
    kind = (t("{count} classes", count=len(data.classes)) if data.is_classification
            else t("{count} numeric target(s) (regression)", count=data.y.shape[1]))
    skipped = ""
    if data.skipped:
        shown = escape("; ".join(data.skipped[:3]))
        skipped = "<br>" + (t("Left out: {items} and {more} more.", items=shown, more=len(data.skipped) - 3)
                            if len(data.skipped) > 3 else t("Left out: {items}.", items=shown))
    return ('<p style="margin:.2rem 0">' + t("<strong>{name}</strong>: {count} samples of {shape}, {kind}.",
                                             name=escape(data.name), count=number(len(data)),
                                             shape=shape_text(data.sample_shape), kind=kind) + f"{skipped}</p>")


def class_counts(data: Dataset) -> str:
    if not data.is_classification:
        values = data.y[:, 0]
        return ("<p>" + t("Target: from {low} to {high}, average {mean}.", low=f"{values.min():.4g}",
                          high=f"{values.max():.4g}", mean=f"{values.mean():.4g}") + "</p>" if len(values) else "")
    counts = data.class_counts()
    return bars(list(counts.items()), label=t("Samples per class"))


def samples(data: Dataset, per_class: int = 2, limit: int = 20) -> str:
    """A few images of each class (image data only)."""
    if len(data.sample_shape) != 3 or not len(data):
        return ""
    labels = data.labels if data.is_classification else np.zeros(len(data), int)
    figures = []
    for index, name in enumerate(data.classes or [t("sample")]):
        for i in np.flatnonzero(labels == index)[:per_class]:
            figures.append(img_tag(data.x[i], alt=t("a sample of class {name}", name=name), size=56, caption=name))
    return gallery(figures[:limit], t("Sample images"))


def preview(data: Dataset, rows: int = 8) -> str:
    """The first rows as a table: the features (tabular data) or a line per image."""
    n = min(rows, len(data))
    labels = [data.classes[i] for i in data.labels[:n]] if data.is_classification else [
        f"{v:.4g}" for v in data.y[:n, 0]]
    if len(data.sample_shape) == 3:
        body = [(i + 1, labels[i], f"{data.x[i].mean():.3f}", f"{data.x[i].max():.3f}") for i in range(n)]
        return table(["#", t("label"), t("mean pixel"), t("brightest pixel")], body,
                     caption=t("First {count} samples", count=n))
    names = data.feature_names or [f"x{j + 1}" for j in range(data.x.shape[1])]
    shown = min(len(names), 8)
    header = ["#", *names[:shown]] + (["…"] if len(names) > shown else []) + [t("label")]
    body = [(i + 1, *[float(v) for v in data.x[i, :shown]], *(["…"] if len(names) > shown else []), labels[i])
            for i in range(n)]
    caption = t("First {count} rows (features as scaled for training)", count=n) if data.normalization \
        else t("First {count} rows", count=n)
    return table(header, body, caption=caption)
