"""The project file: a trained model and how it got there, in one ZIP that loads back exactly.

    project.json   format, spec, training settings, step count, history, classes, data notes, RNG
    weights.npz    parameters and batchnorm statistics (float32, by Hearth name)
    optimizer.npz  optimizer slots (momentum, Adam moments, ...)

Plain JSON and npz (no pickles), so numpy alone reads it on CPython and in Pyodide.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hearth.i18n import t
from hearth.train.spec import ModelSpec

FORMAT = "hearth.train.project"
FORMAT_VERSION = 1


class ProjectError(ValueError):
    """A file that is not a Hearth project (or is damaged); says what was expected."""


@dataclass
class Project:
    spec: dict[str, Any]
    training: dict[str, Any]
    weights: dict[str, np.ndarray]
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    rng_state: dict[str, Any] | None = None

    @property
    def model_spec(self) -> ModelSpec:
        return ModelSpec(self.spec)


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def save_project(project: Project, path: str | Path | None = None) -> bytes:
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "spec": project.spec, "training": project.training,
            "step": project.step, "history": project.history, "classes": project.classes, "data": project.data,
            "rng_state": project.rng_state}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.json", json.dumps(meta, indent=1))
        archive.writestr("weights.npz", _npz(project.weights))
        archive.writestr("optimizer.npz", _npz(project.optimizer_state))
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def load_project(source: bytes | str | Path) -> Project:
    if not isinstance(source, bytes):
        source = Path(source).read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(source)) as archive:
            meta = json.loads(archive.read("project.json"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ProjectError(t("this ZIP is not a Hearth training project (no hearth.train.project format tag)"))
            arrays = {}
            for name in ("weights", "optimizer"):
                with np.load(io.BytesIO(archive.read(f"{name}.npz")), allow_pickle=False) as npz:
                    arrays[name] = {k: npz[k] for k in npz.files}
    except ProjectError:
        raise
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError, OSError, EOFError) as error:
        raise ProjectError(t("not a Hearth project file ({error}); open a .hearth file saved by Hearth",
                             error=error)) from None
    if meta.get("version") != FORMAT_VERSION:
        raise ProjectError(f"project format version {meta.get('version')} is not one this Hearth reads "
                           f"({FORMAT_VERSION})")
    project = Project(spec=meta["spec"], training=meta["training"], weights=arrays["weights"],
                      optimizer_state=arrays["optimizer"], step=int(meta["step"]), history=meta["history"],
                      classes=meta["classes"], data=meta.get("data", {}), rng_state=meta.get("rng_state"))
    project.model_spec.check_weights(project.weights)
    return project
