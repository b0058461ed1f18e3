"""The Python page: the code the current network and training settings correspond to.

So a student can move from clicking to coding: the same model in Hearth's Python API and in
PyTorch, and the spec as JSON, each ready to download and run.
"""

from __future__ import annotations

import io
from html import escape

import panel as pn

from hearth.app.python_code import hearth_script, pytorch_script, spec_json
from hearth.app.state import AppState
from hearth.app.widgets.html import heading, notice
from hearth.i18n import t


def _code(text: str, label: str) -> str:
    return (f'<pre aria-label="{escape(label)}" tabindex="0" style="background:#1f1d1b;color:#f6efe8;padding:.75rem;'
            f'border-radius:.4rem;overflow-x:auto;font-size:.8rem;line-height:1.35;max-width:100%">'
            f"<code>{escape(text)}</code></pre>")


class PythonPage:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.note = pn.pane.HTML("", sizing_mode="stretch_width")
        self.hearth_code = pn.pane.HTML("", sizing_mode="stretch_width")
        self.torch_code = pn.pane.HTML("", sizing_mode="stretch_width")
        self.spec_code = pn.pane.HTML("", sizing_mode="stretch_width")
        self.hearth_text = self.torch_text = self.spec_text = ""
        self.hearth_download = pn.widgets.FileDownload(callback=lambda: io.BytesIO(self.hearth_text.encode()),
                                                       filename="train_with_hearth.py", width=260,
                                                       label=t("Download the Hearth script"))
        self.torch_download = pn.widgets.FileDownload(callback=lambda: io.BytesIO(self.torch_text.encode()),
                                                      filename="train_with_pytorch.py", width=260,
                                                      label=t("Download the PyTorch script"))
        self.spec_download = pn.widgets.FileDownload(callback=lambda: io.BytesIO(self.spec_text.encode()),
                                                     filename="model_spec.json", width=260,
                                                     label=t("Download the spec (JSON)"))
        self.view = pn.Column(
            pn.pane.HTML(heading(t("7. Python"), 2) + "<p>" + t("Everything you set up on the other pages, as code. "
                         "Change something there and this page follows.") + "</p>"), self.note,
            pn.pane.HTML(heading(t("With Hearth's Python API"))), self.hearth_download, self.hearth_code,
            pn.pane.HTML(heading(t("With PyTorch"))), self.torch_download, self.torch_code,
            pn.pane.HTML(heading(t("The model spec"))), self.spec_download, self.spec_code,
            sizing_mode="stretch_width")
        state.param.watch(lambda *_events: self.show(), ["spec", "config", "data_source", "spec_draft_ok"])
        self.show()

    def show(self) -> None:
        spec, config, source = self.state.spec, self.state.config, self.state.data_source
        if spec is None:
            self.note.object = notice(t("Build a network on the Build page first."), "info")
            return
        self.note.object = "" if self.state.spec_draft_ok else notice(
            t("The Build page shows a problem; this is the last network that worked."), "warning")
        self.hearth_text = hearth_script(spec, config, source)
        self.torch_text = pytorch_script(spec, config, source)
        self.spec_text = spec_json(spec, config)
        self.hearth_code.object = _code(self.hearth_text, t("Python with Hearth"))
        self.torch_code.object = _code(self.torch_text, t("Python with PyTorch"))
        self.spec_code.object = _code(self.spec_text, t("Model spec as JSON"))
