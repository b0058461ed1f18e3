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
from hearth.i18n import N_, t
from hearth.train.augment import Augmentation

# Labels (keys) marked N_ here, translated where the menus are made.
ROTATIONS = {N_("off"): 0.0, "±5°": 5.0, "±10°": 10.0, "±15°": 15.0, "±30°": 30.0, "±45°": 45.0, "±90°": 90.0,
             "±180°": 180.0}
SHIFTS = {N_("off"): 0.0, "±5%": 0.05, "±10%": 0.1, "±15%": 0.15, "±20%": 0.2, "±30%": 0.3}
HALF = {N_("off"): False, N_("half the images"): True}
PREVIEW_IMAGES = 6
PREVIEW_SEED = 20240  # the preview's own stream, apart from training's
NAMES = {"rotation": N_("Rotated"), "shift": N_("Shifted"), "flip": N_("Flipped (about half)"),
         "invert": N_("Inverted (about half)")}


def _option(select: pn.widgets.Select, value: float, label: str) -> None:
    """Show `value` in `select`, adding it when it came from elsewhere (a project file, a spec)."""
    if value not in select.options.values():
        select.options = {**select.options, label: value}
    if select.value != value:
        select.value = value


def _translated(options: dict[str, object]) -> dict[str, object]:
    return {t(label): value for label, value in options.items()}


class AugmentPanel:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.rotation = pn.widgets.Select(label=t("Rotate up to"), options=_translated(ROTATIONS), value=0.0, width=130)
        self.shift = pn.widgets.Select(label=t("Shift up to"), options=_translated(SHIFTS), value=0.0, width=130)
        # Menus, not checkboxes: Bokeh's checkbox gets no accessible name from its label.
        self.flip = pn.widgets.Select(label=t("Flip left to right"), options=_translated(HALF), value=False, width=170)
        self.invert = pn.widgets.Select(label=t("Invert dark and light"), options=_translated(HALF), value=False,
                                        width=170)
        for widget in (self.rotation, self.shift, self.flip, self.invert):
            widget.param.watch(lambda _e: self.changed(), "value")
        self.note = pn.pane.HTML("", sizing_mode="stretch_width")
        self.preview = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hearth-augment-preview"])
        self._showing = False
        self.view = pn.Column(
            pn.pane.HTML(heading(t("Image augmentation")) + "<p>" + t("Each training batch gets random changes, new "
                         "every epoch, so the network learns the shapes rather than the exact pixels. The validation "
                         "share is never changed.") + "</p>", sizing_mode="stretch_width"),
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
            self.note.object = ("<p>" + t("Augmentation changes images; this data is a table, so there is nothing to "
                                          "change.") + "</p>") if data is not None else ""
            self.preview.object = ""
            return
        settings = self.settings
        if not settings.active:
            self.note.object = f"<p>{t('Off: the network trains on the images as they are.')}</p>"
            self.preview.object = ""
            return
        self.note.object = ""
        picked = np.linspace(0, len(data) - 1, PREVIEW_IMAGES).round().astype(int)
        x = data.x[picked]
        rows = [(t("As they are"), x)]
        kinds = [k for k, v in settings.to_dict().items() if v]
        for kind in kinds:
            rows.append((t(NAMES[kind]), settings.only(kind)(x, np.random.default_rng([PREVIEW_SEED, len(rows)]))))
        if len(kinds) > 1:
            rows.append((t("All together"), settings(x, np.random.default_rng([PREVIEW_SEED, 0]))))
        parts = []
        for title, images in rows:
            figures = [img_tag(image, alt=t("{kind}: image {number}", kind=title, number=i + 1), size=48)
                       for i, image in enumerate(images)]
            parts.append(f'<div style="margin:.2rem 0"><div style="font-size:.85rem">{escape(title)}</div>'
                         + gallery(figures, t("Augmentation preview: {kind}", kind=title)) + "</div>")
        self.preview.object = "".join(parts)
