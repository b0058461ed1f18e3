"""The peer of Hearth's app shell for bench/tti.py: the same content as `hearth.app.shell.create_app()`
(Tabs with the welcome Markdown and a button) as a standalone Panel script, for `panel convert`.

Only the button's action differs: the peer has no ONNX engine to check, and the benchmark times
start-up, not clicks.
"""

import panel as pn

pn.extension(sizing_mode="stretch_width")
welcome = pn.pane.Markdown(
    "## Welcome to Hearth\n"
    "Train neural networks and draft clinical notes with a language model, **entirely in this browser**. "
    "Nothing you load or type leaves this device, and after this first visit Hearth works offline.",
    sizing_mode="stretch_width",
)
result = pn.pane.Markdown("", sizing_mode="stretch_width")
button = pn.widgets.Button(name="Check the compute engine", button_type="primary", width=260)


def on_click(_event) -> None:
    result.object = "Clicked."


button.on_click(on_click)
pn.Tabs(("Home", pn.Column(welcome, pn.Column(button, result))), dynamic=True,
        sizing_mode="stretch_width").servable(title="Hearth")
