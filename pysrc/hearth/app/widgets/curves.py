"""Loss and accuracy curves that grow while a network trains (Bokeh, streamed point by point).

A thin line per batch shows the noise of learning; dots joined by lines show each epoch's average
on the training data, and a dashed line the validation data, which is the one that tells whether
the network generalises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure

from hearth.i18n import t

BATCH, TRAIN, VALIDATION = "#e3b99c", "#b4532a", "#1d4e89"
MAX_BATCH_POINTS = 600  # more would only cost the page redraw time: longer runs average groups of batches


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


class Curves:
    def __init__(self) -> None:
        self._group = 1  # batches averaged into one plotted point
        self._gathering: list[tuple[float, float, float | None]] = []
        self._pending_batches: list[tuple[float, float, float | None]] = []
        self._pending_epochs: list[dict[str, Any]] = []
        self.batches = ColumnDataSource({"x": [], "loss": [], "accuracy": []})
        self.epochs = ColumnDataSource({"epoch": [], "loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []})
        self.loss_plot = self._plot(t("Loss (lower is better)"), "loss", None)
        self.accuracy_plot = self._plot(t("Accuracy (higher is better)"), "accuracy", Range1d(0, 1.02))
        self.view = pn.Column(pn.pane.Bokeh(self.loss_plot, sizing_mode="stretch_width", height=260),
                              pn.pane.Bokeh(self.accuracy_plot, sizing_mode="stretch_width", height=260),
                              sizing_mode="stretch_width")

    def _plot(self, title: str, key: str, y_range) -> figure:
        kwargs = {"y_range": y_range} if y_range is not None else {}
        plot = figure(title=title, height=250, width=300, sizing_mode="stretch_width", tools="", toolbar_location=None,
                      x_axis_label=t("epoch"), min_border_left=40, **kwargs)
        plot.line("x", key, source=self.batches, color=BATCH, line_width=1, legend_label=t("each batch"))
        plot.line("epoch", key, source=self.epochs, color=TRAIN, line_width=2, legend_label=t("training"))
        plot.scatter("epoch", key, source=self.epochs, color=TRAIN, size=6)
        plot.line("epoch", f"val_{key}", source=self.epochs, color=VALIDATION, line_width=2, line_dash="dashed",
                  legend_label=t("validation"))
        plot.scatter("epoch", f"val_{key}", source=self.epochs, color=VALIDATION, size=6)
        plot.legend.location = "top_right" if key == "loss" else "bottom_right"
        plot.legend.label_text_font_size = "9pt"
        plot.legend.background_fill_alpha = 0.6
        return plot

    @property
    def points(self) -> int:
        return len(self.batches.data["x"])

    def reset(self, history: Sequence[dict[str, Any]] = ()) -> None:
        """Start over, showing the epochs of an earlier run (a project file's history) if given."""
        self._gathering, self._pending_batches, self._pending_epochs = [], [], []
        self.batches.data = {"x": [], "loss": [], "accuracy": []}
        self.epochs.data = {
            "epoch": [h["epoch"] for h in history], "loss": [_nan(h["loss"]) for h in history],
            "accuracy": [_nan(h.get("accuracy")) for h in history],
            "val_loss": [_nan(h.get("val_loss")) for h in history],
            "val_accuracy": [_nan(h.get("val_accuracy")) for h in history]}

    def expect(self, batches: int) -> None:
        """A run of `batches` steps begins: plot every batch, or the average of each group of batches."""
        self._group = max(1, -(-batches // MAX_BATCH_POINTS))
        self._gathering = []

    def add_batch(self, x: float, loss: float, accuracy: float | None) -> None:
        """Buffer one batch; nothing reaches the page before `flush()`."""
        self._gathering.append((x, loss, accuracy))
        if len(self._gathering) == self._group:
            group, self._gathering = self._gathering, []
            accuracies = [a for _, _, a in group if a is not None]
            self._pending_batches.append((group[-1][0], sum(g[1] for g in group) / len(group),
                                          sum(accuracies) / len(accuracies) if accuracies else None))

    def add_epoch(self, metrics: dict[str, Any]) -> None:
        self._pending_epochs.append(metrics)

    def flush(self) -> None:
        """Send what was buffered to the page in one update per plot."""
        points, self._pending_batches = self._pending_batches, []
        if points:
            self.batches.stream({"x": [p[0] for p in points], "loss": [p[1] for p in points],
                                 "accuracy": [_nan(p[2]) for p in points]})
        epochs, self._pending_epochs = self._pending_epochs, []
        if epochs:
            self.epochs.stream({"epoch": [m["epoch"] for m in epochs], "loss": [_nan(m["loss"]) for m in epochs],
                                "accuracy": [_nan(m.get("accuracy")) for m in epochs],
                                "val_loss": [_nan(m.get("val_loss")) for m in epochs],
                                "val_accuracy": [_nan(m.get("val_accuracy")) for m in epochs]})
