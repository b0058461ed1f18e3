"""One layer on the Build page: its type, its settings, and what it gives (or what is wrong with it).

The editor owns the layer's config dict; widgets write into it. A box that does not parse (a
kernel of "3x" in expert mode) becomes a problem shown at this layer, like any spec error.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn

from hearth.app.layer_catalog import CATALOG, Option, layer_types, new_layer, visible_options
from hearth.app.layer_stack import LayerReport
from hearth.app.widgets.html import notice, wrap_row
from hearth.app.widgets.number_box import FloatBox, IntBox
from hearth.i18n import language, number, t

LAYER_STYLE = {"border": "1px solid #e6ddd3", "border-radius": "8px", "background": "#fff", "padding": "4px 6px",
               "margin": "4px 0"}


def _setting(option: Option) -> str:
    """A setting's name inside a sentence: lower case in English ("kernel size"), as written in German."""
    return option.label.lower() if language() == "en" else t(option.label)


def _numbers(text: str, what: str) -> list[int]:
    parts = [p for p in text.replace("x", ",").replace("×", ",").replace(" ", ",").split(",") if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise ValueError(t("{setting} must be whole numbers like 3 or 3, 5; got {text}", setting=what,
                           text=repr(text))) from None


class LayerEditor:
    def __init__(self, config: dict[str, Any], expert: bool, on_change: Callable[[], None],
                 on_action: Callable[[LayerEditor, str], None]) -> None:
        self.config = dict(config)
        self.expert = expert
        self.position = 0
        self.problems: dict[str, str] = {}
        self._on_change = on_change
        self._on_action = on_action
        self.title = pn.pane.HTML("", width=36, sizing_mode="fixed", margin=(12, 4, 0, 4))
        self.type_select = pn.widgets.Select(label=t("Layer type"), width=170, sizing_mode="fixed")
        self.type_select.param.watch(self._type_changed, "value")
        self.up = pn.widgets.Button(label=t("Move up"), width=110, sizing_mode="fixed", margin=(22, 4, 4, 4))
        self.down = pn.widgets.Button(label=t("Move down"), width=110, sizing_mode="fixed", margin=(22, 4, 4, 4))
        self.remove = pn.widgets.Button(label=t("Remove"), width=90, sizing_mode="fixed", color="danger",
                                        variant="outline", margin=(22, 4, 4, 4))
        for button, action in ((self.up, "up"), (self.down, "down"), (self.remove, "remove")):
            button.on_click(lambda _e, a=action: self._on_action(self, a))
        self.explain = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 8))
        self.options_box = wrap_row()
        self.result = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 8))
        self.error = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 8))
        self.view = pn.Column(wrap_row(self.title, self.type_select, self.up, self.down, self.remove),
                              self.explain, self.options_box, self.result, self.error,
                              css_classes=["hearth-layer"], styles=LAYER_STYLE, sizing_mode="stretch_width")
        self._updating = False
        self.build_widgets()

    # ---------------------------------------------------------------- widgets
    @property
    def type(self) -> str:
        return str(self.config["type"])

    def set_expert(self, expert: bool) -> None:
        self.expert = expert
        self.build_widgets()

    def build_widgets(self) -> None:
        self._updating = True
        try:
            self.type_select.options = {f"{t(CATALOG[kind].title)} ({kind})": kind
                                        for kind in layer_types(self.expert, self.type)}
            self.type_select.value = self.type
        finally:
            self._updating = False
        explain = escape(t(CATALOG[self.type].explain))
        self.explain.object = f'<p style="margin:0;color:#666;font-size:.85rem">{explain}</p>'
        self.problems = {}
        self.options_box.objects = [self._widget(option) for option in visible_options(self.type, self.expert)]

    def _current(self, option: Option) -> Any:
        if option.name in self.config:
            return self.config[option.name]
        return CATALOG[self.type].default(option.name)

    def _widget(self, option: Option) -> pn.widgets.Widget:
        value = self._current(option)
        label = t(option.label)
        if option.kind == "bool":
            widget = pn.widgets.Checkbox(label=label, value=True if value is None else bool(value), width=130,
                                         margin=(28, 10, 5, 10))
        elif option.kind == "choice":
            current = "none" if value in (None, "linear") else value
            choices = {str(c): c for c in (option.choices if self.expert or not option.beginner else option.beginner)}
            choices.setdefault(str(current), current)  # a value from a project file stays choosable
            widget = pn.widgets.Select(label=label, options=choices, value=current, width=150)
        elif not self.expert and option.beginner and option.kind in ("int", "float", "size") and not isinstance(
                value, list):
            choices = list(option.beginner)
            if value is not None and value not in choices:
                choices = sorted([*choices, value])
            widget = pn.widgets.Select(label=label, options={str(v): v for v in choices},
                                       value=value if value is not None else choices[0], width=110)
        elif option.kind == "int":
            widget = IntBox(label=label, value=value, start=1, width=110)
        elif option.kind == "float":
            widget = FloatBox(label=label, value=value, width=110)
        else:  # size or shape, typed
            text = "" if value is None else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            placeholder = t("same as the window") if option.blank_is_none else t("e.g. 3 or 3, 5") \
                if option.kind == "size" else t("e.g. 8, 8, 1")
            widget = pn.widgets.TextInput(label=label, value=text, placeholder=placeholder, width=140)
        widget.param.watch(lambda event, o=option: self._edited(o, event.new), "value")
        return widget

    # ---------------------------------------------------------------- edits
    def _parse(self, option: Option, value: Any) -> Any:
        if option.kind == "choice":
            return None if value == "none" else value
        if option.kind in ("size", "shape") and isinstance(value, str):
            if not value.strip():
                if option.blank_is_none:
                    return None
                raise ValueError(t("{setting} is empty; type a number", setting=_setting(option)))
            numbers = _numbers(value, _setting(option))
            if option.kind == "size":
                if len(numbers) not in (1, 2):
                    raise ValueError(t("{setting} takes one number, or two (height, width)", setting=_setting(option)))
                return numbers[0] if len(numbers) == 1 else numbers
            return numbers
        return value

    def _edited(self, option: Option, value: Any) -> None:
        try:
            parsed = self._parse(option, value)
        except ValueError as error:
            self.problems[option.name] = str(error)
        else:
            self.problems.pop(option.name, None)
            if parsed is None:
                self.config.pop(option.name, None)
            else:
                self.config[option.name] = parsed
        self._on_change()

    def _type_changed(self, event) -> None:
        if self._updating or event.new == self.type:
            return
        self.config = new_layer(event.new)
        self.build_widgets()
        self._on_change()

    # ---------------------------------------------------------------- results
    def problem(self) -> str | None:
        if not self.problems:
            return None
        return t("{layer} at position {position}: {problems}", layer=self.type, position=self.position,
                 problems="; ".join(self.problems.values()))

    def show(self, report: LayerReport, position: int, count: int) -> None:
        self.position = position
        self.title.object = (f'<strong style="font-size:1.1rem" aria-label="{t("Layer {position}", position=position)}">'
                             f"{position}</strong>")
        self.up.disabled = position == 1
        self.down.disabled = position == count
        if report.error:
            self.result.object = ""
            self.error.object = notice(report.error, "error")
            self.view.styles = {**LAYER_STYLE, "border": "2px solid #c0392b"}
        else:
            self.error.object = ""
            self.view.styles = LAYER_STYLE
            if report.output_shape is None:
                self.result.object = f'<p style="margin:0;color:#8a8178">{t("Waits for the layer above to be fixed.")}</p>'
            else:
                shape = " × ".join(map(str, report.output_shape))
                self.result.object = '<p style="margin:0">' + t("Gives <strong>{shape}</strong> · {params} parameters",
                                                                shape=shape, params=number(report.params)) + "</p>"
