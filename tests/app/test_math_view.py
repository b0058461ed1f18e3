"""The Build page's math view driven through the page: it follows the stack, the mode and training."""

from __future__ import annotations

import numpy as np

from tests.app.conftest import run


def sections(app) -> list[str]:
    return app.build.math.body.object.split('<section class="hearth-math-layer"')[1:]


def test_closed_until_asked_then_follows_the_stack(app):
    math = app.build.math
    assert math.body.object == ""
    math.show.value = True
    assert [m.title for m in math.shown] == ["flatten at position 1", "dense at position 2, then relu",
                                             "dense at position 3, then softmax"]
    assert len(sections(app)) == 3
    assert "y_{8(i-1) + j} = x_{i,j,1}" in sections(app)[0]  # CPython has no KaTeX: the LaTeX source stands in
    assert "once the network is trained" in math.body.object

    app.build.new_type.value = "dropout"
    app.build.add_button.clicks += 1  # a dropout after the softmax: still a working network
    assert len(sections(app)) == 4 and "dropout at position 4" in sections(app)[3]


def test_beginner_mode_explains_each_symbol_and_expert_mode_does_not(app):
    app.build.math.show.value = True
    assert sections(app)[1].count("<li>") == len(app.build.math.shown[1].symbols) >= 5
    assert "one row per output, one column per input" in sections(app)[1]
    app.build.mode.value = "Expert"
    assert "<li>" not in app.build.math.body.object and len(sections(app)) == 3


def test_a_broken_stack_keeps_the_last_working_math_and_says_so(app):
    app.build.math.show.value = True
    app.build.new_type.value = "conv2d"
    app.build.add_button.clicks += 1  # conv2d after the final dense: cannot build
    assert "the last network that worked" in app.build.math.body.object
    assert len(sections(app)) == 3


def test_small_layers_show_the_trained_numbers_of_this_network(app):
    app.build.set_layers([{"type": "conv2d", "filters": 2, "kernel": 3, "activation": "relu"}, {"type": "flatten"},
                          {"type": "dense", "units": 10, "activation": "softmax"}])
    math = app.build.math
    math.show.value = True
    assert all(m.numbers is None for m in math.shown)
    app.train.epochs.value = 1
    run(app.train.start())
    weights = run(app.state.trainer.weights())
    conv, _, dense = math.shown
    assert dense.numbers is None  # 10 x 24: too big to print
    kernels = weights["conv2d_1.weight"]
    for f in range(2):
        row = " & ".join(np.format_float_positional(np.float32(v), precision=3, unique=False, fractional=False,
                                                    trim="-") for v in kernels[f, 0, 0])
        assert rf"W_{{{f + 1},1}} = \begin{{bmatrix}}{row} \\" in conv.numbers
    assert "With the trained weights" in sections(app)[0]
    assert "the trained model&#x27;s, after 1 epoch." in math.body.object

    app.build.editors[0].config["filters"] = 3  # another network now: its numbers are not trained yet
    app.build.refresh()
    assert all(m.numbers is None for m in math.shown)
    assert "once this network is trained" in math.body.object
