"""Training in the browser without code: a JSON model spec compiled to ONNX training-step graphs.

    from hearth.train import ModelSpec, Trainer, load_builtin
    spec = ModelSpec.from_json(text)                       # errors name the layer at fault
    trainer = Trainer(spec, load_builtin("digits"))
    async for epoch in trainer.fit(10, on_batch=progress):
        ...

Runs unchanged on CPython (onnxruntime) and in Pyodide (onnxruntime-web) through `hearth.runtime`.
"""

from hearth.train.data import DataError, Dataset, ImageCollection, load_builtin, load_csv, load_images
from hearth.train.export import export_onnx, export_pytorch
from hearth.train.layers import SpecError
from hearth.train.project import Project, ProjectError, load_project, save_project
from hearth.train.spec import LayerInfo, ModelSpec, TrainConfig
from hearth.train.trainer import BatchProgress, EpochMetrics, Evaluation, Trainer, TrainingError

__all__ = [
    "BatchProgress", "DataError", "Dataset", "EpochMetrics", "Evaluation", "ImageCollection", "LayerInfo",
    "ModelSpec", "Project", "ProjectError", "SpecError", "TrainConfig", "Trainer", "TrainingError",
    "export_onnx", "export_pytorch", "load_builtin", "load_csv", "load_images", "load_project", "save_project",
]
