"""The Predict page: use the trained model on a drawing, an uploaded picture, the webcam, or typed values.

Every input is turned into exactly what the model trained on (size, colour, scaling, and for
pictures the polarity of the training images), shown next to the class probabilities.
"""

from __future__ import annotations

from html import escape

import numpy as np
import panel as pn

from hearth.app.gradcam_view import GradCamView
from hearth.app.state import AppState
from hearth.app.tasks import background
from hearth.app.widgets.drawing_pad import DrawingPad
from hearth.app.widgets.html import bars, heading, notice, wrap_row
from hearth.app.widgets.images import img_tag, to_model_input
from hearth.app.widgets.number_box import FloatBox
from hearth.app.widgets.webcam import Webcam
from hearth.i18n import N_, t
from hearth.train.data import DataError, normalize_like
from hearth.train.trainer import Trainer

MODES = [N_("Draw"), N_("Upload a picture"), N_("Webcam"), N_("Type values")]  # values; shown with t()
LIVE_EVERY_MS = 500


class PredictPage:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.mode = pn.widgets.RadioButtonGroup(label=t("Input"), options={t(mode): mode for mode in MODES}, value="Draw")
        self.mode.param.watch(lambda _e: self._show_mode(), "value")
        self.pad = DrawingPad(on_change=lambda: background(self.predict_drawing()))
        self.upload = pn.widgets.FileInput(label=t("Picture (PNG, JPEG, GIF, BMP or WebP)"), accept="image/*")
        self.upload.param.watch(lambda _e: background(self.predict_upload()), "value")
        self.webcam: Webcam | None = None
        self.live = pn.widgets.Toggle(label=t("Predict live from the camera"), value=False, width=300)
        self.live.param.watch(lambda e: self._live(e.new), "value")
        self.feature_inputs: list[FloatBox] = []
        self.features_box = wrap_row()
        self.features_button = pn.widgets.Button(label=t("Predict"), color="primary", width=140)
        self.features_button.on_click(lambda _e: background(self.predict_values()))
        self.input_area = pn.Column(sizing_mode="stretch_width")
        self.seen = pn.pane.HTML("", width=150, sizing_mode="fixed")
        self.result = pn.pane.HTML("", width=320, sizing_mode="fixed")
        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.last: np.ndarray | None = None  # the last probabilities shown
        self.last_input: np.ndarray | None = None  # what they were for, as the model saw it
        # Grad-CAM of the last input; once asked for, it follows each new prediction (a drawing grows
        # stroke by stroke, and a map of the drawing as it was would mislead)
        self.gradcam = GradCamView("this input")
        self.gradcam.button.on_click(lambda _e: background(self.show_grad_cam()))
        self._follow_gradcam = False
        self._busy = False
        self.view = pn.Column(
            pn.pane.HTML(heading(t("5. Predict"), 2) + "<p>" + t("Give the trained model something new and see what it "
                         "thinks, with how sure it is of each class.") + "</p>"),
            pn.pane.HTML(f"<span>{t('Input:')}</span>"), self.mode, self.input_area, self.message,
            wrap_row(pn.Column(pn.pane.HTML(heading(t("What the model sees"), 4)), self.seen, width=170,
                               sizing_mode="fixed"),
                     pn.Column(pn.pane.HTML(heading(t("Prediction"), 4)), self.result, width=330, sizing_mode="fixed")),
            self.gradcam.view, sizing_mode="stretch_width")
        state.param.watch(lambda _e: self._trainer_changed(), "trainer")
        self._trainer_changed()

    # ---------------------------------------------------------------- layout
    @property
    def trainer(self) -> Trainer | None:
        return self.state.trainer

    def _trainer_changed(self) -> None:
        trainer = self.trainer
        self.last = self.last_input = None  # a new model: what the old one said no longer holds
        self.seen.object = self.result.object = ""
        self.gradcam.use(trainer)
        self.gradcam.view.visible = trainer is not None and len(trainer.spec.input_shape) == 3
        self._follow_gradcam = False
        if self.live.value:
            self.live.value = False
        if trainer is not None and len(trainer.spec.input_shape) == 1:
            data = trainer.data
            names = data.feature_names or [f"x{i + 1}" for i in range(trainer.spec.input_shape[0])]
            norm = data.normalization or {}
            centre = np.broadcast_to(np.asarray(norm.get("center", 0.0), float), (len(names),))
            self.feature_inputs = [FloatBox(label=name, value=round(float(c), 4), width=130)
                                   for name, c in zip(names, centre, strict=True)]
            self.features_box.objects = self.feature_inputs
            if self.mode.value != "Type values":
                self.mode.value = "Type values"
        elif trainer is not None and self.mode.value == "Type values":
            self.mode.value = "Draw"
        self._show_mode()
        if trainer is not None and self.mode.value == "Draw" and self.pad.strokes:
            background(self.predict_drawing())  # what the new model makes of the drawing on the pad

    def _show_mode(self) -> None:
        mode = self.mode.value
        if mode != "Webcam" and self.live.value:
            self.live.value = False
        if self.trainer is None:
            self.message.object = notice(t("No trained model yet: train one on the Train page first."), "info")
        else:
            self.message.object = ""
        if mode == "Draw":
            self.input_area.objects = [pn.pane.HTML("<p>" + t("Draw with the mouse, a pen or a finger. The prediction "
                                                              "follows each stroke.") + "</p>"), self.pad.view]
        elif mode == "Upload a picture":
            self.input_area.objects = [self.upload]
        elif mode == "Webcam":
            if self.webcam is None:
                self.webcam = Webcam(on_frame=lambda frame: background(self.predict_frame(frame)))
            self.input_area.objects = [self.webcam.view, self.live]
        else:
            if self.trainer is not None and len(self.trainer.spec.input_shape) == 1:
                self.input_area.objects = [pn.pane.HTML("<p>" + t("Values as in the original table (Hearth scales them "
                                                                  "as it scaled the training data).") + "</p>"),
                                           self.features_box, self.features_button]
            else:
                self.input_area.objects = [pn.pane.HTML("<p>" + t("This model takes pictures: draw, upload or use the "
                                                                  "webcam.") + "</p>")]

    def _live(self, on: bool) -> None:
        if self.webcam is not None:
            self.webcam.live(LIVE_EVERY_MS if on else None)

    # ---------------------------------------------------------------- predictions
    def _dark_background(self) -> bool:
        return float(self.trainer.train_data.x.mean()) < 0.5

    async def predict_drawing(self) -> None:
        if self.trainer is None or not self.pad.strokes:
            if not self.pad.strokes:
                self.seen.object = self.result.object = ""
            return
        shape = self.trainer.spec.input_shape
        if len(shape) != 3:
            self.message.object = notice(t("This model takes numbers, not pictures: use Type values."), "error")
            return
        image = self.pad.image(shape[0], shape[1], digits_style=self.trainer.data.name == "digits")
        if not self._dark_background():
            image = 1.0 - image
        await self._predict(np.repeat(image, shape[2], axis=2))

    async def predict_upload(self) -> None:
        if self.trainer is None or not self.upload.value:
            return
        try:
            x = to_model_input(self.upload.value, self.trainer.spec.input_shape, self._dark_background())
        except DataError as error:
            self.message.object = notice(str(error), "error")
            return
        await self._predict(x)

    async def predict_frame(self, frame: bytes) -> None:
        if self.trainer is None or self._busy:
            return  # live frames come faster than a slow model answers: skip, never queue
        try:
            x = to_model_input(frame, self.trainer.spec.input_shape, self._dark_background())
        except DataError as error:
            self.message.object = notice(str(error), "error")
            return
        await self._predict(x)

    async def predict_values(self) -> None:
        if self.trainer is None:
            return
        values = [w.value for w in self.feature_inputs]
        if any(v is None for v in values):
            self.message.object = notice(t("Fill in every value."), "error")
            return
        x = normalize_like(np.asarray(values, np.float64), self.trainer.data.normalization)
        await self._predict(x)

    async def _predict(self, x: np.ndarray) -> None:
        trainer = self.trainer
        self._busy = True
        try:
            probs = (await trainer.predict(x))[0]
        except (DataError, ValueError) as error:
            self.message.object = notice(str(error), "error")
            return
        finally:
            self._busy = False
        self.message.object = ""
        self.last, self.last_input = probs, (x if x.ndim == 3 else None)
        if self._follow_gradcam:
            await self.gradcam.show(trainer, self.last_input)
        self.seen.object = (img_tag(x, alt=t("the input as the model sees it"), size=128) if x.ndim == 3
                            else f"<p>{t('(numbers)')}</p>")
        classes = trainer.classes
        if not classes:
            self.result.object = "<p>" + t("Predicted value(s): {values}", values=", ".join(f"{v:.4g}" for v in probs)) \
                + "</p>"
            return
        if len(probs) == 1:  # one sigmoid output: the chance of the second class
            probs = np.asarray([1 - probs[0], probs[0]])
        best = int(np.argmax(probs))
        self.result.object = ('<p aria-live="polite" class="hearth-prediction">'
                              + t("It looks like <strong>{name}</strong> ({share} sure).", name=escape(classes[best]),
                                  share=f"{100 * probs[best]:.1f}%") + "</p>"
                              + bars(list(zip(classes, map(float, probs), strict=True)), maximum=1.0, percent=True,
                                     highlight=best, label=t("Probability of each class")))

    async def show_grad_cam(self) -> None:
        """The Grad-CAM heat map of the last input, for the class chosen beside the button."""
        self._follow_gradcam = self.last_input is not None
        await self.gradcam.show(self.trainer, self.last_input)
