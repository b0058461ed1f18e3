"""The Train page's image augmentation: which random changes training batches get, and a preview.

The settings live in `AppState.config.augmentation` (what Start trains with, what the Python page
writes out and a project file keeps); this panel only edits them and shows, for a few of the
training images, what each change on does to them. The preview draws from its own generator with
a fixed seed, so it stays put while nothing changes and never touches training's random numbers.

Owns: the augmentation widgets and their preview. Imports: numpy, panel, hearth.app widgets and
state, hearth.train.augment.
"""

from __future__ import annotations

from html import escape

import numpy as np
import panel as pn

from hearth.app.state import AppState
from hearth.app.widgets.html import heading, wrap_row
from hearth.app.widgets.images import gallery, img_tag
from hearth.train.augment import Augmentation

ROTATIONS = {"off": 0.0, "±5°": 5.0, "±10°": 10.0, "±15°": 15.0, "±30°": 30.0, "±45°": 45.0, "±90°": 90.0,
             "±180°": 180.0}
SHIFTS = {"off": 0.0, "±5%": 0.05, "±10%": 0.1, "±15%": 0.15, "±20%": 0.2, "±30%": 0.3}
HALF = {"off": False, "half the images": True}
PREVIEW_IMAGES = 6
PREVIEW_SEED = 20240  # the preview's own stream, apart from training's
NAMES = {"rotation": "Rotated", "shift": "Shifted", "flip": "Flipped (about half)", "invert": "Inverted (about half)"}


def _option(select: pn.widgets.Select, value: float, label: str) -> None:
    """Show `value` in `select`, adding it when it came from elsewhere (a project file, a spec)."""
    if value not in select.options.values():
        select.options = {**select.options, label: value}
    if select.value != value:
        select.value = value


class AugmentPanel:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.rotation = pn.widgets.Select(label="Rotate up to", options=ROTATIONS, value=0.0, width=130)
        self.shift = pn.widgets.Select(label="Shift up to", options=SHIFTS, value=0.0, width=130)
        # Menus, not checkboxes: Bokeh's checkbox gets no accessible name from its label.
        self.flip = pn.widgets.Select(label="Flip left to right", options=HALF, value=False, width=170)
        self.invert = pn.widgets.Select(label="Invert dark and light", options=HALF, value=False, width=170)
        for widget in (self.rotation, self.shift, self.flip, self.invert):
            widget.param.watch(lambda _e: self.changed(), "value")
        self.note = pn.pane.HTML("", sizing_mode="stretch_width")
        self.preview = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hearth-augment-preview"])
        self._showing = False
        self.view = pn.Column(
            pn.pane.HTML(heading("Image augmentation") + "<p>Each training batch gets random changes, new every "
                         "epoch, so the network learns the shapes rather than the exact pixels. The validation "
                         "share is never changed.</p>", sizing_mode="stretch_width"),
            wrap_row(self.rotation, self.shift, self.flip, self.invert), self.note, self.preview,
            sizing_mode="stretch_width")
        state.param.watch(lambda _e: self._from_state(), "config")
        state.param.watch(lambda _e: self._data_changed(), "dataset")
        self._data_changed()

    @property
    def settings(self) -> Augmentation:
        return Augmentation(rotation=float(self.rotation.value), shift=float(self.shift.value),
                            flip=bool(self.flip.value), invert=bool(self.invert.value))

    def changed(self) -> None:
        if self._showing:
            return
        wanted = self.settings.to_dict()
        if wanted != self.state.config.augmentation:
            self.state.config = self.state.config.replace(augmentation=wanted)  # shown by _from_state
        else:
            self.show_preview()

    def _from_state(self) -> None:
        """Settings that came from elsewhere (a project file): shown without writing them back."""
        current = Augmentation.from_dict(self.state.config.augmentation)
        self._showing = True
        try:
            _option(self.rotation, current.rotation, f"±{current.rotation:g}°")
            _option(self.shift, current.shift, f"±{100 * current.shift:g}%")
            self.flip.value, self.invert.value = current.flip, current.invert
        finally:
            self._showing = False
        self.show_preview()

    def _data_changed(self) -> None:
        images = self.state.images
        for widget in (self.rotation, self.shift, self.flip, self.invert):
            widget.disabled = not images
        if not images and self.state.config.augmentation:
            # settings for images mean nothing for a table, and training would refuse them
            self.state.config = self.state.config.replace(augmentation={})
        self._from_state()

    def show_preview(self) -> None:
        data = self.state.dataset
        if data is None or len(data.sample_shape) != 3:
            self.note.object = ("<p>Augmentation changes images; this data is a table, so there is nothing to "
                                "change.</p>") if data is not None else ""
            self.preview.object = ""
            return
        settings = self.settings
        if not settings.active:
            self.note.object = "<p>Off: the network trains on the images as they are.</p>"
            self.preview.object = ""
            return
        self.note.object = ""
        picked = np.linspace(0, len(data) - 1, PREVIEW_IMAGES).round().astype(int)
        x = data.x[picked]
        rows = [("As they are", x)]
        kinds = [k for k, v in settings.to_dict().items() if v]
        for kind in kinds:
            rows.append((NAMES[kind], settings.only(kind)(x, np.random.default_rng([PREVIEW_SEED, len(rows)]))))
        if len(kinds) > 1:
            rows.append(("All together", settings(x, np.random.default_rng([PREVIEW_SEED, 0]))))
        parts = []
        for title, images in rows:
            figures = [img_tag(image, alt=f"{title.lower()}: image {i + 1}", size=48) for i, image in enumerate(images)]
            parts.append(f'<div style="margin:.2rem 0"><div style="font-size:.85rem">{escape(title)}</div>'
                         + gallery(figures, f"Augmentation preview: {title.lower()}") + "</div>")
        self.preview.object = "".join(parts)
