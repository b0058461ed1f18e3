"""Exports a user takes away: the ONNX file and the PyTorch script predict what Hearth predicts;
the project file loads back bit for bit."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from hearth.train import ModelSpec, ProjectError, Trainer, export_onnx, export_pytorch, load_project, save_project
from tests.train.conftest import run

EVERYTHING = {"version": 1, "input": [8, 8, 1], "name": "digits_cnn", "layers": [
    {"type": "conv2d", "filters": 6, "kernel": 3, "padding": "same", "activation": "leaky_relu"},
    {"type": "batchnorm"},
    {"type": "maxpool2d", "size": 2},
    {"type": "conv2d", "filters": 8, "kernel": 2, "stride": 2, "padding": "same"},
    {"type": "layernorm"},
    {"type": "avgpool2d", "size": 2, "stride": 1},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.25},
    {"type": "dense", "units": 16, "activation": "gelu"},
    {"type": "batchnorm"},
    {"type": "dense", "units": 10}],
    "training": {"optimizer": "rmsprop", "learning_rate": 0.003}}


@pytest.fixture(scope="module")
def trained():
    from hearth.train import load_builtin

    data = load_builtin("digits")
    trainer = Trainer(ModelSpec(EVERYTHING), data)
    run(trainer.run(2))
    return trainer, run(trainer.to_project()), data


def test_onnx_export_passes_checker_and_predicts_like_hearth(trained):
    trainer, project, data = trained
    model_bytes = export_onnx(project.model_spec, "categorical_crossentropy", project.weights, project.classes)
    model = onnx.load_from_string(model_bytes)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["x"]
    assert [o.name for o in model.graph.output] == ["probabilities"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["hearth.classes"]) == [str(d) for d in range(10)]
    assert json.loads(meta["hearth.spec"]) == EVERYTHING
    x = data.x[:100]
    (theirs,) = ort.InferenceSession(model_bytes).run(None, {"x": x})
    ours = run(trainer.predict(x))
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-6)
    assert (theirs.argmax(1) == ours.argmax(1)).all()
    assert (ours.argmax(1) == data.labels[:100]).mean() > 0.5  # a model that learned (chance: 0.1)


@pytest.mark.parametrize("inline", [True, False])
def test_pytorch_script_predicts_like_hearth(trained, tmp_path, inline):
    trainer, project, data = trained
    text, npz = export_pytorch(project.model_spec, "categorical_crossentropy", project.weights, project.classes,
                               weights_file=None if inline else "model.npz", steps=project.step)
    script = tmp_path / "model.py"
    script.write_text(text)
    if not inline:
        (tmp_path / "model.npz").write_bytes(npz)
    np.save(tmp_path / "x.npy", data.x[:100])
    expected = run(trainer.predict(data.x[:100]))
    if inline:  # saves probabilities, and says so
        saved = subprocess.run([sys.executable, str(script), str(tmp_path / "x.npy"), str(tmp_path / "p.npy")],
                               check=True, cwd=tmp_path, capture_output=True, text=True).stdout
        np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, rtol=0, atol=1e-5)
        assert saved.strip() == f"Saved the probabilities of 100 inputs ({len(project.classes)} classes) to " \
                                f"{tmp_path / 'p.npy'}."
    else:  # prints "label p0 p1 ..." per row
        printed = subprocess.run([sys.executable, str(script), str(tmp_path / "x.npy")], check=True, cwd=tmp_path,
                                 capture_output=True, text=True).stdout.splitlines()
        rows = [line.split() for line in printed]
        assert [r[0] for r in rows] == [project.classes[i] for i in expected.argmax(1)]
        np.testing.assert_allclose(np.array([[float(v) for v in r[1:]] for r in rows]), expected, atol=1e-4)


def test_pytorch_script_alone_checks_the_model_and_says_how_to_use_it(trained, tmp_path):
    _, project, _ = trained
    text, _ = export_pytorch(project.model_spec, "categorical_crossentropy", project.weights, project.classes)
    script = tmp_path / "model.py"
    script.write_text(text)
    printed = subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path, capture_output=True,
                             text=True).stdout.splitlines()
    import runpy

    count = sum(p.numel() for p in runpy.run_path(str(script))["load_model"]().parameters())
    assert printed[0] == "Sequential("
    assert f"{count:,} parameters loaded from Hearth's trained weights." in printed
    assert f"A blank input runs through it: {len(project.classes)} class probabilities summing to 1.000." in printed
    assert printed[-1] == "Give it inputs: python model.py inputs.npy [predictions.npy]"


def test_project_round_trip_is_exact(trained, tmp_path):
    _, project, _ = trained
    data = save_project(project, tmp_path / "p.hearth")
    back = load_project(tmp_path / "p.hearth")
    assert back.spec == project.spec and back.training == project.training and back.step == project.step
    assert back.history == project.history and back.classes == project.classes and back.data == project.data
    assert back.rng_state == project.rng_state
    for ours, theirs in ((project.weights, back.weights), (project.optimizer_state, back.optimizer_state)):
        assert ours.keys() == theirs.keys() and len(ours) > 0
        for key in ours:
            assert ours[key].dtype == theirs[key].dtype and np.array_equal(ours[key], theirs[key]), key
    assert save_project(back) == data  # and saving again gives the same bytes


def test_damaged_or_foreign_project_files_are_refused(trained, tmp_path):
    _, project, _ = trained
    with pytest.raises(ProjectError, match="not a Hearth project"):
        load_project(b"hello")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("project.json", json.dumps({"format": "something.else"}))
        archive.writestr("weights.npz", b"")
        archive.writestr("optimizer.npz", b"")
    with pytest.raises(ProjectError):
        load_project(buffer.getvalue())
    broken = dict(project.weights)
    broken["dense_9.weight"] = broken["dense_9.weight"][:, :3]
    from dataclasses import replace

    with pytest.raises(ValueError, match="dense_9.weight.*shape"):
        load_project(save_project(replace(project, weights=broken)))


def test_exported_sigmoid_model_applies_sigmoid_to_logits(tmp_path):
    spec = ModelSpec({"version": 1, "input": [3], "layers": [{"type": "dense", "units": 2}],
                      "training": {"loss": "binary_crossentropy"}})
    weights = spec.init_weights(3)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    (probs,) = ort.InferenceSession(export_onnx(spec, "binary_crossentropy", weights)).run(None, {"x": x})
    logits = x @ weights["dense_1.weight"].T + weights["dense_1.bias"]
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), rtol=1e-5)
