"""Export and the Python page: files that other tools read back as the same model, and code that runs."""

import io
import os
import subprocess
import sys
from html import unescape
from pathlib import Path

import numpy as np
import onnxruntime as ort

from hearth.app.python_code import hearth_script, pytorch_script
from hearth.train import ModelSpec, Trainer, load_builtin, load_project
from tests.app.conftest import run

REPO = Path(__file__).resolve().parents[2]


def test_onnx_download_predicts_like_the_app(trained):
    trainer = trained.state.trainer
    data = run(trained.export.onnx_bytes())
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = trainer.val_data.x[:50]
    (got,) = session.run(["probabilities"], {"x": x})
    np.testing.assert_allclose(got, run(trainer.predict(x)), atol=1e-5)
    file = run(trained.export._onnx_file())
    assert file.getvalue() == data


def test_pytorch_download_is_the_same_network(trained, tmp_path):
    trainer = trained.state.trainer
    script = tmp_path / "model.py"
    script.write_text(run(trained.export.pytorch_text()))
    x = trainer.val_data.x[:20]
    np.save(tmp_path / "x.npy", x)
    subprocess.run([sys.executable, str(script), str(tmp_path / "x.npy"), str(tmp_path / "p.npy")], check=True)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), run(trainer.predict(x)), atol=1e-5)


def test_project_file_round_trip_restores_everything(app, trained):
    data = run(trained.export.project_bytes())
    project = load_project(data)
    assert project.history == trained.state.trainer.history
    run(app.data.use_builtin("iris"))  # another dataset loaded: the project brings its own back
    app.export.open.value = data  # choosing the file opens it
    state = app.state
    assert "Opened: a model trained on digits for 2 epochs" in app.export.message.object
    assert state.dataset.name == "digits" and state.data_source == {"kind": "builtin", "name": "digits"}
    assert state.spec.to_dict() == trained.state.spec.to_dict() and state.spec_draft_ok
    assert [e.type for e in app.build.editors] == ["conv2d", "maxpool2d", "flatten", "dense"]
    assert state.trainer.history == trained.state.trainer.history
    x = trained.state.trainer.val_data.x[:30]
    np.testing.assert_allclose(run(state.trainer.predict(x)), run(trained.state.trainer.predict(x)), atol=1e-6)
    assert app.train.curves.epochs.data["epoch"] == [1, 2] and not app.train.more_button.disabled
    assert state.evaluation is not None and "accuracy" in app.evaluate.summary.object
    run(app.train.train_more())  # and training goes on from there
    assert state.trainer.epochs_done == 2 + app.state.config.epochs


def test_a_bad_project_file_is_explained_and_loses_nothing(trained):
    model = trained.state.trainer
    run(trained.export.open_project(b"PK\x03\x04 not really"))
    assert "not a Hearth project file" in unescape(trained.export.message.object)
    assert "The model you had is still there." in trained.export.message.object
    assert trained.state.trainer is model


def test_hearth_script_trains_the_same_model(trained, tmp_path):
    """The Hearth script, run as a program, prints the losses the page trained with."""
    state = trained.state
    script = tmp_path / "train.py"
    script.write_text(hearth_script(state.spec, state.config, state.data_source))
    env = {**os.environ, "PYTHONPATH": str(REPO / "pysrc")}
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True, env=env).stdout
    losses = [float(line.split("loss ")[1].split(",")[0]) for line in out.splitlines() if line.startswith("epoch")]
    np.testing.assert_allclose(losses, [h["loss"] for h in state.trainer.history], rtol=1e-3)
    assert "confusion matrix" in out
    assert trained.python.hearth_text == script.read_text()


def test_pytorch_script_trains_the_network_in_torch(tmp_path):
    spec = ModelSpec({"name": "m", "input": [8, 8, 1], "layers": [
        {"type": "conv2d", "filters": 6, "kernel": 3, "padding": "same", "activation": "relu"},
        {"type": "maxpool2d", "size": 2}, {"type": "flatten"}, {"type": "dropout", "rate": 0.1},
        {"type": "dense", "units": 10, "activation": "softmax"}]})
    config = spec.training.replace(learning_rate=0.01, epochs=2)
    script = tmp_path / "torch_train.py"
    script.write_text(pytorch_script(spec, config, {"kind": "builtin", "name": "digits"}) +
                      "\nprint('params', sum(p.numel() for p in model.parameters()))\n")
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    assert lines[-1] == f"params {spec.param_count}"
    accuracy = float(lines[-2].split("validation accuracy ")[1])
    assert accuracy > 0.8  # it learns the digits, as the same network does in Hearth
    reference = run(Trainer(spec, load_builtin("digits"), config).run(2))
    assert reference[-1].val_accuracy > 0.8


def test_python_page_follows_the_pages(app):
    assert "load_builtin('digits')" in app.python.hearth_text
    app.train.learning_rate.value = 0.02
    assert "'learning_rate': 0.02" in app.python.hearth_text
    assert "lr=0.02" in app.python.torch_text
    app.build.use_preset("small_cnn")
    assert "'type': 'conv2d'" in app.python.hearth_text and "nn.Conv2d(1, 8" in app.python.torch_text
    assert "<pre" in app.python.hearth_code.object
    app.build.add_layer("conv2d")  # broken: the page keeps the last working network and says so
    assert "last network that worked" in app.python.note.object
    assert "'type': 'conv2d'" in app.python.hearth_text
    assert io.BytesIO(app.python.hearth_text.encode()).getvalue().startswith(b'"""Train the network')


def test_hearth_script_leaves_out_the_columns_the_data_page_left_out(tmp_path):
    """A CSV with a text column, loaded with that column left out: the script loads the same features."""
    (tmp_path / "plants.csv").write_text("height,colour,width,species\n" + "".join(
        f"{h},{c},{w},{s}\n" for h, c, w, s in [(1.0, "red", 2.0, "a"), (1.5, "blue", 2.5, "b"), (1.1, "red", 2.1, "a"),
                                                 (1.6, "green", 2.4, "b"), (0.9, "red", 1.9, "a"), (1.7, "blue", 2.6, "b")]))
    spec = ModelSpec({"name": "m", "input": [2], "layers": [{"type": "dense", "units": 2, "activation": "softmax"}]})
    source = {"kind": "csv", "file": "plants.csv", "label": "species", "features": ["height", "width"],
              "normalize": "standard", "task": "auto"}
    script = tmp_path / "train.py"
    script.write_text(hearth_script(spec, spec.training.replace(epochs=1, validation_split=0.0), source))
    env = {**os.environ, "PYTHONPATH": str(REPO / "pysrc")}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("epoch 1: loss ")
