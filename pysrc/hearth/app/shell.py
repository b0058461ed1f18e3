"""The app's frame: one tab per part of Hearth."""

from __future__ import annotations

import panel as pn

from hearth.app import engine_check


def create_app() -> pn.viewable.Viewable:
    pn.extension(sizing_mode="stretch_width")
    welcome = pn.pane.Markdown(
        "## Welcome to Hearth\n"
        "Train neural networks and draft clinical notes with a language model, **entirely in this browser**. "
        "Nothing you load or type leaves this device, and after this first visit Hearth works offline.",
        sizing_mode="stretch_width",
    )
    return pn.Tabs(("Home", pn.Column(welcome, engine_check.panel())), dynamic=True, sizing_mode="stretch_width")
