"""The Build page driven through its widgets: presets, edits, moves, modes, and errors at the layer."""

import re
from html import unescape

from hearth.app.layer_catalog import CATALOG
from hearth.train.spec import ModelSpec


def said(pane) -> str:
    return unescape(re.sub(r"<[^>]+>", "", pane.object or ""))


def shown(build) -> tuple[str, list[str]]:
    """The preset title over the layers (or "") and the layers' types, as the layer list holds them."""
    objects = list(build.layer_list.objects)
    title = said(objects.pop(0)) if objects and build.preset_title is objects[0] else ""
    types = [e.type for view in objects for e in build.editors if e.view is view]
    return title, types


def editor_error(editor) -> str:
    return editor.error.object or ""


def test_starts_with_a_working_mlp_for_the_digits(app):
    assert app.state.spec is not None and app.state.spec_draft_ok
    assert app.state.spec.input_shape == (8, 8, 1)
    assert [e.type for e in app.build.editors] == ["flatten", "dense", "dense"]
    assert "Gives <strong>10</strong> · 650 parameters" in app.build.editors[-1].result.object
    assert "4,810 parameters" in app.build.status.object
    assert "<svg" in app.build.diagram.object and "3 dense" in app.build.diagram.object


def test_preset_and_layer_settings_set_the_spec(app):
    app.build.preset_buttons["small_cnn"].clicks += 1
    spec = app.state.spec
    assert [s.type for s in spec.summary] == ["conv2d", "maxpool2d", "flatten", "dense"]
    conv = app.build.editors[0]
    filters = next(w for w in conv.options_box.objects if w.label == "Filters")
    filters.value = 16  # a beginner's choice from the menu
    assert app.state.spec.summary[0].output_shape == (8, 8, 16)
    assert app.state.spec.param_count == ModelSpec(
        {"input": [8, 8, 1], "layers": app.build.layers}).param_count == 16 * 10 + 4 * 4 * 16 * 10 + 10
    assert "Gives <strong>8 × 8 × 16</strong> · 160 parameters" in conv.result.object


def test_impossible_stack_shows_at_the_layer_and_keeps_the_last_model(app):
    before = app.state.spec
    app.build.new_type.value = "conv2d"
    app.build.add_button.clicks += 1  # conv2d after the final dense: needs a 3-D input
    last = app.build.editors[-1]
    assert "conv2d at position 4 needs a 3-D input, got (10,) from dense at position 3" in editor_error(last)
    assert 'role="alert"' in last.error.object
    assert all(not editor_error(e) for e in app.build.editors[:-1])
    assert app.state.spec is before and not app.state.spec_draft_ok
    problem = ("Not ready: conv2d at position 4 needs a 3-D input, got (10,) from dense at position 3; give the "
               "input as [height, width, channels] or add a reshape layer before it. Start training is off until "
               "the network on the Build page works.")
    assert said(app.build.status) == said(app.train.network_note) == problem  # one story on both pages
    assert app.train.start_button.disabled
    assert "fix this layer" in app.build.diagram.object
    last.remove.clicks += 1
    assert app.state.spec_draft_ok and app.state.spec is not before
    assert said(app.train.network_note) == "" and not app.train.start_button.disabled
    assert app.state.spec.to_dict()["layers"] == before.to_dict()["layers"]


def test_move_up_and_down_reorder_and_renumber(app):
    app.build.add_layer("dropout")
    dropout = app.build.editors[-1]
    dropout.up.clicks += 1
    assert [e.type for e in app.build.editors] == ["flatten", "dense", "dropout", "dense"]
    assert dropout.position == 3 and "<strong" in dropout.title.object and ">3<" in dropout.title.object
    assert app.state.spec.summary[2].type == "dropout"
    app.build.editors[0].up.clicks += 1  # the first cannot go higher
    assert app.build.editors[0].up.disabled and app.build.editors[-1].down.disabled
    app.build.editors[0].down.clicks += 1
    assert [e.type for e in app.build.editors] == ["dense", "flatten", "dropout", "dense"]
    assert "dense at position 1 needs a 1-D input" in editor_error(app.build.editors[0])


def test_changing_a_layer_type_resets_its_settings(app):
    editor = app.build.editors[1]
    editor.type_select.value = "dropout"
    assert editor.config == {"type": "dropout", "rate": 0.2}
    assert [w.label for w in editor.options_box.objects] == ["Rate"]
    assert app.state.spec.summary[1].type == "dropout"


def test_beginner_mode_offers_choices_expert_mode_everything(app):
    conv_types = set(app.build.new_type.options.values())
    assert conv_types == {t for t, info in CATALOG.items() if info.beginner}
    app.build.use_preset("small_cnn")
    conv = app.build.editors[0]
    assert [w.label for w in conv.options_box.objects] == ["Filters", "Kernel size", "Padding", "Activation"]
    app.build.mode.value = "Expert"
    assert set(app.build.new_type.options.values()) == set(CATALOG)
    names = [w.label for w in conv.options_box.objects]
    assert names == ["Filters", "Kernel size", "Padding", "Activation", "Stride", "Use a bias", "Initial weights"]
    kernel = conv.options_box.objects[1]
    kernel.value = "3;"  # a typo in a typed box
    assert "kernel size must be whole numbers" in editor_error(conv) and not app.state.spec_draft_ok
    kernel.value = "3, 5"
    assert conv.config["kernel"] == [3, 5] and app.state.spec_draft_ok
    assert app.state.spec.summary[0].output_shape == (8, 8, 8)


def test_new_data_adapts_the_input_and_the_output_layer(app):
    from tests.app.conftest import run

    run(app.data.use_builtin("iris"))
    assert app.state.spec.input_shape == (4,)
    assert app.build.editors[-1].config["units"] == 3
    assert app.state.spec.output_shape == (3,)
    assert "3 outputs" in app.build.message.object
    assert app.build.preset_buttons["lenet"].disabled
    app.build.use_preset("lenet")  # not for tables: says why, changes nothing
    assert "needs images" in app.build.message.object
    assert [e.type for e in app.build.editors] == ["flatten", "dense", "dense"]


def test_a_preset_title_only_ever_shows_over_its_own_layers(app):
    seen = []
    app.build.layer_list.param.watch(lambda _e: seen.append(shown(app.build)), "objects")
    app.build.preset_buttons["small_cnn"].clicks += 1
    app.build.preset_buttons["mlp"].clicks += 1
    small_cnn = ("Small CNN for digits (8 × 8 × 1, 10 classes)", ["conv2d", "maxpool2d", "flatten", "dense"])
    mlp = ("MLP for digits (8 × 8 × 1, 10 classes)", ["flatten", "dense", "dense"])
    assert seen == [small_cnn, mlp]  # each title arrives with its layers, in one change of the list
    assert said(app.build.message) == ""
    app.build.editors[1].options_box.objects[0].value = 32  # edited: no longer the preset
    assert shown(app.build) == ("", ["flatten", "dense", "dense"])
    app.build.preset_buttons["mlp"].clicks += 1
    app.build.add_layer("dropout")
    assert shown(app.build) == ("", ["flatten", "dense", "dense", "dropout"])
    assert all(title in ("", small_cnn[0], mlp[0]) for title, _ in seen)
    assert all(types == dict([small_cnn, mlp])[title] for title, types in seen if title)
