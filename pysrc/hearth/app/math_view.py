"""The Build page's math view: each layer of the network as the formula it computes, typeset by KaTeX.

It follows the network the other pages use (AppState.spec) as it is edited, and the trained model:
a small layer (hearth.train.formulas.MAX_SIDE) shows its trained weights, but only while the
trained model is the network on the page, so a number shown is always one this network computes
with. Beginner mode (the Build page's) adds one line per symbol saying what it is.

Closed by default: KaTeX loads on the first opening, so a visitor who never looks pays nothing.
"""

from __future__ import annotations

from html import escape

import numpy as np
import panel as pn

from hearth.app.state import AppState
from hearth.app.tasks import background
from hearth.app.widgets import katex
from hearth.app.widgets.html import notice
from hearth.i18n import t
from hearth.train.formulas import MAX_SIDE, LayerMath, network_math
from hearth.train.spec import ModelSpec

MATH_CSS = """
:host .hearth-math-layer { border-top: 1px solid #e6ddd3; padding: .4rem 0 .6rem; }
:host .hearth-math-layer h4 { margin: .2rem 0; font-size: 1rem; }
:host .hearth-math-eq { overflow-x: auto; overflow-y: hidden; }
:host .hearth-math-shapes, :host .hearth-math-numbers { overflow-x: auto; margin: .2rem 0; }
:host .hearth-math-symbols { margin: .2rem 0; padding-left: 1.2rem; color: #333; }
:host .hearth-math-symbols li { margin: .15rem 0; }
:host code.hearth-tex { white-space: pre-wrap; }
"""


def same_network(a: ModelSpec, b: ModelSpec) -> bool:
    """Whether two specs compute the same way (training settings and name aside)."""
    return a.input_shape == b.input_shape and a.to_dict()["layers"] == b.to_dict()["layers"]


def layer_html(layer: LayerMath, beginner: bool) -> str:
    parts = [f'<section class="hearth-math-layer" data-position="{layer.position}">',
             f"<h4>{escape(layer.title)}</h4>"]
    parts += [f'<div class="hearth-math-eq">{katex.render(eq, display=True)}</div>' for eq in layer.equations]
    parts.append(f'<p class="hearth-math-shapes">{t("Shapes:")} {katex.render(layer.shapes)}</p>')
    if layer.numbers is not None:
        parts.append(f'<div class="hearth-math-numbers"><span>{t("With the trained weights:")}</span>'
                     f"{katex.render(layer.numbers, display=True)}</div>")
    if beginner:
        items = "".join(f"<li>{katex.render(s.tex)}: {escape(s.meaning)}</li>" for s in layer.symbols)
        parts.append(f'<ul class="hearth-math-symbols">{items}</ul>')
    parts.append("</section>")
    return "".join(parts)


class MathView:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.beginner = True
        self.show = pn.widgets.Toggle(label=t("Show the math"), value=False, width=200, sizing_mode="fixed")
        self.show.param.watch(lambda _e: self.refresh(), "value")
        self.body = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[katex.KATEX_CSS, MATH_CSS])
        self.view = pn.Column(self.show, self.body, sizing_mode="stretch_width")
        self.shown: list[LayerMath] = []  # what the body shows now (tests read it)
        self._generation = 0
        state.param.watch(lambda *_e: self.refresh(), ["spec", "spec_draft_ok", "trainer", "evaluation", "training"])

    def set_beginner(self, beginner: bool) -> None:
        if beginner != self.beginner:
            self.beginner = beginner
            self.refresh()

    def refresh(self) -> None:
        """Draw the math again (in the background: KaTeX and the weights may need a wait)."""
        self._generation += 1
        if not self.show.value:
            self.body.object = ""
            return
        background(self._draw(self._generation))

    async def _weights(self) -> tuple[dict[str, np.ndarray] | None, str]:
        """The trained weights if they belong to the network shown, and a line saying where numbers come from."""
        trainer, spec = self.state.trainer, self.state.spec
        side = MAX_SIDE
        if self.state.training:
            return None, t("Layers with at most {side} × {side} weights show their numbers when training ends.",
                           side=side)
        if trainer is None:
            return None, t("Layers with at most {side} × {side} weights show their numbers once the network is "
                           "trained.", side=side)
        if not same_network(trainer.spec, spec):
            return None, t("Layers with at most {side} × {side} weights show their numbers once this network is "
                           "trained (the trained model is the network as it was).", side=side)
        epochs = trainer.epochs_done
        return await trainer.weights(), (
            t("Layers with at most {side} × {side} weights show their numbers: the trained model's, after 1 epoch.",
              side=side) if epochs == 1 else
            t("Layers with at most {side} × {side} weights show their numbers: the trained model's, after {epochs} "
              "epochs.", side=side, epochs=epochs))

    async def _draw(self, generation: int) -> None:
        await katex.load()
        spec = self.state.spec
        if spec is None:
            return
        weights, source = await self._weights()
        if generation != self._generation:
            return  # a newer draw is on its way
        self.shown = network_math(spec, weights)
        intro = ("<p>" + t("Each layer as the formula it computes for one sample: <strong>x</strong> is what the layer "
                           "gets, <strong>y</strong> what it gives the next one.") + f" {escape(source)}</p>")
        warning = "" if self.state.spec_draft_ok else notice(
            t("This is the last network that worked; the math follows again once the stack is fixed."), "warning")
        self.body.object = ('<div class="hearth-math">' + warning + intro
                            + "".join(layer_html(layer, self.beginner) for layer in self.shown) + "</div>")
