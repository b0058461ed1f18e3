"""Grad-CAM on the pages: a class to ask about, a button, and the heat map laid over the image.

The Evaluate page asks it about a validation sample, the Predict page about the last input it was
given; both get the same controls and the same picture. The numbers come from
`Trainer.grad_cam` (hearth.train.gradcam): this module only chooses the class and draws.

Owns: the Grad-CAM controls and their picture. Imports: numpy, panel, hearth.app widgets, hearth.train.
"""

from __future__ import annotations

from html import escape

import numpy as np
import panel as pn

from hearth.app.widgets.html import heading, notice, wrap_row
from hearth.app.widgets.images import gallery, img_tag
from hearth.i18n import N_, t
from hearth.train.gradcam import GradCam, GradCamError
from hearth.train.trainer import Trainer

PREDICTED = -1  # the class select's value for "the class the model predicts"
METHODS = {N_("Grad-CAM"): "gradcam", N_("Per place (gradient × activation)"): "places"}  # labels shown with t()
# What the texts say about the image, whole sentences for each page's word ("this sample", "this input").
NO_INPUT = {"this sample": N_("Give the model an input first; the heat map is for this sample."),
            "this input": N_("Give the model an input first; the heat map is for this input.")}
NOTHING_BY_GRADCAM = {
    "this sample": N_("Nothing in this sample speaks for {name} by Grad-CAM: weighted by their average gradient, the "
                      "filters' maps add up below zero everywhere. The average loses the most where a flatten and a "
                      "dense layer weigh every place differently; choose the per-place map, or use a network with "
                      "more convolution layers, such as LeNet."),
    "this input": N_("Nothing in this input speaks for {name} by Grad-CAM: weighted by their average gradient, the "
                     "filters' maps add up below zero everywhere. The average loses the most where a flatten and a "
                     "dense layer weigh every place differently; choose the per-place map, or use a network with "
                     "more convolution layers, such as LeNet.")}
NOTHING = {"this sample": N_("Nothing in this sample speaks for {name}: at every place the filters count against it."),
           "this input": N_("Nothing in this input speaks for {name}: at every place the filters count against it.")}
# A dark-to-bright colour scale (black, purple, red, orange, pale yellow): bright is where the class's
# evidence is, and it reads in grey too.
STOPS = np.asarray([[0.0, 0.0, 0.02], [0.34, 0.06, 0.43], [0.73, 0.21, 0.33], [0.98, 0.55, 0.04],
                    [0.99, 1.0, 0.64]])
SIZE = 112  # px of each picture


def colour(heat: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) colours on the STOPS scale."""
    where = np.linspace(0.0, 1.0, len(STOPS))
    return np.stack([np.interp(heat, where, STOPS[:, c]) for c in range(3)], axis=-1)


def overlay(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The image in grey (or its colours) with the heat map over it, opaque where the heat is high."""
    base = np.asarray(image, np.float64)
    base = np.repeat(base, 3, axis=2) if base.shape[2] == 1 else base[:, :, :3]
    alpha = (0.25 + 0.65 * heat)[:, :, None]
    return np.clip((1 - alpha) * base + alpha * colour(heat), 0.0, 1.0)


def picture(image: np.ndarray, result: GradCam, class_name: str) -> str:
    """The input, the heat map and the two together, side by side."""
    layer = result.layer
    shape = " × ".join(map(str, layer.output_shape[:2]))
    figures = [img_tag(image, alt=t("the input"), size=SIZE, caption=t("the input")),
               img_tag(colour(result.heatmap), alt=t("Grad-CAM heat map for {name}", name=class_name), size=SIZE,
                       caption=t("heat map ({shape} of {layer} {position})", shape=shape, layer=layer.type,
                                 position=layer.position)),
               img_tag(overlay(image, result.heatmap), alt=t("the heat map for {name} over the input", name=class_name),
                       size=SIZE, caption=t("over the input"))]
    return gallery(figures, t("Grad-CAM for {name}", name=class_name))


class GradCamView:
    def __init__(self, what: str) -> None:
        self.what = what  # "this sample", "this input": how the text refers to the image
        self.target = pn.widgets.Select(label=t("Heat map for the class"), options={t("the one it predicts"): PREDICTED},
                                        value=PREDICTED, width=200)
        self.method = pn.widgets.Select(label=t("Map"), options={t(label): value for label, value in METHODS.items()},
                                        value="gradcam", width=250)
        self.button = pn.widgets.Button(label=t("Show where it looks"), width=200, margin=(22, 10, 5, 10))
        self.out = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hearth-gradcam"])
        self.intro = pn.pane.HTML(
            heading(t("Where it looks (Grad-CAM)"), 4 if what == "this input" else 3)
            + "<p>" + t("Bright where the last convolution layer finds what counts for the chosen class. Grad-CAM "
                        "weighs each filter's map by how much the class's score rises with that filter on average; "
                        "<em>per place</em> weighs every place by its own gradient.") + "</p>",
            sizing_mode="stretch_width")
        self.view = pn.Column(self.intro, wrap_row(self.target, self.method, self.button), self.out,
                              sizing_mode="stretch_width")

    def use(self, trainer: Trainer | None) -> None:
        """A new model: offer its classes, forget the last picture."""
        self.out.object = ""
        classes = list(trainer.classes) if trainer is not None else []
        self.target.options = {t("the one it predicts"): PREDICTED, **{name: i for i, name in enumerate(classes)}}
        self.target.value = PREDICTED

    async def show(self, trainer: Trainer | None, image: np.ndarray | None) -> None:
        if trainer is None:
            self.out.object = notice(t("Train a model first."), "info")
            return
        if image is None:
            self.out.object = notice(t(NO_INPUT[self.what]), "info")
            return
        chosen = None if self.target.value == PREDICTED else int(self.target.value)
        try:
            result = await trainer.grad_cam(image, chosen, self.method.value)
        except GradCamError as error:
            self.out.object = notice(f"{str(error)[0].upper()}{str(error)[1:]}.", "error")
            return
        classes = trainer.classes or [str(i) for i in range(trainer.spec.units_out)]
        name = classes[result.target]
        probabilities = result.probabilities
        if len(probabilities) == 1:
            probabilities = np.asarray([1 - probabilities[0], probabilities[0]])
        best = int(np.argmax(probabilities))
        said = t("The model says <strong>{best}</strong> ({best_share}); the map is for <strong>{name}</strong> "
                 "({share}).", best=escape(classes[best]), best_share=f"{100 * probabilities[best]:.1f}%",
                 name=escape(name), share=f"{100 * probabilities[result.target]:.1f}%")
        empty = ""
        if not result.heatmap.any() and result.method == "gradcam":
            empty = notice(t(NOTHING_BY_GRADCAM[self.what], name=name), "info")
        elif not result.heatmap.any():
            empty = notice(t(NOTHING[self.what], name=name), "info")
        self.out.object = f'<p aria-live="polite">{said}</p>' + empty + picture(image, result, name)
