"""The Build page: a stack of layers to add, remove, reorder and edit, checked as it is edited.

Each layer shows what it outputs and how many parameters it has; a stack that cannot work says
why at the layer at fault, and the diagram marks it. Only a stack that builds replaces the model
the other pages use (AppState.spec), so a half-finished edit never loses the last working model;
training waits until the stack works again, and this page and the Train page say so in the same
words (AppState.network_problem). Under the stack, "Show the math" writes each layer out as the
formula it computes (hearth.app.math_view).
"""

from __future__ import annotations

from html import escape
from typing import Any

import panel as pn

from hearth.app import network_diagram
from hearth.app.layer_catalog import CATALOG, layer_types, new_layer
from hearth.app.layer_editor import LayerEditor
from hearth.app.layer_stack import StackReport, check_stack
from hearth.app.math_view import MathView
from hearth.app.presets import PRESETS, preset, unavailable
from hearth.app.state import AppState
from hearth.app.widgets.html import heading, notice, wrap_row
from hearth.i18n import number, t


class BuildPage:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.editors: list[LayerEditor] = []
        self.report: StackReport | None = None
        self.mode = pn.widgets.RadioButtonGroup(label=t("Mode"), options={t("Beginner"): "Beginner",
                                                                          t("Expert"): "Expert"}, value="Beginner")
        self.mode.param.watch(lambda _e: self._mode_changed(), "value")
        self.preset_buttons = {name: pn.widgets.Button(label=t(title), width=170, sizing_mode="fixed")
                               for name, title in PRESETS.items()}
        for name, button in self.preset_buttons.items():
            button.on_click(lambda _e, n=name: self.use_preset(n))
        self.new_type = pn.widgets.Select(label=t("New layer"), width=220, sizing_mode="fixed")
        self.add_button = pn.widgets.Button(label=t("Add layer"), color="primary", width=150, sizing_mode="fixed",
                                            margin=(22, 10, 5, 10))
        self.add_button.on_click(lambda _e: self.add_layer(self.new_type.value))
        self.input_info = pn.pane.HTML("", sizing_mode="stretch_width")
        self.layer_list = pn.Column(sizing_mode="stretch_width")
        # A preset's title is the first item of the layer list, made anew with its layers: the page
        # then draws the title and the layers in one update, so a title never shows over other layers.
        self.preset_title: pn.pane.HTML | None = None
        self._preset_layers: list[dict[str, Any]] | None = None  # the title holds while the layers are these
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        self.diagram = pn.pane.HTML("", sizing_mode="stretch_width")
        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.math = MathView(state)
        self.view = pn.Column(
            pn.pane.HTML(heading(t("2. Build"), 2) + "<p>" + t("Stack layers into a network. Each layer shows what it "
                         "gives the next one; the drawing follows your changes.") + "</p>"),
            pn.pane.HTML(f"<span>{t('Mode (beginner mode offers sensible choices only):')}</span>"), self.mode,
            pn.pane.HTML(f"<span>{t('Start from a preset:')}</span>"), wrap_row(*self.preset_buttons.values()),
            self.message, self.diagram, self.status, self.input_info, self.layer_list,
            wrap_row(self.new_type, self.add_button), self.math.view, sizing_mode="stretch_width")
        self._refresh_new_types()
        state.param.watch(lambda _e: self._data_changed(), "dataset")
        state.param.watch(lambda _e: self.show_spec(self.state.spec), "loaded_spec")
        if state.spec is not None:
            self.show_spec(state.spec)
        else:
            self.use_preset("mlp", quiet=True)

    @property
    def expert(self) -> bool:
        return self.mode.value == "Expert"

    @property
    def layers(self) -> list[dict[str, Any]]:
        return [dict(editor.config) for editor in self.editors]

    # ---------------------------------------------------------------- editing
    def _editor(self, config: dict[str, Any]) -> LayerEditor:
        return LayerEditor(config, self.expert, self.refresh, self._action)

    def set_layers(self, layers: list[dict[str, Any]], title: str = "") -> None:
        """Show `layers` in place of the stack, under `title` (a preset's) when one is given."""
        self.editors = [self._editor(config) for config in layers]
        self.preset_title = pn.pane.HTML(f'<p class="hearth-preset-title" style="margin:.2rem 0;font-weight:600">'
                                         f"{escape(title)}</p>", sizing_mode="stretch_width") if title else None
        self._preset_layers = self.layers if title else None
        self._show_list()
        self.refresh()

    def _drop_title(self) -> None:
        if self.preset_title is not None:
            self.layer_list.remove(self.preset_title)
            self.preset_title = self._preset_layers = None

    def _show_list(self) -> None:
        title = [self.preset_title] if self.preset_title is not None else []
        self.layer_list.objects = [*title, *(editor.view for editor in self.editors)]

    def use_preset(self, name: str, quiet: bool = False) -> None:
        outputs = self.state.outputs or 10
        classification = self.state.dataset is None or self.state.dataset.is_classification
        try:
            layers = preset(name, self.state.input_shape, outputs, classification)
        except ValueError as error:
            self.message.object = notice(str(error), "error")
            return
        self.message.object = ""
        self.set_layers(layers, title="" if quiet else t("{preset} for {data}", preset=t(PRESETS[name]),
                                                         data=self._data_words()))

    def add_layer(self, layer_type: str) -> None:
        editor = self._editor(new_layer(layer_type))
        self._drop_title()
        self.editors.append(editor)
        self.layer_list.append(editor.view)
        self.refresh()

    def _action(self, editor: LayerEditor, action: str) -> None:
        i = self.editors.index(editor)
        self._drop_title()
        if action == "remove":
            self.editors.pop(i)
        elif action == "up" and i > 0:
            self.editors[i - 1], self.editors[i] = self.editors[i], self.editors[i - 1]
        elif action == "down" and i < len(self.editors) - 1:
            self.editors[i + 1], self.editors[i] = self.editors[i], self.editors[i + 1]
        self._show_list()
        self.refresh()

    def _mode_changed(self) -> None:
        for editor in self.editors:
            editor.set_expert(self.expert)
        self._refresh_new_types()
        self.math.set_beginner(not self.expert)
        self.refresh()

    def _refresh_new_types(self) -> None:
        self.new_type.options = {f"{t(CATALOG[kind].title)} ({kind})": kind for kind in layer_types(self.expert)}
        if self.new_type.value not in self.new_type.options.values():
            self.new_type.value = "dense"

    def _data_words(self) -> str:
        data = self.state.dataset
        if data is None:
            return t("8×8 images")
        kind = t("{count} classes", count=len(data.classes)) if data.is_classification \
            else t("{count} target(s)", count=self.state.outputs)
        return f"{data.name} ({' × '.join(map(str, data.sample_shape))}, {kind})"

    def _data_changed(self) -> None:
        """New data: the input follows it, and a last dense layer is given one output per class."""
        self._drop_title()  # the title names the data the preset was made for
        last = self.editors[-1] if self.editors else None
        outputs = self.state.outputs
        if last is not None and last.type == "dense" and outputs is not None and last.config.get("units") != outputs:
            last.config["units"] = outputs
            last.build_widgets()
            self.message.object = notice(t("The last layer now gives {outputs} outputs, one per class of {data}.",
                                           outputs=outputs, data=self.state.dataset.name), "info")
        for name, button in self.preset_buttons.items():
            reason = unavailable(name, self.state.input_shape)
            button.disabled = reason is not None
            button.description = reason
        self.refresh()

    def show_spec(self, spec) -> None:
        """Show a spec that came from elsewhere (a project file)."""
        if spec is None:
            return
        self.set_layers([dict(layer) for layer in spec.to_dict()["layers"]])

    # ---------------------------------------------------------------- checking
    def refresh(self) -> None:
        if self.layers != self._preset_layers:
            self._drop_title()  # edited: no longer the preset the title names
        problems = {}
        for position, editor in enumerate(self.editors, start=1):
            editor.position = position
            problem = editor.problem()
            if problem:
                problems[position] = problem
        data = self.state.dataset
        report = check_stack(self.state.input_shape, self.layers, outputs=self.state.outputs,
                             classes=data.classes if data is not None else (), problems=problems,
                             name=self.state.project_name)
        self.report = report
        for position, (editor, layer) in enumerate(zip(self.editors, report.layers, strict=True), start=1):
            editor.show(layer, position, len(self.editors))
        shape = " × ".join(map(str, self.state.input_shape))
        self.input_info.object = ("<p style='margin:.2rem 0'>" + t("Input: <strong>{shape}</strong> ({data})", shape=shape,
                                                                    data=self._data_words()) + "</p>")
        self.diagram.object = network_diagram.html(self.state.input_shape, report.layers)
        if report.ok:
            self.status.object = notice(t("The network works: {layers} layers, {params} parameters to learn.",
                                          layers=len(report.layers), params=number(report.param_count)), "success")
            self.state.param.update(spec=report.spec, spec_draft_ok=True, spec_problem=None)
        else:
            self.state.param.update(spec_draft_ok=False, spec_problem=report.error)
            self.status.object = notice(self.state.network_problem(), "warning")
