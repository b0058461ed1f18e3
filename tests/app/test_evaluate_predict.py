"""Evaluate and Predict on a trained model: the numbers shown are the model's own."""

import io
import re
from html import unescape

import numpy as np
from PIL import Image

from hearth.app.widgets.drawing_pad import rasterize
from tests.app.conftest import run


def shown_percentages(html: str) -> list[float]:
    return [float(p) for p in re.findall(r">(\d+\.\d)%<", html)]


def test_confusion_matrix_and_per_class_accuracy(trained):
    evaluation, val = trained.state.evaluation, trained.state.trainer.val_data
    html = trained.evaluate.matrix.object
    cells = [int(v) for v in re.findall(r'title="true [^"]*">(\d+)</td>', html)]
    assert np.array_equal(np.asarray(cells).reshape(10, 10), evaluation.confusion)
    predicted = evaluation.probabilities.argmax(axis=1)
    assert np.array_equal(evaluation.confusion, np.histogram2d(val.labels, predicted, bins=10, range=[[0, 10]] * 2)[0])
    per_class = shown_percentages(trained.evaluate.per_class.object)
    expected = 100 * np.diag(evaluation.confusion) / evaluation.confusion.sum(axis=1)
    np.testing.assert_allclose(per_class, expected, atol=0.05)
    wrong = int((predicted != val.labels).sum())
    assert trained.evaluate.mistakes.object.count("<img") == min(wrong, 24)
    assert f"{100 * evaluation.accuracy:.1f}%" in trained.evaluate.summary.object


def test_feature_maps_of_the_convolution_layers(trained):
    run(trained.evaluate.show_feature_maps(4))
    html = trained.evaluate.maps.object
    assert "1 conv2d: 8 × 8 × 8" in html and "2 maxpool2d: 4 × 4 × 8" in html
    assert html.count("<img") == 1 + 8 + 8  # the input, then one map per filter of each layer
    run(trained.evaluate.show_feature_maps(10_000))
    assert "Choose a sample from 1 to" in trained.evaluate.maps.object


def test_a_drawing_is_predicted_as_the_model_predicts_its_raster(trained):
    page, trainer = trained.predict, trained.state.trainer
    strokes = [([0.5, 0.5], [0.9, 0.1])]
    page.pad.set_strokes(strokes)  # as if drawn: the pad's change runs the prediction
    run(_idle())
    expected = run(trainer.predict(rasterize(strokes, 8, 8)[:, :, None]))[0]
    np.testing.assert_allclose(page.last, expected, rtol=1e-6)
    best = trainer.classes[int(expected.argmax())]
    assert f"It looks like <strong>{best}</strong>" in page.result.object
    np.testing.assert_allclose(sum(shown_percentages(page.result.object)), 100, atol=0.6)
    page.pad.clear()
    run(_idle())
    assert page.result.object == ""


async def _idle():
    return None


def test_an_upload_is_shrunk_and_inverted_like_the_training_images(trained):
    page, trainer = trained.predict, trained.state.trainer
    sample = trainer.val_data.x[3][:, :, 0]  # light digit on black, as the model trained
    picture = Image.fromarray(((1 - sample) * 255).astype(np.uint8)).resize((64, 64), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")  # dark ink on white paper, 8 times as big
    page.upload.value = buffer.getvalue()
    run(_idle())
    reference = run(trainer.predict(trainer.val_data.x[3]))[0]
    assert int(page.last.argmax()) == int(reference.argmax())
    page.upload.value = b"not a picture"
    run(_idle())
    assert "could not be read as an image" in unescape(page.message.object)


def test_typed_values_are_scaled_like_the_table(app):
    run(app.data.use_builtin("iris"))
    app.train.epochs.value = 3
    run(app.train.start())
    page, trainer = app.predict, app.state.trainer
    assert page.mode.value == "Type values" and [w.label for w in page.feature_inputs][0] == "sepal length (cm)"
    raw = [5.1, 3.5, 1.4, 0.2]
    for widget, value in zip(page.feature_inputs, raw, strict=True):
        widget.value = value
    run(page.predict_values())
    norm = trainer.data.normalization
    x = (np.asarray(raw) - np.asarray(norm["center"])) / np.asarray(norm["scale"])
    np.testing.assert_allclose(page.last, run(trainer.predict(x.astype(np.float32)))[0], rtol=1e-6)
    assert "setosa" in page.result.object
