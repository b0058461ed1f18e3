"""The command-line contract: one JSON line per epoch; project files that export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

PYSRC = Path(__file__).resolve().parents[2] / "pysrc"
SPEC = {"version": 1, "input": [8, 8, 1], "layers": [
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool2d", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"learning_rate": 0.01}}


def hearth(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PYSRC)}
    return subprocess.run([sys.executable, "-m", "hearth", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_train_prints_a_json_line_per_epoch_and_saves_a_project(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    first = hearth("train", "spec.json", "--data", "digits", "--epochs", "3", "--seed", "4", "--out", "p.hearth",
                   cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    assert [list(r) for r in rows] == [["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]] * 3
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["loss"] < rows[0]["loss"] and rows[-1]["val_accuracy"] > 0.8
    again = hearth("train", "spec.json", "--data", "digits", "--epochs", "3", "--seed", "4", cwd=tmp_path)
    assert again.stdout == first.stdout  # same seed, same numbers

    more = hearth("train", "--resume", "p.hearth", "--data", "digits", "--epochs", "1", "--out", "p2.hearth",
                  cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert json.loads(more.stdout)["epoch"] == 4

    exported = hearth("export", "p2.hearth", "--onnx", "model.onnx", "--pytorch", "model.py", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    x = np.zeros((2, 8, 8, 1), np.float32)
    (probs,) = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"x": x})
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    assert "def build_model" in (tmp_path / "model.py").read_text()


def test_bad_input_exits_2_with_the_reason(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps({**SPEC, "layers": SPEC["layers"][2:3] + [
        {"type": "conv2d", "filters": 2}]}))
    result = hearth("train", "spec.json", "--data", "digits", "--epochs", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "conv2d at position 2 needs a 3-D input, got (64,) from flatten at position 1" in result.stderr
    (tmp_path / "ok.json").write_text(json.dumps(SPEC))
    result = hearth("train", "ok.json", "--data", "nowhere.csv", "--epochs", "1", cwd=tmp_path)
    assert result.returncode == 2 and "no data 'nowhere.csv'" in result.stderr
    result = hearth("export", "ok.json", "--onnx", "m.onnx", cwd=tmp_path)
    assert result.returncode == 2 and "not a Hearth project" in result.stderr


def test_train_on_a_csv_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 2))
    label = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    (tmp_path / "t.csv").write_text("u,v,answer\n" + "\n".join(f"{a:.4f},{b:.4f},{c}" for (a, b), c in
                                                               zip(x, label, strict=True)))
    (tmp_path / "spec.json").write_text(json.dumps({"version": 1, "input": [2], "layers": [
        {"type": "dense", "units": 2, "activation": "softmax"}], "training": {"learning_rate": 0.05}}))
    result = hearth("train", "spec.json", "--data", "t.csv", "--label", "answer", "--epochs", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["val_accuracy"] > 0.85


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("spec", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_the_readme_example_specs_train_on_their_built_in_data(spec, tmp_path):
    """examples/NAME_*.json trains on the built-in data set NAME, as the README shows."""
    data = spec.split("_")[0]
    run = hearth("train", str(EXAMPLES / spec), "--data", data, "--epochs", "2", "--out", "p.hearth", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[-1]["loss"] < rows[0]["loss"]
