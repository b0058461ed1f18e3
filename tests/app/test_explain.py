"""Grad-CAM on the Evaluate and Predict pages, and image augmentation on the Train page: what the
pages show is the engine's own numbers, and the settings reach training and the Python page."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from hearth.app.gradcam_view import colour
from hearth.app.python_code import pytorch_script
from hearth.train import ModelSpec, Trainer, load_builtin
from tests.app.conftest import run


def pictures(html: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
            for data in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_evaluate_shows_the_engines_heat_map(trained):
    page, trainer = trained.evaluate, trained.state.trainer
    page.sample.value = 4
    page.gradcam.target.value = 3
    page.gradcam.method.value = "places"
    run(page.show_grad_cam(page.sample.value - 1))
    html = page.gradcam.out.object
    result = run(trainer.grad_cam(trainer.val_data.x[3], 3, "places"))
    assert "the map is for <strong>3</strong>" in html and "heat map (8 × 8 of conv2d 1)" in html
    shown = pictures(html)
    assert len(shown) == 3  # the input, the map, the map over the input
    heat = shown[1][::shown[1].shape[0] // 8, ::shown[1].shape[1] // 8, :3]  # one pixel per map cell
    np.testing.assert_allclose(heat, np.round(255 * colour(result.heatmap)), atol=1)
    assert result.heatmap.max() == 1.0
    # Grad-CAM proper: on this 2-epoch Small CNN its averaged weights leave the map empty, and the page says why
    page.gradcam.method.value = "gradcam"
    run(page.show_grad_cam(3))
    assert "Nothing in this sample speaks for 3 by Grad-CAM" in page.gradcam.out.object
    run(page.show_grad_cam(10_000))
    assert "Choose a sample from 1 to" in page.gradcam.out.object


def test_grad_cam_on_a_network_without_convolutions_says_so(app):
    app.train.epochs.value = 1
    run(app.train.start())  # the MLP a visitor finds built
    run(app.evaluate.show_grad_cam(0))
    assert "this network has no conv2d layer; add one (or use a CNN preset) and train again." in \
        app.evaluate.gradcam.out.object.replace("&#x27;", "'")


def test_predict_heat_map_follows_the_drawing(trained):
    page = trained.predict
    run(page.show_grad_cam())
    assert "Give the model an input first" in page.gradcam.out.object
    page.pad.set_strokes([([0.5, 0.1], [0.5, 0.9])])
    run(_idle())
    page.gradcam.method.value = "places"
    run(page.show_grad_cam())
    first = page.gradcam.out.object
    assert len(pictures(first)) == 3
    page.pad.set_strokes([([0.5, 0.1], [0.5, 0.9]), ([0.1, 0.9], [0.5, 0.5])])  # a second stroke: the map follows
    run(_idle())
    assert page.gradcam.out.object != first and len(pictures(page.gradcam.out.object)) == 3
    page.pad.clear()
    run(_idle())


async def _idle():
    return None


def test_augmentation_settings_preview_and_training(app):
    panel, state = app.train.augment, app.state
    assert "Off: the network trains on the images as they are." in panel.note.object
    panel.rotation.value = 15.0
    panel.flip.value = True
    assert state.config.augmentation == {"rotation": 15.0, "flip": True}
    html = panel.preview.object
    for title in ("As they are", "Rotated", "Flipped (about half)", "All together"):
        assert f">{title}</div>" in html
    shown = pictures(html)
    assert len(shown) == 4 * 6 and not all(np.array_equal(a, b) for a, b in zip(shown[:6], shown[6:12], strict=True))
    assert panel.preview.object == html  # the preview draws from its own seed: the same on every redraw
    panel.show_preview()
    assert panel.preview.object == html
    assert "augment(torch.as_tensor(x[batch]))" in app.python.torch_text
    assert "'augmentation': {'rotation': 15.0, 'flip': True}" in app.python.hearth_text
    app.train.epochs.value = 1
    run(app.train.start())
    reference = run(Trainer(state.spec, state.dataset, state.config, steps_per_call=8).run(1))
    assert state.trainer.history[0]["loss"] == reference[0].loss  # trained with these batches
    run(app.data.use_builtin("iris"))  # a table: nothing to augment, and the settings go
    assert state.config.augmentation == {} and panel.flip.disabled and "this data is a table" in panel.note.object


def test_pytorch_script_with_augmentation_trains(tmp_path):
    spec = ModelSpec({"name": "m", "input": [8, 8, 1], "layers": [
        {"type": "conv2d", "filters": 6, "kernel": 3, "padding": "same", "activation": "relu"},
        {"type": "maxpool2d", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]})
    config = spec.training.replace(learning_rate=0.01, epochs=2,
                                   augmentation={"rotation": 10, "shift": 0.1})
    script = tmp_path / "torch_train.py"
    script.write_text(pytorch_script(spec, config, {"kind": "builtin", "name": "digits"}))
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True).stdout
    accuracy = float(out.splitlines()[-1].split("validation accuracy ")[1])
    assert accuracy > 0.8  # it learns the digits from the changed images, as Hearth does with them
    assert run(Trainer(spec, load_builtin("digits"), config).run())[-1].val_accuracy > 0.8
