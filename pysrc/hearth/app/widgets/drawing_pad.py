"""A square pad to draw on with a mouse, pen or finger, and the drawing as a model input.

It is a Bokeh plot with the freehand draw tool, so it needs no page-side code of Hearth's own:
each finished stroke arrives in Python as a list of points. `rasterize` turns the strokes into an
image the way the digits data was made: a black-and-white bitmap at 4x the size, counted in 4x4
blocks (the UCI digits are 32x32 bitmaps counted into 8x8), the strokes scaled to fill the box.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, FreehandDrawTool, Range1d
from bokeh.plotting import figure

from hearth.i18n import t

Stroke = tuple[Sequence[float], Sequence[float]]


def rasterize(strokes: Sequence[Stroke], height: int, width: int, *, pen: float = 0.2, fill: float = 1.0
              ) -> np.ndarray:
    """(height, width) image in [0, 1], ink = 1, from strokes in pad coordinates (0..1, y up).

    The drawing keeps its proportions, is centred, and its longer side spans `fill` of the box;
    `pen` is the line width as a fraction of the box (digits' strokes are about a fifth of it).
    """
    from PIL import Image, ImageDraw

    points = [np.column_stack([np.asarray(xs, float), np.asarray(ys, float)]) for xs, ys in strokes if len(xs)]
    big_h, big_w = 4 * height, 4 * width
    if not points:
        return np.zeros((height, width), np.float32)
    every = np.concatenate(points)
    low, high = every.min(axis=0), every.max(axis=0)
    side = min(big_h, big_w)
    pen_px = max(1, round(pen * side))
    span = max(float((high - low).max()), 1e-6)
    scale = max(fill * side - pen_px, 1) / span
    centre = (low + high) / 2
    canvas = Image.new("L", (big_w, big_h), 0)
    draw = ImageDraw.Draw(canvas)
    radius = pen_px / 2
    for stroke in points:
        px = (stroke[:, 0] - centre[0]) * scale + big_w / 2
        py = (centre[1] - stroke[:, 1]) * scale + big_h / 2  # pad y points up, image rows go down
        line = list(zip(px.tolist(), py.tolist(), strict=True))
        if len(line) > 1:
            draw.line(line, fill=255, width=pen_px, joint="curve")
        for x, y in line:  # round ends and joints
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    bits = (np.asarray(canvas) > 127).astype(np.float32)
    return bits.reshape(height, 4, width, 4).mean(axis=(1, 3))


class DrawingPad:
    """The pad, a Clear button, and a callback run after every finished stroke."""

    def __init__(self, on_change: Callable[[], object] | None = None, size: int = 240) -> None:
        self.on_change = on_change
        self.source = ColumnDataSource({"xs": [], "ys": []})
        plot = figure(x_range=Range1d(0, 1), y_range=Range1d(0, 1), width=size, height=size, tools="",
                      toolbar_location=None, min_border=0, background_fill_color="white",
                      outline_line_color="#b4532a", title=None, sizing_mode="fixed")
        renderer = plot.multi_line("xs", "ys", source=self.source, line_width=max(8, size // 14),
                                   line_color="#222222", line_cap="round", line_join="round")
        tool = FreehandDrawTool(renderers=[renderer], num_objects=0, description=t("Draw"))
        plot.add_tools(tool)
        plot.toolbar.active_drag = tool
        plot.axis.visible = False
        plot.grid.visible = False
        self.plot = plot
        self.source.on_change("data", self._changed)
        self.clear_button = pn.widgets.Button(label=t("Clear drawing"), width=160, sizing_mode="fixed")
        self.clear_button.on_click(lambda _event: self.clear())
        self.view = pn.Column(
            pn.pane.Bokeh(plot, sizing_mode="fixed", width=size, height=size, margin=(5, 10)),
            self.clear_button, sizing_mode="fixed", width=size + 20)

    @property
    def strokes(self) -> list[Stroke]:
        data = self.source.data
        return [(list(xs), list(ys)) for xs, ys in zip(data.get("xs", []), data.get("ys", []), strict=False)]

    def set_strokes(self, strokes: Sequence[Stroke]) -> None:
        """Put strokes on the pad as if drawn (tests; a future 'example' button)."""
        self.source.data = {"xs": [list(xs) for xs, _ in strokes], "ys": [list(ys) for _, ys in strokes]}

    def clear(self) -> None:
        self.source.data = {"xs": [], "ys": []}

    def _changed(self, _attr, _old, _new) -> None:
        if self.on_change is not None:
            self.on_change()

    def image(self, height: int, width: int, digits_style: bool = True) -> np.ndarray:
        """The drawing as (height, width, 1) in [0, 1]; other data than digits gets thinner, smaller strokes."""
        pen, fill = (0.2, 1.0) if digits_style else (0.1, 0.8)
        return rasterize(self.strokes, height, width, pen=pen, fill=fill)[:, :, None]
